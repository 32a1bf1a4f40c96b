#include "flow/flow_table.hpp"

#include <cstdlib>
#include <cstring>
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
  t->max_mask_ = buckets - 1;
  t->mask_ = t->max_mask_;
  if (cfg.grow && !cfg.prefault && buckets > kGrowStart) {
    t->mask_ = kGrowStart - 1;
    t->grow_at_ = uint64_t{kGrowStart} * kGrowLoad;
  }
  static_assert(std::is_trivially_destructible_v<FlowEntry> && std::is_trivially_copyable_v<FlowEntry>);
  static_assert(std::is_trivially_destructible_v<Bucket>);
  // Lazily zeroed, huge-page aligned (util/lazy_mapping.hpp): an unused 4M-flow table costs
  // address space only. Buckets must start zeroed (empty signatures); entries are
  // written on insert.
  t->buckets_ = util::map_lazy_array<Bucket>(buckets, true);
  t->entries_ = util::map_lazy_array<FlowEntry>(cfg.capacity, false);
  t->free_.reset(new (std::nothrow) uint32_t[cfg.capacity]);
  t->young_.reset(new (std::nothrow) uint32_t[cfg.capacity]);
  t->settled_.reset(new (std::nothrow) uint64_t[(cfg.capacity + 63) / 64]);
  if (!t->buckets_ || !t->entries_ || !t->free_ || !t->young_ || !t->settled_)
    return Error{"cannot allocate a flow table of " + std::to_string(cfg.capacity) + " flows (" +
                 std::to_string(t->memory_bytes() >> 20) + " MiB): lower flow_table.capacity"};
  std::memset(t->settled_.get(), 0xFF, (cfg.capacity + 63) / 64 * 8);  // all free
  if (cfg.prefault) {
    util::prefault(t->buckets_.get(), sizeof(Bucket) * buckets);
    util::prefault(t->entries_.get(), sizeof(FlowEntry) * cfg.capacity);
    util::prefault(t->free_.get(), sizeof(uint32_t) * cfg.capacity);
    util::prefault(t->young_.get(), sizeof(uint32_t) * cfg.capacity);
  }
  return t;
}

}  // namespace seqwatch::flow
