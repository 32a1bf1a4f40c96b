// Ground truth: what the generator did, tallied when the frame that shows it is emitted,
// so the counts always describe exactly the frames written (a trace cut by --packets
// included). docs/trace-generator.md maps each counter to Wireshark 4.0's tcp.analysis.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace seqwatch::gen {

// Tags a planned packet carries; each names one truth counter.
enum Tag : uint32_t {
  kTagFastRetx = 1u << 0,       // retransmission after the 3rd duplicate ACK
  kTagRtoRetx = 1u << 1,        // retransmission after a retransmission timeout
  kTagDupSegment = 1u << 2,     // second copy of a segment duplicated by the network
  kTagSynRetry = 1u << 3,       // retransmitted SYN (unanswered SYN)
  kTagLostSegment = 1u << 4,    // first frame after sequence space the capture never saw
  kTagUpstreamLoss = 1u << 5,   // ... because a segment was lost before the sensor
  kTagReorderEarly = 1u << 6,   // later segment of a swapped pair, captured first
  kTagOutOfOrder = 1u << 7,     // earlier segment of a swapped pair, captured second
  kTagDownstreamLoss = 1u << 8, // captured, then lost before the receiver
  kTagMidsegAck = 1u << 9,      // ACK ending 512 bytes into a segment (load-balancer bug)
  kTagZeroWindow = 1u << 10,    // window field 0 (not SYN/FIN/RST)
  kTagZwp = 1u << 11,           // zero-window probe (1 byte at the next sequence number)
  kTagZwpAck = 1u << 12,        // ACK answering a zero-window probe
  kTagWindowUpdate = 1u << 13,  // pure ACK reopening the window, same ACK number
  kTagDupAck = 1u << 14,        // duplicate ACK (definition in docs)
  kTagRefusedSyn = 1u << 15,    // RST/ACK answering a SYN
  kTagDataSegment = 1u << 16,   // carries payload (new or retransmitted)
  kTagRetxMidseg = 1u << 17,    // the retransmission is re-cut at a mid-segment ACK
  kTagSpanCopy = 1u << 18,      // the SPAN session's second capture of the frame before it (--span-copies)
};

struct Counters {
  uint64_t frames = 0;
  uint64_t flows_started = 0;       // flows whose first SYN was emitted
  uint64_t syn = 0;                 // SYN frames (retries included)
  uint64_t fin = 0;
  uint64_t rst = 0;                 // RST frames (refused SYNs + RST teardowns)
  std::array<uint64_t, 2> data_segments{};  // [0] client->server, [1] server->client
  std::array<uint64_t, 2> data_bytes{};
  std::array<uint64_t, 2> new_data_bytes{};
  uint64_t pure_acks = 0;
  uint64_t fast_retx = 0;
  uint64_t rto_retx = 0;
  uint64_t dup_segments = 0;
  uint64_t syn_retries = 0;
  uint64_t refused_syns = 0;
  uint64_t upstream_losses = 0;
  uint64_t downstream_losses = 0;
  uint64_t reorders = 0;
  uint64_t lost_segment = 0;        // = upstream_losses + reorders
  uint64_t out_of_order = 0;        // = reorders
  uint64_t midseg_acks = 0;
  uint64_t midseg_retx = 0;         // re-cut retransmissions (part of fast/rto_retx)
  uint64_t zero_window = 0;
  uint64_t zero_window_probes = 0;
  uint64_t zero_window_probe_acks = 0;
  uint64_t window_updates = 0;
  uint64_t dup_acks = 0;
  std::array<uint64_t, 4> frame_size_hist{};  // wire bytes: <128, <512, <1024, >=1024
  uint64_t span_copies = 0;  // second captures of a frame (--span-copies): counted here and in frames only

  // Wireshark 4.0 equivalents (docs/trace-generator.md):
  uint64_t ws_retransmission() const { return fast_retx + rto_retx + dup_segments + syn_retries; }

  void tally(uint32_t tags, int dir, uint32_t payload, uint8_t tcp_flags, uint32_t wire_len);
  void add(const Counters& o);
};

nlohmann::json to_json(const Counters& c);

struct FlowTruth {
  uint64_t id = 0;
  std::string client, server;  // "addr:port"
  bool ipv6 = false;
  uint32_t outer_pair = 0;
  Counters c;
};

struct Truth {
  Counters total;
  std::vector<FlowTruth> flows;  // the first per_flow_truth_max flows
  bool flows_truncated = false;
  double first_ts = 0, last_ts = 0;
  nlohmann::json to_json() const;
};

}  // namespace seqwatch::gen
