// Per-worker flow table: fixed capacity, allocated once, no locks, no per-packet
// allocation, both directions of a flow in one entry.
//
// Layout (see docs/flow-table.md):
//  * buckets: one cache line each, 8 slots of (32-bit hash signature, entry index + 1).
//    A key lives in its home bucket or the next one; bucket count = capacity / 4 rounded
//    up to a power of two, so the table is at most half full;
//  * entries: `capacity` FlowEntry records (320 bytes, 5 cache lines), handed out from a
//    free list.
// Lookups are batched: hash a burst, prefetch every home bucket, then find_or_insert each.
//
// Aging is driven by packet time (offline replays age like live traffic) and never
// scans the whole table on the hot path: each sweep() call examines a few buckets
// (round-robin). When both candidate buckets are full, the least recently active entry
// among their 16 slots is evicted (an approximate LRU bounded to one probe window).
// Every removal goes through the caller's `on_remove(entry, reason)` so it can emit the
// flow record first.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <memory>

#include "flow/flow_entry.hpp"
#include "util/result.hpp"

namespace seqwatch::flow {

enum class RemoveReason : uint8_t { kIdle, kClosed, kEvicted, kFlush };

struct FlowTableConfig {
  uint32_t capacity = 1u << 20;                      // flows (both directions each)
  uint64_t idle_timeout_ns = 3600ull * 1000000000ull; // no packet for this long: expire (Suricata: 3600 s)
  uint64_t closed_linger_ns = 60ull * 1000000000ull; // after FIN/FIN or RST: late packets (Linux TIME_WAIT)
  uint32_t sweep_buckets = 4;                        // buckets examined per sweep() call
  // Flow ids are id_base + k * id_stride (k = 1, 2, ...): with worker i of n using base i
  // and stride n, ids stay unique across workers.
  uint32_t id_base = 0;
  uint32_t id_stride = 1;
};

struct FlowTableCounters {
  uint64_t lookups = 0;
  uint64_t hits = 0;
  uint64_t inserts = 0;
  uint64_t evicted = 0;        // removed to make room (table or probe window full)
  uint64_t expired_idle = 0;
  uint64_t expired_closed = 0;
  uint64_t flushed = 0;
  uint64_t in_use = 0;
};

class FlowTable {
 public:
  static constexpr unsigned kSlots = 8;
  struct alignas(64) Bucket {
    uint32_t sig[kSlots];
    uint32_t idx[kSlots];  // entry index + 1; 0 = empty
  };
  static_assert(sizeof(Bucket) == 64);

  static Result<std::unique_ptr<FlowTable>> create(const FlowTableConfig& cfg);

  void prefetch_bucket(uint64_t hash) const noexcept { __builtin_prefetch(&buckets_[hash & mask_]); }

  // Finds the flow of `key` or creates it (created = true, entry zeroed except key).
  // Never fails: a full probe window evicts its least recently active flow.
  template <class OnRemove>
  FlowEntry* find_or_insert(const FlowKey& key, uint64_t hash, uint64_t now_ns, bool& created,
                            OnRemove&& on_remove) noexcept;

  // Removes an entry now (e.g. reused ports: the old connection ends, a new one starts).
  template <class OnRemove>
  void remove(FlowEntry* e, RemoveReason why, OnRemove&& on_remove) noexcept;

  // Expires idle and lingering-closed flows in the next cfg.sweep_buckets buckets.
  template <class OnRemove>
  void sweep(uint64_t now_ns, OnRemove&& on_remove) noexcept;

  // Removes flows (end of input / shutdown), at most `max` per call so the caller can
  // hand the records off in bounded batches; returns true once the table is empty.
  template <class OnRemove>
  bool flush(OnRemove&& on_remove, uint32_t max = UINT32_MAX) noexcept;

  const FlowTableCounters& counters() const noexcept { return counters_; }
  // Index of an entry (0 .. capacity-1): per-flow side tables of other stages use it.
  uint32_t index_of(const FlowEntry* e) const noexcept { return static_cast<uint32_t>(e - entries_.get()); }
  uint32_t capacity() const noexcept { return capacity_; }
  uint32_t bucket_count() const noexcept { return mask_ + 1; }
  size_t memory_bytes() const noexcept {
    return static_cast<size_t>(capacity_) * sizeof(FlowEntry) + static_cast<size_t>(mask_ + 1) * sizeof(Bucket) +
           static_cast<size_t>(capacity_) * sizeof(uint32_t);
  }

 private:
  FlowTable() = default;
  static uint32_t sig_of(uint64_t hash) noexcept { return static_cast<uint32_t>(hash >> 32); }
  void unlink(uint32_t bucket, unsigned slot) noexcept;
  bool expired(const FlowEntry& e, uint64_t now_ns) const noexcept;

  FlowTableConfig cfg_;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;
  uint32_t flush_cursor_ = 0;  // next bucket flush() visits
  std::unique_ptr<Bucket[]> buckets_;
  // Raw, 64-byte aligned, untouched until used: a 4M-flow table costs no page faults
  // (or start-up time) for flows that never arrive. Entries are constructed on insert.
  struct FreeEntries {
    void operator()(FlowEntry* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<FlowEntry[], FreeEntries> entries_;
  std::unique_ptr<uint32_t[]> free_;  // stack of free entry indexes
  uint32_t free_top_ = 0;
  uint32_t sweep_pos_ = 0;
  uint32_t next_id_ = 0;
  FlowTableCounters counters_;
};

// ---- implementation (templates: inlined into the worker's loop) ----

inline void FlowTable::unlink(uint32_t bucket, unsigned slot) noexcept {
  Bucket& b = buckets_[bucket];
  const uint32_t idx = b.idx[slot] - 1;
  b.idx[slot] = 0;
  b.sig[slot] = 0;
  free_[free_top_++] = idx;
  --counters_.in_use;
}

inline bool FlowTable::expired(const FlowEntry& e, uint64_t now_ns) const noexcept {
  if (now_ns <= e.last_ts_ns) return false;
  const uint64_t idle = now_ns - e.last_ts_ns;
  return idle > ((e.status & kFlowClosed) ? cfg_.closed_linger_ns : cfg_.idle_timeout_ns);
}

template <class OnRemove>
FlowEntry* FlowTable::find_or_insert(const FlowKey& key, uint64_t hash, uint64_t now_ns, bool& created,
                                     OnRemove&& on_remove) noexcept {
  ++counters_.lookups;
  const uint32_t sig = sig_of(hash);
  const uint32_t home = static_cast<uint32_t>(hash) & mask_;
  const uint32_t cand[2] = {home, (home + 1) & mask_};
  int free_b = -1;
  unsigned free_s = 0;
  for (int c = 0; c < 2; ++c) {
    Bucket& b = buckets_[cand[c]];
    for (unsigned s = 0; s < kSlots; ++s) {
      if (b.idx[s] == 0) {
        if (free_b < 0) {
          free_b = c;
          free_s = s;
        }
        continue;
      }
      if (b.sig[s] == sig) {
        FlowEntry* e = &entries_[b.idx[s] - 1];
        if (e->key == key) {
          if (!expired(*e, now_ns)) {
            ++counters_.hits;
            created = false;
            return e;
          }
          // Expired but not yet swept: it ends now, whatever the sweep's position, so a
          // flow's lifetime depends on packet time alone (not on which worker or burst
          // carries its packets).
          const bool closed = e->status & kFlowClosed;
          on_remove(*e, closed ? RemoveReason::kClosed : RemoveReason::kIdle);
          ++(closed ? counters_.expired_closed : counters_.expired_idle);
          unlink(cand[c], s);
          if (free_b < 0) {
            free_b = c;
            free_s = s;
          }
          goto insert;
        }
      }
    }
  }
  if (free_b < 0 || free_top_ == 0) {
    // Evict the least recently active flow of the probe window (closed ones first).
    int vb = 0;
    unsigned vs = 0;
    uint64_t best = UINT64_MAX;
    for (int c = 0; c < 2; ++c) {
      const Bucket& b = buckets_[cand[c]];
      for (unsigned s = 0; s < kSlots; ++s) {
        if (b.idx[s] == 0) continue;
        const FlowEntry& e = entries_[b.idx[s] - 1];
        const uint64_t age_key = (e.status & kFlowClosed) ? 0 : e.last_ts_ns + 1;
        if (age_key < best) {
          best = age_key;
          vb = c;
          vs = s;
        }
      }
    }
    if (best == UINT64_MAX) {
      // The free list is empty but this window holds no flow: the table is full of
      // flows elsewhere. Evict the sweep cursor's next occupied flow instead.
      for (uint32_t n = 0; n <= mask_; ++n) {
        const uint32_t bi = (sweep_pos_ + n) & mask_;
        for (unsigned s = 0; s < kSlots; ++s) {
          if (buckets_[bi].idx[s] != 0) {
            on_remove(entries_[buckets_[bi].idx[s] - 1], RemoveReason::kEvicted);
            ++counters_.evicted;
            unlink(bi, s);
            goto evicted;
          }
        }
      }
    } else {
      on_remove(entries_[buckets_[cand[vb]].idx[vs] - 1], RemoveReason::kEvicted);
      ++counters_.evicted;
      unlink(cand[vb], vs);
      if (free_b < 0) {
        free_b = vb;
        free_s = vs;
      }
    }
  evicted:;
  }
insert:
  const uint32_t idx = free_[--free_top_];
  Bucket& b = buckets_[cand[free_b]];
  b.idx[free_s] = idx + 1;
  b.sig[free_s] = sig;
  FlowEntry* e = &entries_[idx];
  new (e) FlowEntry{};
  e->key = key;
  e->last_ts_ns = now_ns;
  e->id = cfg_.id_base + ++next_id_ * cfg_.id_stride;
  ++counters_.inserts;
  ++counters_.in_use;
  created = true;
  return e;
}

template <class OnRemove>
void FlowTable::remove(FlowEntry* e, RemoveReason why, OnRemove&& on_remove) noexcept {
  const uint64_t hash = hash_key(e->key);
  const uint32_t home = static_cast<uint32_t>(hash) & mask_;
  const uint32_t idx = static_cast<uint32_t>(e - entries_.get()) + 1;
  for (uint32_t bi : {home, (home + 1) & mask_}) {
    for (unsigned s = 0; s < kSlots; ++s) {
      if (buckets_[bi].idx[s] == idx) {
        on_remove(*e, why);
        unlink(bi, s);
        return;
      }
    }
  }
}

template <class OnRemove>
void FlowTable::sweep(uint64_t now_ns, OnRemove&& on_remove) noexcept {
  for (uint32_t n = 0; n < cfg_.sweep_buckets; ++n) {
    const uint32_t bi = sweep_pos_;
    sweep_pos_ = (sweep_pos_ + 1) & mask_;
    Bucket& b = buckets_[bi];
    for (unsigned s = 0; s < kSlots; ++s) {
      if (b.idx[s] == 0) continue;
      const FlowEntry& e = entries_[b.idx[s] - 1];
      if (!expired(e, now_ns)) continue;
      const bool closed = e.status & kFlowClosed;
      on_remove(e, closed ? RemoveReason::kClosed : RemoveReason::kIdle);
      ++(closed ? counters_.expired_closed : counters_.expired_idle);
      unlink(bi, s);
    }
  }
}

template <class OnRemove>
bool FlowTable::flush(OnRemove&& on_remove, uint32_t max) noexcept {
  // The cursor keeps partial flushes linear; flows inserted between calls into buckets
  // already visited are found by the next pass (the cursor wraps while any remain).
  uint32_t removed = 0;
  for (; flush_cursor_ <= mask_; ++flush_cursor_) {
    const uint32_t bi = flush_cursor_;
    for (unsigned s = 0; s < kSlots; ++s) {
      if (buckets_[bi].idx[s] == 0) continue;
      if (removed == max) return false;
      on_remove(entries_[buckets_[bi].idx[s] - 1], RemoveReason::kFlush);
      ++counters_.flushed;
      ++removed;
      unlink(bi, s);
    }
  }
  flush_cursor_ = 0;
  return counters_.in_use == 0;
}

}  // namespace seqwatch::flow
