#include "flow/flow_table.hpp"

#include <cstdlib>
#include <type_traits>

#include <algorithm>
#include <bit>
#include <new>

namespace seqwatch::flow {

Result<std::unique_ptr<FlowTable>> FlowTable::create(const FlowTableConfig& cfg) {
  if (cfg.capacity < 16) return Error{"flow_table.capacity must be at least 16 (got " + std::to_string(cfg.capacity) + ")"};
  if (cfg.capacity > (1u << 28)) return Error{"flow_table.capacity must be at most 268435456"};
  if (cfg.sweep_buckets == 0) return Error{"flow_table.sweep_buckets must be at least 1"};
  std::unique_ptr<FlowTable> t(new FlowTable());
  t->cfg_ = cfg;
  t->capacity_ = cfg.capacity;
  const uint32_t buckets = std::bit_ceil(std::max<uint32_t>(cfg.capacity / (kSlots / 2), 2));
  t->mask_ = buckets - 1;
  t->buckets_.reset(new (std::nothrow) Bucket[buckets]());
  static_assert(std::is_trivially_destructible_v<FlowEntry> && std::is_trivially_copyable_v<FlowEntry>);
  t->entries_.reset(static_cast<FlowEntry*>(
      std::aligned_alloc(64, (static_cast<size_t>(cfg.capacity) * sizeof(FlowEntry) + 63) & ~size_t{63})));
  t->free_.reset(new (std::nothrow) uint32_t[cfg.capacity]);
  if (!t->buckets_ || !t->entries_ || !t->free_)
    return Error{"cannot allocate a flow table of " + std::to_string(cfg.capacity) + " flows (" +
                 std::to_string(t->memory_bytes() >> 20) + " MiB): lower flow_table.capacity"};
  for (uint32_t i = 0; i < cfg.capacity; ++i) t->free_[i] = cfg.capacity - 1 - i;
  t->free_top_ = cfg.capacity;
  return t;
}

}  // namespace seqwatch::flow
