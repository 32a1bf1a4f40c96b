// The rehash stage over several recorded inputs (per-queue capture files) merges them by
// packet time, as mergecap does: the earliest next frame goes first, the higher input on
// a tie, and frames are numbered in the merged order. Here the two directions of one
// connection are in two inputs (a NIC that put each direction on its own queue): taken
// burst by burst, the server's ACKs reach the analysis before the data they acknowledge
// (verdicts on a clean connection); merged, the only verdict is the one retransmission
// the client really sent, at its position in the merged stream.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "runtime/engine.hpp"
#include "support/frame_builder.hpp"

namespace seqwatch::runtime {
namespace {

using test::Bytes;
using test::FrameBuilder;

// Frames served in order, in bursts; calls listed in `stalls` return nothing although the
// input is not done (a file read that has nothing yet).
class ListSource final : public PacketSource {
 public:
  void add(Bytes frame, uint64_t ts_ns) { frames_.push_back({std::move(frame), ts_ns}); }
  void stall_on(std::vector<uint32_t> calls) { stalls_ = std::move(calls); }

  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override {
    const uint32_t call = calls_++;
    for (uint32_t s : stalls_)
      if (s == call) return 0;
    uint16_t n = 0;
    while (n < max && next_ < frames_.size()) {
      const auto& f = frames_[next_];
      out[n++] = PacketRef{f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), static_cast<uint32_t>(f.bytes.size()),
                           f.ts_ns, next_ + 1ull};
      ++next_;
    }
    return n;
  }
  bool done() const noexcept override { return next_ == frames_.size(); }
  decode::LinkType link_type() const noexcept override { return decode::LinkType::kEthernet; }
  std::string describe() const override { return "list test source"; }

 private:
  struct Frame {
    Bytes bytes;
    uint64_t ts_ns;
  };
  std::vector<Frame> frames_;
  std::vector<uint32_t> stalls_;
  uint32_t calls_ = 0;
  size_t next_ = 0;
};

constexpr uint32_t kClientIsn = 999, kServerIsn = 4999, kSegs = 200, kLen = 100;

Bytes segment(bool from_client, uint32_t seq, uint32_t ack, uint8_t flags, size_t len) {
  static uint16_t ip_id = 0;
  test::Ipv4Spec ip;
  ip.id = ++ip_id;  // as a sending stack numbers its packets (a re-send is not an exact copy)
  test::TcpSpec tcp;
  tcp.seq = seq;
  tcp.ack = ack;
  tcp.flags = flags;
  tcp.sport = 40000;
  tcp.dport = 443;
  if (!from_client) {
    std::swap(ip.src, ip.dst);
    std::swap(tcp.sport, tcp.dport);
  }
  return FrameBuilder().eth().ipv4(ip).tcp(tcp).payload(len).build();
}

uint64_t us(uint64_t n) { return n * 1000; }

// Input 0: what the server sent; input 1: what the client sent. The handshake, then
// client data segment i at 10+2i µs, the server's ACK of it at 11+2i µs, and one
// re-send of segment 50 at 113 µs: the time of the ACK of segment 51 (a tie, which the
// higher input, the client's, wins).
struct Split {
  ListSource server, client;
  Split() {
    using test::wire::kAck, test::wire::kSyn;
    client.add(segment(true, kClientIsn, 0, kSyn, 0), us(1));
    server.add(segment(false, kServerIsn, kClientIsn + 1, kSyn | kAck, 0), us(2));
    client.add(segment(true, kClientIsn + 1, kServerIsn + 1, kAck, 0), us(3));
    for (uint32_t i = 0; i < kSegs; ++i) {
      const uint32_t seq = kClientIsn + 1 + i * kLen;
      client.add(segment(true, seq, kServerIsn + 1, kAck, kLen), us(10 + 2 * i));
      server.add(segment(false, kServerIsn + 1, seq + kLen, kAck, 0), us(11 + 2 * i));
      if (i == 51) client.add(segment(true, kClientIsn + 1 + 50 * kLen, kServerIsn + 1, kAck, kLen), us(113));
    }
  }
};

std::vector<event::SegmentEvent> run_two(ListSource& a, ListSource& b, bool merge) {
  EngineConfig cfg;
  cfg.workers = 2;
  cfg.software_rehash = true;
  cfg.merge_by_time = merge;
  cfg.lossless = true;
  cfg.tcp.table.capacity = 1024;
  auto e = Engine::create(cfg, {&a, &b});
  EXPECT_TRUE(e.ok()) << e.error().message;
  std::vector<event::SegmentEvent> events;
  if (!e.ok()) return events;
  EXPECT_EQ(e.value()->merging(), merge);
  std::atomic<bool> stop{false};
  EngineSinks sinks;
  sinks.on_event = [&](const event::SegmentEvent& ev) { events.push_back(ev); };
  e.value()->run(stop, sinks);
  EXPECT_EQ(e.value()->rehash().packets, 3 + 2 * kSegs + 1);
  EXPECT_EQ(e.value()->merged_state().tcp.segments, 3 + 2 * kSegs + 1);
  return events;
}

std::string describe(const std::vector<event::SegmentEvent>& events) {
  std::string s;
  for (const auto& e : events) s += " frame " + std::to_string(e.frame) + " bits " + std::to_string(e.verdict.bits) + ";";
  return s;
}

TEST(EngineMerge, TwoDirectionsInTwoInputsAreAnalysedInTimeOrder) {
  Split s;
  const auto events = run_two(s.server, s.client, true);
  ASSERT_EQ(events.size(), 1u) << describe(events);
  // Before it: the handshake (3), data 0..51 (52) and the ACKs of 0..50 (51); the ACK of
  // 51 at the same time comes after it.
  EXPECT_EQ(events[0].frame, 107u);
  EXPECT_EQ(events[0].ts_ns, us(113));
  EXPECT_TRUE(events[0].verdict.bits & tcp::kRetransmission) << events[0].verdict.bits;
  EXPECT_EQ(events[0].seq, kClientIsn + 1 + 50 * kLen);
}

TEST(EngineMerge, AnInputThatHasNothingYetIsWaitedFor) {
  Split s;
  // The client's input has nothing on its first calls and again later on: the server's
  // frames must not run ahead of it.
  s.client.stall_on({0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13});
  const auto events = run_two(s.server, s.client, true);
  ASSERT_EQ(events.size(), 1u) << describe(events);
  EXPECT_EQ(events[0].frame, 107u);
}

// The check has teeth: the same inputs taken burst by burst (live queues' arrival
// order) put ACKs ahead of their data.
TEST(EngineMerge, BurstByBurstTheSameInputsGetFalseVerdicts) {
  Split s;
  const auto events = run_two(s.server, s.client, false);
  EXPECT_GT(events.size(), 1u) << describe(events);
}

}  // namespace
}  // namespace seqwatch::runtime
