#include "telemetry/collect.hpp"

#include <rte_ethdev.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <map>

#include "decode/packet_view.hpp"
#include "runtime/replay_port.hpp"
#include "tcp/verdict.hpp"
#include "telemetry/dpdk_telemetry.hpp"

namespace seqwatch::telemetry {

Snapshot collect(const runtime::Engine& engine, const std::vector<const runtime::DpdkPortSource*>& queues,
                 const std::vector<config::PortConfig>& ports) {
  Snapshot s;
  s.time = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  s.rehash = engine.rehashing();

  // Ports, in the order their queues appear; rte_eth_stats once per port.
  std::map<uint16_t, rte_eth_stats> eth;
  for (const auto* q : queues) {
    const uint16_t id = q->port().id;
    if (eth.count(id) != 0) continue;
    rte_eth_stats st{};
    rte_eth_stats_get(id, &st);
    eth[id] = st;
    PortStats p;
    p.port_id = id;
    p.config_index = static_cast<unsigned>(s.ports.size());
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    if (rte_eth_dev_get_name_by_port(id, name) == 0) p.device = name;
    p.port = p.config_index < ports.size() ? ports[p.config_index].name : p.device;
    p.software_rehash = s.rehash;
    p.ipackets = st.ipackets;
    p.ibytes = st.ibytes;
    p.imissed = st.imissed + runtime::ReplayPort::missed(id);  // a replay port's full queues
    p.ierrors = st.ierrors;
    p.rx_nombuf = st.rx_nombuf;
    s.ports.push_back(p);
  }
  for (size_t i = 0; i < queues.size(); ++i) {
    const auto* q = queues[i];
    QueueStats qs;
    qs.port_id = q->port().id;
    for (const auto& p : s.ports)
      if (p.port_id == qs.port_id) qs.port = p.port;
    qs.queue = q->queue();
    qs.worker = s.rehash ? -1 : static_cast<int>(i);
    qs.packets = q->received();
    if (qs.queue < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
      qs.nic_packets = eth[qs.port_id].q_ipackets[qs.queue];
      qs.nic_bytes = eth[qs.port_id].q_ibytes[qs.queue];
    }
    s.queues.push_back(qs);
  }

  const auto& rh = engine.rehash();
  for (unsigned i = 0; i < engine.workers(); ++i) {
    const auto& st = engine.worker(i).state();
    const auto& tc = engine.stage(i).counters();
    const auto& fc = engine.stage(i).table().counters();
    WorkerStats w;
    w.worker = i;
    w.packets = st.decode.packets;
    w.bursts = st.bursts;
    w.idle_polls = st.idle_polls;
    w.busy_tsc = st.busy_tsc;
    w.idle_tsc = st.idle_tsc;
    w.tcp_segments = tc.segments;
    w.flows = fc.in_use;
    w.flow_capacity = engine.stage(i).table().capacity();
    w.evictions = fc.evicted;
    w.events = tc.events;
    w.events_dropped = tc.events_dropped;
    w.records_dropped = tc.records_dropped;
    w.samples_dropped = st.samples_dropped;
    w.payload_events_dropped = st.payload_events_dropped;
    w.filtered = st.filtered;
    if (i < rh.per_worker.size()) w.rehash_packets = rh.per_worker[i];
    s.workers.push_back(w);

    s.packets += st.decode.packets;
    s.tunneled += st.decode.tunneled;
    for (size_t t = 1; t < st.decode.tunnels.size(); ++t)
      if (st.decode.tunnels[t] != 0)
        s.tunnels[std::string(decode::tunnel_type_name(static_cast<decode::TunnelType>(t)))] += st.decode.tunnels[t];
    s.tcp_segments += tc.segments;
    for (unsigned b = 0; b < tcp::kVerdictBits; ++b)
      if (tc.verdicts[b] != 0) s.verdicts[std::string(tcp::verdict_name(b))] += tc.verdicts[b];
    s.retransmissions += tc.verdicts[std::countr_zero(static_cast<uint32_t>(tcp::kRetransmission))];
    s.flows += fc.in_use;
  }
  s.rehash_packets = rh.packets;
  s.rehash_dropped_full = rh.dropped_full;
  s.rehash_dropped_oversize = rh.dropped_oversize;
  return s;
}

LiveTelemetry::LiveTelemetry(const config::Config& cfg, const runtime::Engine& engine,
                             std::vector<const runtime::DpdkPortSource*> queues)
    : cfg_(cfg), engine_(engine), queues_(std::move(queues)), monitor_(monitor_config(cfg)) {
  period_s_ = std::min(1.0, cfg.outputs.stats_interval_s);
}

LiveTelemetry::~LiveTelemetry() {
  http_.reset();
  if (dpdk_attached_) detach_dpdk_telemetry();
}

Result<bool> LiveTelemetry::start() {
  if (cfg_.telemetry.prometheus.enabled) {
    auto h = HttpExporter::start(cfg_.telemetry.prometheus.listen,
                                 static_cast<uint16_t>(cfg_.telemetry.prometheus.port), store_);
    if (!h) return h.error();
    http_ = std::move(h.value());
  }
  if (cfg_.telemetry.dpdk_telemetry) {
    if (auto ok = attach_dpdk_telemetry(&store_); !ok) return ok.error();
    dpdk_attached_ = true;
  }
  return true;
}

uint16_t LiveTelemetry::http_port() const noexcept { return http_ ? http_->port() : 0; }

void LiveTelemetry::add_sample(const runtime::FlowSample& s) {
  monitor_.add_sample({s.outer_hash, s.inner_hash, s.wirelen, s.worker, s.tunneled != 0, s.inner_cut != 0});
}

std::vector<std::string> LiveTelemetry::tick(double elapsed_s, const std::function<nlohmann::json()>& retrans) {
  std::vector<std::string> lines;
  if (elapsed_s - last_publish_ < period_s_) return lines;
  last_publish_ = elapsed_s;
  Snapshot s = collect(engine_, queues_, cfg_.ports);
  s.elapsed_s = elapsed_s;
  for (const auto& j : monitor_.update(s)) lines.push_back(j.dump());
  if (retrans) s.retrans = retrans();
  nlohmann::json ev = nlohmann::json::array();
  for (const auto& e : monitor_.events()) ev.push_back(e);
  store_.publish(std::move(s), std::move(ev));
  return lines;
}

void LiveTelemetry::begin() {
  Snapshot s = collect(engine_, queues_, cfg_.ports);
  s.elapsed_s = 0;
  monitor_.start(s);
}

std::vector<std::string> LiveTelemetry::finish(double elapsed_s, const std::function<nlohmann::json()>& retrans) {
  std::vector<std::string> lines;
  Snapshot s = collect(engine_, queues_, cfg_.ports);
  s.elapsed_s = std::max(elapsed_s, last_publish_);
  for (const auto& j : monitor_.update(s, true)) lines.push_back(j.dump());
  last_publish_ = s.elapsed_s;
  if (retrans) s.retrans = retrans();
  nlohmann::json ev = nlohmann::json::array();
  for (const auto& e : monitor_.events()) ev.push_back(e);
  store_.publish(std::move(s), std::move(ev));
  return lines;
}

nlohmann::json LiveTelemetry::events() const {
  nlohmann::json ev = nlohmann::json::array();
  for (const auto& e : monitor_.events()) ev.push_back(e);
  return ev;
}

}  // namespace seqwatch::telemetry
