// Sequence space (wraps at 2^31 and 2^32) and bad TCP input (issue 4, "Bad input").
// Expected Wireshark verdicts were checked with tshark 4.0.17 on the same sequences
// written as pcaps (docs/tcp-analysis.md, sections 6 and 12: "Sequence space", "Bad input").
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "segment_builder.hpp"

namespace seqwatch::testing {
namespace {

using namespace seqwatch::tcp;
// Wireshark's flags (seqwatch's own verdicts masked out where a test compares with tshark).
constexpr uint32_t kWireshark = (1u << 15) - 1;

// --- Sequence space ---

// One flow, 64 MiB segments (64 per 2^32), every 4th pair swapped, the receiver ACKing
// (a dup ACK for the early segment, then the cumulative ACK): over three wraps, crossing
// 2^31 and 2^32 from the ISN and the absolute 0, every swap is lost_segment + dup ACK +
// out_of_order, exactly as before the first wrap. (tshark: the same, per frame.)
TEST(SequenceSpace, ReorderingAcrossWrapsStaysOutOfOrderWhenTheReceiverAcks) {
  Conversation c;
  const uint32_t ci = 0x7FFFFF00u;  // data crosses 2^31 at once, then 0 (2^32) ...
  c.handshake(ci, SI);
  constexpr uint32_t kLen = 1u << 26;
  uint32_t seq = ci + 1;
  uint64_t t = 20000;
  int swaps = 0;
  for (int i = 0; i < 3 * 64; ++i, t += 100) {
    if (i % 4 == 3) {
      EXPECT_EQ(c.send({true, seq + kLen, S1, A | P, kLen, 502, t}), kLostSegment) << i;
      EXPECT_EQ(c.send({false, S1, seq, A, 0, 509, t + 10}), kDuplicateAck) << i;
      EXPECT_EQ(c.send({true, seq, S1, A | P, kLen, 502, t + 20}), kOutOfOrder | kLossUpstream) << i;
      EXPECT_EQ(c.send({false, S1, seq + 2 * kLen, A, 0, 509, t + 30}), 0u) << i;
      seq += 2 * kLen;
      ++swaps;
    } else {
      EXPECT_EQ(c.send({true, seq, S1, A | P, kLen, 502, t}), 0u) << i;
      EXPECT_EQ(c.send({false, S1, seq + kLen, A, 0, 509, t + 10}), 0u) << i;
      seq += kLen;
    }
  }
  EXPECT_GT(swaps, 40);
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 0u);
}

// The benchmark's single-flow reordering (bench_tcp ooo1): the receiver never ACKs after
// the handshake, so its last ACK field stays at ISN+1. Wireshark 4.0's spurious test
// (seq + len <= peer's last ACK, serial, any segment) turns true for EVERY data segment
// once the data is 2^31 or more beyond that stale ACK, and false again after 2^32: half of
// each wrap is "spurious retransmission" in tshark too (checked per frame on 215k frames).
// seqwatch follows tshark; docs/tcp-analysis.md section 6 explains it.
TEST(SequenceSpace, StalePeerAckHalfASpaceBehindMakesDataSpuriousAsInTshark) {
  Conversation c;
  c.handshake(CI, SI);  // the server's last ACK field: C1
  constexpr uint32_t kLen = 1u << 26;
  uint32_t seq = C1;
  uint64_t t = 20000;
  int spurious = 0, ooo = 0;
  for (int i = 0; i < 2 * 64; ++i, t += 100) {
    if (i % 4 != 3) {
      const uint32_t v = c.send({true, seq, S1, A | P, kLen, 502, t}) & kWireshark;
      const bool behind = static_cast<int32_t>(seq + kLen - C1) <= 0;  // serially <= the stale ACK
      EXPECT_EQ(v, behind ? kRetransmission | kSpuriousRetransmission : 0u) << i;
      seq += kLen;
      continue;
    }
    const uint32_t early = c.send({true, seq + kLen, S1, A | P, kLen, 502, t}) & kWireshark;
    const uint32_t fill = c.send({true, seq, S1, A | P, kLen, 502, t + 20}) & kWireshark;
    const bool early_behind = static_cast<int32_t>(seq + 2 * kLen - C1) <= 0;
    const bool fill_behind = static_cast<int32_t>(seq + kLen - C1) <= 0;
    EXPECT_EQ(early, kLostSegment | (early_behind ? kRetransmission | kSpuriousRetransmission : 0u)) << i;
    EXPECT_EQ(fill, fill_behind ? kRetransmission | kSpuriousRetransmission : kOutOfOrder) << i;
    spurious += fill_behind;
    ooo += !fill_behind;
    seq += 2 * kLen;
  }
  EXPECT_GT(spurious, 10);
  EXPECT_GT(ooo, 10);
}

// Exactly half the space ahead: Wireshark's gt(a, b) is (int32)(b - a) < 0, true at the
// antipode, so a segment 2^31 beyond nextseq is "previous segment not captured" (tshark
// 4.0.17: yes). seqwatch used (int32)(a - b) > 0 here, false at the antipode.
TEST(SequenceSpace, JumpOfExactly2GiBIsALostSegmentAsInTshark) {
  Conversation c;
  c.handshake(CI, SI, 0, 2000);  // the capture's timing: iRTT 2 ms, one packet per ms
  const uint32_t cn = C1 + 100;
  c.send({true, C1, S1, A | P, 100, 502, 3000});
  // Also spurious: cn + 2^31 + 100 is serially <= the server's stale ACK C1.
  EXPECT_EQ(c.send({true, cn + 0x80000000u, S1, A | P, 100, 502, 4000}) & kWireshark,
            kLostSegment | kRetransmission | kSpuriousRetransmission);
  EXPECT_EQ(c.send({true, cn, S1, A | P, 100, 502, 5000}) & kWireshark, 0u);
  EXPECT_EQ(c.send({true, cn + 0x7FFFFFFFu, S1, A | P, 100, 502, 6000}) & kWireshark,
            kLostSegment | kRetransmission | kSpuriousRetransmission);
  EXPECT_EQ(c.send({true, cn + 100, S1, A | P, 100, 502, 7000}) & kWireshark, kOutOfOrder);
  // 2 GiB - 1 backwards: serially before nextseq, and ends before the stale ACK.
  EXPECT_EQ(c.send({true, cn - 0x7FFFFFFFu, S1, A | P, 100, 502, 8000}) & kWireshark,
            kRetransmission | kSpuriousRetransmission);
  EXPECT_EQ(c.send({false, S1, cn + 0x80000000u, A, 0, 509, 9000}) & kWireshark, 0u);  // ACK 2 GiB ahead
  EXPECT_EQ(c.send({false, S1, cn - 0x40000000u, A, 0, 509, 10000}) & kWireshark, kAckLostSegment);
  EXPECT_EQ(c.send({true, cn + 200, S1, A | P, 100, 502, 11000}) & kWireshark, kRetransmission);
}

// A run of equally sized segments longer than 2^32 bytes, ACKed on segment boundaries:
// 2^32 is not a multiple of the segment size, so a grid anchored at the run's start
// (computed modulo 2^32) put every boundary ACK "inside a segment" after the first wrap
// (tshark: no flags at all; seqwatch reported ack_in_segment on every ACK). An ACK that
// really lands inside a segment is still found after the wraps.
TEST(SequenceSpace, AckInsideSegmentGridSurvivesLongRuns) {
  Conversation c;
  // Loopback's MSS (65483), so that 60,000-byte segments are wire segments, not aggregates.
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 65483});
  c.send({false, SI, C1, S | A, 0, 65160, 5000, 7, 65483});
  c.send({true, C1, S1, A, 0, 502, 10000});
  constexpr uint32_t kLen = 60000;
  const uint64_t segs = (5ull << 32) / 4 / kLen;  // 1.25 * 2^32 bytes
  uint32_t seq = C1;
  uint64_t t = 20000;
  uint64_t inside = 0;
  for (uint64_t i = 0; i < segs; ++i, seq += kLen, t += 10) {
    inside += (c.send({true, seq, S1, A | P, kLen, 502, t}) & kAckInSegment) != 0;
    if (i % 2 == 1) inside += (c.send({false, S1, seq, A, 0, 509, t + 5}) & kAckInSegment) != 0;  // one behind
  }
  EXPECT_EQ(inside, 0u);
  c.send({true, seq, S1, A | P, kLen, 502, t});
  EXPECT_TRUE(c.send({false, S1, seq - kLen + 512, A, 0, 509, t + 5}) & kAckInSegment);
  EXPECT_EQ(c.event(c.frames()).verdict.midack_offset, 512u);
}

// --- Bad input ---

TEST(BadInput, ImpossibleFlagsAreBadFlagsAndLeaveTheConnectionAlone) {
  Conversation c;
  c.handshake(CI, SI, 0, 2000);  // the capture's timing: iRTT 2 ms, one packet per ms
  c.send({true, C1, S1, A | P, 100, 502, 3000});
  c.send({false, S1, C1 + 100, A, 0, 509, 4000});
  const uint32_t cn = C1 + 100;
  struct Case {
    uint8_t flags;
    uint32_t seq;
    uint32_t len;
    uint32_t wireshark;  // tshark 4.0.17 on the same packet sequence
  };
  const Case cases[] = {
      {S | F | R, CI, 0, kRetransmission},  // the ISN again: a SYN "retransmission" for Wireshark
      {S | F | A, cn, 0, kReusedPorts},     // SYN/ACK with another ISN
      {S | R | A, cn, 0, kRetransmission},
      {0, cn, 0, kKeepAlive},               // null scan
      {0, cn, 10, 0},
      {F, cn, 0, kOutOfOrder},              // FIN scan (FIN without ACK)
      {F | P | U, cn, 0, kRetransmission},  // Xmas scan
      {P, cn, 10, kRetransmission},
      {0x3F, cn, 0, kRetransmission},       // every classic flag
  };
  uint64_t t = 4000;
  for (const Case& k : cases) {
    const uint32_t v = c.send({true, k.seq, S1, k.flags, k.len, 502, t += 1000});
    EXPECT_TRUE(v & kBadFlags) << int(k.flags);
    EXPECT_EQ(v & kWireshark, k.wireshark) << int(k.flags);
    EXPECT_EQ(v & (kSynRetransmission | kSynAckRetransmission | kRstMidstream | kSynRefused | kWscaleMissing), 0u)
        << int(k.flags);
  }
  EXPECT_EQ(c.stage().counters().verdicts[21], std::size(cases));  // bad_flags counted
  EXPECT_EQ(c.stage().counters().restarts, 0u);
  // The connection is still established and still works: no reset, no close, no new SYN attempt.
  EXPECT_EQ(c.send({false, S1, cn, A | P, 50, 509, t += 1000}) & kWireshark, 0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const auto& r = c.records()[0];
  EXPECT_EQ(r.cold.stage, Stage::kEstablished);
  EXPECT_EQ(r.cold.rst_from(), 0xFF);
  EXPECT_EQ(r.cold.syn_count, 1u);
  EXPECT_EQ(r.cold.synack_count, 1u);
  EXPECT_EQ(r.half[0].flags & (kFinSeen | kRstSeen), 0);
  EXPECT_EQ(r.cold.mss[0], 1460u);
}

TEST(BadInput, SynFinRstWithANewIsnStartsANewConnectionAsInTshark) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  const uint32_t v = c.send({true, 777777, 0, S | F | R, 0, 502, 21000});
  EXPECT_EQ(v & kWireshark, kReusedPorts);  // tshark: reused_ports, new tcp.stream
  EXPECT_TRUE(v & kBadFlags);
  EXPECT_EQ(c.send({true, C1 + 100, S1, A | P, 100, 502, 22000}) & kWireshark, kOutOfOrder);
  EXPECT_EQ(c.stage().counters().restarts, 1u);
}

TEST(BadInput, AckOfDataNeverSent) {
  Conversation c;
  c.handshake(CI, SI);
  // Before any data: the server ACKs 1460 bytes the client never sent.
  EXPECT_EQ(c.send({false, S1, C1 + 1460, A, 0, 509, 15000}) & kWireshark, kAckLostSegment);
  // The data then sent is below the peer's ACK: spurious for Wireshark.
  EXPECT_EQ(c.send({true, C1, S1, A | P, 100, 502, 20000}) & kWireshark, kRetransmission | kSpuriousRetransmission);

  Conversation d;
  d.handshake(CI, SI);
  d.send({true, C1, S1, A | P, 100, 502, 20000});
  EXPECT_EQ(d.send({false, S1, C1 + 5000, A, 0, 509, 21000}) & kWireshark, kAckLostSegment);
  EXPECT_EQ(d.send({false, S1, C1 + 5000, A, 0, 509, 22000}) & kWireshark, kDuplicateAck);  // one report per hole
  EXPECT_EQ(d.send({false, S1, C1 + 9000, A, 0, 509, 23000}) & kWireshark, 0u);             // marker: no re-report
  EXPECT_EQ(d.send({true, C1 + 100, S1, A | P, 100, 502, 24000}) & kWireshark,
            kRetransmission | kSpuriousRetransmission);
}

TEST(BadInput, SynWithPayload) {
  Conversation c;
  EXPECT_EQ(c.send({true, CI, 0, S, 20, 64240, 0, 7, 1460}), 0u);
  EXPECT_EQ(c.send({false, SI, CI + 21, S | A, 30, 65160, 5000, 7, 1460}), 0u);
  EXPECT_EQ(c.send({true, CI + 21, SI + 31, A, 0, 502, 10000}), 0u);
  EXPECT_EQ(c.send({true, CI + 21, SI + 31, A | P, 100, 502, 11000}), 0u);
  const uint32_t v = c.send({true, CI, 0, S, 20, 64240, 20000, 7, 1460});  // the SYN again
  EXPECT_EQ(v & kWireshark, kRetransmission | kSpuriousRetransmission);    // tshark: the same
  EXPECT_TRUE(v & kSynRetransmission);
  EXPECT_EQ(c.stage().counters().restarts, 0u);
}

TEST(BadInput, WindowScaleAbove14IsTreatedAs14) {
  Conversation d;
  d.send({true, CI, 0, S, 0, 64240, 0, 15, 1460});
  d.send({false, SI, C1, S | A, 0, 65160, 5000, 100, 1460});
  d.send({true, C1, S1, A, 0, 502, 10000});
  // Shift 14 on both sides (tshark: window_full at the 14-shifted edges).
  EXPECT_EQ(d.send({false, S1, C1, A, 0, 1, 11000}) & kWireshark, kWindowUpdate);
  EXPECT_EQ(d.send({true, C1, S1, A | P, 1u << 14, 502, 12000}) & kWireshark, kWindowFull);
  EXPECT_EQ(d.send({true, C1 + (1u << 14), S1, A, 0, 2, 13000}) & kWireshark, kWindowUpdate);
  EXPECT_EQ(d.send({false, S1, C1 + (1u << 14), A | P, 2u << 14, 1, 14000}) & kWireshark, kWindowFull);
  d.finish();
  EXPECT_EQ(d.records()[0].half[0].wscale, 14);
  EXPECT_EQ(d.records()[0].half[1].wscale, 14);
}

TEST(BadInput, MssZeroIsRecordedAndHarmless) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 0});
  c.send({false, SI, C1, S | A, 0, 65160, 5000, 7, 0});
  c.send({true, C1, S1, A, 0, 502, 10000});
  EXPECT_EQ(c.send({true, C1, S1, A | P, 100, 502, 11000}), 0u);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 509, 12000}), 0u);
}

// A flood of RSTs with random seq/ack on one flow: no crash, the flood's verdicts are
// Wireshark's (an RST is exempt from lost_segment; ACK flags may be ACKed-unseen), and
// every other flow is untouched.
TEST(BadInput, RstFloodWithRandomSequenceNumbers) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  std::mt19937 rng(4);
  uint64_t t = 30000;
  for (int i = 0; i < 10000; ++i) {
    const uint32_t v = c.send({i % 2 == 0, static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                               static_cast<uint8_t>(R | (i % 3 ? A : 0)), 0, 0, t += 10});
    EXPECT_EQ(v & ~(kAckLostSegment | kRstMidstream | kWindowFull), 0u) << i;
    EXPECT_EQ(v & kLostSegment, 0u);
  }
  c.finish();
  EXPECT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].cold.stage, Stage::kReset);
}

// A flow fed garbage (impossible flags, 2 GiB jumps, random RSTs, ACKs of unsent data,
// SYNs with new ISNs) leaves a neighbouring flow in the same table with exactly the
// verdicts and the flow record it gets when it is fed alone.
struct NeighbourRun {
  std::vector<SegmentVerdict> verdicts;  // one per neighbour segment (frame numbers removed)
  event::FlowRecord record{};
};

NeighbourRun run_neighbour(bool with_garbage) {
  Conversation c;
  NeighbourRun out;
  std::mt19937 rng(7);
  constexpr uint16_t kN = 41000, kG = 42000;  // neighbour and garbage client ports
  uint64_t t = 0;
  std::vector<Seg> nb;  // the neighbour's conversation: handshake, data, reordering, loss
  nb.push_back({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  nb.push_back({false, SI, C1, S | A, 0, 65160, 0, 7, 1460});
  nb.push_back({true, C1, S1, A, 0, 502, 0});
  uint32_t seq = C1;
  for (int i = 0; i < 300; ++i) {
    if (i % 10 == 4) {
      nb.push_back({true, seq + 1000, S1, A | P, 1000, 502});
      nb.push_back({false, S1, seq, A, 0, 509});
      if (i % 20 == 14) nb.push_back({false, S1, seq, A, 0, 509});  // 2 dup ACKs: fast retransmission
      nb.push_back({true, seq, S1, A | P, 1000, 502});               // else out of order
      seq += 2000;
    } else {
      nb.push_back({true, seq, S1, A | P, 1000, 502});
      seq += 1000;
    }
    nb.push_back({false, S1, seq, A, 0, 509});
  }
  auto garbage = [&](uint64_t at) {
    const uint32_t r = static_cast<uint32_t>(rng());
    const uint8_t flags_pick[] = {S | F | R, S | F, F, 0, P | U | F, R, R | A, S, S | A, A};
    Seg g{(r & 1) != 0, static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
          flags_pick[r % std::size(flags_pick)], (r >> 8) % 3 == 0 ? (r >> 12) % 2000 : 0,
          static_cast<uint16_t>(r >> 16), at, static_cast<int8_t>((r >> 4) % 20), static_cast<uint16_t>(r >> 20)};
    if ((r >> 24) % 4 == 0) g.seq = 0x80000000u + C1;  // 2 GiB jumps on the same ports
    c.send_on(kG, g);
  };
  for (size_t i = 0; i < nb.size(); ++i) {
    t += i < 3 ? 5000 : 50;  // iRTT 10 ms: the swapped segments are out of order
    if (with_garbage)
      for (int k = 0; k < 3; ++k) garbage(t + k);
    Seg s = nb[i];
    s.t_us = t + 10;
    c.send_on(kN, s);
    SegmentVerdict v{};
    if (c.has_event(c.frames())) {
      v = c.event(c.frames()).verdict;
      v.dupack_frame = 0;  // frame numbers differ between the runs
    }
    out.verdicts.push_back(v);
  }
  c.finish();
  for (const auto& r : c.records())
    if (r.key.port_a == kN || r.key.port_b == kN) out.record = r;
  return out;
}

TEST(BadInput, GarbageOnOneFlowLeavesTheNeighbourIdentical) {
  const NeighbourRun alone = run_neighbour(false);
  const NeighbourRun mixed = run_neighbour(true);
  ASSERT_EQ(alone.verdicts.size(), mixed.verdicts.size());
  uint32_t any = 0;
  for (size_t i = 0; i < alone.verdicts.size(); ++i) {
    any |= alone.verdicts[i].bits;
    EXPECT_EQ(alone.verdicts[i].bits, mixed.verdicts[i].bits) << "neighbour segment " << i;
    EXPECT_EQ(alone.verdicts[i].dupack_num, mixed.verdicts[i].dupack_num) << i;
  }
  EXPECT_TRUE(any & kOutOfOrder);
  EXPECT_TRUE(any & kFastRetransmission);
  EXPECT_TRUE(any & kDuplicateAck);
  EXPECT_TRUE(any & kLostSegment);
  ASSERT_NE(alone.record.cold.syn_count, 0u);
  for (int d = 0; d < 2; ++d) {
    HalfState a = alone.record.half[d], m = mixed.record.half[d];
    a.lastnondupack = m.lastnondupack = 0;  // a frame number
    EXPECT_EQ(std::memcmp(&a, &m, sizeof(HalfState)), 0) << d;
    EXPECT_EQ(std::memcmp(&alone.record.count[d], &mixed.record.count[d], sizeof(event::DirCounters)), 0) << d;
  }
  EXPECT_EQ(alone.record.cold.stage, mixed.record.cold.stage);
  EXPECT_EQ(alone.record.cold.rtt_samples, mixed.record.cold.rtt_samples);
}

}  // namespace
}  // namespace seqwatch::testing
