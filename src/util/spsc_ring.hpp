// Single-producer / single-consumer ring of trivially copyable records: the hand-off from
// a worker (producer) to the control thread (consumer). Fixed capacity (power of two),
// allocated once; push never blocks: a full ring refuses and the producer counts the loss.
// Indexes are published with release stores and read with acquire loads (no locks, no
// read-modify-write atomics); head and tail sit on separate cache lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace seqwatch {

template <class T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  explicit SpscRing(uint32_t capacity_pow2) : mask_(capacity_pow2 - 1), slots_(new T[capacity_pow2]) {}

  bool push(const T& v) noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ > mask_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ > mask_) return false;
    }
    slots_[head & mask_] = v;
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  template <class F>
  uint32_t drain(F&& consume, uint32_t max = UINT32_MAX) noexcept(noexcept(consume(std::declval<const T&>()))) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t n = head - tail;
    if (n > max) n = max;
    for (uint64_t i = 0; i < n; ++i) consume(slots_[(tail + i) & mask_]);
    tail_.store(tail + n, std::memory_order_release);
    return static_cast<uint32_t>(n);
  }

  uint32_t capacity() const noexcept { return mask_ + 1; }
  // Producer side: slots certainly free now (the consumer may have freed more).
  uint32_t free_slots() noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    cached_tail_ = tail_.load(std::memory_order_acquire);
    return static_cast<uint32_t>(mask_ + 1 - (head - cached_tail_));
  }

 private:
  const uint32_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t cached_tail_ = 0;  // producer's view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace seqwatch
