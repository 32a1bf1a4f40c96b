// Single-producer / single-consumer ring of trivially copyable records: the hand-off from
// a worker (producer) to the control thread (consumer). Fixed capacity (power of two),
// allocated once; push never blocks: a full ring refuses and the producer counts the loss.
// Indexes are published with release stores and read with acquire loads (no locks, no
// read-modify-write atomics); head and tail sit on separate cache lines.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include <sys/mman.h>
#include <type_traits>

namespace seqwatch {

template <class T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  // The slots are an anonymous mapping, not value-initialised records: a slot's page
  // becomes resident only when a record is first written to it (a 64k-event ring that
  // carries a few hundred events costs a few pages, not 7 MiB), whatever the allocator
  // does with fresh memory. push() copies a whole record in, which begins its lifetime
  // (T is trivially copyable, hence an implicit-lifetime type). Throws std::bad_alloc
  // when the mapping fails (construction is control path).
  explicit SpscRing(uint32_t capacity_pow2) : mask_(capacity_pow2 - 1), slots_(map_slots(capacity_pow2)) {}

  bool push(const T& v) noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ > mask_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ > mask_) return false;
    }
    std::memcpy(static_cast<void*>(slots_.get() + (head & mask_)), &v, sizeof(T));
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  template <class F>
  uint32_t drain(F&& consume, uint32_t max = UINT32_MAX) noexcept(noexcept(consume(std::declval<const T&>()))) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    const uint64_t head = head_.load(std::memory_order_acquire);
    uint64_t n = head - tail;
    if (n > max) n = max;
    for (uint64_t i = 0; i < n; ++i) consume(*std::launder(slots_.get() + ((tail + i) & mask_)));
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
  struct Free {
    size_t bytes = 0;
    void operator()(T* p) const noexcept { ::munmap(p, bytes); }
  };
  static std::unique_ptr<T, Free> map_slots(uint32_t n) {
    static_assert(alignof(T) <= 4096);
    const size_t bytes = sizeof(T) * size_t{n};
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return std::unique_ptr<T, Free>(static_cast<T*>(p), Free{bytes});
  }
  const uint32_t mask_;
  std::unique_ptr<T, Free> slots_;
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t cached_tail_ = 0;  // producer's view of tail_
  alignas(64) std::atomic<uint64_t> tail_{0};
};

}  // namespace seqwatch
