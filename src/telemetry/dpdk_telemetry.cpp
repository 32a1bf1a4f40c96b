#include "telemetry/dpdk_telemetry.hpp"

#include <fmt/format.h>
#include <rte_telemetry.h>

#include <cstring>
#include <functional>
#include <mutex>

namespace seqwatch::telemetry {

namespace {

std::mutex g_mu;                      // guards g_store against detach during a callback
const SnapshotStore* g_store = nullptr;
bool g_registered = false;

std::string ratio(double v) { return fmt::format("{:.4f}", v); }

// The latest snapshot, or null when detached (the dict then says running: 0).
std::shared_ptr<const Snapshot> latest(rte_tel_data* d) {
  std::lock_guard<std::mutex> lock(g_mu);
  rte_tel_data_start_dict(d);
  if (g_store == nullptr) {
    rte_tel_data_add_dict_int(d, "running", 0);
    return nullptr;
  }
  rte_tel_data_add_dict_int(d, "running", 1);
  return g_store->latest();
}

// A dict entry holding one array of u64, built from `n` values.
void add_u64_array(rte_tel_data* d, const char* name, size_t n, const std::function<uint64_t(size_t)>& at) {
  rte_tel_data* a = rte_tel_data_alloc();
  if (a == nullptr) return;
  rte_tel_data_start_array(a, RTE_TEL_U64_VAL);
  for (size_t i = 0; i < n && i < RTE_TEL_MAX_ARRAY_ENTRIES; ++i) rte_tel_data_add_array_u64(a, at(i));
  rte_tel_data_add_dict_container(d, name, a, 0);
}

void add_str_array(rte_tel_data* d, const char* name, size_t n, const std::function<std::string(size_t)>& at) {
  rte_tel_data* a = rte_tel_data_alloc();
  if (a == nullptr) return;
  rte_tel_data_start_array(a, RTE_TEL_STRING_VAL);
  for (size_t i = 0; i < n && i < RTE_TEL_MAX_ARRAY_ENTRIES; ++i) rte_tel_data_add_array_string(a, at(i).c_str());
  rte_tel_data_add_dict_container(d, name, a, 0);
}

int cmd_stats(const char*, const char*, rte_tel_data* d) {
  auto s = latest(d);
  if (s == nullptr) return 0;
  uint64_t imissed = 0, nombuf = 0, ierrors = 0, ring = 0;
  for (const auto& p : s->ports) {
    imissed += p.imissed;
    nombuf += p.rx_nombuf;
    ierrors += p.ierrors;
  }
  for (const auto& w : s->workers) ring += w.events_dropped + w.records_dropped;
  rte_tel_data_add_dict_string(d, "elapsed_s", ratio(s->elapsed_s).c_str());
  rte_tel_data_add_dict_u64(d, "packets", s->packets);
  rte_tel_data_add_dict_u64(d, "tunneled", s->tunneled);
  rte_tel_data_add_dict_u64(d, "tcp_segments", s->tcp_segments);
  rte_tel_data_add_dict_u64(d, "retransmissions", s->retransmissions);
  rte_tel_data_add_dict_u64(d, "flows", s->flows);
  rte_tel_data_add_dict_u64(d, "imissed", imissed);
  rte_tel_data_add_dict_u64(d, "rx_nombuf", nombuf);
  rte_tel_data_add_dict_u64(d, "ierrors", ierrors);
  rte_tel_data_add_dict_u64(d, "rehash_dropped_full", s->rehash_dropped_full);
  rte_tel_data_add_dict_u64(d, "output_ring_dropped", ring);
  rte_tel_data_add_dict_int(d, "workers", static_cast<int>(s->workers.size()));
  rte_tel_data_add_dict_int(d, "queues", static_cast<int>(s->queues.size()));
  rte_tel_data_add_dict_int(d, "software_rehash", s->rehash ? 1 : 0);
  rte_tel_data_add_dict_string(d, "core_skew", ratio(s->core_skew).c_str());
  rte_tel_data_add_dict_string(d, "worker_cv", ratio(s->worker_balance.cv).c_str());
  rte_tel_data_add_dict_string(d, "tunneled_share", ratio(s->diagnosis.tunneled_share).c_str());
  rte_tel_data_add_dict_string(d, "predicted_inner_cv", ratio(s->diagnosis.predicted_inner_cv).c_str());
  return 0;
}

int cmd_queues(const char*, const char*, rte_tel_data* d) {
  auto s = latest(d);
  if (s == nullptr) return 0;
  const auto& q = s->queues;
  add_str_array(d, "port", q.size(), [&](size_t i) { return q[i].port; });
  add_u64_array(d, "queue", q.size(), [&](size_t i) { return q[i].queue; });
  add_u64_array(d, "packets", q.size(), [&](size_t i) { return q[i].packets; });
  add_u64_array(d, "nic_packets", q.size(), [&](size_t i) { return q[i].nic_packets; });
  add_u64_array(d, "nic_bytes", q.size(), [&](size_t i) { return q[i].nic_bytes; });
  const auto& f = s->imbalance;
  add_str_array(d, "imbalance_port", f.size(), [&](size_t i) { return f[i].port; });
  add_str_array(d, "imbalance_cv", f.size(), [&](size_t i) { return ratio(f[i].cv); });
  add_str_array(d, "imbalance_max_mean", f.size(), [&](size_t i) { return ratio(f[i].max_mean); });
  return 0;
}

int cmd_workers(const char*, const char*, rte_tel_data* d) {
  auto s = latest(d);
  if (s == nullptr) return 0;
  const auto& w = s->workers;
  add_u64_array(d, "packets", w.size(), [&](size_t i) { return w[i].packets; });
  add_u64_array(d, "busy_cycles", w.size(), [&](size_t i) { return w[i].busy_tsc; });
  add_u64_array(d, "idle_cycles", w.size(), [&](size_t i) { return w[i].idle_tsc; });
  add_str_array(d, "busy_ratio", w.size(), [&](size_t i) { return ratio(w[i].busy_ratio); });
  add_str_array(d, "cycles_per_packet", w.size(), [&](size_t i) { return ratio(w[i].cycles_per_packet); });
  add_u64_array(d, "flows", w.size(), [&](size_t i) { return w[i].flows; });
  add_u64_array(d, "evictions", w.size(), [&](size_t i) { return w[i].evictions; });
  add_u64_array(d, "events", w.size(), [&](size_t i) { return w[i].events; });
  add_u64_array(d, "events_dropped", w.size(), [&](size_t i) { return w[i].events_dropped; });
  add_u64_array(d, "records_dropped", w.size(), [&](size_t i) { return w[i].records_dropped; });
  return 0;
}

}  // namespace

Result<bool> attach_dpdk_telemetry(const SnapshotStore* store) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_store = store;
  if (g_registered) return true;
  struct Cmd {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  const Cmd cmds[] = {
      {"/seqwatch/stats", cmd_stats, "seqwatch totals: packets, segments, retransmissions, drops, skew. No parameters."},
      {"/seqwatch/queues", cmd_queues, "seqwatch per RX queue: packets (seqwatch and NIC), imbalance. No parameters."},
      {"/seqwatch/workers", cmd_workers, "seqwatch per worker: packets, busy ratio, cycles/packet, flows. No parameters."},
  };
  for (const Cmd& c : cmds) {
    const int rc = rte_telemetry_register_cmd(c.name, c.fn, c.help);
    if (rc != 0)
      return Error{fmt::format("telemetry.dpdk_telemetry: registering {} failed ({}); set telemetry.dpdk_telemetry=false "
                               "to run without it",
                               c.name, std::strerror(-rc))};
  }
  g_registered = true;
  return true;
}

void detach_dpdk_telemetry() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_store = nullptr;
}

}  // namespace seqwatch::telemetry
