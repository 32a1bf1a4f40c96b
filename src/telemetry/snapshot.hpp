// The telemetry snapshot: every counter the control thread publishes, as plain numbers.
//
// A Snapshot is filled on the control thread (collect.cpp reads the engine and the DPDK
// ports; tests build one by hand) and then only read: the Prometheus endpoint, the
// /api/snapshot JSON that `seqwatch top` polls, the DPDK telemetry commands and the
// stats lines are all views of it. Counters are cumulative since start ("_total" in
// Prometheus); the ratios (busy, imbalance) are over the last imbalance window.
// No DPDK headers here: this library is unit-tested without an EAL.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace seqwatch::telemetry {

// One RX queue as seqwatch's worker saw it (packets handed out by rx_burst) and as the
// NIC counted it (rte_eth_stats q_ipackets / q_ibytes; 0 where the PMD does not keep
// per-queue counters).
struct QueueStats {
  std::string port;        // configured port name (ports[].name), e.g. "span0"
  uint16_t port_id = 0;    // DPDK port id
  uint16_t queue = 0;
  int worker = -1;         // the worker that polls it; -1 behind the software rehash stage
  uint64_t packets = 0;    // seqwatch: DpdkPortSource::received()
  uint64_t nic_packets = 0;
  uint64_t nic_bytes = 0;
};

// rte_eth_stats of one port.
struct PortStats {
  std::string port;        // configured name
  std::string device;      // ethdev name ("net_pcap0", "0000:3b:00.0")
  uint16_t port_id = 0;
  unsigned config_index = 0;  // index in the configuration's ports list (for "ports.N.x" hints)
  bool software_rehash = false;
  uint64_t ipackets = 0, ibytes = 0, imissed = 0, ierrors = 0, rx_nombuf = 0;
};

struct WorkerStats {
  unsigned worker = 0;
  uint64_t packets = 0;       // decoded frames
  uint64_t bursts = 0;
  uint64_t idle_polls = 0;
  uint64_t busy_tsc = 0;      // cycles in polls that received packets
  uint64_t idle_tsc = 0;      // cycles in empty polls
  uint64_t tcp_segments = 0;
  uint64_t flows = 0;         // flow-table entries in use
  uint64_t flow_capacity = 0;
  uint64_t evictions = 0;
  uint64_t events = 0;
  uint64_t events_dropped = 0;   // event ring full
  uint64_t records_dropped = 0;  // flow-record ring full
  uint64_t samples_dropped = 0;  // imbalance sample ring full
  uint64_t payload_events_dropped = 0;  // payload-match events lost on a full event ring
  uint64_t filtered = 0;         // packets the capture filter (BPF) kept out of the analysis
  uint64_t rehash_packets = 0;   // frames the rehash stage handed this worker
  // Over the last imbalance window (filled by Monitor, not by the collector).
  double busy_ratio = 0;         // busy / (busy + idle) cycles
  double cycles_per_packet = 0;  // busy cycles / packets
  double pps = 0;
};

// Queue imbalance / core skew over the window, per port (queues) and over all workers.
struct ImbalanceFigures {
  std::string port;
  unsigned queues = 0;
  uint64_t packets = 0;        // in the window, all queues of the port
  double cv = 0;               // coefficient of variation of packets per queue
  double max_mean = 0;         // busiest queue / mean queue
  int busiest_queue = -1;
  bool judged = false;         // enough packets (imbalance.min_packets)
};

// What the samples say about the traffic (see imbalance.hpp for how it is computed).
struct Diagnosis {
  uint64_t samples = 0;
  double tunneled_share = 0;       // share of sampled packets that were tunnelled
  std::string tunnel_kind;         // dominant outermost tunnel type ("GRE"), "" when none
  uint64_t outer_flows = 0;        // distinct outer hashes seen
  uint64_t outer_flows_95 = 0;     // fewest outer flows carrying 95% of the packets
  uint64_t inner_flows = 0;
  uint64_t inner_flows_95 = 0;
  double predicted_inner_cv = 0;   // CV if spread by the inner hash over the same queues
  double predicted_outer_cv = 0;   // CV of the outer hash over the same queues (sanity)
  double elephant_share = 0;       // largest single inner flow's share of its queue
  int elephant_queue = -1;
  // Tunnelled packets the capture cut before their inner IP header (a snaplen too short
  // for the encapsulation): only their outer addresses can be hashed, by the NIC or by the
  // software rehash. Share of all samples, and the queue (worker) where their share is largest.
  double inner_cut_share = 0;
  double inner_cut_queue_share = 0;
  int inner_cut_queue = -1;
};

struct Snapshot {
  double time = 0;        // wall clock, seconds since the epoch
  double elapsed_s = 0;   // since the run started
  double window_s = 0;    // length of the window the ratios cover (0 before the second snapshot)
  bool rehash = false;    // the software rehash stage spreads frames over the workers
  std::vector<PortStats> ports;
  std::vector<QueueStats> queues;
  std::vector<WorkerStats> workers;
  // Software rehash stage.
  uint64_t rehash_packets = 0, rehash_dropped_full = 0, rehash_dropped_oversize = 0;
  // Totals.
  uint64_t packets = 0;             // decoded by the workers
  uint64_t tunneled = 0;
  std::map<std::string, uint64_t> tunnels;   // by outermost tunnel type
  uint64_t tcp_segments = 0;
  uint64_t retransmissions = 0;     // segments with the Wireshark "retransmission" verdict
  std::map<std::string, uint64_t> verdicts;  // every verdict seen
  uint64_t flows = 0;
  // Derived over the window.
  std::vector<ImbalanceFigures> imbalance;  // one per port: packets per RX queue
  ImbalanceFigures worker_balance;          // packets per worker (port "workers")
  double core_skew = 0;             // busiest worker / mean worker, busy cycles
  bool core_skew_judged = false;
  Diagnosis diagnosis;
  // RetransReport::to_json(top_n) of the run so far (top flows / services), or null.
  nlohmann::json retrans;
};

// JSON of the parts (inline: the diagnosis events embed them).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(QueueStats, port, port_id, queue, worker, packets, nic_packets,
                                                nic_bytes)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PortStats, port, device, port_id, config_index, software_rehash,
                                                ipackets, ibytes, imissed, ierrors, rx_nombuf)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(WorkerStats, worker, packets, bursts, idle_polls, busy_tsc, idle_tsc,
                                                tcp_segments, flows, flow_capacity, evictions, events,
                                                events_dropped, records_dropped, samples_dropped,
                                                payload_events_dropped, filtered, rehash_packets, busy_ratio,
                                                cycles_per_packet, pps)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImbalanceFigures, port, queues, packets, cv, max_mean,
                                                busiest_queue, judged)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Diagnosis, samples, tunneled_share, tunnel_kind, outer_flows,
                                                outer_flows_95, inner_flows, inner_flows_95, predicted_inner_cv,
                                                predicted_outer_cv, elephant_share, elephant_queue, inner_cut_share,
                                                inner_cut_queue_share, inner_cut_queue)

nlohmann::json to_json(const Snapshot& s);
Snapshot snapshot_from_json(const nlohmann::json& j);  // inverse of to_json (throws on bad input)

// The periodic stats line (telemetry.stats_file), one JSON object: the snapshot without
// the retransmission report, plus "type":"stats".
nlohmann::json stats_line(const Snapshot& s);

// A count or rate for people (seqwatch top, the HTML report): 3 significant digits with an SI
// prefix from 1000 up ("12.3k", "4.5M"); below 1000 an integer as is, a fraction to 3 digits.
std::string si(double v);

}  // namespace seqwatch::telemetry
