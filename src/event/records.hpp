// Records handed from workers to the control thread (trivially copyable, fixed size).
// Their JSON form is specified in docs/events.md.
#pragma once

#include <cstdint>

#include "flow/flow_entry.hpp"
#include "flow/flow_table.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::event {

// A segment that got at least one verdict.
struct SegmentEvent {
  flow::FlowKey key;
  uint64_t ts_ns = 0;
  uint64_t frame = 0;
  tcp::SegmentVerdict verdict;
  uint32_t flow_id = 0;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint32_t payload_len = 0;
  uint16_t window = 0;
  uint8_t dir = 0;        // flow::Dir of the sender
  uint8_t worker = 0;
  uint8_t tcp_flags = 0;
  uint8_t kind = 0;       // EventKind
  uint8_t reserved[2] = {0, 0};
  uint32_t rule_id = 0;   // kPayloadMatch: the rule's id ...
  uint32_t match_end = 0; // ... and the payload offset just past the match
};

enum EventKind : uint8_t {
  kSegmentVerdicts = 0,  // the segment got analysis verdicts
  kPayloadMatch = 1,     // a payload rule matched the segment
};

// One direction's counters in a flow record: 64-bit, whole flow (the entry's 16/32-bit
// counters plus what the TCP stage carried out of them: tcp/counter_carry.hpp).
struct DirCounters {
  uint64_t segments = 0;
  uint64_t retx_segs = 0;
  uint64_t data_bytes = 0;
  uint64_t retx_bytes = 0;
  uint64_t fast_retx = 0;
  uint64_t spurious_retx = 0;
  uint64_t dup_acks = 0;
  uint64_t lost_segments = 0;
  uint64_t rto_retx = 0;

  // Adds an entry's counters (tcp::HalfCounters) or another record's (DirCounters).
  template <class Counters>
  void add(const Counters& c) noexcept {
    segments += c.segments;
    retx_segs += c.retx_segs;
    data_bytes += c.data_bytes;
    retx_bytes += c.retx_bytes;
    fast_retx += c.fast_retx;
    spurious_retx += c.spurious_retx;
    dup_acks += c.dup_acks;
    lost_segments += c.lost_segments;
    rto_retx += c.rto_retx;
  }
};

// The flow's counters kept in TcpCold, whole flow, 64-bit (as DirCounters).
struct FlowCounters {
  uint64_t midack_count = 0;
  uint64_t dsacks = 0;
  uint64_t tail_probes = 0;
  uint64_t rtt_samples = 0;
  uint64_t rtt_sum_us = 0;

  // Adds an entry's cold line (tcp::TcpCold) or another record's (FlowCounters).
  template <class Counters>
  void add(const Counters& c) noexcept {
    midack_count += c.midack_count;
    dsacks += c.dsacks;
    tail_probes += c.tail_probes;
    rtt_samples += c.rtt_samples;
    rtt_sum_us += c.rtt_sum_us;
  }
};

// A flow that ended (closed, idle, evicted, or still open at the end of the input), or
// one that goes on (reason kActive: the active timeout's record of it so far).
// Counters come from `count` and `totals`: the same fields of `cold` hold only the part
// the entry kept.
struct FlowRecord {
  flow::FlowKey key;
  uint64_t last_ts_ns = 0;
  uint32_t flow_id = 0;
  uint8_t worker = 0;
  flow::RemoveReason reason = flow::RemoveReason::kFlush;
  uint8_t max_dup_run[2] = {0, 0};  // FlowEntry::max_dup_run
  tcp::HalfState half[2];
  DirCounters count[2];
  FlowCounters totals;
  bool saturated = false;  // some counter saturated (the carry table was full): lower bounds
  bool rst_after_fin = false;  // the first RST was rst_after_fin (the resetting side had closed first)
  bool synack_after_ack = false;  // the server re-sent its SYN/ACK after the client's ACK of it (synack_after_ack)
  tcp::TcpCold cold;
};

}  // namespace seqwatch::event
