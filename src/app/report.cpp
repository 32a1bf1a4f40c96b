#include "app/report.hpp"

#include <fmt/format.h>

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <tuple>

#include "event/json_writer.hpp"

namespace seqwatch::app {

RetransReport::RetransReport(size_t keep_flows, size_t max_endpoints)
    : keep_flows_(keep_flows != 0 ? keep_flows : 1), max_endpoints_(max_endpoints != 0 ? max_endpoints : 1) {}

void RetransReport::add_to(Endpoints& m, const Endpoint& e, const Agg& d) {
  EndpointMap::iterator it;
  if (m.tally.size() < max_endpoints_) {
    // Room for a new one: one probe finds the endpoint or makes it.
    bool made;
    std::tie(it, made) = m.tally.try_emplace(e);
    if (made) it->second.flows = d.flows == 0 ? 1 : 0;  // as below
  } else if (it = m.tally.find(e); it == m.tally.end()) {
    if (m.tally.size() >= max_endpoints_ && !m.no_room) {
      // Make room: endpoints with no retransmission so far are the least telling (they never
      // make a top list unless they retransmit later: their rate then covers later flows only).
      const size_t before = m.tally.size();
      absl::erase_if(m.tally, [&m](const auto& kv) {
        if (m.retx_of(kv.second) != 0) return false;
        if (kv.second.full != 0) m.free_full.push_back(kv.second.full - 1);
        return true;
      });
      limits_.endpoints_pruned += before - m.tally.size();
      m.no_room = m.tally.size() > max_endpoints_ - max_endpoints_ / 4;  // freed under a quarter: stop pruning
    }
    if (m.tally.size() >= max_endpoints_) {
      ++limits_.endpoints_untracked;
      return;
    }
    it = m.tally.emplace(e, Tally{}).first;
    it->second.flows = d.flows == 0 ? 1 : 0;  // an open flow's later part, its entry pruned since: the flow counts here again
  }
  Tally& t = it->second;
  if (t.full == 0) {
    if ((d.retx_segs | d.retx_bytes | d.fast | d.spurious | d.rto | d.tail_probes | d.syn_attempts_extra | d.midack) == 0) {
      t.flows += d.flows;
      t.segments += d.segments;
      t.data_bytes += d.data_bytes;
      t.dup_acks += d.dup_acks;
      return;
    }
    Agg a;  // the tally so far, then the flow below
    a.flows = t.flows;
    a.segments = t.segments;
    a.data_bytes = t.data_bytes;
    a.dup_acks = t.dup_acks;
    if (!m.free_full.empty()) {
      t.full = m.free_full.back() + 1;
      m.free_full.pop_back();
      m.full[t.full - 1] = a;
    } else {
      m.full.push_back(a);
      t.full = static_cast<uint32_t>(m.full.size());
    }
  }
  Agg& a = m.full[t.full - 1];
  const bool had_retx = a.retx_segs != 0;
  add_agg(a, d);
  if (!had_retx && a.retx_segs != 0) m.retransmitting.push_back(e);
}

RetransReport::Agg RetransReport::agg_of(const event::FlowRecord& r) {
  Agg a;
  a.flows = 1;
  fold(a, r, -1);
  a.syn_attempts_extra = syn_extra_of(r);
  a.midack = r.totals.midack_count;
  return a;
}

void RetransReport::add_agg(Agg& a, const Agg& d) {
  a.flows += d.flows;
  a.segments += d.segments;
  a.retx_segs += d.retx_segs;
  a.data_bytes += d.data_bytes;
  a.retx_bytes += d.retx_bytes;
  a.fast += d.fast;
  a.spurious += d.spurious;
  a.rto += d.rto;
  a.tail_probes += d.tail_probes;
  a.dup_acks += d.dup_acks;
  a.syn_attempts_extra += d.syn_attempts_extra;
  a.midack += d.midack;
}

RetransReport::Agg RetransReport::more_than(const Agg& now, const Agg& before) {
  auto more = [](uint64_t n, uint64_t b) { return n > b ? n - b : 0; };
  Agg d;
  d.flows = more(now.flows, before.flows);
  d.segments = more(now.segments, before.segments);
  d.retx_segs = more(now.retx_segs, before.retx_segs);
  d.data_bytes = more(now.data_bytes, before.data_bytes);
  d.retx_bytes = more(now.retx_bytes, before.retx_bytes);
  d.fast = more(now.fast, before.fast);
  d.spurious = more(now.spurious, before.spurious);
  d.rto = more(now.rto, before.rto);
  d.tail_probes = more(now.tail_probes, before.tail_probes);
  d.dup_acks = more(now.dup_acks, before.dup_acks);
  d.syn_attempts_extra = more(now.syn_attempts_extra, before.syn_attempts_extra);
  d.midack = more(now.midack, before.midack);
  return d;
}

std::pair<RetransReport::Endpoint, RetransReport::Endpoint> RetransReport::endpoints_of(const event::FlowRecord& r) {
  const bool client_b = r.cold.initiator == 1;
  const uint16_t sport = client_b ? r.key.port_a : r.key.port_b;
  return {Endpoint{client_b ? r.key.addr_b : r.key.addr_a, 0, r.key.family},
          Endpoint{client_b ? r.key.addr_a : r.key.addr_b, sport, r.key.family}};
}

void RetransReport::count_in(const event::FlowRecord& r, const Agg& d) {
  const auto [client, service] = endpoints_of(r);
  add_agg(total_, d);
  add_to(servers_, service, d);
  add_to(clients_, client, d);
}

void RetransReport::fold(Agg& a, const event::FlowRecord& r, int dir) {
  // dir: -1 = both directions, else one direction index
  for (int d = 0; d < 2; ++d) {
    if (dir >= 0 && d != dir) continue;
    const auto& c = r.count[d];
    a.segments += c.segments;
    a.retx_segs += c.retx_segs;
    a.data_bytes += c.data_bytes;
    a.retx_bytes += c.retx_bytes;
    a.fast += c.fast_retx;
    a.spurious += c.spurious_retx;
    a.rto += c.rto_retx;
    a.dup_acks += c.dup_acks;
  }
  if (dir < 0) a.tail_probes += r.totals.tail_probes;  // counted per flow, both directions
}

std::string RetransReport::format(const Endpoint& e, bool with_port) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr.data(), buf, sizeof buf);
  if (!with_port) return buf;
  return e.family == 6 ? fmt::format("[{}]:{}", buf, e.port) : fmt::format("{}:{}", buf, e.port);
}

uint64_t RetransReport::syn_extra_of(const event::FlowRecord& r) noexcept {
  return (r.cold.syn_count > 1 ? r.cold.syn_count - 1u : 0u) + (r.cold.synack_count > 1 ? r.cold.synack_count - 1u : 0u);
}

RetransReport::FlowLine RetransReport::line_of(const event::FlowRecord& r, uint64_t syn_extra) {
  const bool client_b = r.cold.initiator == 1;
  FlowLine f{};
  f.flow_id = r.flow_id;
  f.worker = r.worker;
  f.client = Endpoint{client_b ? r.key.addr_b : r.key.addr_a, 0, r.key.family};
  f.server = Endpoint{client_b ? r.key.addr_a : r.key.addr_b, 0, r.key.family};
  f.cport = client_b ? r.key.port_b : r.key.port_a;
  f.sport = client_b ? r.key.port_a : r.key.port_b;
  f.segments = r.count[0].segments + r.count[1].segments;
  f.retx_segs = r.count[0].retx_segs + r.count[1].retx_segs;
  f.fast = r.count[0].fast_retx + r.count[1].fast_retx;
  f.spurious = r.count[0].spurious_retx + r.count[1].spurious_retx;
  f.rto = r.count[0].rto_retx + r.count[1].rto_retx;
  f.tail_probes = r.totals.tail_probes;
  f.dup_acks = r.count[0].dup_acks + r.count[1].dup_acks;
  f.midack = r.totals.midack_count;
  f.syn_extra = syn_extra;
  return f;
}

void RetransReport::add_open(const event::FlowRecord& r) {
  const uint64_t syn_extra = syn_extra_of(r);
  if (r.count[0].retx_segs + r.count[1].retx_segs == 0 && syn_extra == 0 && r.totals.midack_count == 0) return;
  FlowLine f = line_of(r, syn_extra);
  f.open = true;
  const uint64_t key = flow_key(r.worker, r.flow_id);
  if (auto it = open_.find(key); it != open_.end()) {
    it->second = f;
    return;
  }
  if (open_.size() >= keep_flows_) {
    // Full: the worst-ranked open line makes room, if the new one ranks better.
    auto worst = open_.begin();
    for (auto it = open_.begin(); it != open_.end(); ++it)
      if (ranks_before(worst->second, it->second)) worst = it;
    ++limits_.open_lines_dropped;
    if (!ranks_before(f, worst->second)) return;
    open_.erase(worst);
  }
  open_.emplace(key, f);
}

void RetransReport::add_event(const event::SegmentEvent& e) {
  constexpr uint32_t kAnyRetx = tcp::kRetransmission | tcp::kFastRetransmission | tcp::kSpuriousRetransmission;
  if (e.kind == event::kSegmentVerdicts && (e.verdict.bits & kAnyRetx) != 0) timeline_.add_retx(e.ts_ns);
}

RetxWho RetransReport::who() const {
  // The top of each: most retransmissions, ties to the smallest name (the same whatever order
  // the workers' records came in).
  auto better = [](uint64_t n, const std::string& name, uint64_t top_n, const std::string& top_name) {
    return n > top_n || (n == top_n && (top_name.empty() || name < top_name));
  };
  RetxWho w;
  w.retx = total_.retx_segs;
  w.services = servers_.tally.size();
  w.clients = clients_.tally.size();
  // Those of `m` with retransmissions, and the top one.
  auto scan = [&](const Endpoints& m, bool with_port, uint64_t& with_retx, uint64_t& top_n, std::string& top_name) {
    for (const Endpoint& e : m.retransmitting) {
      const Agg* a = m.find(e);
      if (a == nullptr || a->retx_segs == 0) continue;
      ++with_retx;
      if (a->retx_segs < top_n) continue;
      if (std::string name = format(e, with_port); better(a->retx_segs, name, top_n, top_name)) {
        top_n = a->retx_segs;
        top_name = std::move(name);
      }
    }
  };
  scan(servers_, true, w.services_with_retx, w.top_service_retx, w.top_service);
  scan(clients_, false, w.clients_with_retx, w.top_client_retx, w.top_client);
  // Server hosts: the services summed by address.
  struct Host {
    uint64_t retx = 0, services_with_retx = 0;
  };
  absl::flat_hash_map<Endpoint, Host, absl::Hash<Endpoint>> hosts;
  for (const auto& [e, t] : servers_.tally) {
    Host& h = hosts[Endpoint{e.addr, 0, e.family}];
    const uint64_t retx = servers_.retx_of(t);
    h.retx += retx;
    h.services_with_retx += retx != 0;
  }
  w.server_hosts = hosts.size();
  for (const auto& [e, h] : hosts) {
    if (h.retx == 0) continue;
    ++w.server_hosts_with_retx;
    if (std::string name = format(e, false); better(h.retx, name, w.top_server_retx, w.top_server)) {
      w.top_server_retx = h.retx;
      w.top_server = std::move(name);
      w.top_server_services = h.services_with_retx;
    }
  }
  auto consider = [&](const FlowLine& l) {
    if (l.retx_segs == 0 || l.retx_segs < w.top_flow_retx) return;
    std::string name = fmt::format("{}:{} -> {}:{}", format(l.client, false), l.cport, format(l.server, false), l.sport);
    if (better(l.retx_segs, name, w.top_flow_retx, w.top_flow)) {
      w.top_flow_retx = l.retx_segs;
      w.top_flow = std::move(name);
    }
  };
  for (const FlowLine& l : flows_) consider(l);
  for (const auto& [key, l] : open_) consider(l);
  return w;
}

void RetransReport::add(const event::FlowRecord& r) {
  // An active-timeout record holds a flow's counts so far, and the flow goes on: its line
  // joins the open flows', and the totals, service and client take what it adds to the
  // flow's previous record; the final record (cumulative too) adds the rest.
  const uint64_t key = flow_key(r.worker, r.flow_id);
  Agg counts = agg_of(r);
  timeline_.add_flow(r.cold.first_ts_ns, r.last_ts_ns);
  newest_ts_ns_ = std::max(newest_ts_ns_, r.last_ts_ns);
  if (r.reason == flow::RemoveReason::kActive) {
    add_open(r);
    auto it = open_counted_.find(key);
    if (it == open_counted_.end()) {
      if (open_counted_.size() >= max_endpoints_) {
        ++limits_.open_untracked;
        return;
      }
      it = open_counted_.emplace(key, Agg{}).first;
    }
    count_in(r, more_than(counts, it->second));
    it->second = counts;
    return;
  }
  if (!open_.empty()) open_.erase(key);
  if (!open_counted_.empty()) {
    if (const auto it = open_counted_.find(key); it != open_counted_.end()) {
      counts = more_than(counts, it->second);
      open_counted_.erase(it);
    }
  }
  if ((r.count[0].segments == 0) != (r.count[1].segments == 0)) {
    ++one_sided_flows_;
    const event::DirCounters& sent = r.count[r.count[0].segments == 0 ? 1 : 0];
    const unsigned sender = r.count[0].segments == 0 ? 1 : 0;
    const uint64_t handshake = sender == r.cold.initiator ? r.cold.syn_count : r.cold.synack_count;
    if (sent.data_bytes != 0) {
      ++one_sided_data_flows_;
      one_sided_retx_ += sent.retx_segs;
      one_sided_rto_ += sent.rto_retx;
    } else if (sent.segments > handshake + (r.cold.rst_from() == sender ? 2u : 1u)) {
      // Two ACKs or more, not SYNs or a reset alone (nor one stray ACK: a scanner's probe).
      ++one_sided_ack_flows_;
      one_sided_dup_acks_ += sent.dup_acks;
    }
    Sided k{r.key.addr_a, r.key.addr_b, r.key.port_a, r.key.port_b, r.key.family,
            static_cast<uint8_t>(r.count[0].segments == 0)};
    Sided other = k;
    other.sender_b ^= 1;
    const auto it = one_sided_.find(other);
    if (it != one_sided_.end() && it->second.context != r.key.context) {
      ++split_connections_;  // the other direction, under another VLAN / tunnel context
      one_sided_.erase(it);
    } else if (it != one_sided_.end() && it->second.worker != r.worker) {
      ++split_across_workers_;  // the other direction, analysed by another worker
      one_sided_.erase(it);
    } else {
      if (one_sided_.size() >= max_endpoints_) {
        // Bounded: the oldest halves are not known apart, so all are forgotten (counted); a
        // connection whose halves straddle this point counts as one-sided, not split.
        limits_.one_sided_forgotten += one_sided_.size();
        one_sided_.clear();
      }
      one_sided_[k] = SideOf{r.key.context, r.worker};
    }
  }

  count_in(r, counts);
  count_end(r);
  const uint64_t syn_extra = syn_extra_of(r);

  const uint64_t retx = uint64_t{r.count[0].retx_segs} + r.count[1].retx_segs;
  if (retx != 0 || syn_extra != 0 || r.totals.midack_count != 0) {
    const FlowLine f = line_of(r, syn_extra);
    // Keep the keep_flows_ best-ranked lines: a heap whose front is the worst kept.
    if (flows_.size() < keep_flows_) {
      flows_.push_back(f);
      std::push_heap(flows_.begin(), flows_.end(), ranks_before);
    } else {
      ++limits_.flow_lines_dropped;
      if (ranks_before(f, flows_.front())) {
        std::pop_heap(flows_.begin(), flows_.end(), ranks_before);
        flows_.back() = f;
        std::push_heap(flows_.begin(), flows_.end(), ranks_before);
      }
    }
  }
}

std::array<RetransReport::ServiceTally, 2> RetransReport::lingering() const {
  std::array<ServiceTally, 2> t = lingering_;
  for (const HalfClosed& h : half_closed_)
    if (newest_ts_ns_ >= h.last_ts_ns + linger_ns_) t[h.by_client].add(h.service, max_endpoints_);
  return t;
}

void RetransReport::count_end(const event::FlowRecord& r) {
  const unsigned client = r.cold.initiator, server = 1 - client;
  for (const unsigned side : {client, server}) {
    if (r.half[side].zw_total_ms == 0) continue;
    zero_window_[side == server].add(endpoints_of(r).second, max_endpoints_);
    zero_window_longest_ms_[side == server] = std::max<uint64_t>(zero_window_longest_ms_[side == server], r.half[side].zw_total_ms);
  }
  // Only where it can matter: a direction carried a window's worth (64 KiB) or more.
  if ((r.half[0].flags & r.half[1].flags & tcp::kSynSeen) &&
      (r.half[0].wscale == tcp::kWscaleNone || r.half[1].wscale == tcp::kWscaleNone) &&
      std::max(r.count[0].data_bytes, r.count[1].data_bytes) >= 65536)
    no_wscale_.add(endpoints_of(r).second, max_endpoints_);
  if (r.synack_after_ack) synack_after_ack_.add(endpoints_of(r).second, max_endpoints_);
  const uint8_t cf = r.half[client].flags, sf = r.half[server].flags;
  if (const uint8_t by = r.cold.rst_from(); by != 0xFF) {
    if (by == server && (cf & tcp::kSynSeen) && !(sf & tcp::kSynSeen)) ++ends_.refused;
    else if (by == client) ++ends_.reset_by_client;
    else ++ends_.reset_by_server;
    if (r.rst_after_fin) {
      if (by == client) ++reset_after_fin_by_client_;
      else reset_after_fin_by_server_.add(endpoints_of(r).second, max_endpoints_);
    }
  } else if ((cf & tcp::kFinSeen) && (sf & tcp::kFinSeen)) {
    ++ends_.closed;
  } else if ((cf ^ sf) & tcp::kFinSeen) {
    const bool by_client = cf & tcp::kFinSeen;
    ++(by_client ? ends_.half_closed_by_client : ends_.half_closed_by_server);
    const HalfClosed h{r.last_ts_ns, endpoints_of(r).second, by_client};
    if (r.count[0].segments == 0 || r.count[1].segments == 0) {
      // One-sided: the other side's FIN could not have been seen here; not judged.
    } else if (newest_ts_ns_ >= h.last_ts_ns + linger_ns_) {
      lingering_[by_client].add(h.service, max_endpoints_);
    } else {
      if (half_closed_.size() >= max_endpoints_) {  // tally what can be judged by now, keep the rest
        std::erase_if(half_closed_, [&](const HalfClosed& p) {
          if (newest_ts_ns_ < p.last_ts_ns + linger_ns_) return false;
          lingering_[p.by_client].add(p.service, max_endpoints_);
          return true;
        });
      }
      if (half_closed_.size() < max_endpoints_) half_closed_.push_back(h);
      else ++half_closed_untracked_;
    }
  } else if (tcp::handshake_done_unseen(r.cold, r.count[r.cold.initiator].segments, r.count[1 - r.cold.initiator].segments)) {
    ++ends_.open;  // a one-sided capture: the connection went on where the sensor does not see
  } else if (r.cold.stage == tcp::Stage::kSynSent) {
    ++ends_.syn_unanswered;
  } else if (r.cold.stage == tcp::Stage::kSynReceived) {
    ++ends_.handshake_incomplete;
  } else {
    ++ends_.open;
  }
}

void RetransReport::add_verdicts(const std::array<uint64_t, tcp::kVerdictBits>& counts) {
  for (size_t i = 0; i < counts.size(); ++i) verdicts_[i] += counts[i];
}

namespace {
// Neither fast, spurious, timeout nor probe: re-sent as ACKs let it out (SACK recovery after
// partial ACKs, slow-start re-sends after a timeout).
template <class A>
uint64_t ack_clocked(const A& a) {
  const uint64_t named = a.fast + a.spurious + a.rto + a.tail_probes;
  return a.retx_segs > named ? a.retx_segs - named : 0;
}

double rate(uint64_t retx, uint64_t segs) { return segs ? static_cast<double>(retx) / static_cast<double>(segs) : 0.0; }

// The n endpoints of `m` with the most retransmissions (ties: by formatted key, so output is
// stable), from those with retransmissions (m.retransmitting: every other one has none).
template <class M, class F>
auto top_of(const M& m, size_t n, F&& name) {
  using A = std::remove_pointer_t<decltype(m.find(m.retransmitting.front()))>;
  using K = typename decltype(m.retransmitting)::value_type;
  std::vector<std::pair<const K*, A*>> v;
  v.reserve(m.retransmitting.size());
  for (const auto& k : m.retransmitting)
    if (A* a = m.find(k); a != nullptr) v.emplace_back(&k, a);
  const size_t keep = std::min(n, v.size());
  // Rank by count first; names are formatted only for the candidates that can make the list.
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second->retx_segs > y.second->retx_segs; });
  size_t cut = keep;
  while (cut < v.size() && keep != 0 && v[cut].second->retx_segs == v[keep - 1].second->retx_segs) ++cut;
  std::vector<std::pair<std::string, A*>> out;
  for (size_t i = 0; i < cut; ++i) out.emplace_back(name(*v[i].first), v[i].second);
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return x.second->retx_segs != y.second->retx_segs ? x.second->retx_segs > y.second->retx_segs : x.first < y.first;
  });
  out.resize(keep);
  return out;
}
}  // namespace

void RetransReport::ServiceTally::add(const Endpoint& service, size_t cap) {
  ++total;
  if (auto it = per_service.find(service); it != per_service.end()) ++it->second;
  else if (per_service.size() < cap) per_service.emplace(service, 1);
}

std::vector<std::pair<std::string, uint64_t>> RetransReport::ServiceTally::top(size_t n) const {
  std::vector<std::pair<std::string, uint64_t>> v;
  for (const auto& [e, count] : per_service) v.emplace_back(format(e, true), count);
  std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
  if (v.size() > n) v.resize(n);
  return v;
}

nlohmann::json RetransReport::ServiceTally::top_json(size_t n) const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [svc, count] : top(n)) a.push_back({{"service", svc}, {"connections", count}});
  return a;
}

nlohmann::json RetransReport::to_json(size_t top_n) const {
  using nlohmann::json;
  auto agg = [](const Agg& a) {
    return json{{"flows", a.flows},       {"segments", a.segments}, {"retx_segments", a.retx_segs},
                {"retx_rate", rate(a.retx_segs, a.segments)}, {"fast_retx", a.fast}, {"spurious_retx", a.spurious},
                {"rto_retx", a.rto},      {"tail_loss_probes", a.tail_probes}, {"ack_clocked_recovery", ack_clocked(a)},
                {"dup_acks", a.dup_acks}, {"data_bytes", a.data_bytes}, {"retx_bytes", a.retx_bytes},
                {"retx_byte_rate", rate(a.retx_bytes, a.data_bytes)}};
  };
  json j = agg(total_);
  j["syn_retransmissions"] = total_.syn_attempts_extra;
  j["one_sided_flows"] = one_sided_flows_;
  j["one_sided_data"] = {{"flows", one_sided_data_flows_}, {"retx_segments", one_sided_retx_}, {"rto_retx", one_sided_rto_}};
  j["one_sided_acks"] = {{"flows", one_sided_ack_flows_}, {"dup_acks", one_sided_dup_acks_}};
  j["split_connections"] = split_connections_;
  j["split_across_workers"] = split_across_workers_;
  j["ack_in_segment"] = total_.midack;
  j["reset_after_fin"] = {{"by_client", reset_after_fin_by_client_},
                          {"by_server", reset_after_fin_by_server_.total},
                          {"top_services", reset_after_fin_by_server_.top_json(top_n)}};
  j["synack_after_ack"] = {{"connections", synack_after_ack_.total}, {"top_services", synack_after_ack_.top_json(top_n)}};
  j["receiver_limits"] = {
      {"zero_window",
       {{"by_client", {{"connections", zero_window_[0].total}, {"top_services", zero_window_[0].top_json(top_n)}}},
        {"by_server", {{"connections", zero_window_[1].total}, {"top_services", zero_window_[1].top_json(top_n)}}},
        {"longest_ms", std::max(zero_window_longest_ms_[0], zero_window_longest_ms_[1])}}},
      {"window_full_segments", verdicts_[std::countr_zero(uint32_t{tcp::kWindowFull})]},
      {"no_window_scaling", {{"connections", no_wscale_.total}, {"top_services", no_wscale_.top_json(top_n)}}}};
  const auto linger = lingering();
  j["half_closed_lingering"] = {
      {"silent_s", static_cast<double>(linger_ns_) / 1e9},
      {"by_client", {{"connections", linger[1].total}, {"top_services", linger[1].top_json(top_n)}}},
      {"by_server", {{"connections", linger[0].total}, {"top_services", linger[0].top_json(top_n)}}},
      {"not_judged", half_closed_untracked_}};
  j["connection_ends"] = {{"closed", ends_.closed},
                          {"reset_by_client", ends_.reset_by_client},
                          {"reset_by_server", ends_.reset_by_server},
                          {"refused", ends_.refused},
                          {"half_closed_by_client", ends_.half_closed_by_client},
                          {"half_closed_by_server", ends_.half_closed_by_server},
                          {"syn_unanswered", ends_.syn_unanswered},
                          {"handshake_incomplete", ends_.handshake_incomplete},
                          {"open", ends_.open},
                          {"ongoing", open_counted_.size()}};
  json verdicts = json::object();
  for (unsigned b = 0; b < tcp::kVerdictBits; ++b)
    if (verdicts_[b] != 0) verdicts[std::string(tcp::verdict_name(b))] = verdicts_[b];
  j["verdicts"] = verdicts;
  json servers = json::array();
  for (const auto& [k, a] : top_of(servers_, top_n, [](const Endpoint& e) { return format(e, true); })) {
    json s = agg(*a);
    s["service"] = k;
    servers.push_back(s);
  }
  j["top_services"] = servers;
  // Services by handshake re-sends (SYN and SYN/ACK retransmissions, as `syn_retransmissions`):
  // concentrated on one service, its SYN or accept queue overflowed (Linux drops the SYN, or
  // the handshake's ACK and re-sends the SYN/ACK); spread over many, handshakes were lost.
  {
    std::vector<std::pair<std::string, const Agg*>> v;
    for (const Endpoint& e : servers_.retransmitting)
      if (const Agg* a = servers_.find(e); a != nullptr && a->syn_attempts_extra != 0) v.emplace_back(format(e, true), a);
    std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
      return x.second->syn_attempts_extra != y.second->syn_attempts_extra
                 ? x.second->syn_attempts_extra > y.second->syn_attempts_extra
                 : x.first < y.first;
    });
    if (v.size() > top_n) v.resize(top_n);
    json syn = json::array();
    for (const auto& [name, a] : v)
      syn.push_back({{"service", name}, {"flows", a->flows}, {"syn_retransmissions", a->syn_attempts_extra}});
    j["top_services_by_syn_retransmissions"] = syn;
  }
  json clients = json::array();
  for (const auto& [k, a] : top_of(clients_, top_n, [](const Endpoint& e) { return format(e, false); })) {
    json s = agg(*a);
    s["client"] = k;
    clients.push_back(s);
  }
  j["top_clients"] = clients;
  auto sorted = flows_;
  for (const auto& [key, line] : open_) sorted.push_back(line);
  std::sort(sorted.begin(), sorted.end(), ranks_before);
  if (sorted.size() > top_n) sorted.resize(top_n);
  json flows = json::array();
  for (const auto& f : sorted) {
    flows.push_back({{"flow", f.flow_id}, {"worker", f.worker}, {"client", format(f.client, false)}, {"cport", f.cport},
                     {"server", format(f.server, false)}, {"sport", f.sport}, {"segments", f.segments},
                     {"retx_segments", f.retx_segs}, {"retx_rate", rate(f.retx_segs, f.segments)},
                     {"fast_retx", f.fast}, {"spurious_retx", f.spurious}, {"rto_retx", f.rto},
                     {"tail_loss_probes", f.tail_probes}, {"dup_acks", f.dup_acks}, {"syn_retransmissions", f.syn_extra}, {"ack_in_segment", f.midack},
                     {"open", f.open}});
  }
  j["top_flows"] = flows;
  j["shape"] = retx_shape(timeline_.series(), who());
  j["report_limits"] = {{"flow_lines_kept", keep_flows_},
                        {"flow_lines_dropped", limits_.flow_lines_dropped},
                        {"endpoints_kept", max_endpoints_},
                        {"endpoints_pruned", limits_.endpoints_pruned},
                        {"endpoints_untracked", limits_.endpoints_untracked},
                        {"one_sided_forgotten", limits_.one_sided_forgotten},
                        {"open_flow_lines", open_.size()},
                        {"open_lines_dropped", limits_.open_lines_dropped},
                        {"open_flows_untracked", limits_.open_untracked}};
  return j;
}

void RetransReport::print(std::FILE* out, size_t top_n) const {
  const auto j = to_json(top_n);
  fmt::print(out, "  TCP flows      {:>10}   segments {}, retransmitted {} ({:.3f}%); payload bytes {}, retransmitted {} ({:.3f}%)\n",
             total_.flows, total_.segments, total_.retx_segs, 100.0 * rate(total_.retx_segs, total_.segments),
             total_.data_bytes, total_.retx_bytes, 100.0 * rate(total_.retx_bytes, total_.data_bytes));
  fmt::print(out, "                 fast {}, spurious {}, timeout-like {}, tail-loss probes {}, ACK-clocked recovery {}, "
                  "dup ACKs {}, SYN retransmissions {}, ACKs inside a segment {}\n",
             total_.fast, total_.spurious, total_.rto, total_.tail_probes, ack_clocked(total_), total_.dup_acks,
             total_.syn_attempts_extra, total_.midack);
  fmt::print(out, "  ends           {} closed (FIN both ways), reset {} by client / {} by server, {} SYN answered by RST, "
                  "half-closed {} by client / {} by server (the other side never closed), {} SYN unanswered, {} "
                  "handshake incomplete, {} open (no FIN/RST: idle, evicted or end of input){}\n",
             ends_.closed, ends_.reset_by_client, ends_.reset_by_server, ends_.refused, ends_.half_closed_by_client,
             ends_.half_closed_by_server, ends_.syn_unanswered, ends_.handshake_incomplete, ends_.open,
             open_counted_.empty() ? std::string()
                                   : fmt::format(", {} still going (active-timeout records: counts so far)",
                                                 open_counted_.size()));
  // "(most: SERVICE, N)" of a tally, "" when no service was followed.
  auto most = [](const ServiceTally& t) {
    const auto top = t.top(1);
    return top.empty() ? std::string() : fmt::format(" (most: {}, {})", top[0].first, top[0].second);
  };
  if (reset_after_fin_by_server_.total != 0)
    fmt::print(out, "  RESET AFTER FIN {} connection(s) reset by the server after its own FIN while the client still "
                    "sent{}: a request crossed the server's idle close (keep-alive race); a proxy or load balancer in "
                    "front answers 502 for each: keep the server's idle timeout longer than the client's\n",
               reset_after_fin_by_server_.total, most(reset_after_fin_by_server_));
  for (const unsigned server_side : {1u, 0u}) {
    const ServiceTally& z = zero_window_[server_side];
    if (z.total == 0) continue;
    fmt::print(out, "  ZERO WINDOW    {} connection(s) where the {} advertised a zero window{}, one for {} ms in all "
                    "(the longest): its application stopped reading, so the {} waited; the receiver, not the network, "
                    "held them back\n",
               z.total, server_side ? "server" : "client", most(z), zero_window_longest_ms_[server_side],
               server_side ? "client" : "server");
  }
  if (const uint64_t full = verdicts_[std::countr_zero(uint32_t{tcp::kWindowFull})]; full != 0)
    fmt::print(out, "  WINDOW FULL    {} segment(s) filled the receiver's whole advertised window: those senders were "
                    "held back by the receiver's window (its buffer or window scaling), not by loss\n",
               full);
  if (no_wscale_.total != 0)
    fmt::print(out, "  NO WSCALE      {} connection(s) carried 64 KiB or more without window scaling (a SYN lacked "
                    "the option){}: their window stays under 64 KiB, at most 64 KiB per round trip (5 Mbit/s at "
                    "100 ms)\n",
               no_wscale_.total, most(no_wscale_));
  const auto linger = lingering();
  if (linger[1].total != 0)
    fmt::print(out, "  CLOSE_WAIT?    {} connection(s) closed by the client (its FIN) that the server never closed, "
                    "silent since for {:g} s or more{}: the server's application did not close them (CLOSE_WAIT piles "
                    "up on the server: ss -tan state close-wait; a hung or leaking worker)\n",
               linger[1].total, static_cast<double>(linger_ns_) / 1e9, most(linger[1]));
  if (linger[0].total != 0)
    fmt::print(out, "  CLOSE_WAIT?    {} connection(s) closed by the server (its FIN) that the client never closed, "
                    "silent since for {:g} s or more{}: the clients' applications did not close them (CLOSE_WAIT on the "
                    "clients, FIN_WAIT2 on the server until its tcp_fin_timeout)\n",
               linger[0].total, static_cast<double>(linger_ns_) / 1e9, most(linger[0]));
  if (reset_after_fin_by_client_ != 0)
    fmt::print(out, "  RESET AFTER FIN {} connection(s) reset by the client after its own FIN while the server still "
                    "sent: the client closed before reading everything (data discarded)\n",
               reset_after_fin_by_client_);
  // Fewer handshake re-sends on the top service than this: one lost SYN looks the same.
  constexpr uint64_t kFewHandshakeResends = 3;
  if (const auto& syn = j["top_services_by_syn_retransmissions"]; total_.syn_attempts_extra != 0 && !syn.empty()) {
    const uint64_t top = syn[0]["syn_retransmissions"].get<uint64_t>();
    fmt::print(out, "  HANDSHAKE      {} SYN and SYN/ACK retransmission(s), {} of them ({:.0f}%) on {} ({} flows){}\n",
               total_.syn_attempts_extra, top, 100.0 * rate(top, total_.syn_attempts_extra),
               syn[0]["service"].get<std::string>(), syn[0]["flows"].get<uint64_t>(),
               top < kFewHandshakeResends
                   ? ": too few to tell a full SYN or accept queue from a lost SYN or SYN/ACK"
               : syn.size() == 1 || 2 * top >= total_.syn_attempts_extra
                   ? ": that server's handshakes failed: its SYN or accept queue was full (netstat -s \"SYNs to "
                     "LISTEN sockets dropped\", ListenOverflows; raise the listen backlog, tcp_max_syn_backlog, "
                     "net.core.somaxconn), or it is unreachable at times"
                   : ": spread over services: SYNs or SYN/ACKs lost on the way");
  }
  if (synack_after_ack_.total != 0)
    fmt::print(out, "  ACCEPT QUEUE?  {} connection(s) had the server's SYN/ACK again after the client's ACK of it "
                    "passed here{}: the server did not take the ACK: its accept queue was full (netstat -s: \"times the "
                    "listen queue of a socket overflowed\"; raise the listen backlog and net.core.somaxconn, accept "
                    "faster), or the ACK was lost between here and the server\n",
               synack_after_ack_.total, most(synack_after_ack_));
  if (one_sided_data_flows_ != 0)
    fmt::print(out, "  ONE-SIDED      {} connection(s) carried data in one direction only, the other never passed here "
                    "(asymmetric routing, a SPAN session of one direction{}), {} of their segments re-sent: counted, "
                    "but without the receiver's ACKs fast recovery cannot be told from a timeout (only re-sends after "
                    "the sender fell silent for 200 ms count as timeouts: {})\n",
               one_sided_data_flows_, split_connections_ + split_across_workers_ != 0 ? ", or a split below" : "",
               one_sided_retx_, one_sided_rto_);
  if (one_sided_ack_flows_ != 0)
    fmt::print(out, "  ONE-SIDED      {} connection(s) seen only as one side's ACKs, the other direction never passed "
                    "here: re-sends of its data cannot be counted (the retransmission rate above leaves them out){}\n",
               one_sided_ack_flows_,
               one_sided_dup_acks_ != 0 ? fmt::format("; their {} duplicate ACKs point to loss in that direction",
                                                       one_sided_dup_acks_)
                                        : std::string());
  if (split_connections_ != 0)
    fmt::print(out, "  SPLIT          {} connection(s) seen as two one-sided flows with different VLAN/tunnel context "
                    "(asymmetric tap?): analyse with --ignore-vlans / flow_table.key_vlans: false\n",
               split_connections_);
  if (split_across_workers_ != 0)
    fmt::print(out, "  SPLIT          {} connection(s) had their two directions analysed by different workers (two "
                    "one-sided flows): the RX queues are not filled by a symmetric hash; use rss: symmetric or "
                    "rehash: software (recorded per-queue files: it merges them by packet time)\n",
               split_across_workers_);
  if (limits_.endpoints_pruned != 0 || limits_.endpoints_untracked != 0 || limits_.one_sided_forgotten != 0)
    fmt::print(out, "  REPORT LIMITS  {} service/client entries without retransmissions pruned, {} flow records with "
                    "no room for their service or client (at most {} each), {} one-sided flows forgotten: the "
                    "totals cover every flow, the per-endpoint rows may not\n",
               limits_.endpoints_pruned, limits_.endpoints_untracked, max_endpoints_, limits_.one_sided_forgotten);
  if (limits_.open_untracked != 0)
    fmt::print(out, "  REPORT LIMITS  {} active-timeout records of open flows beyond {} at a time not counted yet: "
                    "those flows count in full at their final record\n",
               limits_.open_untracked, max_endpoints_);
  if (!j["verdicts"].empty()) {
    std::string v;
    for (auto& [k, n] : j["verdicts"].items()) v += fmt::format("{}{} {}", v.empty() ? "" : ", ", k, n.get<uint64_t>());
    fmt::print(out, "  verdicts       {}\n", v);
  }
  if (total_.retx_segs != 0) fmt::print(out, "  shape          {}\n", j["shape"]["message"].get<std::string>());
  if (!j["top_services"].empty()) {
    fmt::print(out, "  top services by retransmissions (server:port  flows  segments  retx  rate):\n");
    for (const auto& s : j["top_services"])
      fmt::print(out, "    {:<40} {:>6} {:>9} {:>7} {:>7.3f}%\n", s["service"].get<std::string>(), s["flows"].get<uint64_t>(),
                 s["segments"].get<uint64_t>(), s["retx_segments"].get<uint64_t>(), 100 * s["retx_rate"].get<double>());
  }
  if (!j["top_flows"].empty()) {
    fmt::print(out, "  top flows by retransmissions (flow  client -> server  segments  retx  rate  fast/spur/rto/tlp):\n");
    for (const auto& f : j["top_flows"])
      fmt::print(out, "    #{:<6} {}:{} -> {}:{}  {} {} {:.3f}%  {}/{}/{}/{}{}\n", f["flow"].get<uint32_t>(),
                 f["client"].get<std::string>(), f["cport"].get<uint16_t>(), f["server"].get<std::string>(),
                 f["sport"].get<uint16_t>(), f["segments"].get<uint64_t>(), f["retx_segments"].get<uint64_t>(),
                 100 * f["retx_rate"].get<double>(), f["fast_retx"].get<uint64_t>(), f["spurious_retx"].get<uint64_t>(),
                 f["rto_retx"].get<uint64_t>(), f["tail_loss_probes"].get<uint64_t>(),
                 f["open"].get<bool>() ? "  (open: counts so far)" : "");
  }
}

}  // namespace seqwatch::app
