// SpscRing, the hand-off of events, flow records and samples from a worker to the control
// thread: records come out in order and intact across many wrap-arounds, a full ring
// refuses, and slots cost memory only once written (the rings are sized for bursts of
// events, most runs use a fraction of them).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "support/resident.hpp"
#include "util/spsc_ring.hpp"

namespace seqwatch {
namespace {

struct Rec {
  uint64_t seq = 0;
  uint32_t check = 0;
  uint8_t fill[52] = {};
};

uint32_t check_of(uint64_t seq) { return static_cast<uint32_t>(seq * 2654435761u); }

TEST(SpscRing, InOrderAcrossWrapAroundsAndAFullRingRefuses) {
  SpscRing<Rec> ring(64);
  EXPECT_EQ(ring.capacity(), 64u);
  uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 2000; ++round) {
    const uint32_t burst = 1 + (round * 7) % 64;
    for (uint32_t i = 0; i < burst; ++i) {
      Rec r;
      r.seq = next_in;
      r.check = check_of(next_in);
      r.fill[51] = static_cast<uint8_t>(next_in);
      if (!ring.push(r)) break;
      ++next_in;
    }
    EXPECT_LE(next_in - next_out, 64u);
    if (next_in - next_out == 64) {
      Rec extra;
      EXPECT_FALSE(ring.push(extra));
      EXPECT_EQ(ring.free_slots(), 0u);
    }
    ring.drain([&](const Rec& r) {
      EXPECT_EQ(r.seq, next_out);
      EXPECT_EQ(r.check, check_of(next_out));
      EXPECT_EQ(r.fill[51], static_cast<uint8_t>(next_out));
      ++next_out;
    }, 1 + (round * 5) % 50);
  }
  ring.drain([&](const Rec& r) { EXPECT_EQ(r.seq, next_out++); });
  EXPECT_EQ(next_out, next_in);
  EXPECT_GT(next_in, 20000u);
  EXPECT_EQ(ring.free_slots(), 64u);
}

using test::resident_kib;

TEST(SpscRing, SlotsCostMemoryOnlyOnceWritten) {
  SpscRing<Rec> ring(1u << 20);  // 64 MiB of slots
  const Rec* first = nullptr;
  for (uint64_t i = 0; i < 100; ++i) {
    Rec r;
    r.seq = i;
    ASSERT_TRUE(ring.push(r));
  }
  uint64_t seen = 0;
  ring.drain([&](const Rec& r) {
    if (first == nullptr) first = &r;
    EXPECT_EQ(r.seq, seen++);
  });
  ASSERT_NE(first, nullptr);
  EXPECT_LE(resident_kib(first), 1024u) << "the whole ring was touched at construction";
}

}  // namespace
}  // namespace seqwatch
