// FrameRing, the rehash stage's hand-off to a worker: frames come out in order with their
// bytes and metadata, across many wrap-arounds, a full ring refuses rather than overwrites,
// and in reference mode the consumer gets the producer's own pointers.
#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <vector>

#include "runtime/frame_ring.hpp"

namespace seqwatch::runtime {
namespace {

struct Sent {
  std::vector<uint8_t> bytes;
  PacketRef ref{};
};

// Pushes frames of varied sizes until the ring refuses, pops them in bursts of up to 7,
// and checks every frame, for many rounds: thousands of frames through a 4 KiB ring.
void run_rounds(bool by_reference) {
  FrameRing ring(4096, by_reference);
  std::deque<Sent> in_flight;
  std::vector<std::vector<uint8_t>> storage;  // reference mode: frames outlive the ring
  storage.reserve(20000);
  uint64_t next_frame = 1, popped = 0;
  uint32_t size_seed = 7;
  for (int round = 0; round < 400; ++round) {
    for (;;) {
      size_seed = size_seed * 1103515245u + 12345u;
      const uint32_t len = 1 + (size_seed >> 16) % 600;
      storage.emplace_back(len);
      for (uint32_t i = 0; i < len; ++i) storage.back()[i] = static_cast<uint8_t>(next_frame * 31 + i);
      Sent s{storage.back(), PacketRef{storage.back().data(), len, len + 4, next_frame * 1000, next_frame}};
      if (!ring.push(s.ref)) {
        storage.pop_back();
        break;
      }
      ++next_frame;
      in_flight.push_back(std::move(s));
    }
    ring.publish();
    ASSERT_FALSE(in_flight.empty()) << "an empty ring refused a frame";
    PacketRef out[7];
    for (;;) {
      const uint16_t n = ring.pop_burst(out, 7);
      if (n == 0) break;
      for (uint16_t i = 0; i < n; ++i) {
        ASSERT_FALSE(in_flight.empty());
        const Sent& s = in_flight.front();
        ASSERT_EQ(out[i].frame, s.ref.frame);
        ASSERT_EQ(out[i].caplen, s.ref.caplen);
        ASSERT_EQ(out[i].wirelen, s.ref.wirelen);
        ASSERT_EQ(out[i].ts_ns, s.ref.ts_ns);
        ASSERT_EQ(std::memcmp(out[i].data, s.bytes.data(), s.bytes.size()), 0) << "frame " << s.ref.frame;
        if (by_reference) EXPECT_EQ(out[i].data, s.ref.data);
        else EXPECT_NE(out[i].data, s.ref.data);
        in_flight.pop_front();
        ++popped;
      }
      ring.release();
    }
    ASSERT_TRUE(in_flight.empty());
    if (storage.size() > 15000) storage.clear();  // nothing in flight refers to them now
  }
  ring.close();
  EXPECT_TRUE(ring.finished());
  EXPECT_GT(popped, by_reference ? 30000u : 2000u);
}

TEST(FrameRing, CopiesFramesInOrderAcrossWraps) { run_rounds(false); }

TEST(FrameRing, ByReferenceHandsOnTheSourcePointers) { run_rounds(true); }

TEST(FrameRing, FrameSizeLimitOnlyWhenCopying) {
  std::vector<uint8_t> big(3000, 0xAB);
  const PacketRef p{big.data(), 3000, 3000, 1, 1};
  FrameRing copy(4096);
  EXPECT_LT(copy.max_frame(), 3000u);
  EXPECT_FALSE(copy.push(p));  // more than a quarter of the ring
  FrameRing ref(4096, true);
  EXPECT_TRUE(ref.by_reference());
  EXPECT_TRUE(ref.push(p));
  ref.publish();
  PacketRef out[1];
  ASSERT_EQ(ref.pop_burst(out, 1), 1);
  EXPECT_EQ(out[0].data, big.data());
  EXPECT_EQ(out[0].caplen, 3000u);
}

}  // namespace
}  // namespace seqwatch::runtime
