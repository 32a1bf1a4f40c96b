// Hand-made TCP sequences for every verdict, checked against the meaning Wireshark gives
// each tcp.analysis flag (docs/tcp-analysis.md), plus seqwatch's own verdicts.
#include <gtest/gtest.h>

#include "segment_builder.hpp"

namespace seqwatch::testing {
namespace {

using namespace seqwatch::tcp;

TEST(Analyzer, CleanHandshakeAndTransferHaveNoVerdicts) {
  Conversation c;
  c.handshake(CI, SI);
  EXPECT_EQ(c.send({true, C1, S1, A | P, 100, 502, 20000}), 0u);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A | P, 300, 509, 30000}), 0u);
  EXPECT_EQ(c.send({true, C1 + 100, S1 + 300, A, 0, 502, 31000}), 0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const auto& r = c.records()[0];
  EXPECT_EQ(r.cold.stage, Stage::kEstablished);
  EXPECT_EQ(r.cold.hs_rtt_syn_us, 5000u);
  EXPECT_EQ(r.cold.hs_rtt_ack_us, 5000u);
  EXPECT_EQ(r.cold.mss[0] + r.cold.mss[1], 2920u);
  EXPECT_EQ(r.half[0].wscale, 7);
  EXPECT_EQ(r.half[1].wscale, 7);
  EXPECT_EQ(r.count[0].segments + r.count[1].segments, 6u);  // 3 handshake + 2 data + 1 ACK
  EXPECT_EQ(r.count[0].retx_segs + r.count[1].retx_segs, 0u);
  EXPECT_GE(r.cold.rtt_samples, 1u);
}

// A capture taken on a host with TSO/GSO (sending) or GRO (receiving) holds aggregates
// of several wire segments: a segment longer than the MSS its receiver advertised marks
// the flow (super_segments: its counts are captured frames), and the receiver's ACKs of the
// wire segments inside it are no ACKs inside a segment. A segment of exactly the MSS
// does not, nor does any length when the receiver's MSS is unknown (no SYN seen).
TEST(Analyzer, SegmentsLongerThanTheReceiversMssMarkTheFlow) {
  Conversation c;
  c.handshake(CI, SI);  // both sides advertise MSS 1460
  EXPECT_EQ(c.send({true, C1, S1, A | P, 1460, 502, 20000}), 0u);
  EXPECT_EQ(c.send({false, S1, C1 + 1460, A, 0, 509, 30000}), 0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].cold.super_segments, 0u);
  EXPECT_EQ(c.stage().counters().super_segment_flows, 0u);

  Conversation g(0x0A000001, 0x0A000002, 40001);
  g.handshake(CI, SI);
  EXPECT_EQ(g.send({false, S1, C1, A | P, 4344, 509, 20000}), 0u);  // three segments of 1448 in one frame
  // The receiver acknowledges the wire segments it got: no ACK inside a segment.
  EXPECT_EQ(g.send({true, C1, S1 + 2896, A, 0, 502, 29000}), 0u);
  EXPECT_EQ(g.send({true, C1, S1 + 4344, A, 0, 502, 30000}), 0u);
  g.finish();
  ASSERT_EQ(g.records().size(), 1u);
  EXPECT_EQ(g.records()[0].cold.super_segments, 1u);
  EXPECT_EQ(g.records()[0].count[1].segments, 2u);  // frames: the SYN/ACK and the aggregate
  EXPECT_EQ(g.records()[0].cold.midack_count, 0u);
  EXPECT_EQ(g.stage().counters().super_segment_flows, 1u);

  Conversation m(0x0A000001, 0x0A000002, 40002);  // picked up mid-stream: no MSS known
  m.send({true, C1, S1, A | P, 8000, 502, 20000});
  m.send({false, S1, C1 + 8000, A, 0, 509, 30000});
  m.finish();
  ASSERT_EQ(m.records().size(), 1u);
  EXPECT_EQ(m.records()[0].cold.super_segments, 0u);
}

TEST(Analyzer, TimeoutRetransmission) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});
  c.send({true, C1 + 100, S1, A | P, 100, 502, 40000});  // lost downstream
  const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, 300000});
  // The original passed the sensor; the segment is counted as a timeout, and says so.
  EXPECT_EQ(v, kRetransmission | kLossDownstream | kTimeoutRetransmission);
  c.finish();
  const auto& cnt = c.records()[0].count[0];
  EXPECT_EQ(cnt.retx_segs, 1u);
  EXPECT_EQ(cnt.rto_retx, 1u);
  EXPECT_EQ(cnt.fast_retx, 0u);
}

// A one-sided capture (only the client's segments pass the sensor: asymmetric routing, a
// SPAN session of one direction). A re-send amid the sender's own recent segments was let
// out by ACKs the sensor cannot see: neither fast nor a timeout (it stays a plain
// retransmission). A re-send after the sender fell silent for a minimum RTO is its timer's,
// as is the SYN's re-send. The flow, waiting for a SYN/ACK it never saw while the client
// acknowledged one and sent data, is no unanswered SYN. Kernel truth: tests/kernel/
// kernel_truth.sh's one-sided check (683 timeouts counted where the kernel had 25, before).
TEST(Analyzer, OneSidedCaptureCountsTimeoutsOnlyAfterSilence) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  c.send({true, CI, 0, S, 0, 64240, 1000000, 7, 1460});  // the SYN again after 1 s: its timer
  c.send({true, C1, S1, A, 0, 502, 1010000});            // the handshake's ACK: a SYN/ACK came, unseen
  uint64_t t = 1020000;
  for (uint32_t i = 0; i < 10; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, t += 100});
  t += 30000;  // no new data for 30 ms (the window is full), then recovery, 1 ms apart
  EXPECT_EQ(c.send({true, C1 + 200, S1, A | P, 100, 502, t}) & kRetransmission, kRetransmission);
  EXPECT_EQ(c.send({true, C1 + 400, S1, A | P, 100, 502, t += 1000}) & kRetransmission, kRetransmission);
  c.send({true, C1 + 1000, S1, A | P, 100, 502, t += 1000});  // new data
  EXPECT_EQ(c.send({true, C1 + 600, S1, A | P, 100, 502, t += 300000}) & kRetransmission, kRetransmission);  // after 300 ms of silence
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const auto& r = c.records()[0];
  EXPECT_EQ(r.count[0].retx_segs, 4u);  // the SYN and three data segments
  EXPECT_EQ(r.count[0].rto_retx, 2u);   // the SYN's and the one after the silence
  EXPECT_EQ(r.count[0].fast_retx, 0u);
  EXPECT_EQ(r.count[1].segments, 0u);
  EXPECT_EQ(r.cold.stage, Stage::kSynSent);
  EXPECT_TRUE(handshake_done_unseen(r.cold, r.count[0].segments, r.count[1].segments));

  Conversation u;  // SYNs alone: unanswered
  u.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  u.send({true, CI, 0, S, 0, 64240, 1000000, 7, 1460});
  u.finish();
  ASSERT_EQ(u.records().size(), 1u);
  EXPECT_FALSE(handshake_done_unseen(u.records()[0].cold, u.records()[0].count[0].segments, 0));
}

// A capture whose time steps back (merged from two interfaces or queues, NIC and host
// stamps): the segment stamped 3 ms before its predecessor is no timeout (the difference
// would wrap to 71 minutes of silence), its ACK gives no 71-minute RTT, and the zero window
// it ends lasted no 71 minutes. Kernel captures with every seventh packet moved up to 3 ms
// back: timeouts 25 -> 55 before, 25 after (the kernel's: 25).
TEST(Analyzer, TimeSteppingBackIsNoSilence) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  c.send({true, C1 + 100, S1, A | P, 100, 502, 21000});  // lost downstream
  c.send({true, C1 + 200, S1, A | P, 100, 502, 22000});
  c.send({false, S1, C1 + 100, A, 0, 509, 45000});       // the ACK advances
  const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, 42000});  // the head re-sent, stamped 3 ms back
  EXPECT_EQ(v & kRetransmission, kRetransmission);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u);
  EXPECT_EQ(c.records()[0].count[0].rto_retx, 0u);

  Conversation z;
  z.handshake(CI, SI);
  z.send({true, C1, S1, A | P, 100, 502, 20000});
  z.send({false, S1, C1 + 100, A, 0, 0, 30000});         // zero window
  z.send({false, S1, C1 + 100, A, 0, 509, 27000});       // it opens, stamped 3 ms back
  z.send({true, C1 + 100, S1, A | P, 100, 502, 50000});  // timed for the RTT
  z.send({false, S1, C1 + 200, A, 0, 509, 49000});       // its ACK, stamped 1 ms before it
  z.finish();
  ASSERT_EQ(z.records().size(), 1u);
  EXPECT_LT(z.records()[0].half[1].zw_total_ms, 100u);
  EXPECT_LT(z.records()[0].cold.rtt_max_us, 100000u);

  // One packet stamped 5 s ahead (a clock glitch): the segments after it, stamped right, are
  // no 71 minutes of silence either, and it holds no clock back for the rest of the flow.
  Conversation o;
  o.handshake(CI, SI);
  o.send({true, C1, S1, A | P, 100, 502, 20000});
  o.send({true, C1 + 100, S1, A | P, 100, 502, 21000});  // lost downstream
  o.send({false, S1, C1 + 100, A, 0, 509, 5022000});     // the ACK, stamped 5 s ahead
  o.send({true, C1 + 200, S1, A | P, 100, 502, 22500});
  EXPECT_EQ(o.send({true, C1 + 100, S1, A | P, 100, 502, 40000}) & kRetransmission, kRetransmission);
  o.finish();
  ASSERT_EQ(o.records().size(), 1u);
  EXPECT_EQ(o.records()[0].count[0].rto_retx, 0u);
  EXPECT_LT(o.records()[0].cold.rtt_max_us, 10000000u);
}

// A timeout while duplicate ACKs keep arriving: the retransmission timer restarts only
// when the peer's ACK advances (Linux, RFC 6298), so the head segment re-sent 300 ms after
// the last advance is a timeout although the peer's latest duplicate ACK came 80 ms before.
// Kernel truth: without SACK most timeouts look like this (tests/kernel/kernel_truth.sh).
TEST(Analyzer, TimeoutWhileDuplicateAcksArrive) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});  // RTT 10 ms; the ACK advances
  for (uint32_t i = 1; i <= 3; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 40000 + 100 * i});  // first lost
  c.send({false, S1, C1 + 100, A, 0, 509, 150000});  // duplicate ACKs (too few, too old for a fast retransmission)
  c.send({false, S1, C1 + 100, A, 0, 509, 250000});
  const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, 330000});
  EXPECT_EQ(v & (kRetransmission | kFastRetransmission | kTailLossProbe), kRetransmission);
  c.finish();
  const auto& cnt = c.records()[0].count[0];
  EXPECT_EQ(cnt.retx_segs, 1u);
  EXPECT_EQ(cnt.rto_retx, 1u);
}

// Not timeouts although the ACK stalled for 300 ms: the head re-sent 1 ms after a
// duplicate ACK carrying a SACK block (clocked by it: RACK marks the head lost), and a
// segment above the head (a timeout re-sends the oldest unacknowledged one).
TEST(Analyzer, ClockedOrNonHeadResendIsNoTimeout) {
  for (const bool head : {true, false}) {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 3; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 40000 + 100 * i});
    Seg dup{false, S1, C1 + 100, A, 0, 509, head ? 329000u : 150000u};
    dup.sack = {{C1 + 300, C1 + 400}};
    c.send(dup);
    const uint32_t v = c.send({true, head ? C1 + 100 : C1 + 200, S1, A | P, 100, 502, 330000});
    EXPECT_EQ(v & kRetransmission, kRetransmission) << "head " << head;
    c.finish();
    EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u) << "head " << head;
    EXPECT_EQ(c.records()[0].count[0].rto_retx, 0u) << "head " << head;
  }
}

// A re-send soon after a segment of the peer counts as clocked by it only when that segment
// is loss evidence (a duplicate ACK, SACK blocks). Kernel run (SACK, 5 Mbit/s): the server's
// FIN, acknowledging nothing new, 12 ms before the client's timer re-sent the head (RTT ~40
// ms, so inside the half-RTT window) was taken as the clock and the timeout went uncounted.
TEST(Analyzer, ResendRightAfterAPeerFinIsATimeout) {
  for (const bool fin : {true, false}) {
    Conversation c;
    c.handshake(CI, SI, 0, 40000, 7, true);
    c.send({true, C1, S1, A | P, 100, 502, 50000});
    c.send({false, S1, C1 + 100, A, 0, 509, 90000});  // the ACK advances for the last time; RTT 40 ms
    for (uint32_t i = 1; i <= 3; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 91000 + 100 * i});
    Seg peer{false, S1, C1 + 100, fin ? static_cast<uint8_t>(A | F) : A, 0, 509, 320000};
    if (!fin) peer.sack = {{C1 + 300, C1 + 400}};  // a duplicate ACK: the head is lost
    c.send(peer);
    if (fin) c.send({true, C1 + 400, S1 + 1, A, 0, 502, 320100});  // the client acknowledges the FIN
    const uint32_t v = c.send({true, C1 + 100, S1 + (fin ? 1 : 0), A | P, 100, 502, 332000});
    EXPECT_EQ(v & (kRetransmission | kFastRetransmission), kRetransmission) << "fin " << fin;
    c.finish();
    EXPECT_EQ(c.records()[0].count[0].rto_retx, fin ? 1u : 0u) << "fin " << fin;
  }
}

// The start of the head re-send tests below: ten segments from the client, the server's ACK
// moving past the first at 30 ms for the last time, three duplicate ACKs and the fast
// retransmission they clock at once.
void lose_the_head(Conversation& c) {
  for (uint32_t i = 0; i < 10; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 20000 + 10 * i});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});
  for (uint64_t t : {31000, 32000, 33000}) c.send({false, S1, C1 + 100, A, 0, 509, t});
  EXPECT_EQ(c.send({true, C1 + 100, S1, A | P, 100, 502, 33100}) & kFastRetransmission, kFastRetransmission);
}

// Their end: the head re-sent again at `at` (Wireshark: a fast retransmission), and the
// flow's two retransmissions counted as `fast` fast ones and `rto` timeouts.
void expect_head_resent(Conversation& c, uint64_t at, uint32_t fast, uint32_t rto, const char* what) {
  const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, at});
  c.finish();
  const auto& r = c.records()[0].count[0];
  EXPECT_EQ(v & (kRetransmission | kFastRetransmission), kRetransmission | kFastRetransmission) << what;
  EXPECT_EQ(r.retx_segs, 2u) << what;
  EXPECT_EQ(r.fast_retx, fast) << what;
  EXPECT_EQ(r.rto_retx, rto) << what;
}

// Without SACK a sender re-sends the head when the duplicate ACKs reach its threshold and
// then, while the ACK stays put, only on its timer. Kernel runs with net.ipv4.tcp_sack=0
// showed such timeouts landing a few milliseconds after one of a long run of duplicate ACKs:
// Wireshark's rule (and the verdict) says fast retransmission, the kernel's
// TcpExtTCPTimeouts says timeout, and the flow counters follow the kernel. It stays a fast
// retransmission with SACK negotiated (RACK re-sends on SACK evidence at any point of a
// run), with the ACK stalled for less than the minimum RTO (when the sender sent new data
// since its first re-send of the head: straight after it, a second re-send of the head is a
// timer's from 20 ms on, SecondHeadReSendWithTheAckStillPutIsATimerWithoutSack), and when it
// answers a duplicate ACK at once (a threshold raised by reordering: kernel run, the 21st).
TEST(Analyzer, HeadResentIntoALongDupAckRunWithoutSackIsATimeout) {
  struct Case {
    const char* what;
    bool sack;
    std::vector<uint64_t> dups;  // duplicate ACKs after the fast retransmit
    uint64_t resend;
    uint32_t fast, rto;
    uint64_t new_data = 0;  // new data sent then (0: none)
  };
  std::vector<uint64_t> run, run_to_200ms;
  for (uint64_t t = 40000; t <= 220000; t += 20000) run.push_back(t);
  for (uint64_t t = 40000; t <= 200000; t += 20000) run_to_200ms.push_back(t);
  std::vector<uint64_t> run_answered = run;
  run_answered.push_back(231990);
  const Case cases[] = {
      {"timer: 13 duplicate ACKs, 12 ms after the last, ACK stalled 202 ms", false, run, 232000, 1, 1},
      {"SACK negotiated", true, run, 232000, 2, 0},
      {"answers a duplicate ACK at once", false, run_answered, 232000, 2, 0},
      {"timer after 5 duplicate ACKs", false, {120000, 220000}, 232000, 1, 1},
      {"ACK stalled 185 ms, new data sent since the first re-send", false, run_to_200ms, 215000, 2, 0, 150010},
      {"ACK stalled 185 ms, the head's second re-send in a row", false, run_to_200ms, 215000, 1, 1},
  };
  for (const Case& k : cases) {
    Conversation c;
    c.handshake(CI, SI, 0, 10000, 7, k.sack);  // the client's side of the RTT: 5 ms
    lose_the_head(c);
    for (uint64_t t : k.dups) {
      if (k.new_data != 0 && k.new_data > t - 20000 && k.new_data < t) c.send({true, C1 + 1000, S1, A | P, 100, 502, k.new_data});
      c.send({false, S1, C1 + 100, A, 0, 509, t});
    }
    expect_head_resent(c, k.resend, k.fast, k.rto, k.what);
  }
}

// A sender that paces holds even a fast retransmission until its next pacing slot, so
// without SACK the answer to a duplicate ACK can pass the sensor milliseconds after it
// (kernel run, no SACK, 6 streams through 10 Mbit/s: head re-sends 0.6 and 2 ms after a
// duplicate ACK, each exactly one pacing interval, 5.43 and 19.06 ms, after the sender's
// previous segment; TcpExtTCPTimeouts did not count them). A re-send that keeps the sender's
// rhythm with a duplicate ACK since its previous segment is that answer; off the rhythm, or
// with no loss evidence since the previous segment, the timer sent it.
TEST(Analyzer, HeadResentInThePacingSlotAnswersADuplicateAck) {
  struct Case {
    const char* what;
    uint64_t dup_before;  // a duplicate ACK this long before the slot (0: none since the previous segment)
    uint64_t past_slot;   // the re-send this long after the slot
    uint32_t fast, rto;
  };
  const Case cases[] = {
      {"in the slot, 0.6 ms after a duplicate ACK", 600, 0, 2, 0},
      {"40 us past the slot", 600, 40, 2, 0},
      {"1.4 ms past the slot: the timer", 600, 1400, 1, 1},
      {"in the slot, no duplicate ACK since the previous segment", 0, 0, 1, 1},
  };
  for (const Case& k : cases) {
    Conversation c;
    c.handshake(CI, SI, 0, 20);  // the sensor beside the client: its answers pass at once
    lose_the_head(c);
    // New data every 5 ms (the pacing interval), a duplicate ACK between each two.
    uint32_t next = C1 + 1000;
    uint64_t slot = 35000;
    for (; slot < 240000; slot += 5000, next += 100) {
      c.send({true, next, S1, A | P, 100, 502, slot});
      if (slot + 5000 < 240000) c.send({false, S1, C1 + 100, A, 0, 509, slot + 2500});
    }
    if (k.dup_before != 0) c.send({false, S1, C1 + 100, A, 0, 509, slot - k.dup_before});
    expect_head_resent(c, slot + k.past_slot, k.fast, k.rto, k.what);  // ACK stalled 210 ms
  }
}


// A sender whose timer fires sooner than the 200 ms minimum RTO (Linux with a lowered
// rto_min: kernel runs with net.ipv4.tcp_rto_min_us=20000 re-sent the head 38-39 ms after
// the ACK last moved, the kernel counting 8 timeouts where the 200 ms floor saw 2). When the
// peer sent no loss evidence since its ACK moved, nothing but a timer re-sends the head, and
// from 20 ms (or two RTTs) on it counts. Not sooner, and not after a SACK: RACK's reordering
// timer re-sends on that evidence, and with SACK the floor stays 200 ms.
TEST(Analyzer, ShortTimerWithoutLossEvidenceIsATimeout) {
  struct Case {
    const char* what;
    uint64_t resend;     // the head re-sent (the ACK last moved at 30 ms; RTT 10 ms)
    uint64_t sack_dup;   // a duplicate ACK with a SACK block then (0: none)
    uint32_t rto;
  };
  const Case cases[] = {
      {"40 ms after the ACK moved, nothing from the peer", 70000, 0, 1},
      {"18 ms after: sooner than any timer counted", 48000, 0, 0},
      {"15 ms after a SACK (RACK's timer)", 70000, 55000, 0},
  };
  for (const Case& k : cases) {
    Conversation c;
    c.handshake(CI, SI, 0, 10000, 7, true);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 3; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 31000 + 100 * i});  // first lost
    if (k.sack_dup != 0) {
      Seg dup{false, S1, C1 + 100, A, 0, 509, k.sack_dup};
      dup.sack = {{C1 + 200, C1 + 400}};
      c.send(dup);
    }
    const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, k.resend});
    EXPECT_EQ(v & (kRetransmission | kFastRetransmission | kTailLossProbe), kRetransmission) << k.what;
    EXPECT_EQ((v & kTimeoutRetransmission) != 0, k.rto == 1) << k.what;
    c.finish();
    EXPECT_EQ(c.records()[0].count[0].rto_retx, k.rto) << k.what;
  }
}

// Without SACK a short timer also fires while duplicate ACKs arrive (kernel run, rto_min 20
// ms, no SACK: 63 timeouts, 5 seen with the 200 ms floor). Such a re-send is told from a
// fast retransmission held in the sender's host or pacing slot (kernel run, default rto_min:
// a head re-send 0.5 ms after a duplicate ACK, ACK stalled ~40 ms, no timeout) only by
// knowing the sender's timer is short: once a timeout without loss evidence showed it, the
// flow's later head re-sends count from 20 ms (or two RTTs) of ACK stall, not 200 ms.
TEST(Analyzer, ShortTimerSeenOnceAppliesBetweenDuplicateAcksWithoutSack) {
  for (const bool learned : {true, false}) {
    Conversation c;
    c.handshake(CI, SI);  // no SACK; RTT 10 ms
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    c.send({true, C1 + 100, S1, A | P, 100, 502, 31000});  // lost when `learned`
    c.send({true, C1 + 200, S1, A | P, 100, 502, 31100});
    if (learned) c.send({true, C1 + 100, S1, A | P, 100, 502, 70000});  // the timer, 40 ms on
    c.send({false, S1, C1 + 300, A, 0, 509, 80000});
    for (uint32_t i = 3; i < 9; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 81000 + 100 * (i - 3)});  // first lost
    for (uint64_t t : {91000, 92000, 93000}) c.send({false, S1, C1 + 300, A, 0, 509, t});
    EXPECT_EQ(c.send({true, C1 + 300, S1, A | P, 100, 502, 93100}) & kFastRetransmission, kFastRetransmission);
    for (uint64_t t : {100000, 110000, 120000}) c.send({false, S1, C1 + 300, A, 0, 509, t});
    // 15 ms after the last duplicate ACK, the ACK stalled 55 ms: Wireshark's fast retransmission.
    const uint32_t v = c.send({true, C1 + 300, S1, A | P, 100, 502, 135000});
    EXPECT_EQ(v & kFastRetransmission, kFastRetransmission) << "learned " << learned;
    c.finish();
    const auto& r = c.records()[0].count[0];
    EXPECT_EQ(r.retx_segs, learned ? 3u : 2u) << "learned " << learned;
    EXPECT_EQ(r.rto_retx, learned ? 2u : 0u) << "learned " << learned;
    EXPECT_EQ(r.fast_retx, learned ? 1u : 2u) << "learned " << learned;
  }
}


// Without SACK the head is re-sent once on the duplicate-ACK threshold; a second re-send of
// it with the ACK still put is the timer's (kernel run, net.ipv4.tcp_rto_min_us=20000, no
// SACK: 44 of 64 timeouts counted before, 60 with this rule). It takes the short floor (20
// ms or two RTTs of ACK stall, and as long since the first re-send), and below the minimum
// RTO it marks the sender's timer short. With SACK, or sooner, it stays a fast retransmission.
TEST(Analyzer, SecondHeadReSendWithTheAckStillPutIsATimerWithoutSack) {
  struct Case {
    const char* what;
    bool sack;
    uint64_t again;  // the second re-send of the head (the first at 43.1 ms, the ACK put since 30 ms)
    uint32_t fast, rto;
  };
  const Case cases[] = {
      {"no SACK, 31.9 ms after the first re-send", false, 75000, 1, 1},
      {"no SACK, 10 ms after the first re-send", false, 53100, 2, 0},
      {"SACK negotiated", true, 75000, 2, 0},
  };
  for (const Case& k : cases) {
    Conversation c;
    c.handshake(CI, SI, 0, 10000, 7, k.sack);  // RTT 10 ms
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 5; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 31000 + 100 * i});  // first lost
    for (uint64_t t : {41000, 42000, 43000}) c.send({false, S1, C1 + 100, A, 0, 509, t});
    EXPECT_EQ(c.send({true, C1 + 100, S1, A | P, 100, 502, 43100}) & kFastRetransmission, kFastRetransmission) << k.what;
    for (uint64_t t : {50000, 52000, 60000}) {
      if (t < k.again) c.send({false, S1, C1 + 100, A, 0, 509, t});
    }
    const uint32_t v = c.send({true, C1 + 100, S1, A | P, 100, 502, k.again});
    EXPECT_EQ(v & (kRetransmission | kFastRetransmission), kRetransmission | kFastRetransmission) << k.what;
    c.finish();
    const auto& r = c.records()[0].count[0];
    EXPECT_EQ(r.retx_segs, 2u) << k.what;
    EXPECT_EQ(r.fast_retx, k.fast) << k.what;
    EXPECT_EQ(r.rto_retx, k.rto) << k.what;
  }
}

// The ACK moving right after the head's re-send (a partial ACK, microseconds later: too close
// for the ACK clock's 1.024 ms tick to tell) makes the next hole the head; its re-send 21 ms
// on is NewReno's answer to that ACK held for the sender's pacing slot, not the same head
// re-sent a second time by a timer (SPAN run, no SACK, default RTO: one counted timeout more
// than the kernel's 32). The same wait with only duplicate ACKs since is the timer's.
TEST(Analyzer, NextHoleAfterAPartialAckIsNoSecondHeadReSend) {
  for (const bool partial : {true, false}) {
    Conversation c;
    c.handshake(CI, SI);  // no SACK; RTT 10 ms
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 5; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 31000 + 100 * i});  // 1, 3 lost
    for (uint64_t t : {41000, 42000, 43000}) c.send({false, S1, C1 + 100, A, 0, 509, t});
    c.send({true, C1 + 100, S1, A | P, 100, 502, 43100});  // fast retransmission of the head
    const uint32_t head = partial ? C1 + 300 : C1 + 100;
    c.send({false, S1, head, A, 0, 509, 43106});  // partial ACK 6 us later (or a duplicate ACK)
    const uint32_t v = c.send({true, head, S1, A | P, 100, 502, 64030});
    EXPECT_EQ(v & kRetransmission, kRetransmission) << "partial " << partial;
    c.finish();
    const auto& r = c.records()[0].count[0];
    EXPECT_EQ(r.retx_segs, 2u) << "partial " << partial;
    EXPECT_EQ(r.rto_retx, partial ? 0u : 1u) << "partial " << partial;
  }
}

// After a timeout the sender re-sends hole after hole as partial ACKs come in; a pacing
// sender lets each re-send out at its pacing slot, which can be 20-60 ms after the ACK
// moved with no loss evidence in between (kernel runs, no SACK, default 200 ms minimum RTO:
// re-sends every 41.9 ms, the first after an interval of 21 ms; in another, one every 66.2
// ms, the rhythm broken by a timeout and a new segment; the kernel counted no timeout for
// them, and reading them as a short timer over-counted 55 against 51 and 54 against 51).
// Such waits in recovery never mark the sender's timer short; only a timeout from the open
// state does. Once it is marked, one or two of the sender's latest intervals after its
// previous segment, with the ACK moved after that segment, is its pacing slot; off that
// rhythm the same wait is its short timer.
TEST(Analyzer, PacedReSendsAfterPartialAcksAreNoShortTimer) {
  struct Case {
    const char* what;
    bool learned;  // the timeout that starts recovery came 40 ms after the ACK moved (short timer)
    uint64_t off;  // the last two re-sends this far past the sender's pacing slot
    uint32_t rto;
  };
  const Case cases[] = {
      {"on the pacing slots", false, 0, 1},
      {"40 us past them (one slot's tolerance)", false, 40, 1},
      {"3 ms past them, the timer not known short", false, 3000, 1},
      {"short timer known, on the pacing slots", true, 0, 1},
      {"short timer known, 40 us past them", true, 40, 1},
      {"short timer known, 3 ms past them: its timer", true, 3000, 3},
  };
  for (const Case& k : cases) {
    Conversation c;
    c.handshake(CI, SI);  // no SACK; RTT 10 ms
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 6; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 31000 + 100 * i});  // 1-4 lost
    // The timeout re-sends the head (200 ms, or a short timer's 40 ms, after the ACK moved);
    // partial ACKs follow, one hole re-sent after each.
    const uint64_t t0 = k.learned ? 70000 : 240000;
    c.send({true, C1 + 100, S1, A | P, 100, 502, t0});
    c.send({false, S1, C1 + 200, A, 0, 509, t0 + 10000});
    c.send({true, C1 + 200, S1, A | P, 100, 502, t0 + 10005});  // at once: 10 ms after the previous
    c.send({false, S1, C1 + 300, A, 0, 509, t0 + 22000});
    c.send({true, C1 + 300, S1, A | P, 100, 502, t0 + 31005});  // the next slot, 21 ms on
    c.send({false, S1, C1 + 400, A, 0, 509, t0 + 40000});
    // 42 ms after the previous re-send (twice its interval), the ACK stalled 33 ms.
    uint32_t v = c.send({true, C1 + 400, S1, A | P, 100, 502, t0 + 73005 + k.off});
    EXPECT_EQ(v & (kRetransmission | kFastRetransmission), kRetransmission) << k.what;
    c.send({false, S1, C1 + 500, A, 0, 509, t0 + 84000});
    // 42 ms again (the same interval), the ACK stalled 31 ms.
    v = c.send({true, C1 + 500, S1, A | P, 100, 502, t0 + 115005 + k.off});
    EXPECT_EQ(v & (kRetransmission | kFastRetransmission), kRetransmission) << k.what;
    c.finish();
    const auto& r = c.records()[0].count[0];
    EXPECT_EQ(r.retx_segs, 5u) << k.what;
    EXPECT_EQ(r.rto_retx, k.rto) << k.what;
  }
}

// After a timeout's re-send the first ACK that moves lets F-RTO send new data before the
// next hole; a pacing sender re-sends that hole a pacing slot later. The new segment between
// is no open state: the re-sends after it are no short timer (kernel run, no SACK, BBR,
// busy loops beside it: holes re-sent every 56.87 ms, 57 timeouts for the kernel's 53). The
// same re-send after two new segments (the open state), or after a re-send that was no
// timeout and a new segment (kernel run with a 10 ms minimum RTO), is a short timer's.
TEST(Analyzer, NewDataRightAfterATimeoutIsNoOpenState) {
  enum Before { kTimeout, kNewData, kClockedReSend };
  for (const Before before : {kTimeout, kNewData, kClockedReSend}) {
    Conversation c;
    c.handshake(CI, SI);  // no SACK; RTT 10 ms
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A, 0, 509, 30000});
    for (uint32_t i = 1; i <= 8; ++i) c.send({true, C1 + 100 * i, S1, A | P, 100, 502, 31000 + 100 * i});
    uint64_t t = 240000;
    if (before == kTimeout) {
      c.send({true, C1 + 100, S1, A | P, 100, 502, t});       // the timeout, 200 ms after the ACK moved
      c.send({false, S1, C1 + 300, A, 0, 509, t + 10000});    // a partial ACK
      c.send({true, C1 + 900, S1, A | P, 100, 502, t + 10690});  // F-RTO: new data
      c.send({false, S1, C1 + 300, A, 0, 600, t + 10700});    // a window update
    } else if (before == kNewData) {
      t = 31000;
      c.send({false, S1, C1 + 300, A, 0, 509, t + 10000});    // the ACK moves (an RTT on)
      c.send({true, C1 + 900, S1, A | P, 100, 502, t + 10500});  // new data, twice
      c.send({true, C1 + 1000, S1, A | P, 100, 502, t + 10690});
    } else {
      t = 31000;
      c.send({false, S1, C1 + 200, A, 0, 509, t + 10000});    // a partial ACK
      c.send({true, C1 + 200, S1, A | P, 100, 502, t + 10005});  // the next hole at once
      c.send({true, C1 + 900, S1, A | P, 100, 502, t + 10690});  // new data
      c.send({false, S1, C1 + 300, A, 0, 509, t + 12000});    // the ACK moves over the re-send
    }
    // The next hole, 56.75 ms after the new segment with the ACK stalled 55-57 ms: a pacing
    // slot after a timeout; otherwise a short timer.
    const uint32_t v = c.send({true, C1 + 300, S1, A | P, 100, 502, t + 67440});
    EXPECT_EQ(v & kTimeoutRetransmission, before == kTimeout ? 0u : kTimeoutRetransmission) << before;
    c.send({false, S1, C1 + 400, A, 0, 600, t + 74000});
    c.send({true, C1 + 400, S1, A | P, 100, 502, t + 124310});  // the next slot, 56.87 ms on
    c.finish();
    const auto& r = c.records()[0].count[0];
    EXPECT_EQ(r.rto_retx, before == kTimeout ? 1u : 2u) << before;
  }
}

// an ACK, long before any RTO; not a timeout retransmission.
TEST(Analyzer, TailLossProbe) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, 7, true);  // RACK-TLP needs SACK
  for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
  c.send({false, S1, C1 + 2000, A, 0, 509, 30000});  // RTT 10 ms; the third segment stays unacknowledged
  const uint32_t v = c.send({true, C1 + 2000, S1, A | P, 1000, 502, 45000});
  EXPECT_EQ(v, kRetransmission | kLossDownstream | kTailLossProbe);
  c.finish();
  const auto& r = c.records()[0];
  EXPECT_EQ(r.count[0].retx_segs, 1u);
  EXPECT_EQ(r.count[0].rto_retx, 0u);
  EXPECT_EQ(r.cold.tail_probes, 1u);
}

// RACK-TLP needs SACK (RFC 8985; Linux schedules no probe on a connection without it): with
// both SYNs seen and SACK not negotiated, the same tail re-send is no probe (kernel run, no
// SACK, 10 ms minimum RTO: one such re-send counted as a probe where the kernel sent none). A
// flow picked up mid-stream (no SYNs: SACK unknown) keeps the probe.
TEST(Analyzer, TailReSendWithoutSackIsNoProbe) {
  for (const bool handshake : {true, false}) {
    Conversation c;
    if (handshake) c.handshake(CI, SI);  // no SACK
    for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
    c.send({false, S1, C1 + 2000, A, 0, 509, 30000});
    const uint32_t v = c.send({true, C1 + 2000, S1, A | P, 1000, 502, 45000});
    EXPECT_EQ(v & (kRetransmission | kTailLossProbe), handshake ? kRetransmission : kRetransmission | kTailLossProbe)
        << "handshake " << handshake;
    c.finish();
    const auto& r = c.records()[0];
    EXPECT_EQ(r.count[0].retx_segs, 1u) << "handshake " << handshake;
    EXPECT_EQ(r.count[0].rto_retx, 0u) << "handshake " << handshake;
    EXPECT_EQ(r.cold.tail_probes, handshake ? 0u : 1u) << "handshake " << handshake;
  }
}

// A probe that re-sends a bare FIN, the last thing sent (kernel run: a server's FIN
// re-sent 10 ms after the original, long before any timeout): the tail ends after the
// FIN's sequence number, as for data.
TEST(Analyzer, TailLossProbeOfABareFin) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, 7, true);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});  // RTT 10 ms
  c.send({true, C1 + 100, S1, F | A, 0, 502, 31000});
  const uint32_t v = c.send({true, C1 + 100, S1, F | A, 0, 502, 52000});
  EXPECT_EQ(v & (kRetransmission | kTailLossProbe), kRetransmission | kTailLossProbe);
  c.finish();
  const auto& r = c.records()[0];
  EXPECT_EQ(r.count[0].retx_segs, 1u);
  EXPECT_EQ(r.count[0].rto_retx, 0u);
  EXPECT_EQ(r.cold.tail_probes, 1u);
}

// Re-sends that are not probes: of a segment below the tail, of the tail sooner than one
// RTT after it was sent (a copy on the wire), of the tail right after a partial ACK (loss
// recovery clocked by ACKs, as Linux does after a burst of drops), and of the tail 200 ms or
// more after it was sent (a timeout).
TEST(Analyzer, TailLossProbeNeedsTheTailAndProbeTiming) {
  {
    Conversation c;
    c.handshake(CI, SI);
    for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
    c.send({false, S1, C1 + 1000, A, 0, 509, 30000});
    EXPECT_EQ(c.send({true, C1 + 1000, S1, A | P, 1000, 502, 45000}) & kTailLossProbe, 0u);  // not the tail
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 1000, 502, 20000});
    c.send({false, S1, C1 + 1000, A, 0, 509, 30000});  // RTT 10 ms
    c.send({true, C1 + 1000, S1, A | P, 1000, 502, 30100});
    c.send({true, C1 + 2000, S1, A | P, 1000, 502, 30200});
    const uint32_t v = c.send({true, C1 + 2000, S1, A | P, 1000, 502, 31000});  // 0.8 ms later
    EXPECT_EQ(v & kRetransmission, kRetransmission);
    EXPECT_EQ(v & kTailLossProbe, 0u);
    c.finish();
    EXPECT_EQ(c.records()[0].count[0].rto_retx, 0u);  // 1 ms after the peer's ACK: no timer fired
    EXPECT_EQ(c.records()[0].cold.tail_probes, 0u);
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
    c.send({false, S1, C1 + 2000, A, 0, 509, 30000});
    EXPECT_EQ(c.send({true, C1 + 2000, S1, A | P, 1000, 502, 20200 + kMinRtoUs}) & kTailLossProbe, 0u);
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
    c.send({false, S1, C1 + 1000, A, 0, 509, 30000});  // RTT 10 ms
    c.send({false, S1, C1 + 2000, A, 0, 509, 44000});  // partial ACK
    const uint32_t v = c.send({true, C1 + 2000, S1, A | P, 1000, 502, 44500});
    EXPECT_EQ(v & kRetransmission, kRetransmission);
    EXPECT_EQ(v & kTailLossProbe, 0u);
    c.finish();
    EXPECT_EQ(c.records()[0].count[0].rto_retx, 0u);  // clocked out by the partial ACK
    EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u);
  }
}

// No tail-loss probe during loss recovery (RFC 8985 section 7.2: the probe timer runs only
// in the open state): after a partial ACK the sender re-sends the next hole and then the
// tail, paced 15 ms apart; the tail's re-send has every timing a probe has, but the segment
// before it was a retransmission.
TEST(Analyzer, NoTailLossProbeDuringRecovery) {
  Conversation c;
  c.handshake(CI, SI);
  for (uint32_t i = 0; i < 3; ++i) c.send({true, C1 + 1000 * i, S1, A | P, 1000, 502, 20000 + i * 100});
  c.send({false, S1, C1 + 1000, A, 0, 509, 30000});  // RTT 10 ms, partial ACK
  EXPECT_EQ(c.send({true, C1 + 1000, S1, A | P, 1000, 502, 45000}) & kRetransmission, kRetransmission);
  const uint32_t v = c.send({true, C1 + 2000, S1, A | P, 1000, 502, 60000});
  EXPECT_EQ(v & (kRetransmission | kTailLossProbe), kRetransmission);
  c.finish();
  EXPECT_EQ(c.records()[0].cold.tail_probes, 0u);
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 2u);
}

// A copy of a segment on the wire after the peer was quiet for a long time is a
// retransmission (as tshark says) but no timeout: nothing waited for a timer.
TEST(Analyzer, CopyAfterALongPauseIsNoTimeout) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});
  c.send({true, C1 + 100, S1, A | P, 100, 502, 2000000});  // 2 s later, the peer silent since
  EXPECT_EQ(c.send({true, C1 + 100, S1, A | P, 100, 502, 2000050}) & kRetransmission, kRetransmission);
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u);
  EXPECT_EQ(c.records()[0].count[0].rto_retx, 0u);
  EXPECT_EQ(c.records()[0].cold.tail_probes, 0u);
}

TEST(Analyzer, DuplicateAcksAndFastRetransmission) {
  Conversation c;
  c.handshake(CI, SI);
  for (uint32_t i = 0; i < 4; ++i) c.send({true, C1 + 1000 * i, S1, A, 1000, 502, 20000 + i * 100});
  const uint64_t first_ack = c.frames() + 1;
  EXPECT_EQ(c.send({false, S1, C1 + 1000, A, 0, 509, 30000}), 0u);
  for (uint16_t n = 1; n <= 3; ++n) {
    EXPECT_EQ(c.send({false, S1, C1 + 1000, A, 0, 509, 30000u + n * 100u}), kDuplicateAck);
    const auto& e = c.event(c.frames());
    EXPECT_EQ(e.verdict.dupack_num, n);
    EXPECT_EQ(e.verdict.dupack_frame, first_ack);
  }
  EXPECT_EQ(c.send({true, C1 + 1000, S1, A, 1000, 502, 31000}), kRetransmission | kFastRetransmission | kLossDownstream);
  c.finish();
  EXPECT_EQ(c.records()[0].count[1].dup_acks, 3u);
  EXPECT_EQ(c.records()[0].max_dup_run[1], 3u);
  EXPECT_EQ(c.records()[0].count[0].fast_retx, 1u);
}

TEST(Analyzer, SpuriousRetransmissionOfAcknowledgedData) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});
  EXPECT_EQ(c.send({true, C1, S1, A, 100, 502, 500000}), kRetransmission | kSpuriousRetransmission);
}

TEST(Analyzer, GapThenOutOfOrderFill) {
  Conversation c;
  c.handshake(CI, SI);
  EXPECT_EQ(c.send({true, C1 + 100, S1, A, 100, 502, 20000}), kLostSegment);
  // Fills the gap: the original never passed the sensor.
  EXPECT_EQ(c.send({true, C1, S1, A, 100, 502, 21000}), kOutOfOrder | kLossUpstream);
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 0u);  // reordering is possible: not counted
}

// The sensor missed a segment the receiver got (the receiver's ACK passes the hole): its
// re-send is spurious and fills the hole, yet nothing was lost anywhere, upstream included
// (docs/tcp-analysis.md section 13: spurious retransmissions get no loss location).
TEST(Analyzer, SpuriousFillerOfAHoleHasNoLossLocation) {
  Conversation c;
  c.handshake(CI, SI);
  EXPECT_EQ(c.send({true, C1 + 100, S1, A, 100, 502, 20000}), kLostSegment);  // C1 missed
  c.send({false, S1, C1 + 200, A, 0, 509, 30000});                              // both got there
  const uint32_t bits = c.send({true, C1, S1, A, 100, 502, 500000});
  EXPECT_TRUE(bits & kSpuriousRetransmission) << bits;
  EXPECT_EQ(bits & (kLossUpstream | kLossDownstream), 0u) << bits;
}

// Two holes in one window (a sensor after a lossy link: the sender's segments 2 and 4 never
// passed it): the filler of the older hole was lost upstream too, not just the latest one's.
// A kernel run with the bottleneck before the sensor had 65 of 137 such fillers called
// downstream while only the latest hole was remembered.
TEST(Analyzer, FillersOfEveryOpenHoleAreUpstream) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  EXPECT_EQ(c.send({true, C1 + 200, S1, A, 100, 502, 20100}), kLostSegment);  // C1+100 missing
  EXPECT_EQ(c.send({true, C1 + 400, S1, A, 100, 502, 20200}), kLostSegment);  // C1+300 missing
  EXPECT_EQ(c.send({true, C1 + 100, S1, A, 100, 502, 60000}) & (kLossUpstream | kLossDownstream), kLossUpstream);
  EXPECT_EQ(c.send({true, C1 + 300, S1, A, 100, 502, 60100}) & (kLossUpstream | kLossDownstream), kLossUpstream);
  // A segment that did pass the sensor, re-sent: lost downstream.
  EXPECT_EQ(c.send({true, C1, S1, A, 100, 502, 60200}) & (kLossUpstream | kLossDownstream), kLossDownstream);
}

// The same with the holes spread over more than 64 KiB (a large window, 1448-byte segments,
// every 20th lost before the sensor, as a tbf bottleneck in front of a capture point gives):
// every hole's filler is upstream, however far the newest hole lies from the oldest, and
// the range's end does not drift as fills move its start (one hole's filler at a time, the
// oldest first, as SACK recovery sends them); a seen segment right after the newest hole,
// re-sent, is downstream.
TEST(Analyzer, FillersOfHolesSpreadOverAWideWindowAreUpstream) {
  Conversation c;
  c.handshake(CI, SI);
  constexpr uint32_t kSeg = 1448;
  constexpr int kSegments = 400;  // 579 KB of sequence space
  std::vector<uint32_t> holes;
  uint32_t t = 20000;
  for (int i = 0; i < kSegments; ++i) {
    if (i % 20 == 7) {
      holes.push_back(C1 + i * kSeg);
      continue;
    }
    c.send({true, C1 + i * kSeg, S1, A, kSeg, 502, t += 10});
  }
  ASSERT_EQ(holes.size(), 20u);
  for (const uint32_t h : holes)
    EXPECT_EQ(c.send({true, h, S1, A, kSeg, 502, t += 10000}) & (kLossUpstream | kLossDownstream), kLossUpstream)
        << "hole at +" << h - C1;
  const uint32_t after_last = holes.back() + kSeg;
  EXPECT_EQ(c.send({true, after_last, S1, A, kSeg, 502, t += 10000}) & (kLossUpstream | kLossDownstream),
            kLossDownstream);
}

// The out-of-order threshold is the initial RTT (SYN -> first ACK, 10 ms here), 3 ms without
// one. A SYN stamped exactly at the epoch gives none, as in tshark 4.0 (its zero time means
// "no SYN seen"; Wireshark's own test captures start there): a hole filled 5 ms after it
// opened is then a retransmission, not out of order.
TEST(Analyzer, SynAtTheEpochGivesNoInitialRtt) {
  for (const uint64_t t0 : {uint64_t{0}, uint64_t{1}}) {
    Conversation c;
    c.set_time_base_ns(0);
    c.handshake(CI, SI, t0);
    EXPECT_EQ(c.send({true, C1 + 100, S1, A, 100, 502, t0 + 30000}), kLostSegment);
    const uint32_t v = c.send({true, C1, S1, A, 100, 502, t0 + 35000});
    EXPECT_EQ(v & (kRetransmission | kOutOfOrder), t0 == 0 ? kRetransmission : kOutOfOrder) << "SYN at " << t0 << " us";
  }
}

TEST(Analyzer, QuickResendOfSeenBytesIsOutOfOrderForTsharkButCountsAsRetransmission) {
  // At a sender's capture point a quick re-send looks "out of order" to Wireshark 4.0's
  // timing rule; its bytes passed the sensor, so the flow counters (and kernel truth)
  // count it as a retransmission lost downstream.
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  c.send({true, C1 + 100, S1, A, 100, 502, 20100});
  EXPECT_EQ(c.send({true, C1, S1, A, 100, 502, 21000}), kOutOfOrder | kLossDownstream);
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u);
}

TEST(Analyzer, AckOfUnseenSegment) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  EXPECT_EQ(c.send({false, S1, C1 + 500, A, 0, 509, 30000}) & kAckLostSegment, kAckLostSegment);
}

// A server that closed (FIN) resets each segment the client still sends: its RSTs carry
// window 0, as every Linux RST does. That is no zero window: nothing was advertised, no
// time accrues (kernel runs: RSTs 1 ms apart summed to "zero windows" of 6-15 ms, and a
// report line blaming the server's application). A real zero window before them still counts.
TEST(Analyzer, RstsAfterFinAreNoZeroWindow) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, -1);
  c.send({true, C1, S1, A, 100, 500, 20000});
  c.send({false, S1, C1 + 100, A | F, 0, 500, 30000});
  for (uint32_t i = 0; i < 8; ++i) {
    c.send({true, C1 + 100 + 100 * i, S1 + 1, A, 100, 500, 31000 + 2000 * i});
    c.send({false, S1 + 1, 0, R, 0, 0, 32000 + 2000 * i});
  }
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].half[1].zw_total_ms, 0u);

  Conversation z;
  z.handshake(CI, SI, 0, 10000, -1);
  z.send({true, C1, S1, A, 100, 500, 20000});
  z.send({false, S1, C1 + 100, A, 0, 0, 30000});  // a zero window for 50 ms, then a RST
  z.send({false, S1, 0, R, 0, 0, 80000});
  z.send({false, S1, 0, R, 0, 0, 280000});
  z.finish();
  ASSERT_EQ(z.records().size(), 1u);
  EXPECT_EQ(z.records()[0].half[1].zw_total_ms, 50u);
}

TEST(Analyzer, ZeroWindowProbeAckAndUpdate) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, -1);  // no window scaling: raw windows
  c.send({true, C1, S1, A, 100, 500, 20000});
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 0, 30000}), kZeroWindow);
  EXPECT_EQ(c.send({true, C1 + 100, S1, A, 1, 500, 230000}), kZeroWindowProbe);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 0, 240000}), kZeroWindow | kZeroWindowProbeAck);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 8000, 900000}), kWindowUpdate);
  c.finish();
  EXPECT_GE(c.records()[0].half[1].zw_total_ms, 860u);
}

TEST(Analyzer, KeepAliveAndItsAck) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  c.send({false, S1, C1 + 100, A, 0, 509, 30000});
  EXPECT_EQ(c.send({true, C1 + 99, S1, A, 0, 502, 60000000}), kKeepAlive);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 509, 60010000}), kKeepAliveAck);
}

// A one-byte message re-sent before the peer acknowledged it has Wireshark's keep-alive
// shape (seq = nextseq - 1, one byte) but is a retransmission (the sender's kernel counts it:
// data/demo.pcap frame 32, iperf3's control channel; tcptrace counts it too). A keep-alive
// proper re-sends a byte already acknowledged and is no retransmission.
TEST(Analyzer, OneByteResendBeforeItsAckCountsAsRetransmission) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, 7, true);
  c.send({true, C1, S1, A | P, 1, 502, 20000});
  // Not acknowledged yet, re-sent after 40 ms of silence: a tail-loss probe.
  EXPECT_EQ(c.send({true, C1, S1, A | P, 1, 502, 60000}), kKeepAlive | kTailLossProbe);
  c.send({false, S1, C1 + 1, A, 0, 509, 70000});
  EXPECT_EQ(c.send({true, C1, S1, A, 1, 502, 80000000}), kKeepAlive);  // acknowledged: a keep-alive
  c.finish();
  const auto& cnt = c.records()[0].count[0];
  EXPECT_EQ(cnt.retx_segs, 1u);
  EXPECT_EQ(cnt.segments, 2u + 3u);  // SYN, ACK of the handshake + three data segments
}

// The same byte re-sent after its ACK passed the sensor (the ACK was lost past it: a
// congested router, kernel-shapes' congestion run) 6 ms after it was sent: no keep-alive
// comes that soon after the side's latest data (Linux's idle floor is 1 s), so the sender
// re-sent it and counts it. A keep-alive 13 ms after answering the peer's keep-alive, long
// after the side's data, stays one (Windows peers, smb3_multichannel.pcap).
TEST(Analyzer, OneByteResendSoonAfterItsAckCountsAsRetransmission) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A | P, 1, 502, 20000});
  c.send({false, S1, C1 + 1, A, 0, 509, 22000});  // the ACK passes the sensor ...
  EXPECT_EQ(c.send({true, C1, S1, A | P, 1, 502, 26000}) & kKeepAlive, kKeepAlive);  // ... and is lost past it
  c.send({false, S1, C1 + 1, A, 0, 509, 27000});
  // Much later: the server's keep-alive, answered, and the client's own 13 ms after.
  EXPECT_EQ(c.send({false, S1 - 1, C1 + 1, A, 0, 509, 90000000}), kKeepAlive);
  EXPECT_EQ(c.send({true, C1 + 1, S1, A, 0, 502, 90000300}), kKeepAliveAck);
  EXPECT_EQ(c.send({true, C1, S1, A, 1, 502, 90013000}), kKeepAlive);
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 1u);
  EXPECT_EQ(c.records()[0].count[1].retx_segs, 0u);

  // One-sided (the server never heard): only the time tells. iperf3's last control byte
  // re-sent 25 ms later (kernel-truth's one-sided check: 471 for the kernel's 472, before).
  Conversation o;
  o.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  o.send({true, C1, S1, A, 0, 502, 10000});
  o.send({true, C1, S1, A | P, 1, 502, 20000});
  EXPECT_EQ(o.send({true, C1, S1, A | P, 1, 502, 45000}) & kKeepAlive, kKeepAlive);
  EXPECT_EQ(o.send({true, C1 + 1, S1, A, 1, 502, 5000000}), 0u);       // new data, much later
  EXPECT_EQ(o.send({true, C1 + 1, S1, A, 1, 502, 65000000}), kKeepAlive);  // a keep-alive: 60 s on
  o.finish();
  EXPECT_EQ(o.records()[0].count[0].retx_segs, 1u);
}

TEST(Analyzer, WindowFull) {
  Conversation c;
  c.handshake(CI, SI, 0, 10000, -1);
  c.send({false, S1, C1, A, 0, 1000, 15000});  // server: window 1000 from C1
  EXPECT_EQ(c.send({true, C1, S1, A, 1000, 502, 20000}), kWindowFull);
}

TEST(Analyzer, SequenceWrapAroundIsNotAnAnomaly) {
  Conversation c;
  const uint32_t ci = 0xFFFFFB00u;
  c.handshake(ci, SI);
  uint32_t seq = ci + 1;
  uint64_t t = 20000;
  for (int i = 0; i < 10; ++i, seq += 500, t += 1000) {
    EXPECT_EQ(c.send({true, seq, S1, A, 500, 502, t}), 0u) << "segment " << i << " seq " << seq;
    EXPECT_EQ(c.send({false, S1, seq + 500, A, 0, 509, t + 500}), 0u) << "ack " << i;
  }
  // A retransmission across the wrap is still seen as one.
  EXPECT_EQ(c.send({true, seq - 500, S1, A, 500, 502, t + 800000}) & kRetransmission, kRetransmission);
}

TEST(Analyzer, LoadBalancerAcksInsideSegmentsCauseDupAckCycle) {
  // The field case: a middlebox ACKs 512 bytes into each 1460-byte segment; the sender
  // must re-cut every retransmission, and dup ACKs pile up without any loss.
  Conversation c;
  c.handshake(CI, SI);
  uint64_t t = 20000;
  for (uint32_t i = 0; i < 8; ++i) c.send({true, C1 + 1460 * i, S1, A, 1460, 502, t + i * 10});
  const uint32_t v = c.send({false, S1, C1 + 512, A, 0, 509, 25000});
  EXPECT_TRUE(v & kAckInSegment);
  EXPECT_EQ(c.event(c.frames()).verdict.midack_offset, 512u);
  for (uint64_t n = 0; n < 3; ++n) EXPECT_TRUE(c.send({false, S1, C1 + 512, A, 0, 509, 25100 + n * 10}) & kDuplicateAck);
  const uint32_t r = c.send({true, C1 + 512, S1, A, 1460, 502, 25200});
  EXPECT_EQ(r & (kRetransmission | kFastRetransmission), kRetransmission | kFastRetransmission);
  c.finish();
  EXPECT_GE(c.records()[0].cold.midack_count, 1u);
  EXPECT_EQ(c.records()[0].cold.midack_last_off, 512u);
}

TEST(Analyzer, SynRetransmissionsCountAttempts) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  // A SYN's re-sends are its timer's (counted in rto_retx, marked timeout_retransmission).
  constexpr uint32_t kResent = kRetransmission | kSynRetransmission | kLossDownstream | kTimeoutRetransmission;
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64240, 1000000, 7, 1460}), kResent);
  EXPECT_EQ(c.event(2).verdict.attempt, 2u);
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64240, 3000000, 7, 1460}), kResent);
  EXPECT_EQ(c.event(3).verdict.attempt, 3u);
}

// Simultaneous open (RFC 9293 3.5, kernel run): both sides send a SYN, then both a SYN/ACK
// with their own ISN. Each side's first SYN and first SYN/ACK is no attempt of the other's;
// only a side's own repeats are syn_retransmission / synack_retransmission, with that side's
// attempt number. No handshake RTT: no SYN -> SYN/ACK round trip of one side is on the wire.
TEST(Analyzer, SimultaneousOpenCountsEachSidesOwnAttempts) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  EXPECT_EQ(c.send({false, SI, 0, S, 0, 64240, 200000, 7, 1460}) & (kSynRetransmission | kSynAckRetransmission), 0u);
  EXPECT_EQ(c.send({true, CI, SI + 1, S | A, 0, 64240, 200020, 7, 1460}) & (kSynRetransmission | kSynAckRetransmission),
            0u);
  EXPECT_EQ(c.send({false, SI, CI + 1, S | A, 0, 64240, 384000, 7, 1460}) & (kSynRetransmission | kSynAckRetransmission),
            0u);
  // The second side re-sends its SYN/ACK, then the first side its: each the second attempt.
  EXPECT_NE(c.send({false, SI, CI + 1, S | A, 0, 64240, 1384000, 7, 1460}) & kSynAckRetransmission, 0u);
  EXPECT_EQ(c.event(5).verdict.attempt, 2u);
  EXPECT_NE(c.send({true, CI, SI + 1, S | A, 0, 64240, 1390000, 7, 1460}) & kSynAckRetransmission, 0u);
  EXPECT_EQ(c.event(6).verdict.attempt, 2u);
  EXPECT_EQ(c.send({true, C1, S1, A, 0, 502, 1390100}) & (kSynRetransmission | kSynAckRetransmission), 0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const auto& r = c.records()[0];
  EXPECT_EQ(r.cold.syn_count, 1u);
  EXPECT_EQ(r.cold.synack_count, 2u);  // the second side's two SYN/ACKs
  EXPECT_TRUE(r.cold.simultaneous_open());
  EXPECT_EQ(r.cold.hs_rtt_syn_us, 0u);
  EXPECT_EQ(r.cold.hs_rtt_ack_us, 0u);
  EXPECT_EQ(r.cold.stage, Stage::kEstablished);
  // Each side's first SYN/ACK re-uses its SYN's sequence number: Wireshark's retransmission
  // stays, but nothing was lost and the sender counts no re-send (Linux tcp_send_synack);
  // the two repeats are re-sends (until 2026-12-03 all four were, each loss_downstream).
  for (uint64_t frame : {3u, 4u}) {
    EXPECT_NE(c.event(frame).verdict.bits & kRetransmission, 0u) << frame;
    EXPECT_EQ(c.event(frame).verdict.bits & (kLossDownstream | kLossUpstream), 0u) << frame;
  }
  for (uint64_t frame : {5u, 6u}) EXPECT_NE(c.event(frame).verdict.bits & kLossDownstream, 0u) << frame;
  EXPECT_EQ(r.count[0].retx_segs, 1u);
  EXPECT_EQ(r.count[1].retx_segs, 1u);
}

// The second side's own SYN, re-sent, is its second attempt.
TEST(Analyzer, SimultaneousOpenSecondSidesSynRetransmission) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  c.send({false, SI, 0, S, 0, 64240, 100000, 7, 1460});
  EXPECT_NE(c.send({false, SI, 0, S, 0, 64240, 1100000, 7, 1460}) & kSynRetransmission, 0u);
  EXPECT_EQ(c.event(3).verdict.attempt, 2u);
  c.finish();
  EXPECT_EQ(c.records()[0].cold.syn_count, 1u);
  EXPECT_EQ(c.records()[0].cold.peer_syns(), 2u);
}

// The first SYN names the client even when the peer spoke first (a RST left over from an
// earlier connection): the SYN's re-send is its second attempt, no simultaneous open.
TEST(Analyzer, FirstSynAfterAPeerRstNamesTheClient) {
  Conversation c;
  c.send({false, SI, 0, R, 0, 0, 0});
  c.send({true, CI, 0, S, 0, 64240, 100000, 7, 1460});
  EXPECT_NE(c.send({true, CI, 0, S, 0, 64240, 1100000, 7, 1460}) & kSynRetransmission, 0u);
  EXPECT_EQ(c.event(3).verdict.attempt, 2u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const auto& r = c.records()[0];
  EXPECT_EQ(r.cold.syn_count, 2u);
  EXPECT_FALSE(r.cold.simultaneous_open());
  EXPECT_EQ(r.cold.initiator, c.event(3).dir);  // the SYN's sender
}

TEST(Analyzer, RstAnsweringSynIsRefused) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0});
  EXPECT_TRUE(c.send({false, 0, CI + 1, R | A, 0, 0, 1000}) & kSynRefused);
  c.finish();
  EXPECT_EQ(c.records()[0].cold.stage, Stage::kReset);
  EXPECT_EQ(c.records()[0].cold.rst_from(), 1u);
}

// The client's SYN again, same ISN, after the server's RST refused the first: the connection
// opens again in the same flow (tshark keeps it in one stream), and its end is the new
// attempt's: closed by FIN both ways, not "reset by the server" (until 2026-12-03 the reset
// stage stuck, and a later RST of the client was neither rst_midstream nor the client's).
TEST(Analyzer, ASynAgainAfterARefusalOpensTheConnectionAgain) {
  {
    Conversation c;
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    EXPECT_TRUE(c.send({false, 0, CI + 1, R | A, 0, 0, 1000}) & kSynRefused);
    c.handshake(CI, SI, 1000000);
    c.send({true, C1, S1, A | P, 100, 502, 1020000});
    c.send({false, S1, C1 + 100, A, 0, 502, 1030000});
    c.send({true, C1 + 100, S1, F | A, 0, 502, 1040000});
    c.send({false, S1, C1 + 101, F | A, 0, 502, 1050000});
    c.send({true, C1 + 101, S1 + 1, A, 0, 502, 1060000});
    c.finish();
    ASSERT_EQ(c.records().size(), 1u);
    EXPECT_EQ(c.records()[0].cold.stage, Stage::kClosed);
    EXPECT_EQ(c.records()[0].cold.rst_from(), 0xFF);
  }
  {
    Conversation c;  // re-opened, then reset by the client mid-stream
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    c.send({false, 0, CI + 1, R | A, 0, 0, 1000});
    c.handshake(CI, SI, 1000000);
    c.send({true, C1, S1, A | P, 100, 502, 1020000});
    EXPECT_TRUE(c.send({true, C1 + 100, S1, R | A, 0, 0, 1030000}) & kRstMidstream);
    c.finish();
    EXPECT_EQ(c.records()[0].cold.stage, Stage::kReset);
    EXPECT_EQ(c.records()[0].cold.rst_from(), c.event(7).dir);  // the client's RST (frame 7)
    EXPECT_NE(c.event(7).dir, c.event(2).dir);
  }
  {
    Conversation c;  // the re-sent SYN refused again: a second refusal
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    EXPECT_TRUE(c.send({false, 0, CI + 1, R | A, 0, 0, 1000}) & kSynRefused);
    c.send({true, CI, 0, S, 0, 64240, 1000000, 7, 1460});
    EXPECT_TRUE(c.send({false, 0, CI + 1, R | A, 0, 0, 1001000}) & kSynRefused);
    c.finish();
    EXPECT_EQ(c.records()[0].cold.stage, Stage::kReset);
    EXPECT_EQ(c.records()[0].cold.rst_from(), c.event(4).dir);  // the server
  }
}

TEST(Analyzer, RstMidstream) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  EXPECT_TRUE(c.send({false, S1, C1 + 100, R | A, 0, 0, 30000}) & kRstMidstream);
}

// The keep-alive race (the field notes' ALB 502 case): the server closes an idle
// connection (FIN), the client's next request crosses it, the server's closed socket answers
// with a RST. That RST is rst_after_fin (the request is seen after the FIN near the server,
// before it near the client); a RST without an own FIN, after both FINs, or after a FIN with
// everything the peer sent acknowledged (an abortive close), is not.
TEST(Analyzer, RstFromASideThatHadClosedIsRstAfterFin) {
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A | P, 200, 502, 21000});
    c.send({true, C1 + 100, S1 + 200, A, 0, 502, 22000});
    c.send({false, S1 + 200, C1 + 100, F | A, 0, 502, 5000000});        // idle close by the server
    c.send({true, C1 + 100, S1 + 200, A | P, 100, 502, 5000100});       // the next request, crossing it
    const uint32_t v = c.send({false, S1 + 201, C1 + 100, R, 0, 0, 5000200});
    EXPECT_TRUE(v & kRstAfterFin);
    EXPECT_TRUE(v & kRstMidstream);
    EXPECT_EQ(verdict_name(29), "rst_after_fin");
    c.finish();
    ASSERT_EQ(c.records().size(), 1u);
    const auto& r = c.records()[0];
    EXPECT_EQ(r.cold.rst_from(), c.event(9).dir);  // the server (frame 9, after the 3-frame handshake)
    EXPECT_TRUE(r.rst_after_fin);
  }
  {
    Conversation c;  // seen near the client: the request leaves before the FIN arrives
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A | P, 200, 502, 21000});
    c.send({true, C1 + 100, S1 + 200, A, 0, 502, 22000});
    c.send({true, C1 + 100, S1 + 200, A | P, 100, 502, 5000000});      // the next request
    c.send({false, S1 + 200, C1 + 100, F | A, 0, 502, 5000100});       // the idle close, crossing it
    EXPECT_TRUE(c.send({false, S1 + 201, 0, R, 0, 0, 5000200}) & kRstAfterFin);
    c.finish();
    EXPECT_TRUE(c.records()[0].rst_after_fin);
  }
  {
    Conversation c;  // FIN, its ACK, then a RST: an abortive close, nothing of the client's refused
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    c.send({false, S1, C1 + 100, A | P, 200, 502, 21000});
    c.send({false, S1 + 200, C1 + 100, F | A, 0, 502, 22000});
    c.send({true, C1 + 100, S1 + 201, A, 0, 502, 23000});
    const uint32_t v = c.send({false, S1 + 201, C1 + 100, R | A, 0, 0, 24000});
    EXPECT_TRUE(v & kRstMidstream);
    EXPECT_FALSE(v & kRstAfterFin);
    c.finish();
    EXPECT_FALSE(c.records()[0].rst_after_fin);
  }
  {
    Conversation c;  // reset without a FIN of its own
    c.handshake(CI, SI);
    c.send({true, C1, S1, A | P, 100, 502, 20000});
    EXPECT_FALSE(c.send({false, S1, C1 + 100, R | A, 0, 0, 30000}) & kRstAfterFin);
  }
  {
    Conversation c;  // both closed, then a RST for a late segment
    c.handshake(CI, SI);
    c.send({true, C1, S1, F | A, 0, 502, 20000});
    c.send({false, S1, C1 + 1, F | A, 0, 509, 21000});
    EXPECT_FALSE(c.send({true, C1 + 1, S1 + 1, R, 0, 0, 22000}) & kRstAfterFin);
  }
  {
    Conversation c;  // the client closed and resets while the server still sends
    c.handshake(CI, SI);
    c.send({true, C1, S1, F | A, 0, 502, 20000});
    c.send({false, S1, C1 + 1, A | P, 500, 509, 21000});
    EXPECT_TRUE(c.send({true, C1 + 1, S1 + 500, R, 0, 0, 22000}) & kRstAfterFin);
  }
}

// The seeds' full accept queue: the client's ACK of the SYN/ACK passes the sensor, the
// server's kernel drops it (no room to queue the connection) and re-sends its SYN/ACK on
// its timer. That re-send is synack_after_ack (and a synack_retransmission); a SYN/ACK re-sent
// before any ACK of it (the SYN/ACK or the ACK lost before the sensor saw it) is not.
TEST(Analyzer, SynAckAgainAfterTheClientsAckIsSynAckAfterAck) {
  {
    Conversation c;
    c.handshake(CI, SI);
    const uint32_t v = c.send({false, SI, CI + 1, S | A, 0, 65160, 1005000, 7, 1460});  // 1 s later
    EXPECT_TRUE(v & kSynAckRetransmission);
    EXPECT_TRUE(v & kSynAckAfterAck);
    EXPECT_EQ(verdict_name(30), "synack_after_ack");
    c.send({true, C1, S1, A, 0, 502, 1005100});  // the client's ACK again
    c.finish();
    ASSERT_EQ(c.records().size(), 1u);
    EXPECT_TRUE(c.records()[0].synack_after_ack);
  }
  {
    Conversation c;  // no ACK of the first SYN/ACK seen: an ordinary SYN/ACK retransmission
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    c.send({false, SI, CI + 1, S | A, 0, 65160, 5000, 7, 1460});
    const uint32_t v = c.send({false, SI, CI + 1, S | A, 0, 65160, 1005000, 7, 1460});
    EXPECT_TRUE(v & kSynAckRetransmission);
    EXPECT_FALSE(v & kSynAckAfterAck);
    c.finish();
    EXPECT_FALSE(c.records()[0].synack_after_ack);
  }
}

TEST(Analyzer, NewSynOnClosedFourTupleIsReusedPorts) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, F | A, 0, 502, 20000});
  c.send({false, S1, C1 + 1, F | A, 0, 509, 21000});
  c.send({true, C1 + 1, S1 + 1, A, 0, 502, 22000});
  EXPECT_TRUE(c.send({true, 777777, 0, S, 0, 64240, 900000}) & kReusedPorts);
  c.finish();
  ASSERT_EQ(c.records().size(), 2u);
  EXPECT_EQ(c.stage().counters().restarts, 1u);
}

// A capture that starts mid-stream: the receiver's ACK is seen first, the sender's first
// segment 3,000 bytes past it (in flight before the capture). Three duplicate ACKs, then
// the fast retransmission of the byte the receiver is missing: a retransmission (counted),
// but the sensor never saw the original and cannot know whether it passed here before the
// capture started: no loss location (packets/tcp_dupack.pcapng has this shape).
TEST(Analyzer, MidStreamResendFromBeforeTheCaptureHasNoLossLocation) {
  Conversation c;
  constexpr uint32_t X = 70000;  // the receiver's ACK: the first byte it is missing
  c.send({true, C1, X, A, 0, 502, 0});
  for (uint32_t i = 0; i < 3; ++i) c.send({false, X + 3000 + 1000 * i, C1, A, 1000, 509, 1000 + 100 * i});
  for (uint32_t i = 0; i < 3; ++i) c.send({true, C1, X, A, 0, 502, 2000 + 100 * i});
  const uint32_t v = c.send({false, X, C1, A, 1000, 509, 3000});
  EXPECT_TRUE(v & kRetransmission);
  EXPECT_EQ(v & (kLossUpstream | kLossDownstream), 0u);
  // A re-send of a segment the sensor did see keeps its location: downstream.
  const uint32_t w = c.send({false, X + 3000, C1, A, 1000, 509, 400000});
  EXPECT_TRUE(w & kRetransmission);
  EXPECT_TRUE(w & kLossDownstream);
  c.finish();
  EXPECT_EQ(c.records()[0].count[1].retx_segs, 2u);
}

// The sender's own segment seen first (no SYN, no ACK from the receiver yet), then one that
// starts before it: reordering at the capture's start or a re-send of a byte sent before
// it - either way out of order to tshark, not a retransmission the sensor can vouch for.
TEST(Analyzer, MidStreamSegmentBeforeTheFirstSeenIsNotCountedAsRetransmission) {
  Conversation c;
  constexpr uint32_t S = 90000;
  c.send({false, S, C1, A, 1000, 509, 0});
  const uint32_t v = c.send({false, S - 1000, C1, A, 1000, 509, 100});
  EXPECT_TRUE(v & kOutOfOrder);
  EXPECT_EQ(v & (kLossUpstream | kLossDownstream), 0u);
  c.finish();
  EXPECT_EQ(c.records()[0].count[1].retx_segs, 0u);
}

// A middlebox answers the SYN with a bare ACK from the server's address (its sequence number
// unrelated to the server's), the client retransmits the SYN, and the real SYN/ACK comes
// with the server's own ISN (suricata-verify tls-subjectaltname, nDPI
// tls_multiple_synack_different_seq). The server sent no data in the old sequence space:
// its data after the SYN/ACK is new, not re-sent (Wireshark 4.0 calls every segment of it a
// retransmission; tcptrace and the server's kernel do not).
TEST(Analyzer, SynAckWithANewIsnAfterAStrayAckStartsTheSequenceAfresh) {
  Conversation c;
  constexpr uint32_t kStray = 0x74000000;  // far from SI: compares as after it
  c.send({true, CI, 0, S, 0, 64240, 0});
  c.send({false, kStray, C1, A, 0, 502, 1000});
  c.send({true, CI, 0, S, 0, 64240, 3000000});  // SYN retransmission: same ISN, same connection
  EXPECT_TRUE(c.send({false, SI, C1, S | A, 0, 65160, 3001000}) & kReusedPorts);
  c.send({true, C1, S1, A, 0, 502, 3002000});
  c.send({true, C1, S1, A | P, 200, 502, 3003000});
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.send({false, S1 + 1000 * i, C1 + 200, A, 1000, 509, 3004000 + 100 * i}) &
                  (kRetransmission | kOutOfOrder | kLostSegment),
              0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].count[1].retx_segs, 0u);
  EXPECT_EQ(c.records()[0].count[1].data_bytes, 3000u);
}

// The other way round (nDPI's KakaoTalk captures): the server's first SYN/ACK is the real
// one, a stray second with another ISN follows, the client answers it with a challenge ACK
// for the first, and the server's data continues the first space: new data, not re-sent
// (tshark 4.0 and seqwatch before 2026-12-03 read it all as retransmissions; tcptrace none).
// A real re-send in that space is still one.
TEST(Analyzer, DataWhereThePeersAckPointsAfterTwoSynAcksIsNew) {
  Conversation c;
  constexpr uint32_t kStray = SI + 0x05F00000;  // a later ISN: compares as after SI
  c.send({true, CI, 0, S, 0, 64240, 0});
  c.send({false, SI, C1, S | A, 0, 65160, 40000});
  c.send({true, C1, S1, A, 0, 502, 47000});
  c.send({true, C1, S1, A | P, 184, 502, 54000});
  EXPECT_TRUE(c.send({false, kStray, C1, S | A, 0, 65160, 735000}) & kReusedPorts);
  c.send({true, C1 + 184, S1, A, 0, 502, 737000});  // challenge ACK: still the first space
  c.send({false, S1, C1 + 184, A, 0, 509, 790000});
  for (uint32_t i = 0; i < 3; ++i)
    EXPECT_EQ(c.send({false, S1 + 1280 * i, C1 + 184, A, 1280, 509, 3360000 + 3000 * i}) &
                  (kRetransmission | kOutOfOrder | kLostSegment),
              0u)
        << i;
  EXPECT_TRUE(c.send({false, S1 + 1280, C1 + 184, A, 1280, 509, 3900000}) & kRetransmission);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  EXPECT_EQ(c.records()[0].count[1].retx_segs, 1u);
  EXPECT_EQ(c.records()[0].count[1].data_bytes, 4u * 1280);
}

// Once a side has sent data, a SYN/ACK with another ISN keeps its sequence state (as
// Wireshark does): a re-send of that data is still a retransmission.
TEST(Analyzer, SynAckWithANewIsnAfterDataKeepsTheSequenceState) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({false, S1, C1, A | P, 100, 509, 20000});
  EXPECT_TRUE(c.send({false, 0x74000000, C1, S | A, 0, 509, 30000}) & kReusedPorts);
  EXPECT_TRUE(c.send({false, S1, C1, A | P, 100, 509, 400000}) & kRetransmission);
}

TEST(Analyzer, ImpossibleFlagsAreCountedNotFatal) {
  Conversation c;
  c.handshake(CI, SI);
  EXPECT_TRUE(c.send({true, C1, S1, S | F | R, 0, 502, 20000}) & kBadFlags);
  EXPECT_TRUE(c.send({true, C1, S1, 0, 10, 502, 21000}) & kBadFlags);
  // A 1 GiB sequence jump is a gap, nothing worse. (2 GiB jumps, where sequence order mod
  // 2^32 turns around, are in wrap_badinput_test.cpp with the verdicts tshark gives.)
  EXPECT_EQ(c.send({false, S1 + 0x40000000u, C1, A, 10, 509, 22000}) & ~(kLostSegment | kAckLostSegment), 0u);
  // Another flow in the same table is untouched by the nonsense.
  EXPECT_EQ(c.send({true, C1, S1, A, 0, 502, 23000}) & kBadFlags, 0u);
}

TEST(Analyzer, ManyDuplicatesStayConstantState) {
  // 100k copies of one segment: every copy is a retransmission, state does not grow.
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 100, 502, 20000});
  for (int i = 0; i < 100000; ++i) c.send({true, C1, S1, A, 100, 502, 10000000ull + i * 1000ull});
  c.finish();
  EXPECT_EQ(c.records()[0].count[0].retx_segs, 100000u);
  EXPECT_EQ(c.records()[0].count[0].segments, 100003u);  // SYN, ACK, original, copies
}

TEST(Analyzer, WindowScalingMissingOnOneSide) {
  Conversation c;
  c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
  EXPECT_TRUE(c.send({false, SI, CI + 1, S | A, 0, 65160, 5000, -1, 1460}) & kWscaleMissing);
  c.finish();
  EXPECT_EQ(c.records()[0].half[0].wscale, kWscaleNone);
  EXPECT_EQ(c.records()[0].half[1].wscale, kWscaleNone);
}

// A SYN re-sent without the window scale option of its first attempt, answered without it:
// the handshake that took effect had no offer on either side, so no window_scaling_missing
// (until 2026-12-03 the first attempt's offer was still counted); the same retry answered
// without the option after a retry that kept it still is one.
TEST(Analyzer, ASynRetryWithoutTheOptionIsTheOfferThatCounts) {
  {
    Conversation c;
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    c.send({true, CI, 0, S, 0, 64240, 1000000, -1, 1460});
    EXPECT_EQ(c.send({false, SI, CI + 1, S | A, 0, 65160, 1005000, -1, 1460}) & kWscaleMissing, 0u);
    c.finish();
    EXPECT_EQ(c.records()[0].half[0].wscale, kWscaleNone);
    EXPECT_EQ(c.records()[0].half[1].wscale, kWscaleNone);
  }
  {
    Conversation c;
    c.send({true, CI, 0, S, 0, 64240, 0, 7, 1460});
    c.send({true, CI, 0, S, 0, 64240, 1000000, 7, 1460});
    EXPECT_NE(c.send({false, SI, CI + 1, S | A, 0, 65160, 1005000, -1, 1460}) & kWscaleMissing, 0u);
  }
}

// D-SACK (RFC 2883) as the Linux sender recognises it: the first SACK block below the
// cumulative ACK, or inside the second block. An ordinary SACK block is not one.
TEST(Analyzer, DsackBelowTheCumulativeAck) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 1000, 502, 20000});
  c.send({true, C1 + 1000, S1, A, 1000, 502, 20100});
  c.send({false, S1, C1 + 2000, A, 0, 509, 30000});
  c.send({true, C1, S1, A, 1000, 502, 300000});  // unnecessary timeout retransmission
  const Seg dsack{false, S1, C1 + 2000, A, 0, 509, 310000, -1, 0, {{C1, C1 + 1000}}};
  EXPECT_EQ(c.send(dsack) & (kDsack | kSpuriousByTimestamp), kDsack);
  EXPECT_EQ(c.event(c.frames()).verdict.bits & kDsack, kDsack);
  c.finish();
  EXPECT_EQ(c.records()[0].cold.dsacks, 1u);
}

TEST(Analyzer, DsackInsideTheSecondBlockAndPlainSack) {
  Conversation c;
  c.handshake(CI, SI);
  for (uint32_t i = 0; i < 4; ++i) c.send({true, C1 + 1000 * i, S1, A, 1000, 502, 20000 + i * 100});
  // segment 1 lost: the receiver SACKs 2-4 (plain SACK), then reports 3 received twice
  const Seg plain{false, S1, C1 + 1000, A, 0, 509, 30000, -1, 0, {{C1 + 2000, C1 + 4000}}};
  EXPECT_EQ(c.send(plain) & kDsack, 0u);
  const Seg dup{false, S1, C1 + 1000, A, 0, 509, 30100, -1, 0, {{C1 + 2000, C1 + 3000}, {C1 + 2000, C1 + 4000}}};
  EXPECT_EQ(c.send(dup) & kDsack, kDsack);
  const Seg outside{false, S1, C1 + 1000, A, 0, 509, 30200, -1, 0, {{C1 + 4000, C1 + 5000}, {C1 + 2000, C1 + 4000}}};
  EXPECT_EQ(c.send(outside) & kDsack, 0u);  // first block beside the second, above the ACK: plain SACK
  c.finish();
  EXPECT_EQ(c.records()[0].cold.dsacks, 1u);
}

// Eifel detection (RFC 3522): the first ACK that moves past a retransmitted segment echoes
// the TSval of whichever copy arrived first.
Seg with_ts(Seg s, uint32_t tsval, uint32_t tsecr) {
  s.tsval = tsval;
  s.tsecr = tsecr;
  return s;
}

TEST(Analyzer, TimestampEchoOfTheOriginalMarksTheRetransmissionSpurious) {
  Conversation c;
  c.handshake(CI, SI);
  c.send(with_ts({true, C1, S1, A, 1000, 502, 20000}, 100, 50));
  EXPECT_EQ(c.send(with_ts({true, C1, S1, A, 1000, 502, 300000}, 380, 50)) & kRetransmission, kRetransmission);
  // a duplicate ACK that does not move the ACK point decides nothing
  EXPECT_EQ(c.send(with_ts({false, S1, C1, A, 0, 509, 300100}, 60, 100)) & kSpuriousByTimestamp, 0u);
  // the ACK covering the segment echoes the ORIGINAL's TSval: the original got through
  EXPECT_EQ(c.send(with_ts({false, S1, C1 + 1000, A, 0, 509, 300200}, 61, 100)) & kSpuriousByTimestamp,
            kSpuriousByTimestamp);
  // decided once: a later ACK is not judged again
  c.send(with_ts({true, C1 + 1000, S1, A, 1000, 502, 300300}, 390, 61));
  EXPECT_EQ(c.send(with_ts({false, S1, C1 + 2000, A, 0, 509, 300400}, 62, 100)) & kSpuriousByTimestamp, 0u);
}

TEST(Analyzer, TimestampEchoOfTheRetransmissionIsARealLoss) {
  Conversation c;
  c.handshake(CI, SI);
  c.send(with_ts({true, C1, S1, A, 1000, 502, 20000}, 100, 50));
  c.send(with_ts({true, C1, S1, A, 1000, 502, 300000}, 380, 50));
  c.send(with_ts({true, C1, S1, A, 1000, 502, 900000}, 980, 50));  // second retransmission: the first one is judged
  EXPECT_EQ(c.send(with_ts({false, S1, C1 + 1000, A, 0, 509, 900100}, 61, 380)) & kSpuriousByTimestamp, 0u);
  // without timestamps nothing is judged
  Conversation n;
  n.handshake(CI, SI);
  n.send({true, C1, S1, A, 1000, 502, 20000});
  n.send({true, C1, S1, A, 1000, 502, 300000});
  EXPECT_EQ(n.send({false, S1, C1 + 1000, A, 0, 509, 300100}) & kSpuriousByTimestamp, 0u);
}


// ---- exact copies (TcpStage::is_copy, docs/tcp-analysis.md section 16) --------------------

constexpr uint8_t AP = A | P;

// A data segment, then the same bytes again from a SPAN copy (same IPv4 ID): the copy is
// duplicate_packet, not a retransmission; the flow's counters hold one segment.
TEST(StageCopies, CopyWithTheSameIpIdIsNotARetransmission) {
  Conversation c;
  c.handshake(CI, SI);
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 777}), 0u);
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 29000, -1, 0, {}, 0, 0, 777}), kDuplicatePacket);  // 9 ms later
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 509, 30000, -1, 0, {}, 0, 0, 4242}), 0u);
  EXPECT_EQ(c.send({false, S1, C1 + 100, A, 0, 509, 30001, -1, 0, {}, 0, 0, 4242}), kDuplicatePacket);  // no dup ACK
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 119000, -1, 0, {}, 0, 0, 777}), kDuplicatePacket);  // 99 ms after it
  EXPECT_EQ(c.stage().counters().copies, 3u);
  c.finish();
  const auto& r = c.records()[0];
  EXPECT_EQ(r.count[0].retx_segs, 0u);
  EXPECT_EQ(r.count[0].segments, 3u);  // SYN, ACK, data: the copy is not one of them
  EXPECT_EQ(r.count[1].dup_acks, 0u);
}

// What is not a copy: a new IPv4 ID (the sender sent it again), the same bytes after the
// window, another ACK or window, and every copy when the window is 0.
TEST(StageCopies, ResendsAndLateOrChangedSegmentsAreAnalysed) {
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000});  // per-packet IP IDs: a real re-send
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20050}) & (kRetransmission | kDuplicatePacket), kRetransmission);
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 777});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 120001, -1, 0, {}, 0, 0, 777}) & (kRetransmission | kDuplicatePacket),
              kRetransmission);  // 100.001 ms: past the window (the default, 100 ms)
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 777});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 503, 20010, -1, 0, {}, 0, 0, 777}) & (kRetransmission | kDuplicatePacket),
              kRetransmission);  // another window field
  }
  {
    Conversation c(0x0A000001, 0x0A000002, 40000, 80, 0, /*copy_window_us=*/0);
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 777});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20001, -1, 0, {}, 0, 0, 777}) & (kRetransmission | kDuplicatePacket),
              kRetransmission);
    EXPECT_EQ(c.stage().counters().copies, 0u);
  }
}

// Without an IPv4 identification (ID 0, as for IPv6): a copy only within 1 ms and only if
// the peer sent nothing since the original (a real re-send that fast answers the peer).
TEST(StageCopies, WithoutAnIpIdTheRuleIsStricter) {
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20900, -1, 0, {}, 0, 0, 0}), kDuplicatePacket);
  }
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 21100, -1, 0, {}, 0, 0, 0}) & (kRetransmission | kDuplicatePacket),
              kRetransmission);  // 1.1 ms
  }
  // The peer sent a segment (a duplicate ACK) after the original: analysed as without the
  // copy check, whatever the analysis then says.
  uint32_t bits[2];
  for (const uint32_t window : {10000u, 0u}) {
    Conversation c(0x0A000001, 0x0A000002, 40000, 80, 0, window);
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    c.send({true, C1 + 100, S1, AP, 100, 502, 20010, -1, 0, {}, 0, 0, 0});
    c.send({false, S1, C1, A, 0, 509, 20100});
    bits[window == 0] = c.send({true, C1, S1, AP, 100, 502, 20200, -1, 0, {}, 0, 0, 0});
    EXPECT_EQ(c.stage().counters().copies, 0u);
  }
  EXPECT_EQ(bits[0], bits[1]);
  // The peer's segment in the same microsecond as the original (a busy link, microsecond
  // timestamps): which came first is unknown, and the peer is taken as silent since.
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({false, S1, C1, A, 0, 509, 20000});
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20001, -1, 0, {}, 0, 0, 0}), kDuplicatePacket);
  }
  // The peer's segment in the original's microsecond but after it (the peer had sent nothing
  // yet in that microsecond): not silent. A receiver without SACK answers each out-of-order
  // segment at once with the same duplicate ACK (IPv6: no IP ID; the same TSval tick); seen
  // as duplicate_packet in an IPv6 kernel run without SACK before.
  {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, A, 0, 502, 20000, -1, 0, {}, 0, 0, 0});
    c.send({false, S1 + 2000, C1, AP, 1000, 509, 20000, -1, 0, {}, 0, 0, 0});  // beyond a hole
    EXPECT_EQ(c.send({true, C1, S1, A, 0, 502, 20001, -1, 0, {}, 0, 0, 0}) & kDuplicatePacket, 0u);
    c.send({false, S1 + 3000, C1, AP, 1000, 509, 20001, -1, 0, {}, 0, 0, 0});
    EXPECT_EQ(c.send({true, C1, S1, A, 0, 502, 20001, -1, 0, {}, 0, 0, 0}) & kDuplicatePacket, 0u);  // same µs
    EXPECT_EQ(c.stage().counters().copies, 0u);
  }
  // Identical RSTs without an IP ID (a closed port answering each segment in flight) are
  // never copies; with an IP ID they are.
  for (const int32_t id : {0, 99}) {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000});
    c.send({false, S1, 0, R, 0, 0, 20300, -1, 0, {}, 0, 0, id});
    const uint32_t v = c.send({false, S1, 0, R, 0, 0, 20700, -1, 0, {}, 0, 0, id});
    EXPECT_EQ((v & kDuplicatePacket) != 0, id != 0) << "IP ID " << id;
  }
}

// IPv4 ID 0 (or IPv6) with timestamps: an equal TSval 10 ms or more after the original is
// a copy whatever the peer did (a re-send that late carries a newer TSval); sooner, the
// strict rule applies. Without timestamps, only the strict rule.
TEST(StageCopies, AnEqualTsvalLaterThanATickIsACopy) {
  for (const bool ts : {true, false}) {
    Conversation c;
    c.handshake(CI, SI);
    const uint32_t tsval = ts ? 5000 : 0, tsecr = ts ? 7000 : 0;
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, tsval, tsecr, 0});
    c.send({true, C1 + 100, S1, AP, 100, 502, 20100, -1, 0, {}, tsval, tsecr, 0});
    c.send({false, S1, C1 + 100, A, 0, 509, 25000});  // the peer acknowledges the first
    const uint32_t v = c.send({true, C1 + 100, S1, AP, 100, 502, 35000, -1, 0, {}, tsval, tsecr, 0});  // 14.9 ms
    if (ts) {
      EXPECT_EQ(v, kDuplicatePacket);
    } else {
      EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), kRetransmission);
    }
  }
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 5000, 7000, 0});
  c.send({false, S1, C1, A, 0, 509, 21000});
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 25000, -1, 0, {}, 5000, 7000, 0}) & (kRetransmission | kDuplicatePacket),
            kRetransmission);  // 5 ms, under a tick, the peer active
}

// Sooner than a tick, with the peer active: the sender's own later segment with another
// TSval proves its clock moved on since the original, so the same bytes again are a copy
// (a re-send now would carry the newer TSval); while its TSvals stay equal, they are not.
TEST(StageCopies, TheSendersClockMovedOnSinceTheOriginal) {
  for (const uint32_t later_tsval : {5002u, 5000u}) {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 5000, 7000, 0});
    c.send({true, C1 + 100, S1, AP, 100, 502, 20400, -1, 0, {}, later_tsval, 7000, 0});
    c.send({false, S1, C1 + 100, A, 0, 509, 20600, -1, 0, {}, 7001, 5000, 0});  // the peer speaks
    const uint32_t v = c.send({true, C1, S1, AP, 100, 502, 21500, -1, 0, {}, 5000, 7000, 0});  // 1.5 ms
    if (later_tsval != 5000) {
      EXPECT_EQ(v, kDuplicatePacket);
    } else {
      EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), kRetransmission);
    }
  }
  // That needs no window: a router holding the first SYN a second for neighbour
  // resolution forwards it after the sender's re-send (newer TSval) went through.
  Conversation c;
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64800, 0, 7, 1460, {}, 5000, 0, 0}), 0u);
  EXPECT_NE(c.send({true, CI, 0, S, 0, 64800, 1024000, 7, 1460, {}, 6025, 0, 0}) & kSynRetransmission, 0u);
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64800, 1024020, 7, 1460, {}, 5000, 0, 0, 63}), kDuplicatePacket);  // the held one
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64800, 1024025, 7, 1460, {}, 6025, 0, 0, 63}), kDuplicatePacket);  // the re-send's copy
  // Past the window, an equal IPv4 ID alone is not enough (IDs come round).
  Conversation d;
  d.handshake(CI, SI);
  d.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 5000, 7000, 777});
  d.send({true, C1 + 100, S1, AP, 100, 502, 20400, -1, 0, {}, 5000, 7000});
  EXPECT_EQ(d.send({true, C1, S1, AP, 100, 502, 400000, -1, 0, {}, 5000, 7000, 777}) & (kRetransmission | kDuplicatePacket),
            kRetransmission);
  // Counted apart for the report (a mirror's copy that late, or a sender keeping its ID).
  EXPECT_EQ(d.stage().counters().late_id_matches, 1u);
  EXPECT_EQ(d.stage().counters().late_hop_matches, 0u);
}

// A router holding the first SYNs for neighbour resolution forwards them together, seconds
// late, and a SPAN session on both sides of it sees them again one hop further on (the other
// TTL parity). The copy of the second has a TSval whose low 3 bits equal the third's (the
// "moved on" evidence cannot see it) and comes 2 s after its original, past the window: a
// SYN with an equal nonzero TSval and the other TTL parity is a copy at any age (a re-sent
// SYN carries a newer TSval). Not so on the same path (a tool re-sending a prebuilt SYN
// keeps its TSval), with TSval 0, or without timestamps.
TEST(StageCopies, AHeldSynWithAnEqualTsvalIsACopyAtAnyAge) {
  Conversation c;
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64800, 0, 7, 1460, {}, 5000, 0, 0}), 0u);
  EXPECT_NE(c.send({true, CI, 0, S, 0, 64800, 1024000, 7, 1460, {}, 6025, 0, 0}) & kSynRetransmission, 0u);
  EXPECT_NE(c.send({true, CI, 0, S, 0, 64800, 3072000, 7, 1460, {}, 8073, 0, 0}) & kSynRetransmission, 0u);
  // 6025 & 7 == 8073 & 7: only the new rule tells this one (2.05 s late) from a re-send.
  EXPECT_EQ(c.send({true, CI, 0, S, 0, 64800, 3072025, 7, 1460, {}, 6025, 0, 0, 63}), kDuplicatePacket);
  EXPECT_EQ(c.stage().counters().copies, 1u);
  // The same SYN again 2 s later on the same path (TTL 64), timestamps with TSval 0 (and a
  // TSecr, so the option is there), or no timestamps, one hop further on: re-sends.
  struct Case {
    uint32_t tsval, tsecr;
    uint8_t ttl;
  };
  for (const Case k : {Case{5000, 0, 64}, Case{0, 1, 63}, Case{0, 0, 63}}) {
    Conversation d;
    d.send({true, CI, 0, S, 0, 64800, 0, 7, 1460, {}, k.tsval, k.tsecr, 0});
    const uint32_t v = d.send({true, CI, 0, S, 0, 64800, 2000000, 7, 1460, {}, k.tsval, k.tsecr, 0, k.ttl});
    EXPECT_NE(v & kSynRetransmission, 0u) << k.tsval << "/" << k.tsecr << "/" << int{k.ttl};
    EXPECT_EQ(d.stage().counters().copies, 0u);
  }
}

// A router with a deep queue between two mirrored ports (a SPAN session on both of its
// sides) forwards a data segment 300 ms after the sensor saw it enter, past the window, and
// the sender sent nothing newer meanwhile (its clock not seen to move on). An equal IPv4 ID
// or an equal nonzero TSval, one routed hop further on, is still the same transmission
// (a re-send carries a new ID and a newer TSval): a copy at any age. Either alone is not
// (StageCopies.TheSendersClockMovedOnSinceTheOriginal: the ID alone). Before 2026-12-06 this
// held for SYNs only: kernel SPAN runs with a 300 ms tbf queue read 170 and 143 copies as
// re-sends (2,913 and 2,464 client segments for the kernel's 2,743 and 2,321), and most likely
// a CI run's ~30 ms queue one, under load (docs/tcp-analysis.md section 16).
TEST(StageCopies, OneHopOnWithItsIdOrTsvalIsACopyAtAnyAge) {
  struct Case {
    uint32_t tsval, tsecr;
    int32_t ip_id;
    uint8_t ttl;
    bool copy;
  };
  for (const Case k : {Case{5000, 7000, 0, 63, true}, Case{0, 0, 777, 63, true}, Case{5000, 7000, 777, 63, true},
                       Case{5000, 7000, 0, 64, false}, Case{0, 0, 777, 64, false}, Case{0, 1, 0, 63, false}}) {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, k.tsval, k.tsecr, k.ip_id});
    const uint32_t v = c.send({true, C1, S1, AP, 100, 502, 320000, -1, 0, {}, k.tsval, k.tsecr, k.ip_id, k.ttl});
    EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), k.copy ? kDuplicatePacket : kRetransmission)
        << k.tsval << " " << k.ip_id << " " << int{k.ttl};
    EXPECT_EQ(c.stage().counters().copies, k.copy ? 1u : 0u);
    // Not copies, counted apart: on the same path with an ID or TSval (late_id_matches), one
    // hop on with neither (TSval 0: late_hop_matches).
    EXPECT_EQ(c.stage().counters().late_id_matches, !k.copy && k.ttl == 64 ? 1u : 0u);
    EXPECT_EQ(c.stage().counters().late_hop_matches, !k.copy && k.ttl == 63 ? 1u : 0u);
  }
}

// IPv6 (or IPv4 ID 0) without timestamps: the TTL parity is the only evidence, and it holds
// for the window only. Past it the segment is analysed as a re-send and counted apart
// (late_hop_matches: the report's "LATE COPIES?" line names the remedy, a longer window),
// and a window raised to 1 s takes it for a copy.
TEST(StageCopies, TheTtlParityAloneHoldsForTheWindow) {
  for (const uint32_t window_us : {100000u, 1000000u}) {
    Conversation c(0x0A000001, 0x0A000002, 40000, 80, 0, window_us);
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    const uint32_t v = c.send({true, C1, S1, AP, 100, 502, 320000, -1, 0, {}, 0, 0, 0, 63});
    const bool copy = window_us > 300000;
    EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), copy ? kDuplicatePacket : kRetransmission) << window_us;
    EXPECT_EQ(c.stage().counters().late_hop_matches, copy ? 0u : 1u);
  }
  // The same bytes late on the original's path (TTL 64): a re-send, no late copy.
  Conversation d;
  d.handshake(CI, SI);
  d.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
  EXPECT_NE(d.send({true, C1, S1, AP, 100, 502, 320000, -1, 0, {}, 0, 0, 0}) & kRetransmission, 0u);
  EXPECT_EQ(d.stage().counters().late_hop_matches, 0u);
}

// Two duplicate ACKs of one receiver without an IP ID, the peer silent between them, that
// differ only in their SACK blocks (their TCP checksums may be equal: captured before
// checksum offload, the field holds only the pseudo-header's sum): both are analysed. The
// same ACK again, SACK block and all, is a copy.
TEST(StageCopies, DuplicateAcksWithAnotherSackBlockAreNotCopies) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, AP, 100, 502, 20000});
  c.send({true, C1 + 100, S1, AP, 100, 502, 20010});
  c.send({true, C1 + 200, S1, AP, 100, 502, 20020});
  c.send({false, S1, C1, A, 0, 509, 20100, -1, 0, {{C1 + 100, C1 + 200}}, 0, 0, 0});
  EXPECT_EQ(c.send({false, S1, C1, A, 0, 509, 20200, -1, 0, {{C1 + 100, C1 + 300}}, 0, 0, 0}), kDuplicateAck);
  EXPECT_EQ(c.send({false, S1, C1, A, 0, 509, 20210, -1, 0, {{C1 + 100, C1 + 300}}, 0, 0, 0}), kDuplicatePacket);
  EXPECT_EQ(c.stage().counters().copies, 1u);
}

// A SPAN session with ports on both sides of a router sees each packet twice, the second
// time with the TTL one lower. Without any other identity evidence (IPv4 ID 0, no
// timestamps, the peer active, even a RST), a TTL of the other parity than the original's
// makes the same bytes a copy within the window; the same TTL leaves the stricter rule.
TEST(StageCopies, OneRoutedHopFurtherOnIsTheSameTransmission) {
  for (const uint8_t ttl : {uint8_t{63}, uint8_t{64}, uint8_t{62}}) {
    Conversation c;
    c.handshake(CI, SI);
    Seg data{true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0};
    c.send(data);
    c.send({false, S1, C1, A, 0, 509, 20100, -1, 0, {}, 0, 0, 0});  // the peer speaks in between
    data.t_us = 22000;  // 2 ms: past the 1 ms of the strict rule
    data.ttl = ttl;
    const uint32_t v = c.send(data);
    Seg rst{false, S1, 0, R, 0, 0, 30000, -1, 0, {}, 0, 0, 0};
    c.send(rst);
    rst.t_us = 30030;
    rst.ttl = ttl;
    const uint32_t r = c.send(rst);
    if (ttl == 63) {
      EXPECT_EQ(v, kDuplicatePacket);
      EXPECT_EQ(r, kDuplicatePacket);
      EXPECT_EQ(c.stage().counters().copies, 2u);
    } else {  // same parity: as without the TTL (62: two hops, not told apart)
      EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), kRetransmission) << int{ttl};
      EXPECT_EQ(r & kDuplicatePacket, 0u) << int{ttl};
      EXPECT_EQ(c.stage().counters().copies, 0u);
    }
  }
  // Within the window (100 ms) the other parity is the copy one hop further on, however
  // long the router queued it (30 ms in the IPv6 kernel runs without timestamps); past the
  // window the same bytes are a retransmission.
  for (const uint64_t later : {uint64_t{10001}, uint64_t{50000}, uint64_t{100000}, uint64_t{100001}}) {
    Conversation c;
    c.handshake(CI, SI);
    c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
    c.send({false, S1, C1, A, 0, 509, 20100, -1, 0, {}, 0, 0, 0});  // the peer speaks in between
    const uint32_t v = c.send({true, C1, S1, AP, 100, 502, 20000 + later, -1, 0, {}, 0, 0, 0, 63});
    if (later <= 100000) {
      EXPECT_EQ(v, kDuplicatePacket) << later;
    } else {
      EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), kRetransmission) << later;
    }
  }
  // A copy leaves the original's TTL in place: the sender's own re-send later (TTL 64) is
  // analysed, and its copy one hop on (TTL 63) is again a copy.
  Conversation d;
  d.handshake(CI, SI);
  d.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
  EXPECT_EQ(d.send({true, C1, S1, AP, 100, 502, 20030, -1, 0, {}, 0, 0, 0, 63}), kDuplicatePacket);
  d.send({false, S1, C1, A, 0, 509, 20100, -1, 0, {}, 0, 0, 0});
  EXPECT_EQ(d.send({true, C1, S1, AP, 100, 502, 60000, -1, 0, {}, 0, 0, 0}) & (kRetransmission | kDuplicatePacket),
            kRetransmission);
  EXPECT_EQ(d.send({true, C1, S1, AP, 100, 502, 60030, -1, 0, {}, 0, 0, 0, 63}), kDuplicatePacket);
}

// A SPAN session on both sides of a router, no IPv4 ID (IPv6), within 1 ms, the peer silent:
// once a transmission was seen at both points (TTL 64, then its copy at 63), the same bytes
// again at TTL 64 are the sender's second transmission (two equal ACKs answering two equal
// SYN/ACKs, from an IPv6 SPAN kernel run), and their copy at 63 is again a copy. Seen at a
// third point (TTL 62: the same parity, two hops on), it stays a copy by the strict rule.
TEST(StageCopies, TheSameHopAgainAfterBothCopiesIsASecondTransmission) {
  for (const uint8_t third : {uint8_t{64}, uint8_t{62}}) {
    Conversation c;
    c.handshake(CI, SI);
    const Seg data{true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0, 64};
    EXPECT_EQ(c.send(data), 0u);
    Seg again = data;
    again.t_us = 20050;
    again.ttl = 63;
    EXPECT_EQ(c.send(again), kDuplicatePacket);
    again.t_us = 20120;
    again.ttl = third;
    const uint32_t v = c.send(again);
    again.t_us = 20170;
    again.ttl = 63;
    const uint32_t w = c.send(again);
    if (third == 64) {
      EXPECT_EQ(v & (kRetransmission | kDuplicatePacket), kRetransmission);
      EXPECT_EQ(w, kDuplicatePacket);
      EXPECT_EQ(c.stage().counters().copies, 2u);
    } else {
      EXPECT_EQ(v, kDuplicatePacket);
      EXPECT_EQ(w, kDuplicatePacket);
      EXPECT_EQ(c.stage().counters().copies, 3u);
    }
  }
  // Without the copy one hop on, the same bytes at the same hop within 1 ms stay a copy
  // (a mirror of one link that sends both its directions' copies with one TTL).
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, AP, 100, 502, 20000, -1, 0, {}, 0, 0, 0});
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20120, -1, 0, {}, 0, 0, 0}), kDuplicatePacket);
  EXPECT_EQ(c.send({true, C1, S1, AP, 100, 502, 20240, -1, 0, {}, 0, 0, 0}), kDuplicatePacket);
}

}  // namespace
}  // namespace seqwatch::testing
