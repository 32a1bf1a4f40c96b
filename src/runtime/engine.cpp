#include "runtime/engine.hpp"

#include <pthread.h>
#include <sched.h>

#include <array>
#include <chrono>
#include <optional>

#include "flow/flow_key.hpp"
#include "runtime/bpf_jit.hpp"

namespace seqwatch::runtime {

namespace {

void pin_to(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);  // best effort: an error leaves it unpinned
}

void add_shape(TcpShape& a, const TcpShape& b) {
  a.segments += b.segments;
  a.data_segments += b.data_segments;
  a.payload_bytes += b.payload_bytes;
  a.syn += b.syn;
  a.syn_ack += b.syn_ack;
  a.fin += b.fin;
  a.rst += b.rst;
  a.with_sack += b.with_sack;
  a.with_timestamps += b.with_timestamps;
  a.options_cut += b.options_cut;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(const EngineConfig& cfg, std::vector<PacketSource*> inputs) {
  if (cfg.workers == 0 || cfg.workers > 128)
    return Error{"workers: " + std::to_string(cfg.workers) + " is out of range (1..128)"};
  if (inputs.empty()) return Error{"no input"};
  for (PacketSource* in : inputs) {
    if (in->link_type() != inputs[0]->link_type())
      return Error{"inputs have different link types (" + inputs[0]->describe() + ", " + in->describe() +
                   "); run them separately"};
  }
  const bool rehash = cfg.software_rehash || inputs.size() != cfg.workers;
  for (PacketSource* in : inputs) {
    if (!in->mixed_link_types()) continue;
    // The rehash rings and BPF programs assume one link type.
    if (rehash || inputs.size() > 1)
      return Error{in->describe() + " holds interfaces of different link types: it runs on one worker of its own "
                   "(-w 1, no software rehash)"};
    if (!cfg.capture_filter.empty() || (cfg.evidence.enabled && !cfg.evidence.trigger_bpf.empty()))
      return Error{in->describe() + " holds interfaces of different link types: a BPF filter is compiled for one "
                   "link type; split the file by interface (tshark -r FILE -Y frame.interface_id==N -w PART.pcapng) to filter it"};
  }
  std::unique_ptr<Engine> e(new Engine());
  e->cfg_ = cfg;
  e->inputs_ = std::move(inputs);
  if (rehash) {
    e->rehash_.per_worker.assign(cfg.workers, 0);
    // Frames a source can keep until the workers are done with them (mapped capture
    // files) travel by address, not copied; all inputs or none, as they share the rings.
    bool by_ref = true;
    for (PacketSource* in : e->inputs_) by_ref &= in->retain_frames(true);
    if (!by_ref) {
      for (PacketSource* in : e->inputs_) in->retain_frames(false);
    } else {
      e->holds_.resize(e->inputs_.size());
      for (Hold& h : e->holds_) h.heads.assign(cfg.workers, 0);
    }
    for (unsigned i = 0; i < cfg.workers; ++i) {
      e->rings_.push_back(std::make_unique<FrameRing>(cfg.rehash_ring_bytes, by_ref));
      e->ring_sources_.push_back(std::make_unique<FrameRingSource>(
          *e->rings_.back(), e->inputs_[0]->link_type(), "rehash ring " + std::to_string(i),
          std::vector<const PacketSource*>(e->inputs_.begin(), e->inputs_.end())));
    }
  }
  const decode::LinkType link = e->inputs_[0]->link_type();
  if (!cfg.capture_filter.empty()) {
    auto f = evidence::BpfFilter::compile(cfg.capture_filter, link);
    if (!f) return Error{"capture filter: " + f.error().message};
    e->capture_filter_ = std::make_unique<evidence::BpfFilter>(std::move(f.value()));
    e->prepare_filter(*e->capture_filter_, "capture_filter");
  }
  std::optional<evidence::TriggerSet> triggers;
  if (cfg.evidence.enabled) {
    for (const std::string& expr : cfg.evidence.trigger_bpf) {
      auto f = evidence::BpfFilter::compile(expr, link);
      if (!f) return Error{"evidence trigger: " + f.error().message};
      e->trigger_filters_.push_back(std::make_unique<evidence::BpfFilter>(std::move(f.value())));
      e->prepare_filter(*e->trigger_filters_.back(), "trigger");
    }
    auto t = evidence::TriggerSet::compile(cfg.evidence.triggers);
    if (!t) return Error{"evidence triggers: " + t.error().message};
    triggers = std::move(t.value());
  }
  e->finished_.reset(new std::atomic<bool>[cfg.workers]);
  for (unsigned i = 0; i < cfg.workers; ++i) {
    e->finished_[i].store(false);
    tcp::TcpStageConfig tc = cfg.tcp;
    tc.worker = static_cast<uint8_t>(i);
    tc.table.id_base = i;
    tc.table.id_stride = cfg.workers;
    auto stage = tcp::TcpStage::create(tc);
    if (!stage) return stage.error();
    e->stages_.push_back(std::move(stage.value()));
    PacketSource& src = rehash ? static_cast<PacketSource&>(*e->ring_sources_[i]) : *e->inputs_[i];
    e->workers_.push_back(std::make_unique<Worker>(src, cfg.matcher, e->stages_.back().get()));
    e->workers_.back()->set_burst(cfg.burst);
    if (rehash) e->workers_.back()->set_input_end(&e->input_end_ns_);
    WorkerExtras x;
    x.capture_filter = e->capture_filter_.get();
    x.payload_events = cfg.payload_events;
    x.lossless = cfg.lossless;
    if (triggers) {
      evidence::CaptureConfig cc = cfg.evidence.capture;
      cc.worker = static_cast<uint8_t>(i);
      cc.link = link;
      auto cap = evidence::EvidenceCapture::create(cc, *triggers);
      if (!cap) return Error{"evidence: " + cap.error().message};
      e->captures_.push_back(std::move(cap.value()));
      x.evidence = e->captures_.back().get();
      for (auto& f : e->trigger_filters_) x.trigger_filters.push_back(f.get());
    }
    e->workers_.back()->set_extras(x);
    if (cfg.flow_samples) {
      e->samples_.push_back(std::make_unique<SpscRing<FlowSample>>(1u << 14));
      e->workers_.back()->set_sample_ring(e->samples_.back().get(), static_cast<uint8_t>(i));
    }
    if (cfg.matcher != nullptr && e->workers_.back()->scratch() == nullptr)
      return Error{"Hyperscan could not allocate scratch space for worker " + std::to_string(i)};
  }
  return e;
}

Engine::~Engine() = default;

void Engine::prepare_filter(evidence::BpfFilter& f, const char* role) {
  FilterInfo info{role, f.expression(), "interpreter", ""};
  if (cfg_.bpf_jit) {
    auto r = jit_compile(f);
    if (!r) info.why = r.error().message;
    else if (!r.value()) info.why = "DPDK has no BPF JIT for this machine";
    else info.runs_as = "jit";
  } else {
    info.why = cfg_.bpf_jit_off;
  }
  filter_info_.push_back(std::move(info));
}

uint32_t Engine::pick_worker(const decode::PacketView& v) const noexcept {
  return flow::spread_index(flow::spread_hash(v, cfg_.tcp.key_vlans), static_cast<uint32_t>(workers_.size()));
}

// Decodes a burst and pushes each frame to the ring of the worker its inner flow hash
// picks. Offline (lossless) it waits for room; live, a full ring drops the frame (counted).
void Engine::spread(const PacketRef* pkts, uint16_t n, const std::atomic<bool>& stop) noexcept {
  for (uint16_t i = 0; i < n; ++i) rehash_frames_[i] = decode::FrameRef{pkts[i].data, pkts[i].caplen};
  decode::decode_burst(rehash_frames_.data(), n, inputs_[0]->link_type(), rehash_views_.data(), rehash_.decode);
  for (uint16_t i = 0; i < n; ++i) {
    const uint32_t w = pick_worker(rehash_views_[i]);
    FrameRing& ring = *rings_[w];
    if (pkts[i].caplen > ring.max_frame()) {
      ++rehash_.dropped_oversize;
      continue;
    }
    bool pushed = ring.push(pkts[i]);
    while (!pushed && cfg_.lossless && !stop.load(std::memory_order_relaxed)) {
      ring.publish();  // let the worker see what it can take, then try again
      ++rehash_.waits;
      std::this_thread::yield();
      pushed = ring.push(pkts[i]);
    }
    if (!pushed) {
      ++rehash_.dropped_full;  // live: the worker is behind; counted, never waited for
      continue;
    }
    ++rehash_.packets;
    ++rehash_.per_worker[w];
  }
  for (auto& r : rings_) r->publish();
}

void Engine::rehash_loop(const std::atomic<bool>& stop) noexcept {
  pthread_setname_np(pthread_self(), "sw-rehash");  // as `top -H` and /proc/PID/task show it
  if (cfg_.thread_init) cfg_.thread_init();
  if (merging()) {
    merge_loop(stop);
  } else {
    // Each input's bursts as they come, round robin (live queues: arrival order).
    std::array<PacketRef, kBurstSize> pkts;
    size_t next = 0;
    uint64_t input_end = 0;  // newest packet time read, for the workers' flushes (set_input_end)
    while (!stop.load(std::memory_order_relaxed)) {
      bool all_done = true;
      uint32_t got = 0;
      for (size_t k = 0; k < inputs_.size(); ++k) {
        PacketSource& in = *inputs_[(next + k) % inputs_.size()];
        const uint16_t n = in.rx_burst(pkts.data(), std::clamp<uint16_t>(cfg_.burst, 1, kBurstSize));
        if (n == 0) {
          in.release();
          all_done &= in.done();
          continue;
        }
        all_done = false;
        got += n;
        if (pkts[n - 1].ts_ns > input_end) input_end = pkts[n - 1].ts_ns;
        spread(pkts.data(), n, stop);
        in.release();
        if (!holds_.empty()) let_go((next + k) % inputs_.size());
      }
      ++next;
      if (all_done) break;
      if (got == 0) std::this_thread::yield();
    }
    input_end_ns_.store(input_end, std::memory_order_relaxed);
  }
  for (auto& r : rings_) r->close();  // publishes input_end_ns_ too
}

// Recorded inputs merged by packet time, frame by frame, as mergecap merges files: each
// input shows its next frame, the earliest goes first (on a tie the later input, as
// mergecap's merge picks the last of equally early files). An input that has nothing now
// but is not done is waited for, as its next frame may be the earliest. Frames are numbered in the merged order (a frame's `frame` is its position in
// `mergecap -w ALL FILES...` of the same files in the same order).
void Engine::merge_loop(const std::atomic<bool>& stop) noexcept {
  struct Head {
    std::array<PacketRef, kBurstSize> pkts;
    uint16_t pos = 0, n = 0;
    bool ended = false;
  };
  std::vector<Head> heads(inputs_.size());  // once, before the first frame
  std::array<PacketRef, kBurstSize> out;
  uint16_t out_n = 0;
  const uint16_t burst = std::clamp<uint16_t>(cfg_.burst, 1, kBurstSize);
  uint64_t merged = 0, input_end = 0;
  auto flush = [&] {
    if (out_n != 0) spread(out.data(), out_n, stop);
    out_n = 0;
  };
  while (!stop.load(std::memory_order_relaxed)) {
    bool waiting = false;
    for (size_t k = 0; k < heads.size(); ++k) {
      Head& h = heads[k];
      if (h.ended || h.pos < h.n) continue;
      flush();  // `out` may point into the burst given back now
      inputs_[k]->release();
      if (!holds_.empty()) let_go(k);
      h.pos = 0;
      h.n = inputs_[k]->rx_burst(h.pkts.data(), burst);
      if (h.n == 0) {
        h.ended = inputs_[k]->done();
        waiting |= !h.ended;
      }
    }
    if (waiting) {
      flush();
      std::this_thread::yield();
      continue;
    }
    // The earliest head, and the one that would go after it: frames of the earliest input
    // go while they are before that one (on a tie, the higher input first).
    size_t best = heads.size(), second = heads.size();
    auto before = [&](size_t a, size_t b) {  // head of input a goes before head of input b
      if (b == heads.size()) return true;
      const uint64_t ta = heads[a].pkts[heads[a].pos].ts_ns, tb = heads[b].pkts[heads[b].pos].ts_ns;
      return ta < tb || (ta == tb && a > b);
    };
    for (size_t k = 0; k < heads.size(); ++k) {
      if (heads[k].pos == heads[k].n) continue;
      if (before(k, best)) {
        second = best;
        best = k;
      } else if (before(k, second)) {
        second = k;
      }
    }
    if (best == heads.size()) break;  // every input at its end
    Head& h = heads[best];
    const uint64_t limit = second == heads.size() ? UINT64_MAX : heads[second].pkts[heads[second].pos].ts_ns;
    const bool tie_goes = second == heads.size() || best > second;
    do {
      PacketRef r = h.pkts[h.pos++];
      r.frame = ++merged;
      if (r.ts_ns > input_end) input_end = r.ts_ns;
      out[out_n++] = r;
      if (out_n == burst) flush();
    } while (h.pos < h.n && (h.pkts[h.pos].ts_ns < limit || (h.pkts[h.pos].ts_ns == limit && tie_goes)));
  }
  flush();
  for (size_t k = 0; k < heads.size(); ++k) inputs_[k]->release();
  input_end_ns_.store(input_end, std::memory_order_relaxed);
}

void Engine::let_go(size_t input) noexcept {
  // Checked every 64 bursts: each check reads every ring's consumer line.
  Hold& h = holds_[input];
  if (h.countdown != 0) {
    --h.countdown;
    return;
  }
  h.countdown = 63;
  PacketSource& in = *inputs_[input];
  if (h.active) {
    for (size_t w = 0; w < rings_.size(); ++w)
      if (rings_[w]->consumed() < h.heads[w]) return;
    in.drop_before(h.mark);
    h.active = false;
  }
  h.mark = in.read_mark();
  for (size_t w = 0; w < rings_.size(); ++w) h.heads[w] = rings_[w]->produced();
  h.active = true;
}

void Engine::worker_loop(unsigned i, const std::atomic<bool>& stop) noexcept {
  const std::string name = "sw-worker-" + std::to_string(i);  // 15 characters at most
  pthread_setname_np(pthread_self(), name.c_str());
  if (!cfg_.cpus.empty()) pin_to(cfg_.cpus[i % cfg_.cpus.size()]);
  if (cfg_.thread_init) cfg_.thread_init();
  // With the rehash stage, a stop request ends its reading; the worker drains its ring.
  static const std::atomic<bool> never{false};
  workers_[i]->run(rehashing() ? never : stop);
  tcp::TcpStage& st = *stages_[i];
  // The control thread drains the flow records and the evidence the flow ends write.
  while (!st.flush(workers_[i]->flow_end_room(), workers_[i]->input_end_ns())) std::this_thread::yield();
  finished_[i].store(true, std::memory_order_release);
}

void Engine::run(const std::atomic<bool>& stop, EngineSinks& sinks) {
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < workers_.size(); ++i) threads.emplace_back([this, i, &stop] { worker_loop(i, stop); });
  std::thread rehash;
  if (rehashing()) rehash = std::thread([this, &stop] { rehash_loop(stop); });

  auto drain = [&]() {
    uint32_t n = 0;
    for (auto& s : stages_) {
      n += s->events().drain([&](const event::SegmentEvent& e) {
        if (sinks.on_event) sinks.on_event(e);
      });
      n += s->records().drain([&](const event::FlowRecord& r) {
        if (sinks.on_record) sinks.on_record(r);
      });
    }
    for (auto& cap : captures_) {
      // Without a consumer the records are dropped here: a worker waiting for room in the
      // ring (lossless input, flows ending) must not wait for ever.
      if (sinks.on_evidence) n += sinks.on_evidence(cap->ring());
      else n += cap->ring().drain([](const evidence::RecordHeader&, const uint8_t*) {});
    }
    for (auto& ring : samples_) {
      n += ring->drain([&](const FlowSample& fs) {
        if (sinks.on_sample) sinks.on_sample(fs);
      });
    }
    return n;
  };
  auto last_tick = std::chrono::steady_clock::now();
  for (;;) {
    bool all = true;
    for (unsigned i = 0; i < workers_.size(); ++i) all &= finished_[i].load(std::memory_order_acquire);
    const uint32_t n = drain();
    if (all) {
      drain();
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_tick >= std::chrono::milliseconds(100)) {
      last_tick = now;
      if (sinks.on_tick) sinks.on_tick();
    }
    if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  if (rehash.joinable()) rehash.join();
  for (auto& t : threads) t.join();
  drain();
}

WorkerState Engine::merged_state() const {
  WorkerState m;
  for (const auto& w : workers_) {
    const WorkerState& s = w->state();
    m.decode.add(s.decode);
    add_shape(m.tcp, s.tcp);
    m.bursts += s.bursts;
    m.idle_polls += s.idle_polls;
    m.busy_tsc += s.busy_tsc;
    m.idle_tsc += s.idle_tsc;
    m.samples += s.samples;
    m.samples_dropped += s.samples_dropped;
    m.payload_scans += s.payload_scans;
    m.filtered += s.filtered;
    m.backpressure += s.backpressure;
    m.payload_events += s.payload_events;
    m.payload_events_dropped += s.payload_events_dropped;
    if (s.first_ts_ns != 0 && (m.first_ts_ns == 0 || s.first_ts_ns < m.first_ts_ns)) m.first_ts_ns = s.first_ts_ns;
    if (s.last_ts_ns > m.last_ts_ns) m.last_ts_ns = s.last_ts_ns;
  }
  return m;
}

tcp::TcpStageCounters Engine::merged_tcp() const {
  tcp::TcpStageCounters m;
  for (const auto& s : stages_) {
    const auto& c = s->counters();
    m.segments += c.segments;
    m.skipped += c.skipped;
    m.events += c.events;
    m.events_dropped += c.events_dropped;
    m.records += c.records;
    m.records_dropped += c.records_dropped;
    m.restarts += c.restarts;
    m.copies += c.copies;
    m.late_hop_matches += c.late_hop_matches;
    m.late_id_matches += c.late_id_matches;
    m.carries += c.carries;
    m.active_records += c.active_records;
    m.saturated_flows += c.saturated_flows;
    m.super_segment_flows += c.super_segment_flows;
    for (size_t b = 0; b < m.verdicts.size(); ++b) m.verdicts[b] += c.verdicts[b];
  }
  return m;
}

flow::FlowTableCounters Engine::merged_table() const {
  flow::FlowTableCounters m;
  for (const auto& s : stages_) {
    const auto& c = s->table().counters();
    m.lookups += c.lookups;
    m.hits += c.hits;
    m.inserts += c.inserts;
    m.evicted += c.evicted;
    m.expired_idle += c.expired_idle;
    m.expired_closed += c.expired_closed;
    m.flushed += c.flushed;
    m.in_use += c.in_use;
    m.doublings += c.doublings;
  }
  return m;
}

size_t Engine::flow_memory_bytes() const {
  size_t n = 0;
  for (const auto& s : stages_) n += s->table().memory_bytes();
  return n;
}

uint64_t Engine::input_dropped() const {
  uint64_t n = rehash_.dropped_full + rehash_.dropped_oversize;
  for (PacketSource* in : inputs_) n += in->dropped();
  return n;
}

}  // namespace seqwatch::runtime
