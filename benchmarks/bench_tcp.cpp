// The TCP stage per packet: flow-table lookup + sequence analysis (and, in the `full`
// variants, the decoder in front of it), as Worker::process_burst runs them, over many
// concurrent connections whose seq/ack numbers progress like real ones (tcp_traffic.hpp).
//
//   BM_Tcp/<scenario>/<mode>/<flows>
//     scenario  imix       12-packet cycle per connection, IMIX-like 7:4:1 small/medium/large:
//                          pure ACKs and 52-byte requests, 536-byte and 1448-byte segments,
//                          data both ways, every segment in order, no verdicts
//               verdicts   12-packet cycle with a fast retransmission (after 2 duplicate
//                          ACKs), a spurious retransmission and a third duplicate ACK:
//                          5 of 12 packets get verdicts (and become SegmentEvents)
//               inorder1 / dup1 / ooo1   one connection: the imix cycle; a 1448-byte segment
//                          followed by 63 copies of itself (duplicates); pairs sent in
//                          swapped order (every second segment out of order, the first of
//                          each pair "previous segment not captured")
//     mode      analysis   frames decoded before timing: lookup + analysis only
//               full       decode_burst + lookup + analysis
//     flows     10k, 100k, 1M, 4M concurrent connections, picked uniformly at random for
//               every packet (no per-flow locality: the worst case for the caches)
//
// Handshakes (SYN, SYN/ACK, ACK for every connection) run before timing, so the timed
// packets take the established path. Packets are generated in batches of kBatch outside
// the timed region; the events and flow records rings are drained there too (the control
// thread's work, on another core in the appliance): the timing is the worker's alone. The
// table holds exactly `flows` entries (capacity = flows).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "tcp/tcp_stage.hpp"
#include "rss.hpp"
#include "tcp_traffic.hpp"

namespace {

namespace sb = seqwatch::bench;
namespace dec = seqwatch::decode;
namespace tcp = seqwatch::tcp;
using seqwatch::PacketRef;
using sb::Seg;
using sb::Step;
using sb::Who;
using sb::Xorshift;

using sb::kBatch;
using sb::kBurst;

using sb::rss_bytes;

enum class Scenario : uint8_t { kImix, kVerdicts, kInOrder1, kDup1, kOoo1 };

std::vector<Step> cycle_of(Scenario s) {
  switch (s) {
    case Scenario::kImix:
    case Scenario::kInOrder1:
      return {{Who::kClient, Seg::kData, 536}, {Who::kServer, Seg::kAck, 0},   {Who::kClient, Seg::kData, 536},
              {Who::kClient, Seg::kData, 1448}, {Who::kServer, Seg::kAck, 0},  {Who::kServer, Seg::kData, 536},
              {Who::kClient, Seg::kAck, 0},     {Who::kServer, Seg::kData, 536}, {Who::kClient, Seg::kAck, 0},
              {Who::kClient, Seg::kData, 52},   {Who::kServer, Seg::kData, 52},  {Who::kClient, Seg::kAck, 0}};
    case Scenario::kVerdicts:
      return {{Who::kClient, Seg::kData, 1448},      {Who::kServer, Seg::kAck, 0},
              {Who::kClient, Seg::kData, 1448},      {Who::kServer, Seg::kAckHold, 0},  // dup ACK 1
              {Who::kServer, Seg::kAckHold, 0},      // dup ACK 2
              {Who::kClient, Seg::kResendLast, 0},   // (fast) retransmission
              {Who::kServer, Seg::kAck, 0},          {Who::kClient, Seg::kData, 536},
              {Who::kServer, Seg::kAck, 0},          {Who::kClient, Seg::kResendLast, 0},  // spurious
              {Who::kServer, Seg::kAckHold, 0},      // dup ACK
              {Who::kServer, Seg::kData, 300}};
    case Scenario::kDup1: {
      std::vector<Step> c{{Who::kClient, Seg::kData, 1448}};
      for (int i = 0; i < 63; ++i) c.push_back({Who::kClient, Seg::kResendLast, 0});
      return c;
    }
    case Scenario::kOoo1:
      return {{Who::kClient, Seg::kDataSkip, 1448}, {Who::kClient, Seg::kFillGap, 0}};
  }
  return {};
}

// Everything one benchmark configuration needs; kept across Google Benchmark's runs of
// the same configuration (setting up 4M connections takes seconds).
struct Fixture {
  Scenario scenario;
  uint32_t flows;
  sb::PacketBatch batch;
  std::vector<PacketRef>& pkts = batch.pkts;
  std::vector<dec::FrameRef>& frames = batch.frames;
  std::vector<dec::PacketView> views;  // kBatch views (pre-decoded mode) or one burst
  dec::DecodeCounters dcount;
  std::unique_ptr<tcp::TcpStage> stage;
  Xorshift rng;
  uint32_t pos = kBatch;
  bool predecoded = false;  // views of the current batch exist
  uint64_t drained_events = 0, drained_records = 0;
  double rss_per_flow = 0, table_per_flow = 0;

  Fixture(Scenario s, uint32_t n)
      : scenario(s), flows(n), batch(n, cycle_of(s), s != Scenario::kImix && s != Scenario::kInOrder1),
        views(kBatch) {}

  bool setup(std::string& err) {
    const uint64_t rss0 = rss_bytes();
    tcp::TcpStageConfig cfg;
    cfg.table.capacity = flows < 16 ? 16 : flows;
    // SEQWATCH_BENCH_COPY_WINDOW_US=0 times the stage without the exact-copy check
    // (docs/tcp-analysis.md section 16); unset: the product's default.
    if (const char* w = std::getenv("SEQWATCH_BENCH_COPY_WINDOW_US")) cfg.copy_window_us = static_cast<uint32_t>(std::atoi(w));
    auto st = tcp::TcpStage::create(cfg);
    if (!st) {
      err = st.error().message;
      return false;
    }
    stage = std::move(st.value());
    // Handshakes, in connection order, three rounds.
    for (int round = 0; round < 3; ++round) {
      uint32_t c = 0;
      while (c < flows) {
        uint32_t n = 0;
        for (; n < kBatch && c < flows; ++n, ++c) put(n, c);
        for (uint32_t i = 0; i < n; i += kBurst) run_burst(i, std::min<uint32_t>(kBurst, n - i), true);
        drain();
      }
    }
    // The verdict mix reaches its steady share of verdicts only after every connection
    // went through its cycle once: one cycle per connection, in connection order.
    if (scenario == Scenario::kVerdicts) {
      const uint32_t total = flows * static_cast<uint32_t>(cycle_of(scenario).size());
      for (uint32_t done = 0; done < total;) {
        uint32_t n = 0;
        for (; n < kBatch && done < total; ++n, ++done) put(n, done % flows);
        for (uint32_t i = 0; i < n; i += kBurst) run_burst(i, std::min<uint32_t>(kBurst, n - i), true);
        drain();
      }
    }
    table_per_flow = static_cast<double>(stage->table().memory_bytes()) / flows;
    rss_per_flow = static_cast<double>(rss_bytes() - rss0) / flows;
    return true;
  }

  void put(uint32_t i, uint32_t c) { batch.put(i, c); }

  // Untimed: the next kBatch packets (and, in analysis mode, their views).
  void refill(bool predecode) {
    drain();
    for (uint32_t i = 0; i < kBatch; ++i) put(i, flows == 1 ? 0 : rng.below(flows));
    if (predecode) dec::decode_burst(frames.data(), kBatch, dec::LinkType::kEthernet, views.data(), dcount);
    pos = 0;
  }

  void run_burst(uint32_t at, uint32_t n, bool decode) {
    if (decode) dec::decode_burst(frames.data() + at, n, dec::LinkType::kEthernet, views.data() + at, dcount);
    stage->process_burst(views.data() + at, pkts.data() + at, static_cast<uint16_t>(n));
  }

  void drain() {
    drained_events += stage->events().drain([](const seqwatch::event::SegmentEvent&) noexcept {});
    drained_records += stage->records().drain([](const seqwatch::event::FlowRecord&) noexcept {});
  }
};

std::unique_ptr<Fixture>& cached() {
  static std::unique_ptr<Fixture> f;
  return f;
}

void BM_Tcp(benchmark::State& state, Scenario scenario, bool full) {
  const auto flows = static_cast<uint32_t>(state.range(0));
  auto& f = cached();
  // One connection is set up afresh for every run: its 1M segments (fixed iterations)
  // stay below 2^31 bytes of sequence space, so no run crosses a sequence wrap.
  if (!f || f->scenario != scenario || f->flows != flows || flows == 1) {
    f.reset();  // free the previous configuration's table first
    f = std::make_unique<Fixture>(scenario, flows);
    std::string err;
    if (!f->setup(err)) {
      state.SkipWithError(err.c_str());
      f.reset();
      return;
    }
  }
  Fixture& x = *f;
  const tcp::TcpStageCounters c0 = x.stage->counters();
  const uint64_t evicted0 = x.stage->table().counters().evicted;
  const uint64_t errors0 = x.dcount.errors();
  // A batch left half-used by the previous run continues (skipping it would leave gaps in
  // the connections' sequence spaces); its views exist only if it was pre-decoded.
  if (!full && !x.predecoded && x.pos < kBatch)
    dec::decode_burst(x.frames.data() + x.pos, kBatch - x.pos, dec::LinkType::kEthernet, x.views.data() + x.pos, x.dcount);
  x.predecoded = !full;
  for (auto _ : state) {
    if (x.pos == kBatch) {
      state.PauseTiming();
      x.refill(!full);
      state.ResumeTiming();
    }
    x.run_burst(x.pos, kBurst, full);
    x.pos += kBurst;
  }
  x.drain();
  const tcp::TcpStageCounters& c1 = x.stage->counters();
  const double pkts = static_cast<double>(state.iterations()) * kBurst;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.counters["ns_per_pkt"] = benchmark::Counter(kBurst * 1e-9, benchmark::Counter::kIsIterationInvariantRate |
                                                                       benchmark::Counter::kInvert);
  state.counters["events_per_pkt"] = static_cast<double>(c1.events - c0.events) / pkts;
  state.counters["events_dropped"] = static_cast<double>(c1.events_dropped - c0.events_dropped);
  state.counters["evicted"] = static_cast<double>(x.stage->table().counters().evicted - evicted0);
  state.counters["not_analysed"] = pkts - static_cast<double>(c1.segments - c0.segments);
  state.counters["decode_errors"] = static_cast<double>(x.dcount.errors() - errors0);
  // The verdicts seen in the timed packets, by bit (only those that occurred).
  for (unsigned b = 0; b < tcp::kVerdictBits; ++b) {
    const uint64_t d = c1.verdicts[b] - c0.verdicts[b];
    if (d != 0) state.counters["v_" + std::string(tcp::verdict_name(b))] = static_cast<double>(d) / pkts;
  }
  state.counters["table_B_per_flow"] = x.table_per_flow;
  state.counters["rss_B_per_flow"] = x.rss_per_flow;
}

void register_all() {
  struct Case {
    const char* name;
    Scenario s;
    std::vector<int64_t> flows;
  };
  const Case cases[] = {
      {"imix", Scenario::kImix, {10000, 100000, 1000000, 4000000}},
      {"verdicts", Scenario::kVerdicts, {100000}},
      {"inorder1", Scenario::kInOrder1, {1}},
      {"dup1", Scenario::kDup1, {1}},
      {"ooo1", Scenario::kOoo1, {1}},
  };
  // Both modes of one flow count run back to back: they share the cached fixture.
  for (const Case& c : cases) {
    for (int64_t n : c.flows) {
      for (bool full : {false, true}) {
        const std::string name = std::string("BM_Tcp/") + c.name + (full ? "/full" : "/analysis");
        auto* b = benchmark::RegisterBenchmark(name.c_str(), BM_Tcp, c.s, full)->Arg(n)->Unit(benchmark::kNanosecond);
        if (n == 1) b->Iterations(1000000 / kBurst);  // 1M segments on the one connection
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
