// Known snapshots and samples shared by the telemetry tests.
#pragma once

#include <random>
#include <vector>

#include "telemetry/imbalance.hpp"
#include "telemetry/snapshot.hpp"

namespace seqwatch::telemetry::testing {

// One port "span0" with `queues` RSS queues, worker i on queue i, cumulative counters.
inline Snapshot make_snapshot(double elapsed, const std::vector<uint64_t>& queue_packets,
                              const std::vector<uint64_t>& busy_tsc, uint64_t imissed = 0, bool rehash = false) {
  Snapshot s;
  s.time = 1.7e9 + elapsed;
  s.elapsed_s = elapsed;
  s.rehash = rehash;
  PortStats p;
  p.port = "span0";
  p.device = "net_null0";
  p.software_rehash = rehash;
  p.imissed = imissed;
  for (size_t i = 0; i < queue_packets.size(); ++i) {
    QueueStats q;
    q.port = "span0";
    q.queue = static_cast<uint16_t>(i);
    q.worker = rehash ? -1 : static_cast<int>(i);
    q.packets = queue_packets[i];
    q.nic_packets = queue_packets[i];
    q.nic_bytes = queue_packets[i] * 1000;
    s.queues.push_back(q);
    p.ipackets += queue_packets[i];
    p.ibytes += queue_packets[i] * 1000;
  }
  s.ports.push_back(p);
  for (size_t i = 0; i < busy_tsc.size(); ++i) {
    WorkerStats w;
    w.worker = static_cast<unsigned>(i);
    w.packets = i < queue_packets.size() ? queue_packets[i] : 0;
    w.busy_tsc = busy_tsc[i];
    w.idle_tsc = static_cast<uint64_t>(elapsed * 1e9) - busy_tsc[i];
    w.flows = 100 + i;
    w.flow_capacity = 1u << 20;
    s.workers.push_back(w);
    s.packets += w.packets;
  }
  s.tcp_segments = s.packets;
  s.retransmissions = s.packets / 50;
  s.verdicts = {{"retransmission", s.retransmissions}, {"duplicate_ack", s.packets / 100}};
  s.flows = 400;
  return s;
}

// GRE-like traffic as a NIC with outer-header RSS sees it: `outer` tunnel endpoints
// (outer hashes) carry `inner` flows; the NIC puts each outer flow on queue
// outer_queue[k]. Every sample is tunnelled.
inline std::vector<Sample> gre_samples(size_t n, const std::vector<unsigned>& outer_queue, size_t inner,
                                       uint32_t seed = 7) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> inner_hashes(inner);
  for (auto& h : inner_hashes) h = rng();
  std::vector<Sample> v;
  for (size_t i = 0; i < n; ++i) {
    Sample s;
    const size_t k = rng() % outer_queue.size();
    s.outer_hash = 0x1000 + k;
    s.inner_hash = inner_hashes[rng() % inner];
    s.wirelen = 1500;
    s.worker = static_cast<uint8_t>(outer_queue[k]);
    s.tunneled = true;
    v.push_back(s);
  }
  return v;
}

// The same traffic captured with a snaplen that cuts every packet before its inner IP
// header: the worker can hash only the outer addresses, so its "inner" hash is the outer one.
inline std::vector<Sample> cut_gre_samples(size_t n, const std::vector<unsigned>& outer_queue, size_t inner,
                                           uint32_t seed = 7) {
  std::vector<Sample> v = gre_samples(n, outer_queue, inner, seed);
  for (Sample& s : v) {
    s.inner_hash = s.outer_hash;
    s.inner_cut = true;
  }
  return v;
}

}  // namespace seqwatch::telemetry::testing
