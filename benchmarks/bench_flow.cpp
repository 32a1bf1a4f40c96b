// Flow-table cost alone: ns per packet for a lookup that hits, and million inserts/s for
// new flows arriving into a nearly full table (SYN-flood shape).
//
// The access pattern is the TCP stage's: one iteration is a burst of kBurst packets; the
// burst's keys are hashed and every home bucket prefetched first (stage 1), then each
// packet's find_or_insert runs in arrival order (stage 3) and reads the found entry's first
// line, as the analyzer would; stage 2 (prefetch_entry: bucket signatures read, entry
// prefetched) runs kEntryAhead packets ahead of it, as in TcpStage::process_burst. Flows are drawn uniformly at random (a fixed xorshift
// stream) across the whole population, never sequentially: sequential order would hit
// the same few bucket and entry lines and hide every cache and TLB miss.
//
// Keys are computed from the flow number (IPv4 5-tuple, canonical order), not read from a
// key array, so the benchmark adds no memory traffic of its own beyond the table.
//
//   BM_FlowLookupHit/N      N established flows in a table of capacity N; every lookup hits
//   BM_FlowInsertFlood/C    capacity C, 90% filled with established flows (last active
//                           before the flood, marked two-way as the TCP stage marks them);
//                           each iteration inserts kBurst new one-way flows (SYNs). A run
//                           floods exactly C flows: the free 10% fill, then every insert
//                           evicts. The counters report evictions and how many established
//                           flows they took (`established_lost`: measured, not assumed).
//   RSS counters: resident memory of the filled table per flow (`rss_per_flow_B`).
//   BM_EntryLines/S/L       not the flow table: what an entry's cache lines cost when the
//                           entries are in DRAM. 1M blocks of S bytes (huge pages advised);
//                           each visit goes to a random block, prefetches its first L lines
//                           kEntryAhead visits ahead, then reads and writes a word of each
//                           and does ~60 ns of dependent arithmetic (a stand-in for the
//                           analysis). L = 0: the arithmetic alone. docs/flow-table.md, "Lines
//                           fetched, not only lines used".
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "flow/flow_key.hpp"
#include "flow/flow_table.hpp"
#include "util/lazy_mapping.hpp"
#include "rss.hpp"
#include "tcp_traffic.hpp"

namespace {

namespace fl = seqwatch::flow;

constexpr unsigned kBurst = 32;  // a worker's burst (PacketSource kBurstSize)
constexpr uint64_t kPacketGapNs = 100;  // packet time advances 100 ns per packet (10 Mpps)
constexpr unsigned kEntryAhead = 4;     // as TcpStage: entries prefetched 4 packets ahead

using seqwatch::bench::rss_bytes;

// Flow number -> key: client 10.0.0.0/8 + port, server 192.168.x.y:443. Canonical order
// (lower address first), as make_key produces.
inline void key_of(uint32_t n, fl::FlowKey& k) noexcept {
  k = fl::FlowKey{};
  const uint32_t cli = 0x0A000000u | (n >> 8);
  const uint32_t srv = 0xC0A80000u | (n & 0xFF);
  std::memcpy(k.addr_a.data(), &cli, 4);  // 10.x < 192.168.x in network order
  std::memcpy(k.addr_b.data(), &srv, 4);
  k.port_a = static_cast<uint16_t>(1024 + (n * 2654435761u >> 20) % 60000);
  k.port_b = 443;
  k.family = 4;
  k.proto = 6;
}

struct NoRemove {
  uint64_t* count;
  void operator()(const fl::FlowEntry&, fl::RemoveReason) const noexcept { ++*count; }
};

void set_ns_per_pkt(benchmark::State& state) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.counters["ns_per_pkt"] = benchmark::Counter(kBurst * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                       benchmark::Counter::kInvert);
}

void BM_FlowLookupHit(benchmark::State& state) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  const uint64_t rss0 = rss_bytes();
  fl::FlowTableConfig cfg;
  cfg.capacity = flows;
  auto table = fl::FlowTable::create(cfg);
  if (!table) {
    state.SkipWithError(table.error().message.c_str());
    return;
  }
  fl::FlowTable& t = *table.value();
  uint64_t removed = 0;
  NoRemove on_remove{&removed};
  uint64_t now = 1;
  fl::FlowKey k;
  for (uint32_t n = 0; n < flows; ++n) {
    key_of(n, k);
    bool created;
    t.find_or_insert(k, fl::hash_key(k), now, created, on_remove);
  }
  const uint64_t rss1 = rss_bytes();
  const uint64_t evicted_at_fill = t.counters().evicted;

  seqwatch::bench::Xorshift rng{0x9E3779B97F4A7C15ull};
  std::array<fl::FlowKey, kBurst> keys;
  std::array<uint64_t, kBurst> hashes;
  uint64_t sink = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      key_of(rng.below(flows), keys[i]);
      hashes[i] = fl::hash_key(keys[i]);
      t.prefetch_bucket(hashes[i]);
    }
    for (unsigned i = 0; i < kEntryAhead; ++i) t.prefetch_entry(hashes[i]);
    for (unsigned i = 0; i < kBurst; ++i) {
      if (i + kEntryAhead < kBurst) t.prefetch_entry(hashes[i + kEntryAhead]);
      bool created;
      now += kPacketGapNs;
      fl::FlowEntry* e = t.find_or_insert(keys[i], hashes[i], now, created, on_remove);
      if (now > e->last_ts_ns) e->last_ts_ns = now;
      sink += e->id;
    }
  }
  benchmark::DoNotOptimize(sink);
  set_ns_per_pkt(state);
  const auto& c = t.counters();
  state.counters["miss"] = static_cast<double>(c.lookups - c.hits - flows);  // should be 0 after the fill
  state.counters["evicted_at_fill"] = static_cast<double>(evicted_at_fill);
  state.counters["table_MiB"] = static_cast<double>(t.memory_bytes()) / (1 << 20);
  state.counters["rss_per_flow_B"] = static_cast<double>(rss1 - rss0) / flows;
}

void BM_FlowInsertFlood(benchmark::State& state) {
  const auto capacity = static_cast<uint32_t>(state.range(0));
  const uint32_t established = capacity / 10 * 9;
  fl::FlowTableConfig cfg;
  cfg.capacity = capacity;
  auto table = fl::FlowTable::create(cfg);
  if (!table) {
    state.SkipWithError(table.error().message.c_str());
    return;
  }
  fl::FlowTable& t = *table.value();
  // Flow ids are handed out 1, 2, ... in insertion order: ids <= established are the
  // established flows.
  uint64_t established_lost = 0, removed = 0;
  auto on_remove = [&](const fl::FlowEntry& e, fl::RemoveReason) noexcept {
    ++removed;
    established_lost += e.id <= established;
  };
  uint64_t now = 1;
  fl::FlowKey k;
  for (uint32_t n = 0; n < established; ++n) {
    key_of(n, k);
    bool created;
    t.mark_two_way(t.find_or_insert(k, fl::hash_key(k), now, created, on_remove));
  }
  const uint64_t lost_at_fill = established_lost;
  now = 1000000000;  // the flood starts 1 s after the established flows' last packets
  uint32_t next_flow = established;
  std::array<fl::FlowKey, kBurst> keys;
  std::array<uint64_t, kBurst> hashes;
  uint64_t sink = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      key_of(next_flow++, keys[i]);  // every SYN a new flow (2^32 numbers: never wraps in a run)
      hashes[i] = fl::hash_key(keys[i]);
      t.prefetch_bucket(hashes[i]);
    }
    for (unsigned i = 0; i < kBurst; ++i) {
      bool created;
      now += kPacketGapNs;
      fl::FlowEntry* e = t.find_or_insert(keys[i], hashes[i], now, created, on_remove);
      sink += e->id;
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  state.counters["Minserts_per_s"] =
      benchmark::Counter(kBurst * 1e-6, benchmark::Counter::kIsIterationInvariantRate);
  const double inserted = static_cast<double>(state.iterations()) * kBurst;
  state.counters["inserts"] = inserted;
  state.counters["free_slots_at_start"] = capacity - established;
  state.counters["evicted"] = static_cast<double>(t.counters().evicted);
  state.counters["established_lost"] = static_cast<double>(established_lost - lost_at_fill);
  state.counters["established_lost_pct"] = 100.0 * static_cast<double>(established_lost - lost_at_fill) / established;
}

// 10k .. 4M flows: L2-resident (10k x 340 B = 3.4 MB is already past L2, in LLC) to far
// beyond any cache and the 4 KiB-page TLB reach.
BENCHMARK(BM_FlowLookupHit)->Arg(10000)->Arg(100000)->Arg(1000000)->Arg(4000000)->Unit(benchmark::kNanosecond);
// A flood of exactly `capacity` new flows per run (fixed iterations), so the share of
// established flows it evicts is comparable between runs.
BENCHMARK(BM_FlowInsertFlood)->Arg(1000000)->Iterations(1000000 / kBurst)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_FlowInsertFlood)->Arg(4000000)->Iterations(4000000 / kBurst)->Unit(benchmark::kNanosecond);

void BM_EntryLines(benchmark::State& state) {
  constexpr size_t kBlocks = 1000000;
  constexpr size_t kVisits = 1 << 20;  // random block numbers, cycled
  const size_t stride = static_cast<size_t>(state.range(0));
  const unsigned lines = static_cast<unsigned>(state.range(1));
  seqwatch::util::LazyMapping m;
  auto* base = static_cast<uint8_t*>(seqwatch::util::map_lazy(kBlocks * stride, true, m));
  if (base == nullptr) {
    state.SkipWithError("no memory for the blocks");
    return;
  }
  seqwatch::util::LazyArray<uint8_t> mem(base, seqwatch::util::FreeLazy{m});
  std::memset(base, 1, kBlocks * stride);  // resident before timing
  std::vector<uint32_t> visit(kVisits);
  seqwatch::bench::Xorshift rng(7);
  for (uint32_t& v : visit) v = static_cast<uint32_t>(rng.next() % kBlocks);
  uint64_t sum = 0;
  size_t i = 0;
  for (auto _ : state) {
    const uint8_t* ahead = base + size_t{visit[(i + kEntryAhead) & (kVisits - 1)]} * stride;
    for (unsigned l = 0; l < lines; ++l) __builtin_prefetch(ahead + 64 * l, 1);
    uint8_t* e = base + size_t{visit[i & (kVisits - 1)]} * stride;
    for (unsigned l = 0; l < lines; ++l) {
      sum += e[64 * l];
      ++e[64 * l + 8];
    }
    for (uint64_t k = 0; k < 60; ++k) sum = sum * 6364136223846793005ull + k;
    ++i;
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
// 4 lines of 256-byte blocks, 5 of 320 (the flow entry today), 6 of 320, none.
BENCHMARK(BM_EntryLines)->Args({320, 0})->Args({256, 4})->Args({320, 5})->Args({320, 6})->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
