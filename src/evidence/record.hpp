// Evidence records: what a worker hands the control thread, and the ring that carries them.
//
// A record is a fixed-stride slot: a 64-byte RecordHeader followed by up to `snap` bytes
// (the trimmed frame, or for kSliceBegin the flow key). The stride is chosen at start from
// the configured trim length (docs/evidence.md), so the ring is one allocation and a push
// is a header store plus one memcpy. Single producer (the worker), single consumer (the
// control thread); a full ring refuses the record and the worker counts it, never blocks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>

#include "flow/flow_key.hpp"

namespace seqwatch::evidence {

enum class RecordKind : uint8_t {
  kSliceBegin = 1,  // data = flow::FlowKey; header.triggers = the bits that opened it
  kPacket = 2,      // data = trimmed frame of a slice packet
  kSliceEnd = 3,    // header.end_reason says why
  kSample = 4,      // data = trimmed frame, sampled (no slice)
};

// Where a packet sits in its slice.
enum class Role : uint8_t { kNone = 0, kPre = 1, kTrigger = 2, kPost = 3 };

enum class EndReason : uint8_t {
  kPostDone = 0,      // the M post-trigger packets were emitted
  kFlowEnded = 1,     // the flow ended (or its history slot was taken) before M packets
  kFlowBudget = 2,    // the per-flow packet budget ran out
  kGlobalBudget = 3,  // the worker's global packet budget ran out
};

struct RecordHeader {
  uint64_t ts_ns = 0;     // packet time (kSliceBegin: time of the trigger packet)
  uint64_t frame = 0;     // input frame number (as tshark numbers frames)
  uint64_t slice = 0;     // worker-local slice id, 1-based; 0 for samples
  uint32_t wirelen = 0;   // original length on the wire (never the trimmed length)
  uint32_t caplen = 0;    // bytes stored after the header
  uint32_t flow_id = 0;
  uint32_t verdicts = 0;  // tcp::Verdict bits the analysis gave this packet
  uint32_t triggers = 0;  // TriggerKind bits fired on this packet (kSliceBegin: that opened the slice)
  uint16_t link = 0;      // decode::LinkType of the frame
  RecordKind kind = RecordKind::kPacket;
  Role role = Role::kNone;
  uint8_t worker = 0;
  uint8_t dir = 0;        // flow::Dir of the sender
  EndReason end_reason = EndReason::kPostDone;
  uint8_t reserved[13] = {};
};
static_assert(sizeof(RecordHeader) == 64, "record header: one cache line");
static_assert(sizeof(flow::FlowKey) <= 64, "kSliceBegin stores the key in the data area");

// Bytes a record slot needs for `snap` data bytes: header + max(snap, key), whole cache lines.
constexpr size_t record_stride(uint32_t snap) noexcept {
  const size_t data = snap < 64 ? 64 : snap;
  return (sizeof(RecordHeader) + data + 63) / 64 * 64;
}

// SPSC ring of fixed-stride record slots (the byte-slot twin of util/spsc_ring.hpp).
class RecordRing {
 public:
  RecordRing(uint32_t capacity_pow2, size_t stride)
      : mask_(capacity_pow2 - 1), stride_(stride),
        mem_(static_cast<uint8_t*>(::operator new(capacity_pow2 * stride, std::align_val_t{64}))) {}
  ~RecordRing() { ::operator delete(mem_, std::align_val_t{64}); }
  RecordRing(const RecordRing&) = delete;
  RecordRing& operator=(const RecordRing&) = delete;

  // Producer: free slots as last seen (refreshes the consumer index when short).
  uint32_t free_slots(uint32_t want) noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    uint64_t used = head - cached_tail_;
    if (mask_ + 1 - used < want) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      used = head - cached_tail_;
    }
    return static_cast<uint32_t>(mask_ + 1 - used);
  }
  // Producer: the next slot to fill, or nullptr when the ring is full. publish() makes it visible.
  uint8_t* reserve() noexcept { return free_slots(1) == 0 ? nullptr : slot(head_.load(std::memory_order_relaxed)); }
  void publish() noexcept { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

  // Consumer: calls consume(header, data) for up to `max` records, oldest first.
  template <class F>
  uint32_t drain(F&& consume, uint32_t max = UINT32_MAX) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t n = head - tail;
    if (n > max) n = max;
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* s = slot(tail + i);
      consume(*reinterpret_cast<const RecordHeader*>(s), s + sizeof(RecordHeader));
    }
    tail_.store(tail + n, std::memory_order_release);
    return static_cast<uint32_t>(n);
  }

  uint32_t capacity() const noexcept { return mask_ + 1; }
  size_t stride() const noexcept { return stride_; }
  size_t memory_bytes() const noexcept { return size_t{mask_ + 1} * stride_; }

 private:
  uint8_t* slot(uint64_t i) const noexcept { return mem_ + (i & mask_) * stride_; }
  const uint32_t mask_;
  const size_t stride_;
  uint8_t* const mem_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t cached_tail_ = 0;  // producer's view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace seqwatch::evidence
