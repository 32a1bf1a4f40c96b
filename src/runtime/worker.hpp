// The worker's main loop: rx burst -> decode -> per-packet accounting (and, as the
// engine grows: flow table -> TCP analysis -> event/evidence hand-off) -> release.
//
// Everything a worker writes lives in its own alignas(64) WorkerState: no sharing, no
// locks, no allocation once running. The control thread reads the state after stop (or,
// for live stats, through the telemetry snapshot added with the appliance runtime).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "decode/decoder.hpp"
#include "evidence/bpf_filter.hpp"
#include "evidence/capture.hpp"
#include "match/payload_matcher.hpp"
#include "source/packet_source.hpp"
#include "tcp/tcp_stage.hpp"
#include "util/spsc_ring.hpp"

namespace seqwatch::runtime {

struct alignas(64) TcpShape {
  uint64_t segments = 0;
  uint64_t data_segments = 0;   // payload_len > 0
  uint64_t payload_bytes = 0;   // from IP lengths (true sizes, also for cut frames)
  uint64_t syn = 0;             // SYN without ACK
  uint64_t syn_ack = 0;
  uint64_t fin = 0;
  uint64_t rst = 0;
  uint64_t with_sack = 0;
  uint64_t with_timestamps = 0;
  uint64_t options_cut = 0;     // options lost to the snaplen
};

// One packet in kSampleEvery, as the imbalance diagnosis sees it: the hash a NIC's RSS
// computes over the outer headers and the hash of the inner (tunnel-aware) flow.
struct FlowSample {
  uint64_t outer_hash;  // outermost IP pair (+ ports when not tunnelled)
  uint64_t inner_hash;  // innermost 5-tuple, symmetric (the software rehash's choice)
  uint32_t wirelen;
  uint8_t worker;
  uint8_t tunneled;
  uint8_t inner_cut;  // tunnelled, but the capture cut it before its inner IP header: no inner flow to see
  uint8_t reserved;
};
inline constexpr uint32_t kSampleEvery = 64;

struct alignas(64) WorkerState {
  decode::DecodeCounters decode;
  TcpShape tcp;
  uint64_t bursts = 0;
  uint64_t idle_polls = 0;
  uint64_t busy_tsc = 0;        // TSC cycles spent in polls that received packets
  uint64_t idle_tsc = 0;        // ... and in empty polls
  uint64_t samples = 0;         // flow samples handed to the control thread
  uint64_t samples_dropped = 0; // sample ring full
  uint64_t filtered = 0;        // dropped by the capture filter (BPF) before analysis
  uint64_t backpressure = 0;    // lossless input: polls skipped while the output rings were nearly full
  uint64_t payload_events = 0;  // payload-rule matches reported as events
  uint64_t payload_events_dropped = 0;
  uint64_t payload_scans = 0;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
};

// Optional stages after the TCP analysis (evidence capture) and before it (the capture
// filter). Everything here is owned by the engine and used by this worker only.
struct WorkerExtras {
  evidence::EvidenceCapture* evidence = nullptr;        // history, triggers, slices, sampling
  const evidence::BpfFilter* capture_filter = nullptr;  // packets not matching are dropped first
  std::vector<const evidence::BpfFilter*> trigger_filters;  // bit i = filter i (evidence triggers)
  bool payload_events = false;                           // report payload matches as events
  // A recorded input waits for the control thread instead of losing events: a poll is
  // skipped while the output rings lack room for a worst-case burst.
  bool lossless = false;
};

class Worker {
 public:
  // `matcher` may be null (no payload rules). The scratch is allocated here, at start.
  // `tcp` is the worker's own TCP stage (flow table + analysis), or null for decode only.
  Worker(PacketSource& source, const PayloadMatcher* matcher, tcp::TcpStage* tcp);

  // Runs until the source is done or `stop` becomes true.
  void run(const std::atomic<bool>& stop) noexcept;
  // One iteration of the loop: receive and process one burst. Returns false once the
  // source is done. (run() is a loop of poll(); offline analysis interleaves poll()
  // with draining the output rings on the same thread.)
  bool poll() noexcept;

  const WorkerState& state() const noexcept { return state_; }
  void set_extras(const WorkerExtras& x) noexcept;
  // Packets per receive call (workers.burst), 1 .. kBurstSize.
  void set_burst(uint16_t n) noexcept { burst_ = std::clamp<uint16_t>(n, 1, kBurstSize); }
  // Behind the rehash stage: the newest packet time of the whole input, which the stage
  // sets before it closes the rings (the end of the input for every worker's flushed flows).
  void set_input_end(const std::atomic<uint64_t>* end_ns) noexcept { input_end_ns_ = end_ns; }
  // Hands one packet in kSampleEvery to `ring` (the control thread's imbalance view).
  void set_sample_ring(SpscRing<FlowSample>* ring, uint8_t worker_id) noexcept {
    samples_ = ring;
    worker_id_ = worker_id;
  }
  const PayloadMatcher::Scratch* scratch() const noexcept { return scratch_.get(); }
  // How many flows may end now (end of input, shutdown: TcpStage::flush) without
  // overflowing the evidence ring: each flow end may close a slice or fire a trigger (begin,
  // K history packets, the trigger packet, an end). UINT32_MAX without evidence.
  uint32_t flow_end_room() noexcept;
  // The end of the input in packet time, for the flows that end with it: the newest packet of
  // the whole input (behind the rehash stage, whatever worker read it: the same with any worker
  // count), or a live port's clock at the stop.
  uint64_t input_end_ns() const noexcept;

 private:
  void process_burst(const PacketRef* pkts, uint16_t n) noexcept;
  // The original length of a frame whose source did not give it (wirelen 0): from its IP
  // header when a cut left it shorter (the capture filter's `len`).
  uint32_t decoded_wire_length(const PacketRef& p) const noexcept;
  void sample(const PacketRef* pkts, uint16_t n) noexcept;
  void payload_event(uint16_t i, const PacketRef& p, const PayloadMatcher::Scratch::Match& m) noexcept;
  uint32_t scan_payload(uint16_t i, const PacketRef& p) noexcept;  // returns kTrigPayload or 0
  static void on_flow_end(void* ctx, const flow::FlowEntry& e, uint32_t slot, flow::RemoveReason why) noexcept;

  PacketSource& source_;
  const std::atomic<uint64_t>* input_end_ns_ = nullptr;  // set_input_end()
  const PayloadMatcher* matcher_;
  tcp::TcpStage* tcp_;
  std::unique_ptr<PayloadMatcher::Scratch> scratch_;
  decode::LinkType link_;    // of the current burst
  bool mixed_links_ = false;  // the source's bursts may change link type (read again per burst)
  WorkerState state_;
  std::array<decode::FrameRef, kBurstSize> frames_{};
  std::array<decode::PacketView, kBurstSize> views_{};
  std::array<PacketRef, kBurstSize> pkts_{};
  std::array<PacketRef, kBurstSize> kept_{};  // the burst after the capture filter
  WorkerExtras x_;
  SpscRing<FlowSample>* samples_ = nullptr;
  uint32_t sample_countdown_ = kSampleEvery;
  uint8_t worker_id_ = 0;
  uint16_t burst_ = kBurstSize;
};

}  // namespace seqwatch::runtime
