// Counter carry: the flow entry keeps its record counters in 16 and 32 bits (32 bytes per
// direction hold the entry at five cache lines), which a long flow outgrows: one direction
// of a 10 Gbit/s elephant sends 2^32 segments in ~1.4 hours, a lossy connection that lives
// for weeks makes more than 65,535 fast retransmissions. The analyzer marks a flow
// (flow::kFlowCarryDue) when one of its counters passes half its range; the TCP stage then
// moves the flow's counts into this per-worker table of 64-bit totals and zeroes them in
// the entry, and adds them back into the flow record when the flow ends. Only long flows
// ever come here, at most once per 2^15 rare events or 2^31 segments: not the hot path.
//
// Fixed size, allocated once. A flow finds its totals within kProbe slots of its home
// slot; when all are taken, nothing moves, the flow is marked flow::kFlowSaturated and its
// counters stop below their limit (its record's counters are then lower bounds, and say
// so). docs/flow-table.md, "Counter carry".
#pragma once

#include <cstdint>
#include <memory>

#include "event/records.hpp"
#include "flow/flow_entry.hpp"

namespace seqwatch::tcp {

class CounterCarry {
 public:
  static constexpr unsigned kProbe = 16;
  // Where a counter the stage could not carry is held (below 2^32, so its next increments
  // cannot wrap before the next try).
  static constexpr uint32_t kHold32 = 0xFFFF0000u;

  // `slots` is rounded up to a power of two, at least kProbe.
  explicit CounterCarry(uint32_t slots);

  // Moves the flow's counts (entry index `slot`) into the table and zeroes them in the
  // entry (data_bytes stays: 64-bit, and the analysis reads it; the RTT mean the analysis
  // reads is kept exactly). Clears kFlowCarryDue; sets kFlowCarried, or kFlowSaturated and
  // holds the 32-bit counters at kHold32 when there is no room. Returns whether it moved.
  bool carry(flow::FlowEntry& f, uint32_t slot) noexcept;

  // Adds what was carried for entry `slot` to its flow record and frees the slot.
  void settle(uint32_t slot, event::FlowRecord& r) noexcept;
  // Adds what was carried so far to a record (the slot stays: the flow may go on).
  void add_carried(uint32_t slot, event::FlowRecord& r) noexcept;

  uint32_t slots() const noexcept { return mask_ + 1; }
  uint32_t in_use() const noexcept { return used_; }
  size_t memory_bytes() const noexcept { return static_cast<size_t>(slots()) * sizeof(Slot); }

 private:
  struct Slot {
    uint32_t key = 0;  // entry index + 1; 0 = free
    event::DirCounters count[2];
    event::FlowCounters totals;
  };
  Slot* find(uint32_t slot, bool insert) noexcept;

  std::unique_ptr<Slot[]> table_;
  uint32_t mask_ = 0;
  uint32_t used_ = 0;
};

}  // namespace seqwatch::tcp
