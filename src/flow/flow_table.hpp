// Per-worker flow table: fixed capacity, allocated once, no locks, no per-packet
// allocation, both directions of a flow in one entry.
//
// Layout (see docs/flow-table.md):
//  * buckets: one cache line each, 8 slots of (32-bit hash signature, entry index + 1).
//    A key lives in its home bucket (the signature's low bits) or the next one; bucket
//    count = capacity / 4 rounded up to a power of two, so the table is at most half full.
//    With `grow` (offline analysis) only the first buckets are in use at first and their
//    number doubles whenever the flows fill a quarter of their slots: memory follows the
//    flows (a doubling moves the keys whose next signature bit is set, reading no entry);
//  * entries: `capacity` FlowEntry records (320 bytes, 5 cache lines), handed out from a
//    free list; a FIFO of inserted entries (4 bytes each) ranks one-way flows for eviction.
// Lookups are batched: hash a burst, prefetch every home bucket, prefetch_entry() a few
// packets ahead (bucket read, entry lines prefetched), then find_or_insert each.
//
// Aging is driven by packet time (offline replays age like live traffic) and never
// scans the whole table on the hot path: each sweep() call examines a few buckets
// (round-robin). When both candidate buckets are full, the least recently active entry
// among their 16 slots is evicted (an approximate LRU bounded to one probe window).
// Eviction ranks flows: closed first, then one-way flows (no reply yet: half-open SYNs,
// a SYN flood), then two-way ones, least recently active first within a rank. When the
// free list is empty, the oldest one-way flow of the whole table (a FIFO of inserted
// entries, checked lazily) makes room before any established flow of the probe window.
// Every removal goes through the caller's `on_remove(entry, reason)` so it can emit the
// flow record first.
//
// Memory comes from mmap (zero pages, touched lazily) with MADV_HUGEPAGE: at 1M+ flows
// the entries span far more 4 KiB pages than the TLB covers; 2 MiB pages cut the walks.
// Without THP (or if mmap fails) the kernel's 4 KiB pages / aligned_alloc are used.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <memory>

#include <emmintrin.h>

#include "flow/flow_entry.hpp"
#include "util/lazy_mapping.hpp"
#include "util/result.hpp"

namespace seqwatch::flow {

// Why a flow record was written. kActive is no removal: the TCP stage's active-timeout
// record of a flow that goes on (TcpStageConfig::active_timeout_ns).
enum class RemoveReason : uint8_t { kIdle, kClosed, kEvicted, kFlush, kActive };

struct FlowTableConfig {
  uint32_t capacity = 1u << 20;                      // flows (both directions each)
  uint64_t idle_timeout_ns = 3600ull * 1000000000ull; // no packet for this long: expire (Suricata: 3600 s)
  uint64_t closed_linger_ns = 60ull * 1000000000ull; // after FIN/FIN or RST: late packets (Linux TIME_WAIT)
  uint32_t sweep_buckets = 4;                        // buckets examined per sweep() call
  // Flow ids are id_base + k * id_stride (k = 1, 2, ...): with worker i of n using base i
  // and stride n, ids stay unique across workers.
  uint32_t id_base = 0;
  uint32_t id_stride = 1;
  // Fault in every page of the table at creation (the live appliance): no page fault, and
  // no transparent-huge-page compaction stall, on a worker's first packets. Off: memory
  // follows use (offline analysis).
  bool prefault = false;
  // Start with kGrowStart buckets in use and double them as flows arrive (up to capacity / 4),
  // instead of spreading the first flows over all of them: at 100k flows in a 1M-flow table
  // 4 MiB of buckets are touched instead of 16. A doubling walks the buckets in use on the
  // inserting thread (the last one of a 4M-flow table 32 MiB: tens of ms), so only where input
  // waits for the worker (`seqwatch analyze`), never on a live port. Ignored with prefault.
  bool grow = false;
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
  uint64_t doublings = 0;      // bucket doublings (FlowTableConfig::grow)
};

class FlowTable {
 public:
  static constexpr unsigned kSlots = 8;
  static constexpr uint32_t kGrowStart = 4096;  // buckets in use at first with grow (256 KiB)
  // Flows per bucket in use at which a growing table doubles: a quarter of its slots, half
  // the design load of a full table, so that a probe window (two buckets) is practically
  // never full (a full one doubles the buckets too, instead of evicting a flow).
  static constexpr uint32_t kGrowLoad = kSlots / 4;
  struct alignas(64) Bucket {
    uint32_t sig[kSlots];
    uint32_t idx[kSlots];  // entry index + 1; 0 = empty
  };
  static_assert(sizeof(Bucket) == 64);

  static Result<std::unique_ptr<FlowTable>> create(const FlowTableConfig& cfg);

  [[gnu::always_inline]] void prefetch_bucket(uint64_t hash) const noexcept { __builtin_prefetch(&buckets_[home_of(hash)]); }

  // Read-only second lookup stage: reads the (already prefetched) home bucket and
  // prefetches every cache line of the entries whose signature matches, so that the
  // later find_or_insert + analysis find them in cache (rte_hash bulk lookup's
  // "compare signatures, prefetch keys" step). A key in the second bucket is rare below
  // the design load; it is left to find_or_insert. Never writes, never fails.
  [[gnu::always_inline]] void prefetch_entry(uint64_t hash) const noexcept {
    const Bucket& b = buckets_[home_of(hash)];
    for (unsigned m = match_mask(b, sig_of(hash)); m != 0; m &= m - 1) {
      const char* p = reinterpret_cast<const char*>(&entries_[b.idx[std::countr_zero(m)] - 1]);
      for (unsigned l = 0; l < sizeof(FlowEntry); l += 64) __builtin_prefetch(p + l, 1);
    }
  }

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
  // hand the records off in bounded batches; returns true once the table is empty. A flow
  // that had expired by `end_ns` (the input's end in packet time; 0 = none given: closed
  // past its linger, or idle past the timeout) ends with that reason, as the sweep would
  // have ended it, and is counted so: which flows the sweep reached before the end depends
  // on the table's size and the worker count, the reason must not.
  template <class OnRemove>
  bool flush(OnRemove&& on_remove, uint32_t max = UINT32_MAX, uint64_t end_ns = 0) noexcept;

  // The flow has heard from both directions (the TCP stage calls this once per flow): it
  // ranks behind one-way flows for eviction and leaves the eviction FIFO's candidates.
  void mark_two_way(FlowEntry* e) noexcept {
    e->status |= kFlowTwoWay;
    set_settled(index_of(e));
  }

  const FlowTableCounters& counters() const noexcept { return counters_; }
  // Index of an entry (0 .. capacity-1): per-flow side tables of other stages use it.
  uint32_t index_of(const FlowEntry* e) const noexcept { return static_cast<uint32_t>(e - entries_.get()); }
  uint32_t capacity() const noexcept { return capacity_; }
  // Buckets in use (all of them unless the table grows).
  uint32_t bucket_count() const noexcept { return mask_ + 1; }
  // Bytes allocated (address space; resident memory follows use, see docs/flow-table.md).
  size_t memory_bytes() const noexcept {
    return static_cast<size_t>(capacity_) * sizeof(FlowEntry) + static_cast<size_t>(max_mask_ + 1) * sizeof(Bucket) +
           static_cast<size_t>(capacity_) * 2 * sizeof(uint32_t) +  // free list + insertion FIFO
           (static_cast<size_t>(capacity_) + 63) / 64 * 8;           // settled_ bitmap
  }

 private:
  FlowTable() = default;
  // The signature is the hash's high half; its low bits are the home bucket, so a doubling
  // of the buckets in use can tell from the signature alone where a key goes.
  static uint32_t sig_of(uint64_t hash) noexcept { return static_cast<uint32_t>(hash >> 32); }
  uint32_t home_of(uint64_t hash) const noexcept { return sig_of(hash) & mask_; }
  // Doubles the buckets in use (grow): every key whose home moves to the new half goes
  // there (or to the bucket after it). One that finds both full is evicted (counted; at
  // the quarter-full load a doubling starts from, practically never).
  template <class OnRemove>
  void grow(OnRemove&& on_remove) noexcept;
  // Moves slot s of bucket `from` to `to`'s first empty slot; false if there is none.
  bool move_slot(uint32_t from, unsigned s, uint32_t to) noexcept;
  void unlink(uint32_t bucket, unsigned slot) noexcept;
  bool expired(const FlowEntry& e, uint64_t now_ns) const noexcept;
  // Eviction rank: lower goes first (closed, then one-way, then two-way; older first).
  static uint64_t evict_rank(const FlowEntry& e) noexcept {
    if (e.status & kFlowClosed) return 0;
    constexpr uint64_t kTsMax = (1ull << 62) - 2;
    const uint64_t t = (e.last_ts_ns < kTsMax ? e.last_ts_ns : kTsMax) + 1;
    return (e.status & kFlowTwoWay) ? (1ull << 62) | t : t;
  }
  // Evicts the oldest still one-way (or closed) flow of the insertion FIFO, looking at
  // most kYoungScan FIFO entries (entries since freed or grown two-way are skipped).
  // Returns false when none was found.
  template <class OnRemove>
  bool evict_young(OnRemove&& on_remove) noexcept;
  template <class OnRemove>
  FlowEntry* insert_slow(const FlowKey& key, uint64_t hash, uint64_t now_ns, bool& created,
                         OnRemove&& on_remove) noexcept;
  // Bit s set: slot s is in use and its signature is `sig`.
  static unsigned match_mask(const Bucket& b, uint32_t sig) noexcept;
  void push_young(uint32_t idx) noexcept {
    young_[young_tail_] = idx;
    young_tail_ = young_tail_ + 1 == capacity_ ? 0 : young_tail_ + 1;
    if (young_len_ == capacity_) young_head_ = young_tail_;  // full: the oldest is overwritten
    else ++young_len_;
  }
  // How many FIFO entries one insert may skip (flows since freed or grown two-way, told
  // by the `settled_` bitmap, no entry read). Every index is pushed once and popped at
  // most once, so the skipping is O(1) per insert amortised; this bounds one insert.
  static constexpr unsigned kYoungScan = 256;
  // settled_ bit i: entry i is free or two-way (not an eviction candidate of the FIFO).
  bool settled(uint32_t i) const noexcept { return (settled_[i >> 6] >> (i & 63)) & 1u; }
  void set_settled(uint32_t i) noexcept { settled_[i >> 6] |= uint64_t{1} << (i & 63); }
  void clear_settled(uint32_t i) noexcept { settled_[i >> 6] &= ~(uint64_t{1} << (i & 63)); }


  FlowTableConfig cfg_;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;       // buckets in use - 1
  uint32_t max_mask_ = 0;   // buckets allocated - 1
  uint64_t grow_at_ = UINT64_MAX;  // flows in use at which the buckets in use double
  uint32_t flush_cursor_ = 0;  // next bucket flush() visits
  // Zero pages from mmap (buckets start empty), untouched until used.
  util::LazyArray<Bucket> buckets_;
  // Raw, 64-byte aligned, untouched until used: a 4M-flow table costs no page faults
  // (or start-up time) for flows that never arrive. Entries are constructed on insert.
  util::LazyArray<FlowEntry> entries_;
  std::unique_ptr<uint32_t[]> free_;  // stack of free entry indexes
  // FIFO of inserted entry indexes (ring of capacity_), oldest first: eviction candidates
  // while they are still one-way. Stale indexes (freed, two-way) are skipped when popped.
  std::unique_ptr<uint32_t[]> young_;
  std::unique_ptr<uint64_t[]> settled_;  // capacity_ bits (512 KiB at 4M flows)
  uint32_t young_head_ = 0, young_tail_ = 0, young_len_ = 0;
  // Free entries: the recycled ones on the free_ stack (taken first), then the never used
  // ones fresh_ .. capacity-1 in order (no start-up pass writes a list of them: untouched
  // capacity costs no memory).
  uint32_t free_top_ = 0;
  uint32_t fresh_ = 0;
  bool none_free() const noexcept { return free_top_ == 0 && fresh_ == capacity_; }
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
  entries_[idx].status = kFlowFree;
  set_settled(idx);  // its FIFO index (if any) is stale now
  free_[free_top_++] = idx;
  --counters_.in_use;
}

inline bool FlowTable::expired(const FlowEntry& e, uint64_t now_ns) const noexcept {
  if (now_ns <= e.last_ts_ns) return false;
  const uint64_t idle = now_ns - e.last_ts_ns;
  return idle > ((e.status & kFlowClosed) ? cfg_.closed_linger_ns : cfg_.idle_timeout_ns);
}

inline unsigned FlowTable::match_mask(const Bucket& b, uint32_t sig) noexcept {
  const __m128i want = _mm_set1_epi32(static_cast<int>(sig));
  const __m128i zero = _mm_setzero_si128();
  const __m128i s0 = _mm_load_si128(reinterpret_cast<const __m128i*>(b.sig));
  const __m128i s1 = _mm_load_si128(reinterpret_cast<const __m128i*>(b.sig + 4));
  const __m128i i0 = _mm_load_si128(reinterpret_cast<const __m128i*>(b.idx));
  const __m128i i1 = _mm_load_si128(reinterpret_cast<const __m128i*>(b.idx + 4));
  const unsigned hit = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(s0, want)))) |
                       static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(s1, want)))) << 4;
  const unsigned empty = static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(i0, zero)))) |
                         static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(i1, zero)))) << 4;
  return hit & ~empty;
}

template <class OnRemove>
FlowEntry* FlowTable::find_or_insert(const FlowKey& key, uint64_t hash, uint64_t now_ns, bool& created,
                                     OnRemove&& on_remove) noexcept {
  // Fast path (a hit): signatures of a bucket compared 8 at a time, keys only on a match.
  ++counters_.lookups;
  const uint32_t sig = sig_of(hash);
  const uint32_t home = sig & mask_;
  uint32_t bi = home;
  for (int c = 0; c < 2; ++c, bi = (home + 1) & mask_) {
    const Bucket& b = buckets_[bi];
    for (unsigned m = match_mask(b, sig); m != 0; m &= m - 1) {
      FlowEntry* e = &entries_[b.idx[std::countr_zero(m)] - 1];
      if (e->key == key && !expired(*e, now_ns)) [[likely]] {
        ++counters_.hits;
        created = false;
        return e;
      }
    }
  }
  return insert_slow(key, hash, now_ns, created, on_remove);
}

// A miss, or a hit on an expired flow: the original single-pass logic (first free slot in
// probe order, expiry at lookup, eviction), kept out of line so that the hit path stays
// small.
template <class OnRemove>
[[gnu::noinline]] FlowEntry* FlowTable::insert_slow(const FlowKey& key, uint64_t hash, uint64_t now_ns, bool& created,
                                                   OnRemove&& on_remove) noexcept {
  if (counters_.in_use >= grow_at_) [[unlikely]] grow(on_remove);
retry:
  const uint32_t sig = sig_of(hash);
  const uint32_t home = sig & mask_;
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
          if (!expired(*e, now_ns)) {  // not reached from find_or_insert; kept for safety
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
  if (free_b < 0 && mask_ != max_mask_) {  // a growing table grows instead of evicting
    grow(on_remove);
    goto retry;
  }
  if (free_b >= 0 && none_free() && evict_young(on_remove)) goto insert;
  if (free_b < 0 || none_free()) {
    // Evict the lowest-ranked flow of the probe window: closed, then one-way, then the
    // least recently active.
    int vb = 0;
    unsigned vs = 0;
    uint64_t best = UINT64_MAX;
    for (int c = 0; c < 2; ++c) {
      const Bucket& b = buckets_[cand[c]];
      for (unsigned s = 0; s < kSlots; ++s) {
        if (b.idx[s] == 0) continue;
        const uint64_t age_key = evict_rank(entries_[b.idx[s] - 1]);
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
  const uint32_t idx = free_top_ != 0 ? free_[--free_top_] : fresh_++;
  Bucket& b = buckets_[cand[free_b]];
  b.idx[free_s] = idx + 1;
  b.sig[free_s] = sig;
  FlowEntry* e = &entries_[idx];
  new (e) FlowEntry{};
  e->key = key;
  e->last_ts_ns = now_ns;
  e->id = cfg_.id_base + ++next_id_ * cfg_.id_stride;
  clear_settled(idx);
  push_young(idx);
  ++counters_.inserts;
  ++counters_.in_use;
  created = true;
  return e;
}

template <class OnRemove>
bool FlowTable::evict_young(OnRemove&& on_remove) noexcept {
  for (unsigned n = 0; n < kYoungScan && young_len_ != 0; ++n) {
    const uint32_t idx = young_[young_head_];
    young_head_ = young_head_ + 1 == capacity_ ? 0 : young_head_ + 1;
    --young_len_;
    if (settled(idx)) continue;
    FlowEntry& e = entries_[idx];
    const uint32_t before = free_top_;
    remove(&e, RemoveReason::kEvicted, on_remove);
    if (free_top_ == before) continue;  // not linked (cannot happen; be safe)
    ++counters_.evicted;
    return true;
  }
  return false;
}

template <class OnRemove>
void FlowTable::remove(FlowEntry* e, RemoveReason why, OnRemove&& on_remove) noexcept {
  const uint32_t home = home_of(hash_key(e->key));
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
  // Pipelined over calls (one per burst): the bucket lines two calls ahead are prefetched,
  // and for the buckets of the next call the first line of every entry they name (what
  // expired() reads), so that this call finds both in cache instead of stalling on a
  // bucket miss and then on each of its entries' in turn (bench_tcp at 100k flows: 5.8% of
  // the samples in the sweep before, 2.4% after).
  // Read-only: buckets and entries may change before their call comes, which only makes a
  // prefetch useless.
  const uint32_t k = cfg_.sweep_buckets;
  for (uint32_t n = 0; n < k; ++n) {
    __builtin_prefetch(&buckets_[(sweep_pos_ + 2 * k + n) & mask_]);
    const Bucket& nb = buckets_[(sweep_pos_ + k + n) & mask_];
    for (unsigned s = 0; s < kSlots; ++s)
      if (nb.idx[s] != 0) __builtin_prefetch(&entries_[nb.idx[s] - 1]);
  }
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

inline bool FlowTable::move_slot(uint32_t from, unsigned s, uint32_t to) noexcept {
  Bucket& dst = buckets_[to];
  for (unsigned d = 0; d < kSlots; ++d) {
    if (dst.idx[d] != 0) continue;
    Bucket& src = buckets_[from];
    dst.idx[d] = src.idx[s];
    dst.sig[d] = src.sig[s];
    src.idx[s] = 0;
    src.sig[s] = 0;
    return true;
  }
  return false;
}

template <class OnRemove>
[[gnu::noinline]] void FlowTable::grow(OnRemove&& on_remove) noexcept {
  const uint32_t old = mask_ + 1;
  mask_ = 2 * old - 1;
  grow_at_ = mask_ == max_mask_ ? UINT64_MAX : uint64_t{mask_ + 1} * kGrowLoad;
  ++counters_.doublings;
  // A key of home h lies in bucket h or h + 1. Its new home is h or h + old; moves only go
  // to a bucket of the new half, or from bucket 0 to old - 1 (a key of home old - 1 that
  // had wrapped around): a bucket visited later sees the keys moved into it stay.
  for (uint32_t b = 0; b < old; ++b) {
    for (unsigned s = 0; s < kSlots; ++s) {
      if (buckets_[b].idx[s] == 0) continue;
      const uint32_t h = buckets_[b].sig[s] & mask_;
      const uint32_t next = (h + 1) & mask_;
      if (b == h || b == next) continue;
      if (move_slot(b, s, h) || move_slot(b, s, next)) continue;
      on_remove(entries_[buckets_[b].idx[s] - 1], RemoveReason::kEvicted);
      ++counters_.evicted;
      unlink(b, s);
    }
  }
}

template <class OnRemove>
bool FlowTable::flush(OnRemove&& on_remove, uint32_t max, uint64_t end_ns) noexcept {
  // The cursor keeps partial flushes linear; flows inserted between calls into buckets
  // already visited are found by the next pass (the cursor wraps while any remain).
  // Buckets are visited in order, their entries lie anywhere: each would be a miss on every
  // line the record reads (all five). The entries of a bucket further on are fetched
  // meanwhile: ~4 entries ahead however full the table (1 bucket ahead when full, ~9 at a
  // tenth of the capacity).
  const uint32_t flows = counters_.in_use != 0 ? counters_.in_use : 1;
  const uint32_t ahead_by = static_cast<uint32_t>(std::clamp<uint64_t>(4ull * (uint64_t{mask_} + 1) / flows, 1, 64));
  uint32_t removed = 0;
  for (; flush_cursor_ <= mask_; ++flush_cursor_) {
    const uint32_t bi = flush_cursor_;
    if (mask_ - bi >= ahead_by) {
      const Bucket& ahead = buckets_[bi + ahead_by];
      for (unsigned s = 0; s < kSlots; ++s) {
        if (ahead.idx[s] == 0) continue;
        const char* p = reinterpret_cast<const char*>(&entries_[ahead.idx[s] - 1]);
        for (unsigned l = 0; l < sizeof(FlowEntry); l += 64) __builtin_prefetch(p + l);
      }
    }
    for (unsigned s = 0; s < kSlots; ++s) {
      if (buckets_[bi].idx[s] == 0) continue;
      if (removed == max) return false;
      const FlowEntry& e = entries_[buckets_[bi].idx[s] - 1];
      if (end_ns != 0 && expired(e, end_ns)) {
        const bool closed = e.status & kFlowClosed;
        on_remove(e, closed ? RemoveReason::kClosed : RemoveReason::kIdle);
        ++(closed ? counters_.expired_closed : counters_.expired_idle);
      } else {
        on_remove(e, RemoveReason::kFlush);
        ++counters_.flushed;
      }
      ++removed;
      unlink(bi, s);
    }
  }
  flush_cursor_ = 0;
  return counters_.in_use == 0;
}

}  // namespace seqwatch::flow
