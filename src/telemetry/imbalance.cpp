#include "telemetry/imbalance.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

namespace seqwatch::telemetry {

double coefficient_of_variation(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double sum = 0;
  for (double x : v) sum += x;
  const double mean = sum / static_cast<double>(v.size());
  if (mean <= 0) return 0;
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean);
  return std::sqrt(var / static_cast<double>(v.size())) / mean;
}

double max_over_mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double sum = 0, mx = 0;
  for (double x : v) {
    sum += x;
    mx = std::max(mx, x);
  }
  return sum > 0 ? mx / (sum / static_cast<double>(v.size())) : 0;
}

namespace {

// Fewest keys whose counts reach `share` of the total.
uint64_t flows_carrying(const std::unordered_map<uint64_t, uint64_t>& counts, uint64_t total, double share) {
  std::vector<uint64_t> c;
  c.reserve(counts.size());
  for (const auto& [k, n] : counts) c.push_back(n);
  std::sort(c.begin(), c.end(), std::greater<>());
  const double need = share * static_cast<double>(total);
  uint64_t acc = 0, k = 0;
  for (uint64_t n : c) {
    if (static_cast<double>(acc) >= need) break;
    acc += n;
    ++k;
  }
  return k;
}

double spread_cv(const std::unordered_map<uint64_t, uint64_t>& counts, unsigned queues) {
  if (queues < 2) return 0;
  std::vector<double> q(queues, 0.0);
  for (const auto& [h, n] : counts) q[hash_to_queue(h, queues)] += static_cast<double>(n);
  return coefficient_of_variation(q);
}

double ratio(uint64_t a, uint64_t b) { return b == 0 ? 0 : static_cast<double>(a) / static_cast<double>(b); }

uint64_t delta(uint64_t now, uint64_t then) { return now >= then ? now - then : now; }  // a reset counter restarts

std::string pct(double x) { return fmt::format("{:.0f}%", 100 * x); }

}  // namespace

Diagnosis diagnose(const std::vector<Sample>& samples, unsigned queues) {
  Diagnosis d;
  d.samples = samples.size();
  if (samples.empty()) return d;
  std::unordered_map<uint64_t, uint64_t> outer, inner;
  // Per worker: its inner flows (tunnels cut before the inner header left out: their hash is
  // an outer address pair, many flows, not one elephant) and how many samples it had, cut ones too.
  struct WorkerSamples {
    std::unordered_map<uint64_t, uint64_t> flows;
    uint64_t total = 0, cut = 0;
  };
  std::map<unsigned, WorkerSamples> per_worker;
  uint64_t tunneled = 0, cut = 0;
  for (const Sample& s : samples) {
    ++outer[s.outer_hash];
    ++inner[s.inner_hash];
    WorkerSamples& w = per_worker[s.worker];
    ++w.total;
    if (s.inner_cut) ++w.cut;
    else ++w.flows[s.inner_hash];
    tunneled += s.tunneled ? 1 : 0;
    cut += s.inner_cut ? 1 : 0;
  }
  d.tunneled_share = ratio(tunneled, samples.size());
  d.inner_cut_share = ratio(cut, samples.size());
  d.outer_flows = outer.size();
  d.inner_flows = inner.size();
  d.outer_flows_95 = flows_carrying(outer, samples.size(), 0.95);
  d.inner_flows_95 = flows_carrying(inner, samples.size(), 0.95);
  d.predicted_inner_cv = spread_cv(inner, queues);
  d.predicted_outer_cv = spread_cv(outer, queues);
  for (const auto& [w, ws] : per_worker) {
    if (ws.total < kMinQueueSamples) continue;
    uint64_t top = 0;
    for (const auto& [h, n] : ws.flows) top = std::max(top, n);
    const double share = ratio(top, ws.total);
    if (share > d.elephant_share) {
      d.elephant_share = share;
      d.elephant_queue = static_cast<int>(w);
    }
    const double cut_share = ratio(ws.cut, ws.total);
    if (cut_share > d.inner_cut_queue_share) {
      d.inner_cut_queue_share = cut_share;
      d.inner_cut_queue = static_cast<int>(w);
    }
  }
  return d;
}

MonitorConfig monitor_config(const config::Config& cfg) {
  MonitorConfig m;
  m.window_s = cfg.imbalance.window_s;
  m.stats_interval_s = cfg.outputs.stats_interval_s;
  m.queue_cv_threshold = cfg.imbalance.queue_cv_threshold;
  m.max_mean_threshold = cfg.imbalance.max_mean_threshold;
  m.core_skew_threshold = cfg.imbalance.core_skew_threshold;
  m.min_packets = cfg.imbalance.min_packets;
  return m;
}

void Monitor::add_sample(const Sample& s) {
  if (samples_.size() >= cfg_.max_samples) samples_.pop_front();
  samples_.push_back({now_, s});
}

const Snapshot& Monitor::window_base(double now) const {
  // The newest snapshot at least window_s old, else the oldest one.
  const Snapshot* base = &history_.front();
  for (const Snapshot& h : history_) {
    if (now - h.elapsed_s < cfg_.window_s) break;
    base = &h;
  }
  return *base;
}

void Monitor::derive(Snapshot& s, const Snapshot& base) const {
  const double dt = s.elapsed_s - base.elapsed_s;
  s.window_s = dt;
  // Workers: busy ratio, cycles per packet, rate; core skew over busy cycles.
  std::vector<double> busy, wpk;
  uint64_t wtotal = 0;
  for (WorkerStats& w : s.workers) {
    const WorkerStats* b = nullptr;
    for (const WorkerStats& x : base.workers)
      if (x.worker == w.worker) b = &x;
    const WorkerStats zero{};
    if (b == nullptr) b = &zero;
    const uint64_t db = delta(w.busy_tsc, b->busy_tsc), di = delta(w.idle_tsc, b->idle_tsc);
    const uint64_t dp = delta(w.packets, b->packets);
    w.busy_ratio = ratio(db, db + di);
    w.cycles_per_packet = ratio(db, dp);
    w.pps = dt > 0 ? static_cast<double>(dp) / dt : 0;
    busy.push_back(static_cast<double>(db));
    wpk.push_back(static_cast<double>(dp));
    wtotal += dp;
  }
  s.core_skew = max_over_mean(busy);
  s.core_skew_judged = s.workers.size() > 1 && wtotal >= cfg_.min_packets;
  s.worker_balance = ImbalanceFigures{};
  s.worker_balance.port = "workers";
  s.worker_balance.queues = static_cast<unsigned>(s.workers.size());
  s.worker_balance.packets = wtotal;
  s.worker_balance.cv = coefficient_of_variation(wpk);
  s.worker_balance.max_mean = max_over_mean(wpk);
  s.worker_balance.busiest_queue =
      wpk.empty() ? -1 : static_cast<int>(std::max_element(wpk.begin(), wpk.end()) - wpk.begin());
  s.worker_balance.judged = s.workers.size() > 1 && wtotal >= cfg_.min_packets;

  // Queues, per port.
  s.imbalance.clear();
  for (const PortStats& p : s.ports) {
    ImbalanceFigures f;
    f.port = p.port;
    std::vector<double> q;
    std::vector<uint16_t> ids;
    for (const QueueStats& qs : s.queues) {
      if (qs.port_id != p.port_id) continue;
      uint64_t then = 0;
      for (const QueueStats& x : base.queues)
        if (x.port_id == qs.port_id && x.queue == qs.queue) then = x.packets;
      const uint64_t dp = delta(qs.packets, then);
      q.push_back(static_cast<double>(dp));
      ids.push_back(qs.queue);
      f.packets += dp;
    }
    f.queues = static_cast<unsigned>(q.size());
    f.cv = coefficient_of_variation(q);
    f.max_mean = max_over_mean(q);
    if (!q.empty()) f.busiest_queue = ids[static_cast<size_t>(std::max_element(q.begin(), q.end()) - q.begin())];
    // Behind the software rehash stage the queues bind no worker: their spread is shown,
    // not judged (the workers' is, as core skew).
    f.judged = q.size() > 1 && f.packets >= cfg_.min_packets && !p.software_rehash;
    s.imbalance.push_back(f);
  }

  // Diagnosis over the samples of the window.
  std::vector<Sample> win;
  win.reserve(samples_.size());
  for (const TimedSample& t : samples_)
    if (s.elapsed_s - t.t <= cfg_.window_s) win.push_back(t.s);
  s.diagnosis = diagnose(win, static_cast<unsigned>(std::max<size_t>(s.workers.size(), 1)));
  uint64_t top = 0;
  for (const auto& [kind, n] : s.tunnels)
    if (n > top) {
      top = n;
      s.diagnosis.tunnel_kind = kind;
    }
}

void Monitor::start(const Snapshot& s) {
  Snapshot counters = s;
  counters.retrans = nullptr;
  history_.clear();
  history_.push_back(counters);
  last_eval_snap_ = std::move(counters);
  have_eval_ = true;
}

std::vector<nlohmann::json> Monitor::update(Snapshot& s, bool final) {
  std::vector<nlohmann::json> out;
  now_ = s.elapsed_s;
  Snapshot counters = s;
  counters.retrans = nullptr;
  history_.push_back(std::move(counters));
  while (history_.size() > 2 && s.elapsed_s - history_[1].elapsed_s >= cfg_.window_s) history_.pop_front();
  while (!samples_.empty() && s.elapsed_s - samples_.front().t > cfg_.window_s) samples_.pop_front();
  derive(s, window_base(s.elapsed_s));
  if (final || s.elapsed_s - last_eval_ >= cfg_.stats_interval_s) {
    last_eval_ = s.elapsed_s;
    out.push_back(stats_line(s));
    if (final) out.back()["final"] = true;
    if (have_eval_) evaluate(s, last_eval_snap_, out);
    last_eval_snap_ = history_.back();
    have_eval_ = true;
  }
  return out;
}

void Monitor::emit(const Snapshot& s, nlohmann::json ev, std::vector<nlohmann::json>& out) {
  nlohmann::json j{{"v", 1}, {"type", "imbalance"}, {"time", s.time}, {"elapsed_s", s.elapsed_s}};
  j.update(ev);
  out.push_back(j);
  events_.push_back(j);
  if (events_.size() > kMaxEvents) events_.pop_front();
}

// Why a worker behind the software rehash stage gets more packets than the others: the
// stage hashes the inner 5-tuple, so what is left is the flows themselves (one too large,
// too few) or an uneven draw of flows of unequal size.
std::pair<std::string, std::string> Monitor::rehash_skew_reason(const Diagnosis& d, unsigned worker,
                                                                unsigned workers) const {
  if (d.samples == 0)
    return {"unknown", "no packet samples to say why (imbalance.samples is off, or the sample rings overflowed)"};
  if (d.inner_cut_queue == static_cast<int>(worker) && d.inner_cut_queue_share > cfg_.elephant_share)
    return {"tunnel_inner_cut",
            fmt::format("{} of its packets are tunnelled and the capture cut them before their inner IP header "
                        "(snaplen too short for the encapsulation): the rehash can hash only their outer addresses, "
                        "so each tunnel's traffic lands on one worker; capture the inner IP and TCP headers (a "
                        "snaplen of 256 bytes keeps them under any common encapsulation)",
                        pct(d.inner_cut_queue_share))};
  if (d.elephant_queue == static_cast<int>(worker) && d.elephant_share > cfg_.elephant_share)
    return {"elephant", fmt::format("one inner flow carries {} of its packets, and no hash can split one flow (its "
                                    "worker must keep up with it alone)",
                                    pct(d.elephant_share))};
  if (d.inner_flows_95 <= 2ull * workers)
    return {"few_flows", fmt::format("only {} flow{} carr{} 95% of the traffic; no hash spreads so few flows evenly "
                                     "over {} workers",
                                     d.inner_flows_95, d.inner_flows_95 == 1 ? "" : "s",
                                     d.inner_flows_95 == 1 ? "ies" : "y", workers)};
  return {"flow_sizes", fmt::format("{} flows carry 95% of the traffic, of unequal sizes: by the inner hash they "
                                    "spread to CV {:.2f} over {} workers",
                                    d.inner_flows_95, d.predicted_inner_cv, workers)};
}

void Monitor::evaluate(const Snapshot& s, const Snapshot& prev, std::vector<nlohmann::json>& out) {
  const Diagnosis& d = s.diagnosis;
  auto worker_of = [&](int w) -> const WorkerStats* {
    for (const WorkerStats& x : s.workers)
      if (static_cast<int>(x.worker) == w) return &x;
    return nullptr;
  };
  auto queue_of_worker = [&](int w) -> const QueueStats* {
    for (const QueueStats& q : s.queues)
      if (q.worker == w) return &q;
    return nullptr;
  };
  auto toggle = [&](const std::string& key, bool on, nlohmann::json ev) {
    bool& was = active_[key];
    if (on == was) return;
    was = on;
    ev["state"] = on ? "raised" : "cleared";
    if (!on) ev.erase("message");
    emit(s, std::move(ev), out);
  };

  // Queue imbalance, one condition per port.
  for (const ImbalanceFigures& f : s.imbalance) {
    const PortStats* port = nullptr;
    for (const PortStats& p : s.ports)
      if (p.port == f.port) port = &p;
    if (port == nullptr || port->software_rehash || !f.judged) continue;  // rehash: queues do not bind workers
    const bool on = f.cv > cfg_.queue_cv_threshold || f.max_mean > cfg_.max_mean_threshold;
    nlohmann::json ev{{"kind", "queue_imbalance"}, {"port", f.port}, {"figures", f}, {"diagnosis", d}};
    std::string cause, msg;
    if (on) {
      const std::string head = fmt::format("queues of port {} are imbalanced: CV {:.2f}, busiest queue {} at {:.1f}x the mean",
                                           f.port, f.cv, f.busiest_queue, f.max_mean);
      std::string kind = d.tunnel_kind.empty() ? "tunnel" : d.tunnel_kind;
      std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::toupper(c); });
      if (d.samples == 0) {
        cause = "unknown";
        msg = fmt::format("{}: no packet samples to diagnose the cause from (imbalance.samples is off, or the "
                          "workers' sample rings overflowed)",
                          head);
      } else if (d.inner_cut_share >= 0.5) {
        cause = "tunnel_inner_cut";
        msg = fmt::format("{}: {} of packets are {}-encapsulated and cut before their inner IP header (snaplen too "
                          "short for the encapsulation): the outer header is all that any hash can see, so neither "
                          "the NIC nor software rehash can spread them by inner flow; capture the inner IP and TCP "
                          "headers (a snaplen of 256 bytes keeps them under any common encapsulation)",
                          head, pct(d.inner_cut_share), kind);
      } else if (d.tunneled_share >= 0.5 && d.predicted_inner_cv < std::min(cfg_.queue_cv_threshold, f.cv) / 2) {
        cause = "tunnel";
        msg = fmt::format("{}: {} of packets are {}-encapsulated; the NIC hashes the outer header; {} outer flow{} "
                          "carr{} 95% of the traffic; inner flows would spread to CV {:.2f} — enable software rehash "
                          "on port {} (ports.{}.rehash=software)",
                          head, pct(d.tunneled_share), kind, d.outer_flows_95, d.outer_flows_95 == 1 ? "" : "s",
                          d.outer_flows_95 == 1 ? "ies" : "y", d.predicted_inner_cv, f.port, port->config_index);
      } else if (d.elephant_share > cfg_.elephant_share) {
        const QueueStats* q = queue_of_worker(d.elephant_queue);
        cause = "elephant";
        msg = fmt::format("{}: one elephant flow carries {} of queue {}; no hash can split one flow (its worker "
                          "must keep up with it alone)",
                          head, pct(d.elephant_share), q != nullptr ? q->queue : d.elephant_queue);
      } else if (d.inner_flows_95 <= 2ull * f.queues) {
        cause = "few_flows";
        msg = fmt::format("{}: only {} flow{} carr{} 95% of the traffic; no hash spreads so few flows evenly over {} "
                          "queues",
                          head, d.inner_flows_95, d.inner_flows_95 == 1 ? "" : "s", d.inner_flows_95 == 1 ? "ies" : "y",
                          f.queues);
      } else {
        cause = "hash";
        msg = fmt::format("{}: {} flows carry 95% of the traffic, yet the NIC spreads them unevenly (the inner hash "
                          "would give CV {:.2f}): check the RSS key and hash fields, or enable software rehash on "
                          "port {} (ports.{}.rehash=software)",
                          head, d.inner_flows_95, d.predicted_inner_cv, f.port, port->config_index);
      }
      ev["cause"] = cause;
      ev["message"] = msg;
    }
    toggle("queue_imbalance/" + f.port, on, ev);
  }

  // Core skew.
  if (s.core_skew_judged) {
    const bool on = s.core_skew > cfg_.core_skew_threshold;
    nlohmann::json ev{{"kind", "core_skew"}, {"core_skew", s.core_skew}, {"worker_balance", s.worker_balance}};
    if (on) {
      size_t busiest = 0;
      for (size_t i = 1; i < s.workers.size(); ++i)
        if (s.workers[i].busy_ratio > s.workers[busiest].busy_ratio) busiest = i;
      const WorkerStats& w = s.workers[busiest];
      double cpp_mean = 0;
      for (const WorkerStats& x : s.workers) cpp_mean += x.cycles_per_packet;
      cpp_mean /= static_cast<double>(s.workers.size());
      std::string why;
      if (static_cast<int>(w.worker) == s.worker_balance.busiest_queue && s.worker_balance.max_mean > 1.2) {
        ev["cause"] = "packets";
        why = fmt::format("it receives {:.1f}x the mean packet rate", s.worker_balance.max_mean);
        if (!s.rehash) {
          why += " (see the queue imbalance)";
        } else {
          // The inner 5-tuple hash chose the workers: say why it could not spread the flows.
          const auto [reason, text] = rehash_skew_reason(d, w.worker, static_cast<unsigned>(s.workers.size()));
          ev["reason"] = reason;
          ev["diagnosis"] = d;
          why += ", with the software rehash spreading flows by their inner 5-tuple: " + text;
        }
      } else {
        ev["cause"] = "cost";
        why = fmt::format("it spends {:.0f} cycles per packet against a mean of {:.0f}: its flows cost more (payload "
                          "scans, events)",
                          w.cycles_per_packet, cpp_mean);
      }
      ev["worker"] = w.worker;
      ev["message"] = fmt::format("core skew {:.2f}: worker {} is busy {}; {}", s.core_skew, w.worker,
                                  pct(w.busy_ratio), why);
    }
    toggle("core_skew", on, ev);
  }

  // Drops since the previous evaluation.
  for (const PortStats& p : s.ports) {
    const PortStats* b = nullptr;
    for (const PortStats& x : prev.ports)
      if (x.port_id == p.port_id) b = &x;
    const PortStats zero{};
    if (b == nullptr) b = &zero;
    const uint64_t missed = delta(p.imissed, b->imissed), nombuf = delta(p.rx_nombuf, b->rx_nombuf),
                   errors = delta(p.ierrors, b->ierrors), got = delta(p.ipackets, b->ipackets);
    // The port's busiest worker (its queues' workers, or every worker behind the rehash stage).
    const WorkerStats* busiest = nullptr;
    uint16_t queue = 0;
    for (const QueueStats& q : s.queues) {
      if (q.port_id != p.port_id) continue;
      const WorkerStats* w = worker_of(q.worker);
      if (w != nullptr && (busiest == nullptr || w->busy_ratio > busiest->busy_ratio)) {
        busiest = w;
        queue = q.queue;
      }
    }
    if (busiest == nullptr)
      for (const WorkerStats& w : s.workers)
        if (busiest == nullptr || w.busy_ratio > busiest->busy_ratio) busiest = &w;
    if (missed > 0) {
      nlohmann::json ev{{"kind", "drops"}, {"cause", "imissed"}, {"port", p.port}, {"packets", missed},
                        {"share", ratio(missed, missed + got)}};
      const double br = busiest != nullptr ? busiest->busy_ratio : 0;
      if (busiest != nullptr && br >= cfg_.slow_busy_ratio) {
        ev["reason"] = "worker_slow";
        ev["queue"] = queue;
        ev["message"] = fmt::format("drops on queue {} of port {} are imissed ({} packets, {} of the traffic): worker "
                                    "{} is busy {} — the worker is too slow: add workers or lighten its work",
                                    queue, p.port, missed, pct(ratio(missed, missed + got)), busiest->worker, pct(br));
      } else {
        ev["reason"] = "ring_small";
        ev["message"] = fmt::format("drops on port {} are imissed ({} packets, {} of the traffic) while its busiest "
                                    "worker is busy only {}: the RX ring is too small for the bursts — raise "
                                    "ports.{}.rx_descriptors",
                                    p.port, missed, pct(ratio(missed, missed + got)), pct(br), p.config_index);
      }
      emit(s, ev, out);
    }
    if (nombuf > 0)
      emit(s,
           {{"kind", "drops"}, {"cause", "rx_nombuf"}, {"port", p.port}, {"packets", nombuf},
            {"message", fmt::format("port {} ran out of mbufs ({} receive failures): the mempool is too small or "
                                    "mbufs are held too long — raise ports.{}.mbufs",
                                    p.port, nombuf, p.config_index)}},
           out);
    if (errors > 0)
      emit(s,
           {{"kind", "drops"}, {"cause", "ierrors"}, {"port", p.port}, {"packets", errors},
            {"message", fmt::format("port {} received {} erroneous frames (CRC, length): check the cabling / the "
                                    "SPAN source", p.port, errors)}},
           out);
  }
  if (const uint64_t full = delta(s.rehash_dropped_full, prev.rehash_dropped_full); full > 0) {
    const WorkerStats* busiest = nullptr;
    for (const WorkerStats& w : s.workers)
      if (busiest == nullptr || w.busy_ratio > busiest->busy_ratio) busiest = &w;
    emit(s,
         {{"kind", "drops"}, {"cause", "rehash_ring_full"}, {"packets", full},
          {"message", fmt::format("the software rehash stage dropped {} frames on full worker rings: worker {} is busy "
                                  "{} — add workers",
                                  full, busiest != nullptr ? busiest->worker : 0u,
                                  pct(busiest != nullptr ? busiest->busy_ratio : 0))}},
         out);
  }
  // Upstream losses against the sensor's own drops (issue 4: "cross-check with the port's
  // imissed/rx_nombuf at that time"): a segment judged lost upstream filled a gap the
  // sensor never saw; when the sensor itself dropped packets in the same window, some of
  // those gaps may be its own.
  {
    auto count_of = [](const Snapshot& x, const char* k) {
      const auto it = x.verdicts.find(k);
      return it == x.verdicts.end() ? uint64_t{0} : it->second;
    };
    const uint64_t upstream = delta(count_of(s, "loss_upstream"), count_of(prev, "loss_upstream"));
    uint64_t sensor = delta(s.rehash_dropped_full, prev.rehash_dropped_full);
    for (const PortStats& p : s.ports) {
      PortStats b{};
      for (const PortStats& x : prev.ports)
        if (x.port_id == p.port_id) b = x;
      sensor += delta(p.imissed, b.imissed) + delta(p.rx_nombuf, b.rx_nombuf);
    }
    if (upstream > 0 && sensor > 0)
      emit(s,
           {{"kind", "loss_attribution"}, {"cause", "sensor_drops"}, {"loss_upstream", upstream},
            {"sensor_drops", sensor},
            {"message", fmt::format("{} segments were judged lost upstream of the sensor in a window where the sensor "
                                    "itself dropped {} packets (imissed, rx_nombuf, rehash ring full): up to {} of "
                                    "those upstream losses may be the sensor's own",
                                    upstream, sensor, std::min(upstream, sensor))}},
           out);
  }
  for (const WorkerStats& w : s.workers) {
    const WorkerStats* b = nullptr;
    for (const WorkerStats& x : prev.workers)
      if (x.worker == w.worker) b = &x;
    if (b == nullptr) continue;
    const uint64_t ev_lost = delta(w.events_dropped, b->events_dropped);
    const uint64_t rec_lost = delta(w.records_dropped, b->records_dropped);
    if (ev_lost + rec_lost > 0)
      emit(s,
           {{"kind", "drops"}, {"cause", "output_ring_full"}, {"worker", w.worker}, {"events", ev_lost},
            {"records", rec_lost},
            {"message", fmt::format("worker {} lost {} events and {} flow records on full output rings: the control "
                                    "thread is behind (slow disk?) — raise tcp.event_ring / tcp.record_ring",
                                    w.worker, ev_lost, rec_lost)}},
           out);
  }
}

}  // namespace seqwatch::telemetry
