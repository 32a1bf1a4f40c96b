// SegmentEvent hand-off through SpscRing (util/spsc_ring.hpp): the worker pushes one
// event per verdict, the control thread drains.
//
//   BM_RingPushDrain/B      one thread: push B events, drain B (the cost per event of the
//                           copy in and out and the index updates, no cross-core traffic)
//   BM_RingCrossCore        producer (the benchmark thread) pushes bursts of 32 while a
//                           consumer thread drains continuously: ns per event including
//                           the cache-line transfers between cores. Full-ring refusals are
//                           counted (`refused`), as the worker counts events_dropped. Needs
//                           2 cores; on a loaded 2-vCPU machine treat it as an upper bound.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "event/records.hpp"
#include "util/spsc_ring.hpp"

namespace {

using seqwatch::SpscRing;
using seqwatch::event::SegmentEvent;

constexpr uint32_t kRing = 1u << 16;  // TcpStageConfig::event_ring default

SegmentEvent sample(uint64_t i) {
  SegmentEvent e;
  e.ts_ns = i;
  e.frame = i;
  e.seq = static_cast<uint32_t>(i);
  e.verdict.bits = 1;
  return e;
}

void BM_RingPushDrain(benchmark::State& state) {
  const auto batch = static_cast<uint32_t>(state.range(0));
  SpscRing<SegmentEvent> ring(kRing);
  uint64_t i = 0, sink = 0;
  for (auto _ : state) {
    for (uint32_t k = 0; k < batch; ++k) benchmark::DoNotOptimize(ring.push(sample(i++)));
    ring.drain([&](const SegmentEvent& e) noexcept { sink += e.seq; });
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
  state.counters["ns_per_event"] = benchmark::Counter(batch * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                        benchmark::Counter::kInvert);
}

void BM_RingCrossCore(benchmark::State& state) {
  SpscRing<SegmentEvent> ring(kRing);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> consumed{0};
  std::thread consumer([&] {
    uint64_t n = 0, sink = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint32_t got = ring.drain([&](const SegmentEvent& e) noexcept { sink += e.seq; }, 256);
      n += got;
      if (got == 0) std::this_thread::yield();
    }
    n += ring.drain([&](const SegmentEvent& e) noexcept { sink += e.seq; });
    consumed.store(n + (sink & 0), std::memory_order_relaxed);
  });
  uint64_t i = 0, refused = 0;
  for (auto _ : state) {
    for (uint32_t k = 0; k < 32; ++k) refused += !ring.push(sample(i++));
  }
  stop.store(true);
  consumer.join();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 32);
  state.counters["ns_per_event"] = benchmark::Counter(32 * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                     benchmark::Counter::kInvert);
  state.counters["refused"] = static_cast<double>(refused);
  state.counters["consumed"] = static_cast<double>(consumed.load());
}

BENCHMARK(BM_RingPushDrain)->Arg(1)->Arg(32)->Arg(1024)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_RingCrossCore)->Unit(benchmark::kNanosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
