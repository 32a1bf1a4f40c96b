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

// A flow that ended (closed, idle, evicted, or still open at the end of the input).
struct FlowRecord {
  flow::FlowKey key;
  uint64_t last_ts_ns = 0;
  uint32_t flow_id = 0;
  uint8_t worker = 0;
  flow::RemoveReason reason = flow::RemoveReason::kFlush;
  uint8_t max_dup_run[2] = {0, 0};  // FlowEntry::max_dup_run
  tcp::HalfState half[2];
  tcp::HalfCounters count[2];
  tcp::TcpCold cold;
};

}  // namespace seqwatch::event
