#include "telemetry/exporter.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <cmath>

namespace seqwatch::telemetry {

void SnapshotStore::publish(Snapshot s, nlohmann::json events) {
  auto p = std::make_shared<const Snapshot>(std::move(s));
  std::lock_guard<std::mutex> lock(mu_);
  latest_ = std::move(p);
  events_ = std::move(events);
}

std::shared_ptr<const Snapshot> SnapshotStore::latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

nlohmann::json SnapshotStore::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

namespace {

// Label values escape backslash, double quote and newline (exposition format 0.0.4).
std::string esc(const std::string& v) {
  std::string o;
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

class Writer {
 public:
  // Starts a metric family: HELP and TYPE once, then samples.
  void family(const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    name_ = name;
  }
  void sample(const std::string& labels, double v) {
    out += name_;
    if (!labels.empty()) out += "{" + labels + "}";
    out += " " + num(v) + "\n";
  }
  void sample(const std::string& labels, uint64_t v) {
    out += name_;
    if (!labels.empty()) out += "{" + labels + "}";
    out += fmt::format(" {}\n", v);
  }
  std::string out;

 private:
  std::string name_;
};

std::string pq(const QueueStats& q) { return fmt::format("port=\"{}\",queue=\"{}\"", esc(q.port), q.queue); }
std::string pl(const std::string& port) { return fmt::format("port=\"{}\"", esc(port)); }
std::string wl(unsigned w) { return fmt::format("worker=\"{}\"", w); }

}  // namespace

std::string render_prometheus(const Snapshot& s) {
  Writer w;
  w.family("seqwatch_uptime_seconds", "gauge", "Seconds since the run started.");
  w.sample("", s.elapsed_s);

  w.family("seqwatch_rx_packets_total", "counter", "Packets seqwatch received from each RX queue.");
  for (const auto& q : s.queues) w.sample(pq(q), q.packets);
  w.family("seqwatch_rx_queue_nic_packets_total", "counter", "Packets the NIC counted on each RX queue (q_ipackets; 0 where the driver keeps none).");
  for (const auto& q : s.queues) w.sample(pq(q), q.nic_packets);
  w.family("seqwatch_rx_queue_nic_bytes_total", "counter", "Bytes the NIC counted on each RX queue (q_ibytes).");
  for (const auto& q : s.queues) w.sample(pq(q), q.nic_bytes);

  w.family("seqwatch_port_rx_packets_total", "counter", "Packets the port received (rte_eth_stats ipackets).");
  for (const auto& p : s.ports) w.sample(pl(p.port), p.ipackets);
  w.family("seqwatch_port_rx_bytes_total", "counter", "Bytes the port received (ibytes).");
  for (const auto& p : s.ports) w.sample(pl(p.port), p.ibytes);
  w.family("seqwatch_port_rx_missed_total", "counter", "Packets the NIC dropped for lack of RX descriptors (imissed).");
  for (const auto& p : s.ports) w.sample(pl(p.port), p.imissed);
  w.family("seqwatch_port_rx_errors_total", "counter", "Erroneous received frames (ierrors).");
  for (const auto& p : s.ports) w.sample(pl(p.port), p.ierrors);
  w.family("seqwatch_port_rx_nombuf_total", "counter", "Receive failures for lack of mbufs (rx_nombuf).");
  for (const auto& p : s.ports) w.sample(pl(p.port), p.rx_nombuf);

  w.family("seqwatch_worker_packets_total", "counter", "Frames each worker decoded.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.packets);
  w.family("seqwatch_worker_busy_cycles_total", "counter", "TSC cycles each worker spent in polls that received packets.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.busy_tsc);
  w.family("seqwatch_worker_idle_cycles_total", "counter", "TSC cycles each worker spent in empty polls.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.idle_tsc);
  w.family("seqwatch_worker_busy_ratio", "gauge", "Busy / (busy + idle) cycles over the imbalance window.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.busy_ratio);
  w.family("seqwatch_worker_cycles_per_packet", "gauge", "Busy cycles per packet over the imbalance window.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.cycles_per_packet);
  w.family("seqwatch_worker_flows", "gauge", "Flow-table entries in use.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.flows);
  w.family("seqwatch_worker_flow_capacity", "gauge", "Flow-table capacity.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.flow_capacity);
  w.family("seqwatch_worker_flow_evictions_total", "counter", "Flows evicted to make room.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.evictions);
  w.family("seqwatch_worker_events_total", "counter", "Segment events produced.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.events);
  w.family("seqwatch_worker_ring_dropped_total", "counter", "Items lost on a full ring, by ring.");
  for (const auto& x : s.workers) {
    w.sample(wl(x.worker) + ",ring=\"events\"", x.events_dropped);
    w.sample(wl(x.worker) + ",ring=\"records\"", x.records_dropped);
    w.sample(wl(x.worker) + ",ring=\"samples\"", x.samples_dropped);
    w.sample(wl(x.worker) + ",ring=\"payload_events\"", x.payload_events_dropped);
  }
  w.family("seqwatch_worker_capture_filter_dropped_total", "counter",
           "Packets the capture filter (BPF) kept out of the analysis.");
  for (const auto& x : s.workers) w.sample(wl(x.worker), x.filtered);
  if (s.rehash) {
    w.family("seqwatch_rehash_packets_total", "counter", "Frames the software rehash stage handed each worker.");
    for (const auto& x : s.workers) w.sample(wl(x.worker), x.rehash_packets);
    w.family("seqwatch_rehash_dropped_total", "counter", "Frames the software rehash stage dropped, by reason.");
    w.sample("reason=\"ring_full\"", s.rehash_dropped_full);
    w.sample("reason=\"oversize\"", s.rehash_dropped_oversize);
  }

  w.family("seqwatch_packets_total", "counter", "Frames decoded by all workers.");
  w.sample("", s.packets);
  w.family("seqwatch_tunneled_packets_total", "counter", "Frames carrying a tunnel, by outermost tunnel type.");
  for (const auto& [k, n] : s.tunnels) w.sample(fmt::format("tunnel=\"{}\"", esc(k)), n);
  w.family("seqwatch_tcp_segments_total", "counter", "TCP segments analysed.");
  w.sample("", s.tcp_segments);
  w.family("seqwatch_tcp_retransmissions_total", "counter", "Segments with the retransmission verdict (fast and spurious included).");
  w.sample("", s.retransmissions);
  w.family("seqwatch_tcp_verdicts_total", "counter", "Segments per analysis verdict.");
  for (const auto& [k, n] : s.verdicts) w.sample(fmt::format("verdict=\"{}\"", esc(k)), n);
  w.family("seqwatch_flows", "gauge", "Flows tracked, all workers.");
  w.sample("", s.flows);

  w.family("seqwatch_queue_imbalance_cv", "gauge", "Coefficient of variation of packets per RX queue over the window.");
  for (const auto& f : s.imbalance) w.sample(pl(f.port), f.cv);
  w.family("seqwatch_queue_imbalance_max_mean", "gauge", "Busiest RX queue / mean queue over the window.");
  for (const auto& f : s.imbalance) w.sample(pl(f.port), f.max_mean);
  w.family("seqwatch_worker_imbalance_cv", "gauge", "Coefficient of variation of packets per worker over the window.");
  w.sample("", s.worker_balance.cv);
  w.family("seqwatch_core_skew", "gauge", "Busiest worker / mean worker, busy cycles over the window.");
  w.sample("", s.core_skew);
  w.family("seqwatch_tunneled_ratio", "gauge", "Share of sampled packets that were tunnelled (window).");
  w.sample("", s.diagnosis.tunneled_share);
  w.family("seqwatch_predicted_inner_cv", "gauge", "CV of packets per worker if spread by the inner hash (window samples).");
  w.sample("", s.diagnosis.predicted_inner_cv);
  w.family("seqwatch_outer_flows_95", "gauge", "Fewest outer flows carrying 95% of the sampled packets.");
  w.sample("", s.diagnosis.outer_flows_95);
  return w.out;
}

Result<std::unique_ptr<HttpExporter>> HttpExporter::start(const std::string& listen, uint16_t port,
                                                          const SnapshotStore& store) {
  std::unique_ptr<HttpExporter> e(new HttpExporter());
  e->server_ = std::make_unique<httplib::Server>();
  httplib::Server& srv = *e->server_;
  const SnapshotStore* st = &store;
  srv.Get("/metrics", [st](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_prometheus(*st->latest()), "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/api/snapshot", [st](const httplib::Request&, httplib::Response& res) {
    res.set_content(to_json(*st->latest()).dump(), "application/json");
  });
  srv.Get("/api/events", [st](const httplib::Request&, httplib::Response& res) {
    res.set_content(st->events().dump(), "application/json");
  });
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("seqwatch: /metrics (Prometheus), /api/snapshot, /api/events\n", "text/plain");
  });
  int bound = port == 0 ? srv.bind_to_any_port(listen.c_str()) : (srv.bind_to_port(listen.c_str(), port) ? port : -1);
  if (bound <= 0)
    return Error{fmt::format("telemetry.prometheus: cannot listen on {}:{} (port in use, or not an address of this "
                             "host): choose another telemetry.prometheus.port or set telemetry.prometheus.enabled=false",
                             listen, port)};
  e->port_ = static_cast<uint16_t>(bound);
  e->thread_ = std::thread([&srv] { srv.listen_after_bind(); });
  return e;
}

HttpExporter::~HttpExporter() {
  // stop() only closes a socket that listen has taken over: wait (bounded) until it has.
  for (int i = 0; i < 1000 && server_ && !server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace seqwatch::telemetry
