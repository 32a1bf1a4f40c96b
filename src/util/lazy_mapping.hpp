// Big per-worker tables (the flow table's buckets and entries, the evidence capture's flow
// slots and history log) live in lazily zeroed anonymous memory: a private mapping whose
// pages the kernel faults in (zeroed) on first write, so unused capacity costs address
// space only. The start is aligned to 2 MiB and transparent huge pages are advised: a packet
// lands on a random flow's line, and 2 MiB pages spare a TLB miss on each. Without THP
// (never, or an old kernel) the pages stay 4 KiB. If the mapping fails, an aligned heap block
// stands in (zero-filled when asked).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include <sys/mman.h>

namespace seqwatch::util {

// What to release: the mapping (map, len), or, when map is null, the heap block itself.
struct LazyMapping {
  void* map = nullptr;
  size_t len = 0;
};

struct FreeLazy {
  LazyMapping m;
  void operator()(void* p) const noexcept {
    if (m.map != nullptr) ::munmap(m.map, m.len);
    else std::free(p);
  }
};

template <class T>
using LazyArray = std::unique_ptr<T[], FreeLazy>;

inline constexpr size_t kHugePage = size_t{2} << 20;  // x86-64 transparent huge page

// Maps exactly [start, start + bytes) (bytes rounded up to 4 KiB) of anonymous memory, zero
// on first touch, the start aligned to a huge page and huge pages advised; the slack mapped
// to align the start goes back at once, so munmap(start, map_bytes(bytes)) releases it all.
// nullptr when the mapping cannot be had. `noreserve`: no swap is reserved for it.
inline size_t map_bytes(size_t bytes) noexcept { return (bytes + 4095) & ~size_t{4095}; }
inline void* map_huge_aligned(size_t bytes, bool noreserve) noexcept {
  const size_t len = map_bytes(bytes);
  const int flags = MAP_PRIVATE | MAP_ANONYMOUS | (noreserve ? MAP_NORESERVE : 0);
  void* map = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (map == MAP_FAILED) return nullptr;
  const uintptr_t base = reinterpret_cast<uintptr_t>(map);
  const uintptr_t start = (base + kHugePage - 1) & ~(kHugePage - 1);
  if (start > base) ::munmap(map, start - base);
  const uintptr_t end = base + len + kHugePage;
  if (end > start + len) ::munmap(reinterpret_cast<void*>(start + len), end - (start + len));
  (void)::madvise(reinterpret_cast<void*>(start), len, MADV_HUGEPAGE);  // advice only
  return reinterpret_cast<void*>(start);
}

// `bytes` of 64-byte aligned memory, zero on first touch (a mapping), or a heap block that is
// zero-filled when `zero_fallback` is set; nullptr when neither can be had.
inline void* map_lazy(size_t bytes, bool zero_fallback, LazyMapping& m) noexcept {
  bytes = (bytes + 63) & ~size_t{63};
  if (void* start = map_huge_aligned(bytes, true)) {
    m = LazyMapping{start, map_bytes(bytes)};
    return start;
  }
  m = LazyMapping{};
  void* p = std::aligned_alloc(64, bytes);
  if (p != nullptr && zero_fallback) std::memset(p, 0, bytes);
  return p;
}

// Faults in every page of [p, p + bytes) now, so that the first writes later take no page
// fault: MADV_POPULATE_WRITE (Linux 5.14), else a write to each 4 KiB page. Only for memory
// whose contents do not matter yet or are zero (a fresh anonymous mapping: the written
// zero is what the page holds anyway).
inline void prefault(void* p, size_t bytes) noexcept {
  if (p == nullptr || bytes == 0) return;
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, absent from older headers
  constexpr uintptr_t kPage = 4096;
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t first = (a + kPage - 1) & ~(kPage - 1);  // madvise needs an aligned start
  for (uintptr_t b = a; b < first && b < a + bytes; ++b) *reinterpret_cast<volatile uint8_t*>(b) = 0;
  if (first < a + bytes && ::madvise(reinterpret_cast<void*>(first), a + bytes - first, kPopulateWrite) == 0) return;
  for (uintptr_t b = first; b < a + bytes; b += kPage) *reinterpret_cast<volatile uint8_t*>(b) = 0;
}

// `count` elements of T (trivially constructible: the memory is used as it is).
template <class T>
LazyArray<T> map_lazy_array(size_t count, bool zero_fallback) noexcept {
  LazyMapping m;
  void* p = map_lazy(count * sizeof(T), zero_fallback, m);
  return LazyArray<T>(static_cast<T*>(p), FreeLazy{m});
}

// An allocator for the big arrays of control-thread hash maps (the retransmission report's
// endpoint tables: tens of MiB on a 100k-flow capture, re-allocated twice as large each time
// they grow). Arrays of 1 MiB or more come straight from mmap, 2 MiB aligned with huge pages
// advised: one page fault per 2 MiB instead of 512 (under a shadow-paging hypervisor each
// 4 KiB fault is a hypervisor exit: the growth of those tables took ~10% of `seqwatch
// analyze` on the 2026-12-04 VM). Smaller ones come from the heap.
template <class T>
struct HugeAllocator {
  using value_type = T;
  static constexpr size_t kDirect = size_t{1} << 20;
  HugeAllocator() noexcept = default;
  template <class U>
  HugeAllocator(const HugeAllocator<U>&) noexcept {}  // NOLINT: rebinding converts implicitly

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kDirect) return std::allocator<T>{}.allocate(n);
    void* p = map_huge_aligned(bytes, false);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  // The size tells where a block came from, as at allocate().
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kDirect) return std::allocator<T>{}.deallocate(p, n);
    ::munmap(p, map_bytes(bytes));
  }
  friend bool operator==(const HugeAllocator&, const HugeAllocator&) noexcept { return true; }
  friend bool operator!=(const HugeAllocator&, const HugeAllocator&) noexcept { return false; }
};

}  // namespace seqwatch::util
