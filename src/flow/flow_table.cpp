#include "flow/flow_table.hpp"

#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <algorithm>
#include <bit>
#include <new>

#include <sys/mman.h>

namespace seqwatch::flow {

namespace {
// Transparent huge page size on x86-64: mappings are aligned to it so that every 2 MiB of
// the table can be one huge page.
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

void* FlowTable::alloc_lazy(size_t bytes, bool zeroed, Mapping& m) noexcept {
  bytes = (bytes + 63) & ~size_t{63};
  const size_t len = bytes + kHugePage;  // room to align the start to a huge page
  void* map = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map != MAP_FAILED) {
    const uintptr_t start = (reinterpret_cast<uintptr_t>(map) + kHugePage - 1) & ~(kHugePage - 1);
    // Advice only: without THP (never, or an old kernel) the pages stay 4 KiB. Pages are
    // faulted in (zeroed) on first touch, so unused capacity costs address space only.
    (void)::madvise(reinterpret_cast<void*>(start), bytes, MADV_HUGEPAGE);
    m.map = map;
    m.len = len;
    return reinterpret_cast<void*>(start);
  }
  m = Mapping{};
  void* p = std::aligned_alloc(64, bytes);
  if (p != nullptr && zeroed) std::memset(p, 0, bytes);  // as mmap's zero pages
  return p;
}

void FreeMapped::operator()(void* p) const noexcept {
  if (m.map != nullptr) ::munmap(m.map, m.len);
  else std::free(p);
}

Result<std::unique_ptr<FlowTable>> FlowTable::create(const FlowTableConfig& cfg) {
  if (cfg.capacity < 16) return Error{"flow_table.capacity must be at least 16 (got " + std::to_string(cfg.capacity) + ")"};
  if (cfg.capacity > (1u << 28)) return Error{"flow_table.capacity must be at most 268435456"};
  if (cfg.sweep_buckets == 0) return Error{"flow_table.sweep_buckets must be at least 1"};
  std::unique_ptr<FlowTable> t(new FlowTable());
  t->cfg_ = cfg;
  t->capacity_ = cfg.capacity;
  const uint32_t buckets = std::bit_ceil(std::max<uint32_t>(cfg.capacity / (kSlots / 2), 2));
  t->mask_ = buckets - 1;
  static_assert(std::is_trivially_destructible_v<FlowEntry> && std::is_trivially_copyable_v<FlowEntry>);
  static_assert(std::is_trivially_destructible_v<Bucket>);
  {
    Mapping m;
    void* p = alloc_lazy(static_cast<size_t>(buckets) * sizeof(Bucket), true, m);
    t->buckets_ = std::unique_ptr<Bucket[], FreeMapped>(static_cast<Bucket*>(p), FreeMapped{m});
  }
  {
    Mapping m;
    void* p = alloc_lazy(static_cast<size_t>(cfg.capacity) * sizeof(FlowEntry), false, m);
    t->entries_ = std::unique_ptr<FlowEntry[], FreeMapped>(static_cast<FlowEntry*>(p), FreeMapped{m});
  }
  t->free_.reset(new (std::nothrow) uint32_t[cfg.capacity]);
  t->young_.reset(new (std::nothrow) uint32_t[cfg.capacity]);
  t->settled_.reset(new (std::nothrow) uint64_t[(cfg.capacity + 63) / 64]);
  if (!t->buckets_ || !t->entries_ || !t->free_ || !t->young_ || !t->settled_)
    return Error{"cannot allocate a flow table of " + std::to_string(cfg.capacity) + " flows (" +
                 std::to_string(t->memory_bytes() >> 20) + " MiB): lower flow_table.capacity"};
  std::memset(t->settled_.get(), 0xFF, (cfg.capacity + 63) / 64 * 8);  // all free
  return t;
}

}  // namespace seqwatch::flow
