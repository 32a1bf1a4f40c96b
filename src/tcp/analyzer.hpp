// TCP sequence analysis: one call per segment updates its flow's state and returns the
// segment's verdicts. The rules, their order and their sources (Wireshark 4.0's
// tcp_analyze_sequence_number, and seqwatch's own additions) are in docs/tcp-analysis.md.
//
// Hot path: no allocation, no branches on configuration, O(1) per segment whatever the
// flow's history (duplicates and reordering cost the same as in-order data).
#pragma once

#include <cstdint>

#include "decode/packet_view.hpp"
#include "flow/flow_entry.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::tcp {

// Thresholds Wireshark uses (and seqwatch keeps, for comparable verdicts).
inline constexpr uint32_t kFastRetxWindowUs = 20000;  // fast retransmission: within 20 ms of the last dup ACK
inline constexpr uint32_t kOooDefaultUs = 3000;       // out-of-order threshold before the first RTT is known
// Timer-driven retransmissions (analyzer.cpp, "Counters"): a timeout comes at least this
// long after the peer's ACK last advanced (Linux's and macOS's minimum RTO), and a tail-loss
// probe comes sooner than this after the segment it re-sends.
inline constexpr uint32_t kMinRtoUs = 200000;
// ... or, for a sender whose timer fires sooner (a lowered rto_min), this long (or two RTTs):
// analyzer.cpp, timeout_quiet().
inline constexpr uint32_t kShortRtoUs = 20000;
// A tail-loss probe follows at least this much silence from both sides (Linux's probe
// timeout is 2 x SRTT + 2 ticks: 8 ms at HZ=250).
inline constexpr uint32_t kProbeFloorUs = 5000;
// A re-send this soon after a segment of the peer (or half an RTT, if longer) is taken as
// clocked by that segment, not by a timer: a sender answers an ACK at once, but pacing and
// RACK's reordering window (a quarter of the minimum RTT, RFC 8985) can hold the re-send
// back by a few milliseconds.
inline constexpr uint32_t kClockedUs = 10000;
// A keep-alive follows at least this much idle time (Linux's floor for TCP_KEEPIDLE and
// TCP_KEEPINTVL); a one-byte "keep-alive" sooner re-sends a byte (analyzer.cpp, "Counters").
inline constexpr uint32_t kKeepAliveIdleUs = 1000000;

// What the caller must do after analyze_segment().
enum class Action : uint8_t {
  kNone,
  kRestart,  // a SYN with a new ISN on a used 4-tuple: end this flow, start a new one, analyse again
};

// Initialises a new flow from its first segment (before analyze_segment()).
void start_flow(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns) noexcept;

// Analyses one segment sent in direction `dir`. `frame` is the packet's 1-based position
// in its input (used for duplicate-ACK references). The common segment (in order, no
// SYN/FIN/RST, no zero window, no duplicate ACK, nothing pending: analyzer.cpp,
// fast_segment) and a fresh flow's first SYN (first_syn) take short paths; every other
// one walks all the rules.
Action analyze_segment(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame,
                       SegmentVerdict& out) noexcept;

// The short path alone: true when it handled the segment; false, with nothing changed,
// when the segment needs the full rule walk. For tests.
bool analyze_segment_fast(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame,
                          SegmentVerdict& out) noexcept;

// The full rule walk alone, for every segment: the reference the short path is tested
// against (same verdicts, same flow state after every segment).
Action analyze_segment_rules(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns,
                             uint32_t frame, SegmentVerdict& out) noexcept;

}  // namespace seqwatch::tcp
