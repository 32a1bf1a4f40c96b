// The rehash stage with a source that retains its frames (a mapped capture file): frames
// travel to the workers by address, and the source may drop a frame only once every
// worker has released it. The source here poisons every frame it is told to drop (its
// bytes become 0xFF, which no decoder takes for TCP), so a frame dropped too early shows
// up as a segment missing from the workers' counts.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "runtime/engine.hpp"

namespace seqwatch::runtime {
namespace {

constexpr uint32_t kFrameLen = 80;  // Ethernet 14 + IPv4 20 + TCP 20 + 26 bytes of payload

class PoisoningSource final : public PacketSource {
 public:
  explicit PoisoningSource(uint32_t frames) : bytes_(size_t{frames} * kFrameLen), frames_(frames) {
    for (uint32_t i = 0; i < frames; ++i) build(bytes_.data() + size_t{i} * kFrameLen, i);
  }

  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override {
    uint16_t n = 0;
    while (n < max && next_ < frames_) {
      out[n++] = PacketRef{bytes_.data() + size_t{next_} * kFrameLen, kFrameLen, kFrameLen, 1000000ull * (next_ + 1),
                           next_ + 1ull};
      ++next_;
    }
    return n;
  }
  void release() noexcept override {
    if (!retain_) drop_before(next_);
  }
  bool done() const noexcept override { return next_ == frames_; }
  decode::LinkType link_type() const noexcept override { return decode::LinkType::kEthernet; }
  std::string describe() const override { return "poisoning test source"; }
  bool retain_frames(bool on) noexcept override {
    retain_ = on;
    return on;
  }
  uint64_t read_mark() const noexcept override { return next_; }
  void drop_before(uint64_t mark) noexcept override {
    if (mark > next_) mark = next_;  // never ahead of the reader
    if (mark <= dropped_) return;
    std::memset(bytes_.data() + dropped_ * kFrameLen, 0xFF, (mark - dropped_) * kFrameLen);
    dropped_ = mark;
    ++drops_;
  }

  uint64_t dropped() const noexcept override { return 0; }
  uint64_t frames_dropped() const noexcept { return dropped_; }
  uint64_t drop_calls() const noexcept { return drops_; }

 private:
  // Frame i: one of 512 connections (client 10.0.x.y:port -> 10.1.0.1:443), ACK with data.
  static void build(uint8_t* f, uint32_t i) {
    const uint32_t conn = i % 512, seq = 1000 + (i / 512) * 26;
    std::memset(f, 0, kFrameLen);
    f[12] = 0x08;  // IPv4
    uint8_t* ip = f + 14;
    ip[0] = 0x45;
    ip[2] = 0;
    ip[3] = kFrameLen - 14;
    ip[8] = 64;
    ip[9] = 6;
    ip[12] = 10, ip[13] = 0, ip[14] = static_cast<uint8_t>(conn >> 8), ip[15] = static_cast<uint8_t>(conn);
    ip[16] = 10, ip[17] = 1, ip[18] = 0, ip[19] = 1;
    uint8_t* tcp = ip + 20;
    const uint16_t sport = static_cast<uint16_t>(40000 + conn);
    tcp[0] = sport >> 8, tcp[1] = sport & 0xFF, tcp[2] = 443 >> 8, tcp[3] = 443 & 0xFF;
    tcp[4] = seq >> 24, tcp[5] = (seq >> 16) & 0xFF, tcp[6] = (seq >> 8) & 0xFF, tcp[7] = seq & 0xFF;
    tcp[11] = 1;       // ack 1
    tcp[12] = 5 << 4;  // 20-byte header
    tcp[13] = 0x18;    // PSH ACK
    tcp[14] = 0xFF, tcp[15] = 0xFF;  // window
  }

  std::vector<uint8_t> bytes_;
  uint32_t frames_;
  uint32_t next_ = 0;
  uint64_t dropped_ = 0;
  uint64_t drops_ = 0;
  bool retain_ = false;
};

// Runs `src` through `workers` workers behind the software rehash stage (small rings, so
// the reader waits on the workers often); returns the engine for its counters.
std::unique_ptr<Engine> run_rehash(PacketSource& src, unsigned workers) {
  EngineConfig cfg;
  cfg.workers = workers;
  cfg.software_rehash = true;
  cfg.lossless = true;
  cfg.rehash_ring_bytes = 1u << 16;  // 2048 frames by reference
  cfg.tcp.table.capacity = 4096;
  auto e = Engine::create(cfg, {&src});
  EXPECT_TRUE(e.ok()) << e.error().message;
  if (!e.ok()) return nullptr;
  std::atomic<bool> stop{false};
  EngineSinks sinks;
  e.value()->run(stop, sinks);
  return std::move(e.value());
}

TEST(EngineByReference, FramesAreDroppedOnlyAfterEveryWorkerReleasedThem) {
  constexpr uint32_t kFrames = 400000;
  for (unsigned workers : {2u, 3u}) {
    SCOPED_TRACE(workers);
    PoisoningSource src(kFrames);
    const auto e = run_rehash(src, workers);
    ASSERT_NE(e, nullptr);
    const WorkerState s = e->merged_state();
    EXPECT_EQ(e->rehash().packets, kFrames);
    EXPECT_EQ(s.decode.packets, kFrames);
    EXPECT_EQ(s.decode.errors(), 0u);
    EXPECT_EQ(s.tcp.segments, kFrames) << "a worker read a frame after the source dropped it";
    // The source was told to let go as the workers went on, not only at the end.
    EXPECT_GE(src.drop_calls(), 10u);
    EXPECT_GE(src.frames_dropped(), kFrames / 2);
  }
}

// Without retaining (or with a source that cannot), release() frees each burst: the rings
// copy the frames, and the copies are what the workers analyse.
TEST(EngineByReference, ACopyingRingNeverNeedsTheSourceFrames) {
  constexpr uint32_t kFrames = 50000;
  class NoRetain final : public PacketSource {
   public:
    explicit NoRetain(PoisoningSource& s) : s_(s) {}
    uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override { return s_.rx_burst(out, max); }
    void release() noexcept override { s_.release(); }
    bool done() const noexcept override { return s_.done(); }
    decode::LinkType link_type() const noexcept override { return s_.link_type(); }
    std::string describe() const override { return "copying test source"; }

   private:
    PoisoningSource& s_;
  };
  PoisoningSource inner(kFrames);
  NoRetain src(inner);
  const auto e = run_rehash(src, 2);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->merged_state().tcp.segments, kFrames);
  EXPECT_EQ(inner.frames_dropped(), kFrames);  // every burst poisoned once copied
}

}  // namespace
}  // namespace seqwatch::runtime
