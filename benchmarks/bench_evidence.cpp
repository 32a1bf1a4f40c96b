// Evidence capture and BPF filters (issues 6 and 8): what the worker pays per packet for the
// pre-trigger history and the capture filter, and what the control thread's writers do.
//
//   BM_History/<scenario>/<flows>       EvidenceCapture::observe alone, as Worker::process_burst
//                                       calls it after the TCP stage: ns per packet pushed.
//                                       The batch is generated, decoded and analysed by the
//                                       real TcpStage outside the timed region; slot, flow id,
//                                       direction, key and verdict come from its SegmentResults.
//   BM_Worker/<scenario>/<flows>/<off|on|on_prefetch>   decode_burst + TcpStage::process_burst
//                                       (+ the worker's evidence loop with observe, `on`): the
//                                       difference is evidence capture's cost on a worker,
//                                       with the burst's views and frames as warm as the
//                                       worker has them. `on_prefetch`: the same after a first
//                                       pass of EvidenceCapture::prefetch over the burst (what
//                                       Worker::process_burst would gain by staging it).
//     scenario  quiet    the imix cycle of bench_tcp (no verdicts): every packet is stored
//               lossy    bench_tcp's verdicts cycle (5 of 12 packets carry verdicts, 2 of them
//                        retransmissions): the default retransmission-storm trigger fires,
//                        the default global budget (20000 packets/s) refuses most slices
//               emit     lossy + a dup_ack_run:2 trigger, budgets off: a slice opens on every
//                        flow every cycle and nearly every packet goes to the ring (upper bound)
//     flows     concurrent connections picked at random per packet; flow slots as
//               `seqwatch analyze` sizes them (the table capacity rounded up), one 64 MiB
//               history log
//   BM_Writer/<pcap|pcapng>/<headers|full>   RotatingWriter::write per record: trimmed to
//                                       the headers (as evidence stores them) or whole frames
//                                       (IMIX sizes); pcapng records carry the sink's comment
//   BM_Sink/<pcap|pcapng>               EvidenceSink::drain of a ring full of slices (16 pre +
//                                       trigger + 64 post): comments, writer, index (files
//                                       deleted between iterations, untimed)
//   BM_Bpf/<simple|complex>/<match|nomatch>/<interpreter|jit>  BpfFilter::match per packet over
//                                       a burst, as the capture filter runs it (trigger filters make
//                                       the same call): libpcap's interpreter, or native code from
//                                       DPDK's rte_bpf JIT (src/runtime/bpf_jit.cpp; starts the EAL)
//
// The capture configuration is the one `seqwatch analyze --evidence DIR` derives from
// config/seqwatch.yaml's defaults (src/app/evidence_out.cpp, evidence_setup). Event, flow
// record and evidence rings are drained outside the timed region (the control thread's work).
// Writers write under $SEQWATCH_BENCH_DIR (default /dev/shm, else /tmp) and delete each
// completed file, so the figures are the CPU cost of writing, not a disk's.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "evidence/bpf_filter.hpp"
#include "evidence/capture.hpp"
#include "evidence/sink.hpp"
#include "evidence/trigger.hpp"
#include "evidence/writer.hpp"
#include "flow/flow_key.hpp"
#include "runtime/bpf_jit.hpp"
#include "runtime/eal.hpp"
#include "tcp/tcp_stage.hpp"
#include "tcp_traffic.hpp"

namespace {

namespace sb = seqwatch::bench;
namespace dec = seqwatch::decode;
namespace ev = seqwatch::evidence;
namespace tcp = seqwatch::tcp;
namespace flow = seqwatch::flow;
using seqwatch::PacketRef;
using sb::Seg;
using sb::Step;
using sb::Who;
using sb::Xorshift;

using sb::kBatch;
using sb::kBurst;
using sb::kPacketGapNs;
using sb::kStartNs;

// ---- configuration as `seqwatch analyze --evidence DIR` builds it ---------------------------

// evidence_setup(): slots = table capacity rounded up to a power of two (at least 1024);
// a 64 MiB history log (SEQWATCH_BENCH_HISTORY_MB overrides it, for comparisons);
// history_packets 16; trim headers (snap 256); post_packets 64; per_flow_budget 4 MiB over
// (snap + 16) bytes a packet; global budget: the capture default (20000 packets per second).
ev::CaptureConfig app_capture(uint32_t table_capacity) {
  ev::CaptureConfig c;
  uint32_t slots = 1024;
  while (slots < table_capacity && slots < (1u << 30)) slots <<= 1;
  c.flow_slots = slots;
  const char* mb = std::getenv("SEQWATCH_BENCH_HISTORY_MB");
  c.history_bytes = uint64_t{mb != nullptr ? static_cast<uint64_t>(std::strtoull(mb, nullptr, 10)) : 64} << 20;
  c.pre_packets = 16;
  c.post_packets = 64;
  c.trim = {ev::TrimMode::kHeaders, 256};
  c.budget.flow_slices = 0;
  c.budget.flow_packets = static_cast<uint32_t>((4u << 20) / (c.trim.snap + 16));
  c.sample.trim = c.trim;
  return c;
}

// config/seqwatch.yaml's triggers: retransmission_storm 10 in 1000 ms, zero_window 500 ms,
// syn_unanswered (3 SYNs, or the flow ended unanswered).
ev::TriggerConfig app_triggers() {
  ev::TriggerConfig t;
  t.retx_storm_count = 10;
  t.retx_storm_window_ms = 1000;
  t.zero_window_ms = 500;
  t.syn_unanswered_at_end = true;
  t.syn_attempts = 3;
  return t;
}

// ---- traffic -----------------------------------------------------------------------------

enum class Scenario : uint8_t { kQuiet, kLossy, kEmit };

const char* name_of(Scenario s) {
  switch (s) {
    case Scenario::kQuiet: return "quiet";
    case Scenario::kLossy: return "lossy";
    case Scenario::kEmit: return "emit";
  }
  return "?";
}

// bench_tcp's imix and verdicts cycles.
std::vector<Step> cycle_of(Scenario s) {
  if (s == Scenario::kQuiet)
    return {{Who::kClient, Seg::kData, 536}, {Who::kServer, Seg::kAck, 0},    {Who::kClient, Seg::kData, 536},
            {Who::kClient, Seg::kData, 1448}, {Who::kServer, Seg::kAck, 0},   {Who::kServer, Seg::kData, 536},
            {Who::kClient, Seg::kAck, 0},     {Who::kServer, Seg::kData, 536}, {Who::kClient, Seg::kAck, 0},
            {Who::kClient, Seg::kData, 52},   {Who::kServer, Seg::kData, 52},  {Who::kClient, Seg::kAck, 0}};
  return {{Who::kClient, Seg::kData, 1448},    {Who::kServer, Seg::kAck, 0},
          {Who::kClient, Seg::kData, 1448},    {Who::kServer, Seg::kAckHold, 0},  // dup ACK 1
          {Who::kServer, Seg::kAckHold, 0},    // dup ACK 2
          {Who::kClient, Seg::kResendLast, 0}, // (fast) retransmission
          {Who::kServer, Seg::kAck, 0},        {Who::kClient, Seg::kData, 536},
          {Who::kServer, Seg::kAck, 0},        {Who::kClient, Seg::kResendLast, 0},  // spurious
          {Who::kServer, Seg::kAckHold, 0},    // dup ACK
          {Who::kServer, Seg::kData, 300}};
}

// A TCP stage over synthetic connections with an EvidenceCapture behind it, wired as the
// worker wires them (flow-end hook included). Kept across Google Benchmark's runs of the
// same configuration; a different configuration builds a new one.
struct Fixture {
  Scenario scenario;
  uint32_t flows;
  bool worker_mode;  // BM_Worker: decode + analysis timed; BM_History: analysis untimed
  bool evidence_on;
  bool prefetch;     // a prefetch pass over the burst before observe
  sb::PacketBatch batch;
  std::vector<PacketRef>& pkts = batch.pkts;
  std::vector<dec::FrameRef>& frames = batch.frames;
  std::vector<dec::PacketView> views;
  std::vector<tcp::SegmentResult> results;  // BM_History: the stage's results, per batch packet
  std::vector<flow::FlowKey> keys;
  dec::DecodeCounters dcount;
  std::unique_ptr<tcp::TcpStage> stage;
  std::unique_ptr<ev::EvidenceCapture> cap;
  Xorshift rng;
  uint32_t pos = kBatch;
  uint64_t records_drained = 0;

  Fixture(Scenario s, uint32_t n, bool worker, bool on, bool pf)
      : scenario(s), flows(n), worker_mode(worker), evidence_on(on), prefetch(pf), batch(n, cycle_of(s), s != Scenario::kQuiet),
        views(kBatch),
        results(kBatch), keys(kBatch) {}

  static void on_flow_end(void* ctx, const flow::FlowEntry& e, uint32_t slot, flow::RemoveReason) noexcept {
    auto* f = static_cast<Fixture*>(ctx);
    f->cap->flow_end(ev::FlowRef{slot, e.id, 0, &e.key}, e.cold.stage == tcp::Stage::kSynSent);
  }

  bool setup(std::string& err) {
    tcp::TcpStageConfig cfg;
    cfg.table.capacity = std::max<uint32_t>(flows, 16);
    auto st = tcp::TcpStage::create(cfg);
    if (!st) {
      err = st.error().message;
      return false;
    }
    stage = std::move(st.value());
    if (evidence_on) {
      ev::CaptureConfig cc = app_capture(cfg.table.capacity);
      ev::TriggerConfig tc = app_triggers();
      if (scenario == Scenario::kEmit) {
        tc.dup_ack_run = 2;
        cc.budget = ev::BudgetConfig{0, 0, 0, 1000};
      }
      auto trig = ev::TriggerSet::compile(tc);
      if (!trig) {
        err = trig.error().message;
        return false;
      }
      auto c = ev::EvidenceCapture::create(cc, trig.value());
      if (!c) {
        err = c.error().message;
        return false;
      }
      cap = std::move(c.value());
      stage->set_flow_end_hook(&Fixture::on_flow_end, this);
    }
    // Handshakes (three rounds in connection order), then, for the verdict cycles, one
    // cycle per connection so the verdict mix is in its steady state. Evidence sees them.
    const uint32_t warm = scenario == Scenario::kQuiet ? 0 : flows * static_cast<uint32_t>(cycle_of(scenario).size());
    for (uint32_t round = 0; round < 3; ++round) run_untimed(flows, [](uint32_t k) { return k; });
    run_untimed(warm, [this](uint32_t k) { return k % flows; });
    return true;
  }

  template <class Pick>
  void run_untimed(uint32_t total, Pick pick) {
    for (uint32_t done = 0; done < total;) {
      uint32_t n = 0;
      for (; n < kBatch && done < total; ++n, ++done) put(n, pick(done));
      for (uint32_t i = 0; i < n; i += kBurst) {
        const auto m = static_cast<uint16_t>(std::min<uint32_t>(kBurst, n - i));
        dec::decode_burst(frames.data() + i, m, dec::LinkType::kEthernet, views.data() + i, dcount);
        stage->process_burst(views.data() + i, pkts.data() + i, m);
        observe_burst(i, m);
      }
      drain();
    }
  }

  void put(uint32_t i, uint32_t c) { batch.put(i, c); }

  // The evidence part of Worker::process_burst for the burst at `at` (just analysed).
  void observe_burst(uint32_t at, uint16_t n) noexcept {
    if (!cap) return;
    if (prefetch) {
      for (uint16_t i = 0; i < n; ++i) {
        const tcp::SegmentResult& r = stage->result(i);
        if (r.analysed) cap->prefetch(ev::FlowRef{r.slot, r.flow_id, r.dir, nullptr});
      }
    }
    for (uint16_t i = 0; i < n; ++i) {
      const dec::PacketView& v = views[at + i];
      if (!v.is_tcp() || v.status != dec::DecodeStatus::kOk) continue;
      const tcp::SegmentResult& r = stage->result(i);
      if (r.analysed)
        cap->observe(pkts[at + i], v, ev::FlowRef{r.slot, r.flow_id, r.dir, &stage->key(i)}, r.verdict, 0);
    }
  }

  // Untimed: the next kBatch packets. BM_History: decoded and analysed here, the stage's
  // results kept for the timed observe calls.
  void refill() {
    drain();
    for (uint32_t i = 0; i < kBatch; ++i) put(i, rng.below(flows));
    if (!worker_mode) {
      dec::decode_burst(frames.data(), kBatch, dec::LinkType::kEthernet, views.data(), dcount);
      for (uint32_t i = 0; i < kBatch; i += kBurst) {
        stage->process_burst(views.data() + i, pkts.data() + i, kBurst);
        for (uint32_t k = 0; k < kBurst; ++k) {
          results[i + k] = stage->result(static_cast<uint16_t>(k));
          keys[i + k] = stage->key(static_cast<uint16_t>(k));
        }
      }
      drain();
    }
    pos = 0;
  }

  void drain() {
    stage->events().drain([](const seqwatch::event::SegmentEvent&) noexcept {});
    stage->records().drain([](const seqwatch::event::FlowRecord&) noexcept {});
    if (cap) records_drained += cap->ring().drain([](const ev::RecordHeader&, const uint8_t*) noexcept {});
  }
};

std::unique_ptr<Fixture>& cached() {
  static std::unique_ptr<Fixture> f;
  return f;
}

Fixture* fixture(benchmark::State& state, Scenario s, uint32_t flows, bool worker, bool on, bool pf = false) {
  auto& f = cached();
  if (!f || f->scenario != s || f->flows != flows || f->worker_mode != worker || f->evidence_on != on ||
      f->prefetch != pf) {
    f.reset();
    f = std::make_unique<Fixture>(s, flows, worker, on, pf);
    std::string err;
    if (!f->setup(err)) {
      state.SkipWithError(err.c_str());
      f.reset();
      return nullptr;
    }
  }
  return f.get();
}

void report_capture(benchmark::State& state, const Fixture& x, const ev::CaptureCounters& c0, double pkts) {
  if (!x.cap) return;
  const ev::CaptureCounters& c1 = x.cap->counters();
  uint64_t trig0 = 0, trig1 = 0;
  for (unsigned b = 0; b < ev::kTriggerBits; ++b) {
    trig0 += c0.triggers[b];
    trig1 += c1.triggers[b];
  }
  state.counters["stored_per_pkt"] = static_cast<double>(c1.stored - c0.stored) / pkts;
  state.counters["emitted_per_pkt"] = static_cast<double>(c1.emitted - c0.emitted) / pkts;
  state.counters["triggers_per_pkt"] = static_cast<double>(trig1 - trig0) / pkts;
  state.counters["slices_per_pkt"] = static_cast<double>(c1.slices - c0.slices) / pkts;
  state.counters["refused_per_pkt"] =
      static_cast<double>((c1.refused_flow_budget + c1.refused_global_budget + c1.refused_ring) -
                          (c0.refused_flow_budget + c0.refused_global_budget + c0.refused_ring)) / pkts;
  state.counters["slots_taken_per_pkt"] = static_cast<double>(c1.slots_taken - c0.slots_taken) / pkts;
  state.counters["ring_full"] = static_cast<double>(c1.ring_full - c0.ring_full);
  state.counters["capture_MB"] = static_cast<double>(x.cap->memory_bytes()) / 1e6;
}

void set_rates(benchmark::State& state, double pkts) {
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.counters["ns_per_pkt"] =
      benchmark::Counter(kBurst * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// BM_History's timed work, out of line so callgrind can count its instructions alone
// (--toggle-collect='*history_burst*'; refill() is paused in time but not in callgrind).
[[gnu::noinline]] void history_burst(Fixture& x) {
  for (uint32_t i = x.pos; i < x.pos + kBurst; ++i) {
    const tcp::SegmentResult& r = x.results[i];
    if (r.analysed) x.cap->observe(x.pkts[i], x.views[i], ev::FlowRef{r.slot, r.flow_id, r.dir, &x.keys[i]}, r.verdict, 0);
  }
}

void BM_History(benchmark::State& state, Scenario s) {
  Fixture* f = fixture(state, s, static_cast<uint32_t>(state.range(0)), false, true);
  if (f == nullptr) return;
  Fixture& x = *f;
  const ev::CaptureCounters c0 = x.cap->counters();
  // A batch left half-used by the previous run continues: its results are still valid.
  for (auto _ : state) {
    if (x.pos == kBatch) {
      state.PauseTiming();
      x.refill();
      state.ResumeTiming();
    }
    history_burst(x);
    x.pos += kBurst;
  }
  const uint64_t observed = x.cap->counters().packets - c0.packets;
  const double pkts = static_cast<double>(state.iterations()) * kBurst;
  set_rates(state, pkts);
  state.counters["not_observed"] = pkts - static_cast<double>(observed);
  report_capture(state, x, c0, pkts);
}

void BM_Worker(benchmark::State& state, Scenario s, bool on, bool pf) {
  Fixture* f = fixture(state, s, static_cast<uint32_t>(state.range(0)), true, on, pf);
  if (f == nullptr) return;
  Fixture& x = *f;
  const ev::CaptureCounters c0 = x.cap ? x.cap->counters() : ev::CaptureCounters{};
  const uint64_t seg0 = x.stage->counters().segments;
  for (auto _ : state) {
    if (x.pos == kBatch) {
      state.PauseTiming();
      x.refill();
      state.ResumeTiming();
    }
    dec::decode_burst(x.frames.data() + x.pos, kBurst, dec::LinkType::kEthernet, x.views.data() + x.pos, x.dcount);
    x.stage->process_burst(x.views.data() + x.pos, x.pkts.data() + x.pos, kBurst);
    x.observe_burst(x.pos, kBurst);
    x.pos += kBurst;
  }
  const double pkts = static_cast<double>(state.iterations()) * kBurst;
  set_rates(state, pkts);
  state.counters["not_analysed"] = pkts - static_cast<double>(x.stage->counters().segments - seg0);
  report_capture(state, x, c0, pkts);
}

// ---- writers -----------------------------------------------------------------------------

std::string bench_dir() {
  static std::string dir = [] {
    std::string base;
    if (const char* e = std::getenv("SEQWATCH_BENCH_DIR"); e != nullptr && *e != '\0') base = e;
    else if (access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    else base = "/tmp";
    std::string tmpl = base + "/seqwatch-bench-evidence-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return std::string();
    return tmpl;
  }();
  return dir;
}

// Deletes the files under the benchmark directory whose names start with `prefix`.
// Deletes the bench directory's files named prefix*, except those ending in `keep_suffix`.
void remove_files(const std::string& prefix, const std::string& keep_suffix = {}) {
  std::error_code ec;
  std::vector<std::filesystem::path> doomed;
  for (const auto& e : std::filesystem::directory_iterator(bench_dir(), ec)) {
    const std::string name = e.path().filename().string();
    const bool kept = !keep_suffix.empty() && name.size() >= keep_suffix.size() &&
                      name.compare(name.size() - keep_suffix.size(), keep_suffix.size(), keep_suffix) == 0;
    if (name.rfind(prefix, 0) == 0 && !kept) doomed.push_back(e.path());
  }
  for (const auto& p : doomed) std::filesystem::remove(p, ec);
}

// 4096 frames of the imix cycle over 1000 connections (66 to 1514 bytes), with their
// trimmed lengths and, for pcapng, the comment the sink gives a post-trigger packet.
struct WriterInput {
  static constexpr uint32_t kFrames = 4096;
  std::unique_ptr<uint8_t[]> pool{new uint8_t[kFrames * sb::kSlotStride]()};
  std::vector<PacketRef> pkts;
  std::vector<uint32_t> trimmed;
  std::vector<std::string> comments;
  std::vector<ev::RecordHeader> headers;
  std::vector<flow::FlowKey> keys;
  std::vector<dec::PacketView> views;
  double mean_full = 0, mean_trimmed = 0;

  WriterInput() {
    sb::TrafficGen gen(1000, cycle_of(Scenario::kQuiet), false);
    Xorshift rng;
    uint64_t ts = kStartNs;
    for (uint32_t c = 0; c < 1000; ++c)  // handshakes
      for (int k = 0; k < 3; ++k) gen.next(c, pool.get() + sb::kSlotDataOff, ts);
    views.resize(kFrames);
    keys.resize(kFrames);
    for (uint32_t i = 0; i < kFrames; ++i) {
      uint8_t* slot = pool.get() + size_t{i} * sb::kSlotStride + sb::kSlotDataOff;
      PacketRef p = gen.next(rng.below(1000), slot, ts);
      p.frame = i + 1;
      ts += kPacketGapNs;
      pkts.push_back(p);
      dec::decode(p.data, p.caplen, dec::LinkType::kEthernet, views[i]);
      flow::Dir d;
      flow::make_key(views[i], keys[i], d);
      trimmed.push_back(ev::trimmed_length(views[i], p.caplen, ev::TrimConfig{ev::TrimMode::kHeaders, 256}));
      ev::RecordHeader h;
      h.ts_ns = p.ts_ns;
      h.frame = p.frame;
      h.slice = 1 + i / 81;  // worker 0
      h.verdicts = (i % 12 == 5) ? (tcp::kRetransmission | tcp::kFastRetransmission) : 0;
      h.role = ev::Role::kPost;
      comments.push_back(ev::EvidenceSink::comment_for(h, ev::kTrigRetxStorm));
      mean_full += p.caplen;
      mean_trimmed += trimmed.back();
    }
    mean_full /= kFrames;
    mean_trimmed /= kFrames;
  }
};

const WriterInput& writer_input() {
  static WriterInput in;
  return in;
}

ev::WriterConfig writer_config(ev::FileFormat fmt, const std::string& prefix) {
  ev::WriterConfig w;  // as evidence_sink_config(): rotation 256 MiB / 3600 s, fsync on close
  w.dir = bench_dir();
  w.prefix = prefix;
  w.format = fmt;
  w.link = dec::LinkType::kEthernet;
  w.rotate.max_bytes = 256ull << 20;
  w.rotate.max_seconds = 3600;
  return w;
}

void BM_Writer(benchmark::State& state, ev::FileFormat fmt, bool trim) {
  const WriterInput& in = writer_input();
  if (bench_dir().empty()) {
    state.SkipWithError("no writable directory for the evidence files");
    return;
  }
  auto w = ev::RotatingWriter::create(writer_config(fmt, "bench-writer"));
  if (!w) {
    state.SkipWithError(w.error().message.c_str());
    return;
  }
  ev::RotatingWriter& wr = *w.value();
  const std::string dir = bench_dir();
  wr.on_file_done = [dir](const ev::RotatingWriter::FileDone& d) {
    if (d.ok) std::remove((dir + "/" + d.name).c_str());  // keep tmpfs small; not the writer's cost
  };
  std::vector<ev::PacketOut> out(WriterInput::kFrames);
  for (uint32_t i = 0; i < WriterInput::kFrames; ++i) {
    const PacketRef& p = in.pkts[i];
    out[i] = ev::PacketOut{p.ts_ns, p.data, trim ? in.trimmed[i] : p.caplen, p.wirelen,
                           fmt == ev::FileFormat::kPcapng ? std::string_view(in.comments[i]) : std::string_view()};
  }
  uint32_t i = 0;
  bool ok = true;
  for (auto _ : state) {
    ok &= wr.write(out[i]);
    i = (i + 1) & (WriterInput::kFrames - 1);
  }
  const uint64_t bytes = wr.counters().bytes;
  wr.close();
  if (!ok || wr.counters().packets_lost != 0) state.SkipWithError("writer lost packets (directory full?)");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["file_B_per_rec"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
  state.counters["frame_B_per_rec"] = trim ? in.mean_trimmed : in.mean_full;
  state.counters["files"] = static_cast<double>(wr.counters().files_completed);
}

// EvidenceSink::drain: the control thread's whole evidence path for a ring of slices.
void BM_Sink(benchmark::State& state, ev::FileFormat fmt) {
  const WriterInput& in = writer_input();
  if (bench_dir().empty()) {
    state.SkipWithError("no writable directory for the evidence files");
    return;
  }
  ev::SinkConfig sc;
  sc.evidence = writer_config(fmt, fmt == ev::FileFormat::kPcap ? "bench-sink-pcap" : "bench-sink-pcapng");
  auto sink = ev::EvidenceSink::create(sc);
  if (!sink) {
    state.SkipWithError(sink.error().message.c_str());
    return;
  }
  // A worker whose every flow triggers (BPF trigger bit) once 16 packets of history are
  // kept: each slice is begin + 16 pre + trigger + 64 post + end = 83 records.
  constexpr uint32_t kFlows = 64, kPeriod = 16 + 1 + 64;
  ev::CaptureConfig cc = app_capture(kFlows);
  cc.budget = ev::BudgetConfig{0, 0, 0, 1000};
  ev::TriggerConfig tc;
  tc.bpf_mask = 1;
  auto cap = ev::EvidenceCapture::create(cc, ev::TriggerSet::compile(tc).value()).value();
  uint64_t ts = kStartNs, n_obs = 0;
  std::vector<uint32_t> seen(kFlows, 0);
  auto fill = [&] {
    // Three rounds of kPeriod packets on each flow: 3 x 64 x 83 = 15936 records (ring 16384).
    for (uint32_t k = 0; k < 3 * kPeriod * kFlows; ++k) {
      const uint32_t fl = k % kFlows;
      const uint32_t idx = static_cast<uint32_t>(n_obs++ % WriterInput::kFrames);
      PacketRef p = in.pkts[idx];
      p.ts_ns = ts;
      p.frame = n_obs;
      ts += kPacketGapNs;
      const uint32_t extra = seen[fl]++ % kPeriod == 16 ? uint32_t{ev::kTrigBpf} : 0u;
      tcp::SegmentVerdict v;
      cap->observe(p, in.views[idx], ev::FlowRef{fl, fl + 1, 0, &in.keys[idx]}, v, extra);
    }
  };
  uint64_t records = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // As BM_Writer deletes each completed file: tmpfs gives the pages back, so the figure
    // is the sink's CPU cost, not the guest's first touch of ever new memory (a 1.3 GB run
    // of never-deleted files made that cost set the result, ~300 ns per record whatever the
    // sink did). The file being written (".partial") stays: it is renamed when complete.
    remove_files(sc.evidence.prefix, ".partial");
    fill();
    state.ResumeTiming();
    records += sink.value()->drain(cap->ring());
  }
  const auto& wc = sink.value()->evidence_writer().counters();
  const uint64_t bytes = wc.bytes;
  const uint64_t lost = wc.packets_lost;
  state.counters["packets_per_rec"] = static_cast<double>(sink.value()->counters().packets) / static_cast<double>(records);
  sink.value()->close();
  remove_files(sc.evidence.prefix);
  remove_files(sc.index_name);
  if (lost != 0 || cap->counters().ring_full != 0) state.SkipWithError("records lost (ring or writer)");
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["file_B_per_rec"] = static_cast<double>(bytes) / static_cast<double>(records);
}

// ---- BPF -----------------------------------------------------------------------------------

// A tcpdump expression a SPAN operator writes (one port), and one with ports, a port
// range, a network exclusion, a TCP-flags test and a length test.
constexpr const char* kSimple = "tcp port 443";
constexpr const char* kComplex =
    "ip and tcp and (port 443 or port 8443 or portrange 9000-9100) and not net 172.16.0.0/12 "
    "and tcp[tcpflags] & tcp-rst == 0 and len >= 60";

// The decoder benchmark's pool layout: 4096 frames one mempool slot apart (9.4 MB), the
// imix cycle over 1000 connections; `server_port` rewritten (443 matches, 22 does not).
struct BpfInput {
  static constexpr uint32_t kFrames = 4096;
  std::unique_ptr<uint8_t[]> pool{new uint8_t[kFrames * sb::kSlotStride]()};
  std::vector<PacketRef> pkts;

  explicit BpfInput(uint16_t server_port) {
    sb::TrafficGen gen(1000, cycle_of(Scenario::kQuiet), false);
    Xorshift rng;
    uint64_t ts = kStartNs;
    for (uint32_t c = 0; c < 1000; ++c)
      for (int k = 0; k < 3; ++k) gen.next(c, pool.get() + sb::kSlotDataOff, ts);
    for (uint32_t i = 0; i < kFrames; ++i) {
      uint8_t* f = pool.get() + size_t{i} * sb::kSlotStride + sb::kSlotDataOff;
      PacketRef p = gen.next(rng.below(1000), f, ts);
      ts += kPacketGapNs;
      for (size_t off : {sb::kOffSport, sb::kOffDport})
        if (f[off] == 0x01 && f[off + 1] == 0xBB) sb::put_be16(f + off, server_port);
      pkts.push_back(p);
    }
  }
};

void BM_Bpf(benchmark::State& state, const char* expr, bool match, bool jit) {
  static const BpfInput yes(443), no(22);
  const BpfInput& in = match ? yes : no;
  auto f = ev::BpfFilter::compile(expr, dec::LinkType::kEthernet);
  if (!f) {
    state.SkipWithError(f.error().message.c_str());
    return;
  }
  if (jit) {
    // As `seqwatch run` does once the EAL runs: the filter compiled to native code by DPDK.
    static const bool eal = [] {
      seqwatch::runtime::EalOptions o;
      o.memory_mb = 64;
      o.extra = {"--file-prefix=swbenchbpf"};
      return seqwatch::runtime::eal_init(o).ok();
    }();
    auto r = eal ? seqwatch::runtime::jit_compile(f.value()) : seqwatch::Result<bool>(seqwatch::Error{"EAL did not start"});
    if (!r || !r.value()) {
      state.SkipWithError(r ? "no BPF JIT on this machine" : r.error().message.c_str());
      return;
    }
  }
  const ev::BpfFilter& filter = f.value();
  uint32_t pos = 0;
  uint64_t kept = 0;
  for (auto _ : state) {
    // Worker::process_burst's capture-filter loop over one burst.
    const PacketRef* pkts = in.pkts.data() + pos;
    uint32_t k = 0;
    for (uint32_t i = 0; i < kBurst; ++i) {
      const uint32_t wire = pkts[i].wirelen != 0 ? pkts[i].wirelen : pkts[i].caplen;
      k += filter.match(pkts[i].data, pkts[i].caplen, wire) ? 1u : 0u;
    }
    kept += k;
    pos = (pos + kBurst) & (BpfInput::kFrames - 1);
  }
  const double pkts = static_cast<double>(state.iterations()) * kBurst;
  set_rates(state, pkts);
  state.counters["matched"] = static_cast<double>(kept) / pkts;
  state.counters["insns"] = filter.length();
  if ((kept == pkts) != match) state.SkipWithError("unexpected verdicts: the traffic does not (all) match as intended");
}

void register_all() {
  const struct {
    Scenario s;
    std::vector<int64_t> flows;
  } hist[] = {{Scenario::kQuiet, {16, 1000, 10000, 100000}}, {Scenario::kLossy, {1000, 100000}}, {Scenario::kEmit, {1000, 100000}}};
  for (const auto& c : hist)
    for (int64_t n : c.flows)
      benchmark::RegisterBenchmark((std::string("BM_History/") + name_of(c.s)).c_str(), BM_History, c.s)
          ->Arg(n)->Unit(benchmark::kNanosecond);
  for (const auto& c : hist)
    for (int64_t n : c.flows)
      for (int mode = 0; mode < 3; ++mode) {
        if (mode == 0 && c.s == Scenario::kEmit) continue;  // `off` is the same run as lossy/off
        static const char* const kMode[] = {"/off", "/on", "/on_prefetch"};
        const std::string name = std::string("BM_Worker/") + name_of(c.s) + kMode[mode];
        benchmark::RegisterBenchmark(name.c_str(), BM_Worker, c.s, mode != 0, mode == 2)
            ->Arg(n)->Unit(benchmark::kNanosecond);
      }
  for (auto fmt : {ev::FileFormat::kPcap, ev::FileFormat::kPcapng}) {
    const std::string f = fmt == ev::FileFormat::kPcap ? "pcap" : "pcapng";
    for (bool trim : {true, false})
      benchmark::RegisterBenchmark(("BM_Writer/" + f + (trim ? "/headers" : "/full")).c_str(), BM_Writer, fmt, trim)
          ->Unit(benchmark::kNanosecond);
  }
  for (auto fmt : {ev::FileFormat::kPcap, ev::FileFormat::kPcapng})
    benchmark::RegisterBenchmark(fmt == ev::FileFormat::kPcap ? "BM_Sink/pcap" : "BM_Sink/pcapng", BM_Sink, fmt)
        ->Unit(benchmark::kMicrosecond);
  for (bool jit : {false, true})
    for (const char* e : {kSimple, kComplex})
      for (bool m : {true, false}) {
        const std::string name = std::string("BM_Bpf/") + (e == kSimple ? "simple" : "complex") + (m ? "/match" : "/nomatch") +
                                 (jit ? "/jit" : "/interpreter");
        benchmark::RegisterBenchmark(name.c_str(), BM_Bpf, e, m, jit)->Unit(benchmark::kNanosecond);
      }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cached().reset();
  if (!bench_dir().empty()) {
    remove_files("");
    std::error_code ec;
    std::filesystem::remove(bench_dir(), ec);
  }
  return 0;
}
