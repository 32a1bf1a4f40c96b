// TraceGenerator: N concurrent TCP flows scheduled on one clock. Each flow plans its own
// packets (flow_model.hpp); a min-heap of (next packet time, slot) interleaves them.
// A closed flow is replaced at once by a new one in the same slot, so concurrency stays
// at N. Frames are encoded into one reusable buffer: nothing is allocated per packet.
// With --span-copies a share of the frames is emitted a second time, later, as a SPAN
// session covering a router's two ports captures it (TTL one lower, the rest the same).
//
//   TraceGenerator g(cfg);
//   Frame fr;
//   while (g.next(fr)) consume(fr.data, fr.caplen, fr.wirelen, fr.ts_ns);
//   g.truth();   // what the frames so far contain
#pragma once

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "gen/flow_model.hpp"
#include "gen/gen_config.hpp"
#include "gen/truth.hpp"
#include "gen/wire.hpp"

namespace seqwatch::gen {

struct Frame {
  const uint8_t* data = nullptr;  // valid until the next call to next()
  uint32_t caplen = 0, wirelen = 0;
  uint64_t ts_ns = 0;             // nanoseconds since the Unix epoch
  uint64_t flow_id = 0;
  uint32_t tags = 0;              // Tag bits (truth.hpp)
};

class TraceGenerator {
 public:
  // cfg must pass validate(); the constructor does not check it again.
  explicit TraceGenerator(const GenConfig& cfg);
  bool next(Frame& out);
  const Truth& truth() const { return truth_; }
  const GenConfig& config() const { return cfg_; }

 private:
  void start_flow(uint32_t slot, uint64_t t_ns);
  void schedule(uint32_t slot);
  FlowTruth* flow_truth(uint64_t id);
  // --span-copies: the second capture of `f`, due span_lag_us later; emitted in time order.
  void queue_span_copy(const Frame& f);
  bool emit_span_copy(Frame& out);

  // Second captures waiting for their time: a FIFO (one lag for all) in reused slots.
  struct SpanCopy {
    uint64_t t_ns = 0, flow_id = 0;
    uint32_t caplen = 0, wirelen = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<SpanCopy> span_ring_;
  size_t span_head_ = 0, span_count_ = 0;
  uint64_t originals_ = 0;  // frames from the flows (not second captures)

  GenConfig cfg_;
  FlowPlanner planner_;
  std::vector<Flow> flows_;
  using Entry = std::pair<uint64_t, uint32_t>;  // (time, slot): ties go to the lower slot
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  std::vector<uint8_t> frame_;
  std::vector<uint8_t> pattern_;  // payload bytes: byte at stream offset k is 0x80 | (k & 0x7F)
  uint64_t next_id_ = 0;
  uint64_t emitted_ = 0;
  uint64_t end_ns_ = 0;           // 0: no duration limit
  Truth truth_;
};

// Convenience for benchmarks: every frame in one arena.
struct FrameRef {
  size_t offset;
  uint32_t caplen, wirelen;
  uint64_t ts_ns;
};
struct FrameStore {
  std::vector<uint8_t> bytes;
  std::vector<FrameRef> frames;
  const uint8_t* data(const FrameRef& r) const { return bytes.data() + r.offset; }
};
FrameStore generate_frames(const GenConfig& cfg, Truth* truth = nullptr);

// Generates the whole trace into a pcap file. Empty string on success, else the error.
std::string write_pcap(const GenConfig& cfg, const std::string& path, Truth* truth = nullptr);

}  // namespace seqwatch::gen
