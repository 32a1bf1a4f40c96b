// The engine: N poll-mode workers, each with its own flow table and TCP stage, fed either
// one input per worker (NIC RSS queues) or through the software rehash stage (one thread
// reads every input, decodes, and spreads frames over the workers by the symmetric hash
// of the INNERMOST 5-tuple, tunnel-aware). The calling thread is the control thread: it
// drains every worker's event and flow-record rings and hands them to the sinks.
//
//   inputs ──(RSS queue i)──────────────────────────────▶ worker i ─┐
//   inputs ──▶ rehash: decode, inner hash ──FrameRing──▶ worker i ─┤─▶ rings ─▶ control
//
// Offline (`analyze`) and live (`run`) both use it. Offline inputs are lossless: the
// rehash stage waits for a full worker ring. Live inputs never wait: a full ring drops
// the frame and counts it (rehash.dropped).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "decode/decoder.hpp"
#include "evidence/bpf_filter.hpp"
#include "evidence/capture.hpp"
#include "evidence/trigger.hpp"
#include "event/records.hpp"
#include "match/payload_matcher.hpp"
#include "runtime/frame_ring.hpp"
#include "runtime/worker.hpp"
#include "source/packet_source.hpp"
#include "tcp/tcp_stage.hpp"
#include "util/result.hpp"

namespace seqwatch::runtime {

// Evidence capture on every worker (issue 6): one EvidenceCapture per worker, the capture
// filter and trigger filters compiled once and shared (libpcap's bpf_filter is reentrant).
struct EvidenceSetup {
  bool enabled = false;
  evidence::CaptureConfig capture;     // worker and link are set per worker
  evidence::TriggerConfig triggers;
  std::vector<std::string> trigger_bpf;  // bit i of TriggerConfig::bpf_mask = expression i
};

struct EngineConfig {
  unsigned workers = 1;
  uint16_t burst = kBurstSize;          // packets per receive call, 1 .. kBurstSize (workers.burst)
  tcp::TcpStageConfig tcp;              // per worker (flow-table capacity is per worker)
  const PayloadMatcher* matcher = nullptr;
  bool software_rehash = false;         // forced on when inputs != workers
  bool lossless = true;                 // offline: wait for room; live: drop and count
  // Several inputs that are recorded files read on demand (net_pcap rx_pcap= queues): the
  // rehash stage merges them by packet time as mergecap does (the earliest next frame
  // first, the higher input on a tie) and numbers the frames in that merged order, so a
  // connection whose directions lie in different files is analysed in time order.
  bool merge_by_time = false;
  size_t rehash_ring_bytes = 8u << 20;  // per worker
  std::vector<int> cpus;                // pin worker i to cpus[i % size]; empty = no pinning
  std::function<void()> thread_init;    // run first on every engine thread (DPDK: rte_thread_register)
  bool flow_samples = false;            // workers hand 1 packet in kSampleEvery to sinks.on_sample
  bool payload_events = false;          // payload-rule matches become events (type payload_match)
  std::string capture_filter;           // BPF: packets not matching are dropped before analysis
  bool bpf_jit = false;                 // BPF filters to native code (rte_bpf; needs the EAL)
  std::string bpf_jit_off;              // with bpf_jit false: why (reported with each filter)
  EvidenceSetup evidence;
};

struct alignas(64) RehashCounters {
  uint64_t packets = 0;
  uint64_t dropped_full = 0;       // live: a worker's ring was full
  uint64_t dropped_oversize = 0;   // frame larger than a ring slot allows
  uint64_t waits = 0;              // offline: times the stage waited for a worker
  std::vector<uint64_t> per_worker;
  decode::DecodeCounters decode;   // the stage's own decode (workers decode again)
};

struct EngineSinks {
  std::function<void(const event::SegmentEvent&)> on_event;
  std::function<void(const event::FlowRecord&)> on_record;
  std::function<void()> on_tick;  // about every 100 ms of wall time, on the control thread
  std::function<void(const FlowSample&)> on_sample;  // with EngineConfig::flow_samples
  std::function<uint32_t(evidence::RecordRing&)> on_evidence;  // drains a worker's evidence ring
};

// How a BPF filter of the run executes (summary JSON `bpf_filters`).
struct FilterInfo {
  std::string role;        // "capture_filter" or "trigger"
  std::string expression;
  std::string runs_as;     // "jit" (rte_bpf native code) or "interpreter" (libpcap's bpf_filter)
  std::string why;         // for the interpreter: why (no EAL, turned off, or the JIT refused it)
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(const EngineConfig& cfg, std::vector<PacketSource*> inputs);
  ~Engine();

  // Runs until every input is done or `stop` is set, then ends every flow (flow records)
  // and returns once every output ring is drained into the sinks.
  void run(const std::atomic<bool>& stop, EngineSinks& sinks);

  unsigned workers() const noexcept { return static_cast<unsigned>(workers_.size()); }
  const Worker& worker(unsigned i) const { return *workers_[i]; }
  const tcp::TcpStage& stage(unsigned i) const { return *stages_[i]; }
  bool rehashing() const noexcept { return !rings_.empty(); }
  bool merging() const noexcept { return rehashing() && cfg_.merge_by_time && inputs_.size() > 1; }
  const RehashCounters& rehash() const noexcept { return rehash_; }
  const evidence::EvidenceCapture* evidence(unsigned i) const {
    return i < captures_.size() ? captures_[i].get() : nullptr;
  }
  // Sum over workers.
  WorkerState merged_state() const;
  tcp::TcpStageCounters merged_tcp() const;
  flow::FlowTableCounters merged_table() const;
  size_t flow_memory_bytes() const;
  uint64_t input_dropped() const;
  const std::vector<FilterInfo>& filters() const noexcept { return filter_info_; }

 private:
  Engine() = default;
  void rehash_loop(const std::atomic<bool>& stop) noexcept;
  void merge_loop(const std::atomic<bool>& stop) noexcept;
  void spread(const PacketRef* pkts, uint16_t n, const std::atomic<bool>& stop) noexcept;
  void worker_loop(unsigned i, const std::atomic<bool>& stop) noexcept;
  uint32_t pick_worker(const decode::PacketView& v) const noexcept;
  void let_go(size_t input) noexcept;

  // By-reference rehash: per input, a position in it and the ring positions that held its
  // frames when it was read; once every ring has consumed past them, the input may drop
  // the frames before it (its pages leave the process).
  struct Hold {
    uint64_t mark = 0;
    std::vector<uint64_t> heads;
    bool active = false;
    uint32_t countdown = 0;
  };

  EngineConfig cfg_;
  std::vector<PacketSource*> inputs_;
  std::vector<std::unique_ptr<FrameRing>> rings_;
  std::vector<std::unique_ptr<FrameRingSource>> ring_sources_;
  std::vector<std::unique_ptr<tcp::TcpStage>> stages_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<std::atomic<bool>[]> finished_;
  std::atomic<uint64_t> input_end_ns_{0};  // rehash stage: newest packet time read (Worker::set_input_end)
  std::vector<std::unique_ptr<SpscRing<FlowSample>>> samples_;
  std::vector<std::unique_ptr<evidence::EvidenceCapture>> captures_;
  std::unique_ptr<evidence::BpfFilter> capture_filter_;
  std::vector<std::unique_ptr<evidence::BpfFilter>> trigger_filters_;
  std::vector<FilterInfo> filter_info_;
  void prepare_filter(evidence::BpfFilter& f, const char* role);
  RehashCounters rehash_;
  // The rehash thread's decode scratch (spread()).
  std::array<decode::FrameRef, kBurstSize> rehash_frames_{};
  std::array<decode::PacketView, kBurstSize> rehash_views_{};
  std::vector<Hold> holds_;  // empty unless the rings carry frames by reference
};

}  // namespace seqwatch::runtime
