// src/gen: the deterministic synthetic-TCP trace generator (library seqwatch_gen and the
// seqwatch-gen tool). It encodes every wire format itself from the RFCs and never includes
// the decoder, so its frames and its ground truth are an oracle for the decoder and the
// TCP analysis. See docs/trace-generator.md for the model, the options and the exact
// relation between the truth counters and Wireshark's tcp.analysis flags.
//
// GenConfig: everything that shapes a trace. The same GenConfig (seed included) always
// produces the same frames, byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seqwatch::gen {

enum class Tunnel : uint8_t { kNone, kGre, kIpip, kVxlan };

struct Impairments {
  // Per new data segment (each is applied only where the flow is "clean": no hole,
  // no episode in progress, a cool-down of kCooldownSegments since the last one).
  double loss_downstream = 0;  // captured, then dropped before the receiver
  double loss_upstream = 0;    // dropped before the sensor: never captured
  double reorder = 0;          // this segment and the next swap places
  double duplicate = 0;        // the segment appears twice in a row
  double midseg_ack = 0;       // receiver (a buggy load balancer) ACKs 512 bytes into it
  double zero_window = 0;      // receiver closes its window after this segment
  // Loss in bursts (congestion's shape): with a period, the two loss probabilities apply only
  // to segments sent in the first loss_burst_len_s of every loss_burst_period_s of trace time.
  double loss_burst_period_s = 0;
  double loss_burst_len_s = 0;
  // Per flow.
  double syn_unanswered = 0;   // SYN retransmitted with back-off, never answered
  double syn_rst = 0;          // SYN answered by RST/ACK (port closed)
  double rst_close = 0;        // flow ends with RST instead of FIN/FIN/ACK
  unsigned syn_retries = 3;    // retransmissions of an unanswered SYN (1 s, 2 s, 4 s ...)
  unsigned midseg_rounds = 3;  // re-cut fast retransmissions per mid-segment episode
  unsigned zwp_probes = 2;     // zero-window probes per zero-window episode
};

struct EncapConfig {
  std::vector<uint16_t> vlans;    // 0, 1 (802.1Q) or 2 (QinQ: 0x88A8 outer, 0x8100 inner)
  Tunnel tunnel = Tunnel::kNone;
  bool gre_key = false;           // GRE key present (RFC 2890): key = key_base + outer pair
  uint32_t gre_key_base = 1000;
  uint32_t vni = 5000;            // VXLAN VNI = vni + outer pair index
  uint32_t outer_pairs = 1;       // outer tunnel endpoint pairs; inner flow f uses pair f % n
  double outer_ipv6_share = 0;    // share of outer pairs that are IPv6
};

struct GenConfig {
  uint64_t seed = 1;
  uint32_t flows = 1000;          // concurrent flows (a closed flow is replaced at once)
  uint64_t packets = 100000;      // stop after this many frames (0: no limit)
  double duration_s = 0;          // stop at this trace time (0: no limit)
  double rate_pps = 1e6;          // aggregate packet rate the per-flow gaps are sized for
  uint32_t mss = 1460;            // TCP payload per full segment (advertised in SYNs)
  double ipv6_share = 0;          // share of inner flows that are IPv6
  bool tcp_timestamps = true;     // negotiate RFC 7323 timestamps (then on every segment)
  double rtt_min_ms = 2;          // per-flow RTT, uniform in [min, max]: SYN -> ACK spacing
  double rtt_max_ms = 40;
  double exchanges = 2;           // mean request/response exchanges per flow
  double bulk_share = 0.35;       // share of responses that are bulk (8 KiB - 256 KiB)
  bool syn_only = false;          // every flow is a single SYN (flow-insert benchmarks)
  uint32_t servers = 256;         // distinct server addresses
  Impairments imp;
  EncapConfig encap;
  bool nanosecond = true;         // pcap magic 0xA1B23C4D (else microseconds)
  uint32_t snaplen = 262144;      // captured bytes per frame (wire length is kept)
  double start_time_s = 1704067200;  // 2024-01-01T00:00:00Z
  uint32_t per_flow_truth_max = 2000;  // per-flow truth kept for the first N flows
  // A SPAN session covering two ports of the packets' path (ingress and egress of a router):
  // this share of the frames is captured a second time span_lag_us later, the outermost
  // TTL / hop limit one lower (IPv4 header checksum updated), every other byte the same.
  double span_copies = 0;
  double span_lag_us = 30;
};

// Named presets (docs/trace-generator.md). Returns false for an unknown name.
bool apply_preset(std::string_view name, GenConfig& cfg);
std::vector<std::string_view> preset_names();

// Empty when valid; otherwise what is wrong and what to do about it.
std::string validate(const GenConfig& cfg);

}  // namespace seqwatch::gen
