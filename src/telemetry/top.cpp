#include "telemetry/top.hpp"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

namespace seqwatch::telemetry {

namespace {

std::atomic<bool> g_quit{false};
void on_int(int) { g_quit.store(true); }

// Terminal attributes, empty when colour is off.
struct Style {
  bool on;
  std::string b(const std::string& s) const { return on ? "\x1b[1m" + s + "\x1b[0m" : s; }
  std::string red(const std::string& s) const { return on ? "\x1b[31m" + s + "\x1b[0m" : s; }
  std::string yellow(const std::string& s) const { return on ? "\x1b[33m" + s + "\x1b[0m" : s; }
  std::string dim(const std::string& s) const { return on ? "\x1b[2m" + s + "\x1b[0m" : s; }
};

// A bar of `width` cells, `frac` of them full ('#' so it survives any terminal and tmux).
std::string bar(double frac, unsigned width) {
  frac = std::clamp(frac, 0.0, 1.0);
  const unsigned full = static_cast<unsigned>(frac * width + 0.5);
  return std::string(full, '#') + std::string(width - full, '.');
}

std::string hms(double s) {
  const long t = static_cast<long>(s);
  return fmt::format("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
}

template <typename T, typename Key>
const T* find_by(const std::vector<T>& v, Key key) {
  for (const T& x : v)
    if (key(x)) return &x;
  return nullptr;
}

}  // namespace

std::string render_top(const Snapshot& s, const Snapshot* prev, const nlohmann::json& events, const TopOptions& o,
                       const std::string& source) {
  const Style st{o.color};
  const unsigned width = std::max(80u, o.width);
  const unsigned barw = std::max(10u, std::min(40u, width - 60));
  const double dt = prev != nullptr ? s.elapsed_s - prev->elapsed_s : 0;
  auto rate = [&](uint64_t now, uint64_t then) {
    return dt > 0 && now >= then ? static_cast<double>(now - then) / dt : 0.0;
  };
  std::string out;
  auto line = [&](const std::string& l) { out += l + "\x1b[K\n"; };  // erase to end of line: no stale tails

  line(st.b(fmt::format("seqwatch top  {}  up {}  {} worker(s), {} queue(s){}", source, hms(s.elapsed_s),
                        s.workers.size(), s.queues.size(), s.rehash ? ", software rehash" : ", RSS")));
  const double retx_rate = s.tcp_segments ? static_cast<double>(s.retransmissions) / s.tcp_segments : 0;
  line(fmt::format("packets {} ({} pps)   tcp segments {}   retransmissions {} ({:.2f}%, {}/s)   flows {}",
                   si(s.packets), si(prev ? rate(s.packets, prev->packets) : 0), si(s.tcp_segments),
                   si(s.retransmissions), 100 * retx_rate, si(prev ? rate(s.retransmissions, prev->retransmissions) : 0),
                   s.flows));
  line("");

  // Queues.
  line(st.b(fmt::format("{:<14} {:<{}} {:>10} {:>10} {:>7}", "RX QUEUE", "share", barw, "packets", "pps", "share")));
  uint64_t qtotal = 0;
  for (const auto& q : s.queues) qtotal += q.packets;
  for (const auto& q : s.queues) {
    const double share = qtotal ? static_cast<double>(q.packets) / qtotal : 0;
    const QueueStats* pq = prev ? find_by(prev->queues, [&](const QueueStats& x) {
      return x.port_id == q.port_id && x.queue == q.queue;
    }) : nullptr;
    line(fmt::format("{:<14} {} {:>10} {:>10} {:>6.1f}%", fmt::format("{}/{}", q.port, q.queue), bar(share, barw),
                     si(q.packets), si(pq ? rate(q.packets, pq->packets) : 0), 100 * share));
  }
  for (const auto& f : s.imbalance) {
    const std::string txt = fmt::format("imbalance {}: CV {:.2f}, max/mean {:.2f} over {:.0f}s", f.port, f.cv,
                                        f.max_mean, s.window_s);
    line(f.judged && f.cv > 0.5 ? st.yellow(txt) : st.dim(txt));
  }
  line("");

  // Workers.
  line(st.b(fmt::format("{:<14} {:<{}} {:>7} {:>10} {:>8} {:>9} {:>7}", "WORKER", "busy", barw, "busy", "pps",
                        "cyc/pkt", "flows", "evict")));
  for (const auto& w : s.workers)
    line(fmt::format("{:<14} {} {:>6.1f}% {:>10} {:>8.0f} {:>9} {:>7}", fmt::format("worker {}", w.worker),
                     bar(w.busy_ratio, barw), 100 * w.busy_ratio, si(w.pps), w.cycles_per_packet, si(w.flows),
                     si(w.evictions)));
  line(st.dim(fmt::format("core skew {:.2f}   worker CV {:.2f}", s.core_skew, s.worker_balance.cv)));
  line("");

  // Drops.
  std::string drops = "DROPS ";
  bool any = false;
  for (const auto& p : s.ports) {
    const PortStats* pp = prev ? find_by(prev->ports, [&](const PortStats& x) { return x.port_id == p.port_id; }) : nullptr;
    drops += fmt::format("  {}: imissed {} (+{}/s) nombuf {} errors {}", p.port, si(p.imissed),
                         si(pp ? rate(p.imissed, pp->imissed) : 0), si(p.rx_nombuf), si(p.ierrors));
    any |= p.imissed + p.rx_nombuf + p.ierrors > 0;
  }
  uint64_t ring = 0;
  for (const auto& w : s.workers) ring += w.events_dropped + w.records_dropped;
  drops += fmt::format("   rehash ring full {}   output rings {}", si(s.rehash_dropped_full), si(ring));
  any |= s.rehash_dropped_full + ring > 0;
  line(any ? st.red(drops) : drops);

  const Diagnosis& d = s.diagnosis;
  if (d.samples > 0)
    line(fmt::format("SAMPLES {}: tunnelled {:.0f}%{}, 95% of traffic in {} outer / {} inner flows, inner-hash CV {:.2f}",
                     d.samples, 100 * d.tunneled_share, d.tunnel_kind.empty() ? "" : " (" + d.tunnel_kind + ")",
                     d.outer_flows_95, d.inner_flows_95, d.predicted_inner_cv));
  line("");

  // Events.
  if (events.is_array() && !events.empty()) {
    line(st.b("EVENTS"));
    const size_t n = events.size(), from = n > 4 ? n - 4 : 0;
    for (size_t i = from; i < n; ++i) {
      const auto& e = events[i];
      std::string msg = e.value("message", e.value("kind", std::string("?")) + " " + e.value("state", std::string("")));
      if (msg.size() + 10 > width) msg = msg.substr(0, width - 13) + "...";
      line(st.yellow(fmt::format("{:>8} {}", hms(e.value("elapsed_s", 0.0)), msg)));
    }
    line("");
  }

  // The shape of the retransmissions so far (docs/tcp-analysis.md section 17).
  if (s.retrans.is_object() && s.retrans.contains("shape") && s.retrans["shape"].value("suspect", "none") != "none") {
    std::string msg = "SHAPE " + s.retrans["shape"].value("message", std::string());
    if (msg.size() > width) msg = msg.substr(0, width - 3) + "...";
    line(msg);
    line("");
  }

  // Top retransmitting flows.
  line(st.b(fmt::format("{:<46} {:>9} {:>7} {:>7} {:>5} {:>6}", "TOP RETRANSMITTING FLOWS", "segments", "retx", "rate",
                        "rto", "dupack")));
  const auto flows = s.retrans.is_object() ? s.retrans.value("top_flows", nlohmann::json::array()) : nlohmann::json::array();
  if (flows.empty())
    line(st.dim("(none yet: flows appear here once they end, or with flow_table.active_timeout_s while they last)"));
  for (const auto& f : flows) {
    // An open flow (from its latest active-timeout record) is marked with a '*'.
    const std::string name = fmt::format("{}{}:{} -> {}:{}", f.value("open", false) ? "*" : "", f.value("client", ""),
                                         f.value("cport", 0), f.value("server", ""), f.value("sport", 0));
    line(fmt::format("{:<46} {:>9} {:>7} {:>6.2f}% {:>5} {:>6}", name.substr(0, 46), si(f.value("segments", 0.0)),
                     si(f.value("retx_segments", 0.0)), 100 * f.value("retx_rate", 0.0), si(f.value("rto_retx", 0.0)),
                     si(f.value("dup_acks", 0.0))));
  }
  return out;
}

int top_main(const TopOptions& opts) {
  TopOptions o = opts;
  std::string ep = o.endpoint;
  if (ep.rfind("http://", 0) == 0) ep = ep.substr(7);
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  // host:port, [v6]:port, or host alone (port 9860).
  std::string host = ep;
  int port = 9860;
  const size_t close = ep.find(']');
  const size_t colon = ep.rfind(':');
  if (colon != std::string::npos && (close == std::string::npos || colon > close) &&
      (ep.front() == '[' || ep.find(':') == colon)) {
    host = ep.substr(0, colon);
    port = std::atoi(ep.c_str() + colon + 1);
  }
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  httplib::Client cli(host, port);
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(2, 0);
  std::signal(SIGINT, on_int);
  std::signal(SIGTERM, on_int);
  const bool tty = isatty(STDOUT_FILENO) != 0;
  if (!tty) o.color = o.color && std::getenv("SEQWATCH_TOP_COLOR") != nullptr;
  if (tty) std::fputs("\x1b[?25l\x1b[2J", stdout);  // hide the cursor, clear once
  std::unique_ptr<Snapshot> prev;
  bool ever = false;
  for (unsigned it = 0; !g_quit.load() && (o.iterations == 0 || it < o.iterations); ++it) {
    if (it != 0) {
      const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.interval_s);
      while (!g_quit.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (g_quit.load()) break;
    }
    if (opts.width == 0) {
      winsize ws{};
      o.width = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    }
    std::string screen;
    auto res = cli.Get("/api/snapshot");
    if (res && res->status == 200) {
      try {
        Snapshot s = snapshot_from_json(nlohmann::json::parse(res->body));
        nlohmann::json events = nlohmann::json::array();
        if (auto ev = cli.Get("/api/events"); ev && ev->status == 200) events = nlohmann::json::parse(ev->body, nullptr, false);
        screen = render_top(s, prev.get(), events, o, fmt::format("{}:{}", host, port));
        prev = std::make_unique<Snapshot>(std::move(s));
        ever = true;
      } catch (const std::exception& e) {
        screen = fmt::format("seqwatch top: {}:{} answered something that is not a seqwatch snapshot: {}\n", host,
                             port, e.what());
      }
    } else {
      screen = fmt::format("seqwatch top: cannot reach http://{}:{}/api/snapshot ({}); is `seqwatch run` running "
                           "with telemetry.prometheus.enabled? retrying...\n",
                           host, port, res ? fmt::format("HTTP {}", res->status) : httplib::to_string(res.error()));
    }
    if (tty) std::fputs("\x1b[H", stdout);  // home: redraw in place, no flicker
    std::fputs(screen.c_str(), stdout);
    if (tty) std::fputs("\x1b[J", stdout);  // clear what the previous, longer screen left
    else std::fputs("\n", stdout);
    std::fflush(stdout);
  }
  if (tty) std::fputs("\x1b[?25h", stdout);
  std::fflush(stdout);
  return ever ? 0 : 1;
}

}  // namespace seqwatch::telemetry
