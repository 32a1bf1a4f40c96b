// Counter carry (src/tcp/counter_carry.hpp): a long flow's 16/32-bit entry counters are
// moved into the stage's 64-bit table before they fill up, and its flow record holds the
// exact whole-flow counts.
#include <gtest/gtest.h>

#include <cstring>

#include "segment_builder.hpp"
#include "tcp/counter_carry.hpp"

namespace seqwatch::testing {
namespace {

using namespace seqwatch::tcp;

// The record the stage builds: the entry's counters, plus what was carried.
event::FlowRecord record_of(const flow::FlowEntry& e, CounterCarry& carry, uint32_t slot) {
  event::FlowRecord r;
  r.count[0].add(e.count[0]);
  r.count[1].add(e.count[1]);
  r.totals.add(e.cold);
  if (e.status & flow::kFlowCarried) carry.settle(slot, r);
  r.saturated = e.status & flow::kFlowSaturated;
  return r;
}

flow::FlowEntry long_flow() {
  flow::FlowEntry e;
  e.status = flow::kFlowTwoWay | flow::kFlowCarryDue;
  e.count[0].segments = (1u << 31) + 5;
  e.count[0].retx_segs = 77;
  e.count[0].data_bytes = 3'000'000'000'000ull;
  e.count[0].retx_bytes = 4000;
  e.count[0].fast_retx = 40000;
  e.count[0].rto_retx = 3;
  e.count[1].segments = 1'000'000;
  e.count[1].dup_acks = 600;
  e.count[1].pace_gap = 625;  // 5 ms: analysis state, not a count
  e.count[1].lost_segments = 2;
  e.cold.rtt_samples = (1u << 31) + 7;
  e.cold.rtt_sum_us = uint64_t{(1u << 31) + 7} * 1234 + 999;
  e.cold.rtt_min_us = 100;
  e.cold.rtt_max_us = 9000;
  e.cold.dsacks = 33000;
  e.cold.midack_count = 12;
  e.cold.tail_probes = 130;
  return e;
}

TEST(CounterCarry, MovesTheCountsOutAndTheRecordAddsThemBack) {
  CounterCarry carry(64);
  flow::FlowEntry e = long_flow();
  const flow::FlowEntry before = e;
  ASSERT_TRUE(carry.carry(e, 7));
  EXPECT_EQ(carry.in_use(), 1u);
  EXPECT_EQ(e.status, flow::kFlowTwoWay | flow::kFlowCarried);
  // Zeroed in the entry, except what the analysis reads: data_bytes and the RTT mean.
  EXPECT_EQ(e.count[0].segments, 0u);
  EXPECT_EQ(e.count[0].fast_retx, 0u);
  EXPECT_EQ(e.count[1].dup_acks, 0u);
  EXPECT_EQ(e.count[0].data_bytes, before.count[0].data_bytes);
  EXPECT_EQ(e.count[1].pace_gap, 625u);
  EXPECT_EQ(e.cold.dsacks, 0u);
  EXPECT_EQ(e.cold.tail_probes, 0u);
  EXPECT_EQ(e.cold.rtt_samples, 1u << 20);
  EXPECT_EQ(e.cold.rtt_sum_us / e.cold.rtt_samples, before.cold.rtt_sum_us / before.cold.rtt_samples);
  EXPECT_EQ(e.cold.rtt_min_us, 100u);
  EXPECT_EQ(e.cold.rtt_max_us, 9000u);

  // The flow goes on: more counts in the entry, then the record.
  e.count[0].segments += 10;
  e.count[0].fast_retx += 1;
  e.cold.dsacks += 2;
  ++e.cold.rtt_samples;
  e.cold.rtt_sum_us += 5000;
  const event::FlowRecord r = record_of(e, carry, 7);
  EXPECT_EQ(carry.in_use(), 0u);
  EXPECT_FALSE(r.saturated);
  EXPECT_EQ(r.count[0].segments, (uint64_t{1} << 31) + 15);
  EXPECT_EQ(r.count[0].retx_segs, 77u);
  EXPECT_EQ(r.count[0].data_bytes, 3'000'000'000'000ull);
  EXPECT_EQ(r.count[0].retx_bytes, 4000u);
  EXPECT_EQ(r.count[0].fast_retx, 40001u);
  EXPECT_EQ(r.count[0].rto_retx, 3u);
  EXPECT_EQ(r.count[1].segments, 1'000'000u);
  EXPECT_EQ(r.count[1].dup_acks, 600u);
  EXPECT_EQ(r.count[1].lost_segments, 2u);
  EXPECT_EQ(r.totals.dsacks, 33002u);
  EXPECT_EQ(r.totals.midack_count, 12u);
  EXPECT_EQ(r.totals.tail_probes, 130u);
  EXPECT_EQ(r.totals.rtt_samples, uint64_t{(1u << 31) + 8});
  EXPECT_EQ(r.totals.rtt_sum_us, before.cold.rtt_sum_us + 5000);
}

TEST(CounterCarry, CarriesAddUpAndSettleFreesTheSlot) {
  CounterCarry carry(16);
  flow::FlowEntry e;
  uint64_t sent = 0;
  for (int round = 0; round < 5; ++round) {
    e.count[1].spurious_retx = 40000;
    e.count[1].segments = 50000;
    sent += 50000;
    ASSERT_TRUE(carry.carry(e, 3));
  }
  EXPECT_EQ(carry.in_use(), 1u);
  const event::FlowRecord r = record_of(e, carry, 3);
  EXPECT_EQ(r.count[1].spurious_retx, 200000u);
  EXPECT_EQ(r.count[1].segments, sent);
  EXPECT_EQ(carry.in_use(), 0u);
  // A new flow in the same entry starts from nothing.
  flow::FlowEntry fresh;
  const event::FlowRecord r2 = record_of(fresh, carry, 3);
  EXPECT_EQ(r2.count[1].segments, 0u);
}

TEST(CounterCarry, NoRoomSaturatesBelowTheLimitAndSaysSo) {
  CounterCarry carry(CounterCarry::kProbe);  // one probe window: the whole table
  for (uint32_t slot = 0; slot < CounterCarry::kProbe; ++slot) {
    flow::FlowEntry e;
    e.count[0].segments = 1u << 31;
    ASSERT_TRUE(carry.carry(e, slot)) << slot;
  }
  flow::FlowEntry e;
  e.status = flow::kFlowCarryDue;
  e.count[0].segments = 0xFFFFFFF0u;
  e.count[0].dup_acks = 0xFFFF;
  e.count[1].fast_retx = 0xFFFF;
  EXPECT_FALSE(carry.carry(e, 100));
  EXPECT_EQ(e.status, flow::kFlowSaturated);
  EXPECT_EQ(e.count[0].segments, CounterCarry::kHold32);
  EXPECT_EQ(e.count[0].dup_acks, 0xFFFFu);  // 16-bit counters saturate (count_up), none is lowered
  EXPECT_EQ(e.count[1].fast_retx, 0xFFFFu);
  const event::FlowRecord r = record_of(e, carry, 100);
  EXPECT_TRUE(r.saturated);
  EXPECT_EQ(r.count[0].segments, CounterCarry::kHold32);
  // Room again: the next try carries.
  flow::FlowEntry gone;
  gone.status = flow::kFlowCarried;
  record_of(gone, carry, 0);
  e.status |= flow::kFlowCarryDue;
  EXPECT_TRUE(carry.carry(e, 100));
  EXPECT_EQ(e.status, flow::kFlowSaturated | flow::kFlowCarried);
}

// Through the TCP stage: 70,000 duplicate ACKs carrying a D-SACK, more than the entry's
// 16-bit D-SACK counter holds. The record counts every one (it saturated at 65,535 before),
// and the analysis of each is unchanged by the carries.
TEST(CounterCarry, StageCountsEveryDsackOfALongFlow) {
  Conversation c;
  c.handshake(CI, SI);
  c.send({true, C1, S1, A, 1000, 502, 20000});
  c.send({true, C1 + 1000, S1, A, 1000, 502, 20100});
  c.send({false, S1, C1 + 2000, A, 0, 509, 30000});
  constexpr uint32_t kN = 70000;
  uint32_t dsack_verdicts = 0, dup_verdicts = 0;
  for (uint32_t i = 0; i < kN; ++i) {
    const Seg dsack{false, S1, C1 + 2000, A, 0, 509, 40000 + uint64_t{i} * 100, -1, 0, {{C1, C1 + 1000}}};
    const uint32_t bits = c.send(dsack);
    dsack_verdicts += (bits & kDsack) != 0;
    dup_verdicts += (bits & kDuplicateAck) != 0;
  }
  EXPECT_EQ(dsack_verdicts, kN);
  EXPECT_EQ(dup_verdicts, kN);
  EXPECT_EQ(c.stage().counters().carries, 2u);  // at 32,768 and at 65,536 D-SACKs
  EXPECT_EQ(c.stage().counters().saturated_flows, 0u);
  c.finish();
  ASSERT_EQ(c.records().size(), 1u);
  const event::FlowRecord& r = c.records()[0];
  EXPECT_EQ(r.totals.dsacks, kN);
  EXPECT_EQ(r.count[1].dup_acks, kN);
  EXPECT_EQ(r.count[1].segments, kN + 2);  // SYN/ACK, the ACK of the data, the duplicates
  EXPECT_EQ(r.count[0].segments, 4u);
  EXPECT_EQ(r.count[0].data_bytes, 2000u);
  EXPECT_FALSE(r.saturated);
  EXPECT_EQ(c.stage().carry().in_use(), 0u);
}

}  // namespace
}  // namespace seqwatch::testing

namespace seqwatch::testing {
namespace {

using namespace seqwatch::tcp;

// One connection over 25 s of packet time: data each second, each ACKed.
void long_connection(Conversation& c) {
  constexpr uint8_t A = decode::kTcpAck;
  constexpr uint32_t CI = 1000, SI = 5000, C1 = CI + 1, S1 = SI + 1;
  c.handshake(CI, SI);
  for (uint32_t s = 1; s <= 25; ++s) {
    const uint64_t t = uint64_t{s} * 1000000;
    c.send({true, C1 + (s - 1) * 100, S1, A, 100, 502, t});
    c.send({false, S1, C1 + s * 100, A, 0, 509, t + 5000});
  }
  // A second connection wholly inside the third period: no active record.
  c.send_on(40001, {true, 7000, 0, decode::kTcpSyn, 0, 64240, 21000000, 7, 1460});
  c.send_on(40001, {false, 9000, 7001, decode::kTcpSyn | A, 0, 65160, 21005000, 7, 1460});
  c.send_on(40001, {true, 7001, 9001, A, 0, 502, 21010000});
  c.finish();
}

// Active timeout 10 s (the conversation's time base is a multiple of it): the connection's
// first packets at or past 10 s and 20 s each write an `active` record with its counts so
// far, cumulative; its final record is the one it gets without an active timeout.
TEST(ActiveTimeout, LongFlowGetsCumulativeRecordsAtEachNewPeriod) {
  Conversation with, without;
  with.set_active_timeout_ns(10'000'000'000ull);
  long_connection(with);
  long_connection(without);
  ASSERT_EQ(without.records().size(), 2u);
  ASSERT_EQ(with.records().size(), 4u);
  EXPECT_EQ(with.stage().counters().active_records, 2u);
  EXPECT_EQ(with.stage().counters().records, 2u);
  EXPECT_EQ(without.stage().counters().active_records, 0u);

  const event::FlowRecord& at10 = with.records()[0];
  const event::FlowRecord& at20 = with.records()[1];
  EXPECT_EQ(at10.reason, flow::RemoveReason::kActive);
  EXPECT_EQ(at20.reason, flow::RemoveReason::kActive);
  EXPECT_EQ(at10.flow_id, at20.flow_id);
  const uint64_t base = 1700000000000000000ull;
  EXPECT_EQ(at10.last_ts_ns, base + 9005000ull * 1000);   // the server's ACK of second 9
  EXPECT_EQ(at20.last_ts_ns, base + 19005000ull * 1000);
  // Client: SYN, handshake ACK, 9 (then 19) data segments; server: SYN/ACK + 9 (19) ACKs.
  EXPECT_EQ(at10.count[0].segments, 11u);
  EXPECT_EQ(at10.count[0].data_bytes, 900u);
  EXPECT_EQ(at10.count[1].segments, 10u);
  EXPECT_EQ(at20.count[0].segments, 21u);
  EXPECT_EQ(at20.count[0].data_bytes, 1900u);
  EXPECT_GE(at20.totals.rtt_samples, at10.totals.rtt_samples);

  // The final records are those of the run without the timeout, byte for byte.
  for (size_t i = 0; i < 2; ++i) {
    const event::FlowRecord& a = with.records()[2 + i];
    const event::FlowRecord& b = without.records()[i];
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.flow_id, b.flow_id);
    EXPECT_EQ(a.last_ts_ns, b.last_ts_ns);
    EXPECT_EQ(std::memcmp(a.count, b.count, sizeof a.count), 0);
    EXPECT_EQ(std::memcmp(&a.totals, &b.totals, sizeof a.totals), 0);
    EXPECT_EQ(std::memcmp(&a.cold, &b.cold, sizeof a.cold), 0);
    EXPECT_EQ(std::memcmp(a.half, b.half, sizeof a.half), 0);
  }
  // The long connection's final record (flows still open at the end are flushed in the
  // table's bucket order, not in the order they began).
  const auto& last = with.records()[2].flow_id == at10.flow_id ? with.records()[2] : with.records()[3];
  EXPECT_EQ(last.flow_id, at10.flow_id);
  EXPECT_EQ(last.count[0].segments, 27u);
}

}  // namespace
}  // namespace seqwatch::testing
