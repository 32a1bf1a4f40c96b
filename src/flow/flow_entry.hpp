// One flow, both directions: 5 cache lines. A packet touches line 0 (key, activity), the
// two direction lines and the counters line; the cold line holds handshake/RTT findings.
#pragma once

#include <cstdint>

#include "flow/flow_key.hpp"
#include "tcp/tcp_state.hpp"

namespace seqwatch::flow {

// FlowEntry::status
enum FlowStatus : uint8_t {
  kFlowClosed = 1u << 0,     // FIN both ways or RST: lingers closed_linger_ns, then expires
  kFlowTwoWay = 1u << 1,     // both directions have sent (set by the TCP stage): evicted last
  kFlowFree = 1u << 2,       // the entry is on the free list (set by FlowTable::unlink)
  // Counter carry (tcp/counter_carry.hpp): the entry's counters are 16/32 bits wide.
  kFlowCarryDue = 1u << 3,   // a counter passed half its range (set by the analyzer): carry it out
  kFlowCarried = 1u << 4,    // the TCP stage's carry table holds part of this flow's counts
  kFlowSaturated = 1u << 5,  // the carry table had no room: counters saturated, the record is a lower bound
  kFlowRstAfterFin = 1u << 6,  // the first RST was rst_after_fin (set by the analyzer): in the flow record
  kFlowSynAckAfterAck = 1u << 7,  // a SYN/ACK came again after the handshake's ACK (analyzer): in the flow record
};

struct alignas(64) FlowEntry {
  // line 0: lookup and aging
  FlowKey key;               // 48
  uint64_t last_ts_ns = 0;   // packet time of the latest packet
  uint32_t id = 0;           // per-worker flow number (1-based)
  uint8_t status = 0;        // FlowStatus bits
  uint8_t max_dup_run[2] = {0, 0};  // per direction (index = flow::Dir): longest duplicate-ACK run, saturating at 255
  // bit d: direction d's latest segment was a retransmission (it is in loss recovery);
  // bit 2 + d: it was a duplicate ACK or carried SACK blocks (loss evidence that can clock a
  // re-send from the other side: tcp::kRetxLastClocks); bit 6 + d: it was counted a timeout,
  // bit 4 + d: the segment before it was (tcp::kRetxLastTimeout, kRetxPrevTimeout)
  uint8_t retx_last = 0;
  // lines 1-2: per-direction tracking (index = flow::Dir)
  tcp::HalfState half[2];
  // line 3: per-direction counters
  tcp::HalfCounters count[2];
  // line 4: cold
  tcp::TcpCold cold;
};
static_assert(sizeof(FlowEntry) == 320, "flow entry layout: 5 cache lines, documented in docs/flow-table.md");

}  // namespace seqwatch::flow
