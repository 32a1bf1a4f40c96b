// The retransmission report stays bounded on a sensor that runs for weeks: it keeps the
// flows with the most retransmissions (the same top rows an unbounded list would give),
// prunes services and clients without retransmissions before it stops tracking new ones,
// forgets one-sided flows when their table is full, and counts every one of these; the
// totals always cover every flow.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "app/queue_report.hpp"
#include "app/report.hpp"
#include "app/shape.hpp"

namespace seqwatch::app {
namespace {

// A flow from client 10.0.<c> to server 10.1.<s>:80 with `retx` retransmitted segments.
event::FlowRecord flow(uint32_t id, uint32_t client, uint32_t server, uint32_t retx, bool one_sided = false) {
  event::FlowRecord r{};
  r.flow_id = id;
  r.key.family = 4;
  r.key.proto = 6;
  const uint8_t a[4] = {10, 0, static_cast<uint8_t>(client >> 8), static_cast<uint8_t>(client)};
  const uint8_t b[4] = {10, 1, static_cast<uint8_t>(server >> 8), static_cast<uint8_t>(server)};
  std::memcpy(r.key.addr_a.data(), a, 4);
  std::memcpy(r.key.addr_b.data(), b, 4);
  r.key.port_a = 40000;
  r.key.port_b = 80;
  r.cold.initiator = 0;
  r.count[0].segments = 100;
  r.count[0].retx_segs = retx;
  r.count[1].segments = one_sided ? 0 : 50;
  return r;
}

// The endpoint tables' allocator: arrays of 1 MiB and more are mapped on a huge-page
// boundary, smaller ones come from the heap, and a table that grows through both keeps
// every entry.
TEST(Report, EndpointTablesGrowIntoHugePageMappings) {
  util::HugeAllocator<uint64_t> alloc;
  uint64_t* big = alloc.allocate(3u << 17);  // 3 MiB
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big) % util::kHugePage, 0u);
  for (size_t i = 0; i < (3u << 17); i += 512) big[i] = i;
  EXPECT_EQ(big[(3u << 17) - 512], (3u << 17) - 512);
  alloc.deallocate(big, 3u << 17);
  uint64_t* small = alloc.allocate(100);
  ASSERT_NE(small, nullptr);
  small[99] = 7;
  alloc.deallocate(small, 100);

  absl::flat_hash_map<uint64_t, uint64_t, absl::Hash<uint64_t>, std::equal_to<uint64_t>,
                      util::HugeAllocator<std::pair<const uint64_t, uint64_t>>>
      m;
  for (uint64_t k = 0; k < 200000; ++k) m[k * 7919] = k;  // > 1 MiB of slots after a few growths
  ASSERT_EQ(m.size(), 200000u);
  for (uint64_t k = 0; k < 200000; k += 997) EXPECT_EQ(m.at(k * 7919), k);
}

TEST(Report, KeepsTheSameTopFlowsAsAnUnboundedList) {
  RetransReport small(8), big(100000);
  // 500 flows, retransmissions in a scrambled order, many ties.
  for (uint32_t i = 1; i <= 500; ++i) {
    const uint32_t retx = (i * 7919u) % 37;
    small.add(flow(i, i % 50, i % 20, retx));
    big.add(flow(i, i % 50, i % 20, retx));
  }
  const auto js = small.to_json(8), jb = big.to_json(8);
  EXPECT_EQ(js["top_flows"], jb["top_flows"]);
  ASSERT_EQ(js["top_flows"].size(), 8u);
  EXPECT_GE(js["top_flows"][0]["retx_segments"].get<uint64_t>(), js["top_flows"][7]["retx_segments"].get<uint64_t>());
  uint64_t with_retx = 0;
  for (uint32_t i = 1; i <= 500; ++i) with_retx += ((i * 7919u) % 37) != 0;
  EXPECT_EQ(js["report_limits"]["flow_lines_dropped"].get<uint64_t>(), with_retx - 8);
  EXPECT_EQ(jb["report_limits"]["flow_lines_dropped"].get<uint64_t>(), 0u);
  // Totals and services are not touched by the flow-line bound.
  EXPECT_EQ(js["flows"], jb["flows"]);
  EXPECT_EQ(js["retx_segments"], jb["retx_segments"]);
  EXPECT_EQ(js["top_services"], jb["top_services"]);
}

TEST(Report, PrunesEndpointsWithoutRetransmissionsFirst) {
  RetransReport r(100, 16);
  // Client 1 retransmits; then 40 quiet clients arrive (more than 16 entries).
  r.add(flow(1, 1, 1, 5));
  for (uint32_t c = 100; c < 140; ++c) r.add(flow(c, c, 1, 0));
  r.add(flow(200, 1, 1, 3));  // client 1 again: still tracked, its rows add up
  const auto j = r.to_json(10);
  ASSERT_EQ(j["top_clients"].size(), 1u) << j.dump();
  EXPECT_EQ(j["top_clients"][0]["client"], "10.0.0.1");
  EXPECT_EQ(j["top_clients"][0]["flows"].get<uint64_t>(), 2u);
  EXPECT_EQ(j["top_clients"][0]["retx_segments"].get<uint64_t>(), 8u);
  EXPECT_GT(j["report_limits"]["endpoints_pruned"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["report_limits"]["endpoints_untracked"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["flows"].get<uint64_t>(), 42u);  // totals: every flow
}

// A service or client keeps only a tally (flows, segments, bytes, duplicate ACKs) until a
// flow brings a retransmission-side count; its row then covers every flow it had, the
// quiet ones before included. One with such counts but no retransmission (ACKs inside a
// segment) is still pruned first, and its full aggregate is reused.
TEST(Report, EndpointRowsCoverTheirQuietFlowsBeforeTheFirstRetransmission) {
  RetransReport r(100, 16);
  for (uint32_t i = 1; i <= 3; ++i) {  // client 1: three quiet flows (data, duplicate ACKs)
    event::FlowRecord q = flow(i, 1, 1, 0);
    q.count[0].data_bytes = 1000;
    q.count[1].dup_acks = 2;
    r.add(q);
  }
  event::FlowRecord m = flow(4, 2, 2, 0);  // client 2: an ACK inside a segment, no retransmission
  m.totals.midack_count = 1;
  r.add(m);
  event::FlowRecord lossy = flow(5, 1, 1, 4);
  lossy.count[0].data_bytes = 500;
  lossy.count[0].retx_bytes = 100;
  lossy.count[0].fast_retx = 1;
  r.add(lossy);
  auto j = r.to_json(10);
  ASSERT_EQ(j["top_clients"].size(), 1u) << j.dump();
  const auto& c = j["top_clients"][0];
  EXPECT_EQ(c["client"], "10.0.0.1");
  EXPECT_EQ(c["flows"].get<uint64_t>(), 4u);
  EXPECT_EQ(c["segments"].get<uint64_t>(), 4u * 150u);
  EXPECT_EQ(c["data_bytes"].get<uint64_t>(), 3500u);
  EXPECT_EQ(c["dup_acks"].get<uint64_t>(), 6u);
  EXPECT_EQ(c["retx_segments"].get<uint64_t>(), 4u);
  EXPECT_EQ(c["retx_bytes"].get<uint64_t>(), 100u);
  EXPECT_EQ(c["fast_retx"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["top_services"][0]["flows"].get<uint64_t>(), 4u);
  // 20 more quiet clients: the table of 16 is pruned, client 2 (no retransmission) with it;
  // client 2 again later starts afresh, and client 1 kept its row.
  for (uint32_t c2 = 100; c2 < 120; ++c2) r.add(flow(c2, c2, 1, 0));
  event::FlowRecord again = flow(300, 2, 2, 2);
  r.add(again);
  j = r.to_json(10);
  ASSERT_EQ(j["top_clients"].size(), 2u) << j.dump();
  EXPECT_EQ(j["top_clients"][0]["client"], "10.0.0.1");
  EXPECT_EQ(j["top_clients"][0]["flows"].get<uint64_t>(), 4u);
  EXPECT_EQ(j["top_clients"][1]["client"], "10.0.0.2");
  EXPECT_EQ(j["top_clients"][1]["flows"].get<uint64_t>(), 1u);
  EXPECT_EQ(j["top_clients"][1]["retx_segments"].get<uint64_t>(), 2u);
  EXPECT_GT(j["report_limits"]["endpoints_pruned"].get<uint64_t>(), 0u);
}

TEST(Report, StopsTrackingNewEndpointsWhenAllRetransmitAndCountsThem) {
  RetransReport r(100, 16);
  for (uint32_t c = 1; c <= 40; ++c) r.add(flow(c, c, 1, 1));  // every client retransmits
  const auto j = r.to_json(100);
  EXPECT_EQ(j["top_clients"].size(), 16u);
  EXPECT_EQ(j["report_limits"]["endpoints_untracked"].get<uint64_t>(), 24u);
  EXPECT_EQ(j["retx_segments"].get<uint64_t>(), 40u);  // totals: every flow
}

TEST(Report, ForgetsOneSidedFlowsWhenTheirTableIsFull) {
  RetransReport r(100, 16);
  for (uint32_t c = 1; c <= 40; ++c) r.add(flow(c, c, 1, 0, true));
  const auto j = r.to_json(10);
  EXPECT_EQ(j["one_sided_flows"].get<uint64_t>(), 40u);
  EXPECT_EQ(j["report_limits"]["one_sided_forgotten"].get<uint64_t>(), 32u);  // two full tables of 16
}

// Active-timeout records (flows that go on) show in the top flows, marked open, with the
// latest counts, until the final record replaces the line; the totals, services and clients
// take what each record adds to the flow's previous one, so they hold the open flow's
// counts so far and, after its final record, exactly what they would without active records.
TEST(Report, OpenFlowsShowInTheTopFlowsUntilTheirFinalRecord) {
  RetransReport r(2);
  r.add(flow(1, 1, 1, 4));
  event::FlowRecord a = flow(7, 2, 1, 5);
  a.reason = flow::RemoveReason::kActive;
  r.add(a);
  a.count[0].retx_segs = 9;  // the same flow, a period later
  a.count[0].segments = 300;
  r.add(a);
  auto j = r.to_json(10);
  ASSERT_EQ(j["top_flows"].size(), 2u) << j.dump();
  EXPECT_EQ(j["top_flows"][0]["flow"], 7);
  EXPECT_EQ(j["top_flows"][0]["retx_segments"], 9);
  EXPECT_EQ(j["top_flows"][0]["open"], true);
  EXPECT_EQ(j["top_flows"][1]["open"], false);
  EXPECT_EQ(j["flows"], 2);  // the open flow counts once, with its counts so far
  EXPECT_EQ(j["retx_segments"], 13);
  EXPECT_EQ(j["segments"], 150 + 350);
  ASSERT_EQ(j["top_services"].size(), 1u);
  EXPECT_EQ(j["top_services"][0]["flows"], 2);
  EXPECT_EQ(j["top_services"][0]["retx_segments"], 13);
  ASSERT_EQ(j["top_clients"].size(), 2u);
  EXPECT_EQ(j["top_clients"][0]["client"], "10.0.0.2");
  EXPECT_EQ(j["top_clients"][0]["retx_segments"], 9);
  EXPECT_EQ(j["connection_ends"]["ongoing"], 1);
  EXPECT_EQ(j["connection_ends"]["open"], 1);  // flow 1's end
  EXPECT_EQ(j["report_limits"]["open_flow_lines"], 1);

  event::FlowRecord fin = flow(7, 2, 1, 11);  // its final record
  fin.count[0].segments = 400;
  r.add(fin);
  j = r.to_json(10);
  ASSERT_EQ(j["top_flows"].size(), 2u) << j.dump();
  EXPECT_EQ(j["top_flows"][0]["retx_segments"], 11);
  EXPECT_EQ(j["top_flows"][0]["open"], false);
  EXPECT_EQ(j["flows"], 2);
  EXPECT_EQ(j["retx_segments"], 15);
  EXPECT_EQ(j["segments"], 150 + 450);
  EXPECT_EQ(j["top_services"][0]["flows"], 2);
  EXPECT_EQ(j["top_services"][0]["retx_segments"], 15);
  EXPECT_EQ(j["connection_ends"]["ongoing"], 0);
  EXPECT_EQ(j["connection_ends"]["open"], 2);
  EXPECT_EQ(j["report_limits"]["open_flow_lines"], 0);
  // The same flows without active records: identical totals, services and clients.
  RetransReport plain(2);
  plain.add(flow(1, 1, 1, 4));
  plain.add(fin);
  const auto p = plain.to_json(10);
  for (const char* k : {"flows", "segments", "retx_segments", "top_services", "top_clients", "connection_ends"})
    EXPECT_EQ(j[k], p[k]) << k;

  // Bounded: at most keep_flows (2) open lines, the best-ranked ones.
  for (uint32_t id = 20; id < 25; ++id) {
    event::FlowRecord o = flow(id, 3, 1, id);
    o.reason = flow::RemoveReason::kActive;
    r.add(o);
  }
  j = r.to_json(10);
  EXPECT_EQ(j["report_limits"]["open_flow_lines"], 2);
  EXPECT_EQ(j["report_limits"]["open_lines_dropped"], 3);
  EXPECT_EQ(j["top_flows"][0]["flow"], 24);
  EXPECT_EQ(j["top_flows"][1]["flow"], 23);
  EXPECT_EQ(j["connection_ends"]["ongoing"], 5);  // every open flow counts in the totals
  EXPECT_EQ(j["flows"], 7);
}

// Payload bytes and retransmitted bytes add up like the segment counts (an open flow's
// active record replaced by its final one), and give the byte rate, which TSO/GSO/GRO
// aggregates in a capture do not skew.
TEST(Report, CountsPayloadBytesAndRetransmittedBytes) {
  RetransReport r(4);
  event::FlowRecord a = flow(1, 1, 1, 2);
  a.count[0].data_bytes = 100000;
  a.count[0].retx_bytes = 2000;
  a.count[1].data_bytes = 500;
  r.add(a);
  event::FlowRecord b = flow(2, 2, 1, 1);
  b.reason = flow::RemoveReason::kActive;
  b.count[0].data_bytes = 10000;
  b.count[0].retx_bytes = 1000;
  r.add(b);
  b.reason = flow::RemoveReason::kClosed;  // its final record: more sent, the same re-sent
  b.count[0].data_bytes = 49500;
  r.add(b);
  const auto j = r.to_json(10);
  EXPECT_EQ(j["data_bytes"], 150000);
  EXPECT_EQ(j["retx_bytes"], 3000);
  EXPECT_DOUBLE_EQ(j["retx_byte_rate"].get<double>(), 0.02);
  ASSERT_EQ(j["top_services"].size(), 1u);
  EXPECT_EQ(j["top_services"][0]["retx_bytes"], 3000);
}

// At most max_endpoints open flows are followed at a time: the active records of more are
// counted and left out, and those flows count in full at their final record.
TEST(Report, OpenFlowsBeyondTheBoundCountAtTheirEnd) {
  RetransReport r(100, 4);
  for (uint32_t id = 1; id <= 6; ++id) {
    event::FlowRecord o = flow(id, id, 1, 2);
    o.reason = flow::RemoveReason::kActive;
    r.add(o);
  }
  auto j = r.to_json(10);
  EXPECT_EQ(j["flows"], 4);
  EXPECT_EQ(j["retx_segments"], 8);
  EXPECT_EQ(j["report_limits"]["open_flows_untracked"], 2);
  for (uint32_t id = 1; id <= 6; ++id) r.add(flow(id, id, 1, 3));
  j = r.to_json(10);
  EXPECT_EQ(j["flows"], 6);
  EXPECT_EQ(j["retx_segments"], 18);
  EXPECT_EQ(j["connection_ends"]["ongoing"], 0);
}

// Half-closed connections silent for 60 s before the newest packet point to CLOSE_WAIT on
// the side that never closed; those not yet that old wait (at most max_endpoints, the rest
// counted not judged) until the report is printed.
TEST(Report, HalfClosedConnectionsLeftOpenAreJudgedAgainstTheNewestPacket) {
  using namespace seqwatch::tcp;
  RetransReport r(100, 2);
  auto half = [&](uint32_t id, uint64_t last_s, bool by_client) {
    event::FlowRecord f = flow(id, id, 7, 0);
    f.half[0].flags = kSynSeen | (by_client ? kFinSeen : 0);
    f.half[1].flags = kSynSeen | (by_client ? 0 : kFinSeen);
    f.cold.stage = Stage::kClosing;
    f.last_ts_ns = last_s * 1'000'000'000ull;
    r.add(f);
  };
  half(1, 0, false);
  half(2, 1, false);
  half(3, 2, false);  // no room left to wait: not judged
  EXPECT_EQ(r.to_json(10)["half_closed_lingering"]["by_server"]["connections"], 0);
  event::FlowRecord later = flow(9, 9, 8, 0);
  later.last_ts_ns = 100'000'000'000ull;
  r.add(later);
  half(4, 10, false);  // 90 s before the newest packet already: judged at once
  half(5, 95, true);   // 5 s: not yet
  event::FlowRecord one = flow(6, 6, 7, 0, true);  // one-sided: the server's FIN could not be seen
  one.half[0].flags = kSynSeen | kFinSeen;
  one.cold.stage = Stage::kClosing;
  r.add(one);
  const auto j = r.to_json(10)["half_closed_lingering"];
  EXPECT_EQ(j["by_server"]["connections"], 3);
  EXPECT_EQ(j["by_server"]["top_services"][0]["connections"], 3);
  EXPECT_EQ(j["by_client"]["connections"], 0);
  EXPECT_EQ(j["not_judged"], 1);
}

// Receivers that held connections back: zero windows by the side that advertised them, with
// the longest; connections without window scaling that carried a window's worth.
TEST(Report, ReceiverLimitsNameTheSideAndService) {
  using namespace seqwatch::tcp;
  RetransReport r;
  event::FlowRecord zw = flow(1, 1, 7, 0);
  zw.half[1].zw_total_ms = 1500;  // the server's side (the client is the initiator, side 0)
  r.add(zw);
  event::FlowRecord zc = flow(2, 2, 7, 0);
  zc.half[0].zw_total_ms = 20;
  r.add(zc);
  event::FlowRecord big = flow(3, 3, 8, 0);
  big.half[0].flags = big.half[1].flags = kSynSeen;
  big.half[0].wscale = big.half[1].wscale = kWscaleNone;
  big.count[1].data_bytes = 1 << 20;
  r.add(big);
  event::FlowRecord small = big;
  small.flow_id = 4;
  small.count[1].data_bytes = 1000;  // too little for the cap to matter
  r.add(small);
  r.add_verdicts([] {
    std::array<uint64_t, kVerdictBits> v{};
    v[std::countr_zero(uint32_t{kWindowFull})] = 12;
    return v;
  }());
  const auto j = r.to_json(10)["receiver_limits"];
  EXPECT_EQ(j["zero_window"]["by_server"]["connections"], 1);
  EXPECT_EQ(j["zero_window"]["by_client"]["connections"], 1);
  EXPECT_EQ(j["zero_window"]["longest_ms"], 1500);
  EXPECT_EQ(j["no_window_scaling"]["connections"], 1);
  EXPECT_EQ(j["window_full_segments"], 12);
  char* text = nullptr;
  size_t len = 0;
  std::FILE* out = open_memstream(&text, &len);
  r.print(out, 10);
  std::fclose(out);
  const std::string printed(text, len);
  std::free(text);
  EXPECT_NE(printed.find("ZERO WINDOW    1 connection(s) where the server advertised a zero window"), std::string::npos) << printed;
  EXPECT_NE(printed.find("WINDOW FULL    12 segment(s)"), std::string::npos) << printed;
  EXPECT_NE(printed.find("NO WSCALE      1 connection(s) carried 64 KiB or more"), std::string::npos) << printed;
}

// How connections ended, from the final records: who reset, who closed only its side.
TEST(Report, CountsHowConnectionsEnded) {
  using namespace seqwatch::tcp;
  RetransReport r;
  auto rec = [&](uint32_t id, uint8_t client_flags, uint8_t server_flags, Stage stage, int rst_from = -1,
                 bool client_is_b = false) {
    event::FlowRecord f = flow(id, id, 1, 0);
    f.cold.initiator = client_is_b ? 1 : 0;
    const int c = client_is_b ? 1 : 0;
    f.half[c].flags = client_flags;
    f.half[1 - c].flags = server_flags;
    f.cold.stage = stage;
    if (rst_from >= 0) f.cold.set_rst_from(static_cast<uint8_t>(rst_from == 0 ? c : 1 - c));  // 0 client, 1 server
    if (stage == Stage::kSynSent) {  // the client sent its SYNs and nothing else
      f.cold.syn_count = 2;
      f.count[c].segments = 2;
      f.count[1 - c].segments = 0;
    } else if (stage == Stage::kSynReceived) {  // a SYN and a SYN/ACK, nothing more
      f.cold.syn_count = 1;
      f.cold.synack_count = 1;
      f.count[c].segments = 1;
      f.count[1 - c].segments = 1;
    }
    r.add(f);
  };
  rec(1, kSynSeen | kFinSeen, kSynSeen | kFinSeen, Stage::kClosed);
  rec(2, kSynSeen | kFinSeen, kSynSeen | kFinSeen, Stage::kClosed, -1, true);
  rec(3, kSynSeen | kRstSeen, kSynSeen, Stage::kReset, 0);
  rec(4, kSynSeen, kSynSeen | kRstSeen, Stage::kReset, 1, true);
  rec(5, kSynSeen, kRstSeen, Stage::kReset, 1);  // RST to the SYN
  rec(6, kSynSeen, kSynSeen | kFinSeen, Stage::kClosing);
  rec(7, kSynSeen | kFinSeen, kSynSeen, Stage::kClosing, -1, true);
  rec(8, kSynSeen, 0, Stage::kSynSent);  // SYNs alone (set below): unanswered
  rec(9, kSynSeen, kSynSeen, Stage::kSynReceived);
  rec(10, 0, 0, Stage::kNone);
  rec(11, kSynSeen, kSynSeen, Stage::kEstablished);
  const auto j = r.to_json(10)["connection_ends"];
  EXPECT_EQ(j["closed"], 2);
  EXPECT_EQ(j["reset_by_client"], 1);
  EXPECT_EQ(j["reset_by_server"], 1);
  EXPECT_EQ(j["refused"], 1);
  EXPECT_EQ(j["half_closed_by_server"], 1);
  EXPECT_EQ(j["half_closed_by_client"], 1);
  EXPECT_EQ(j["syn_unanswered"], 1);
  EXPECT_EQ(j["handshake_incomplete"], 1);
  EXPECT_EQ(j["open"], 2);

  // Waiting for a SYN/ACK, but the client sent more than its SYNs (it acknowledged a SYN/ACK
  // the sensor never saw, and sent data): a one-sided capture, no unanswered SYN.
  RetransReport one;
  event::FlowRecord f = flow(1, 1, 1, 0, true);
  f.half[0].flags = kSynSeen;
  f.cold.stage = Stage::kSynSent;
  f.cold.syn_count = 1;
  f.count[0].data_bytes = 1000;
  one.add(f);
  const auto k = one.to_json(10);
  EXPECT_EQ(k["connection_ends"]["syn_unanswered"], 0);
  EXPECT_EQ(k["connection_ends"]["open"], 1);
  EXPECT_EQ(k["one_sided_data"]["flows"], 1);

  // Seen from the server's side alone: its SYN/ACK, then data: no incomplete handshake.
  RetransReport srv;
  event::FlowRecord g = flow(1, 1, 1, 0);
  g.count[0].segments = 0;
  g.count[1].data_bytes = 5000;
  g.half[1].flags = kSynSeen;
  g.cold.stage = Stage::kSynReceived;
  g.cold.synack_count = 1;
  srv.add(g);
  const auto m = srv.to_json(10);
  EXPECT_EQ(m["connection_ends"]["handshake_incomplete"], 0);
  EXPECT_EQ(m["connection_ends"]["open"], 1);
  EXPECT_EQ(m["one_sided_data"]["flows"], 1);
}

// `run`'s queue report from its summary: packets per queue for a port with several (not for
// one with one queue), a condition raised then cleared and one still raised (the latest
// message of each), drops summed over the windows that saw them.
TEST(QueueReport, QueuesConditionsAndDropsFromTheSummary) {
  auto ev = [](double t, const char* kind, const char* state, const char* msg) {
    nlohmann::json e{{"v", 1}, {"type", "imbalance"}, {"elapsed_s", t}, {"kind", kind}, {"message", msg}};
    if (state[0] != 0) e["state"] = state;
    if (std::string(kind) == "queue_imbalance") e["port"] = "span0";
    return e;
  };
  nlohmann::json j;
  j["queues"] = nlohmann::json::array({{{"port", "span0"}, {"queue", 0}, {"packets", 300}, {"worker", 0}},
                                       {{"port", "span0"}, {"queue", 1}, {"packets", 100}, {"worker", 1}},
                                       {{"port", "tap0"}, {"queue", 0}, {"packets", 50}, {"worker", 2}}});
  nlohmann::json drop1 = ev(10, "drops", "", "drops on port span0 are imissed (40 packets)");
  nlohmann::json drop2 = ev(20, "drops", "", "drops on port span0 are imissed (60 packets)");
  for (auto* d : {&drop1, &drop2}) {
    (*d)["cause"] = "imissed";
    (*d)["port"] = "span0";
  }
  drop1["packets"] = 40;
  drop2["packets"] = 60;
  j["imbalance_events"] = nlohmann::json::array(
      {ev(10, "queue_imbalance", "raised", "queues of port span0 are imbalanced: first"), drop1,
       ev(20, "queue_imbalance", "cleared", ""), ev(30, "queue_imbalance", "raised", "queues of port span0 are imbalanced: again"),
       ev(40, "queue_imbalance", "cleared", ""), ev(20, "core_skew", "raised", "core skew 2.00: worker 1 is busy 90%"),
       drop2});
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* out = open_memstream(&buf, &len);
  ASSERT_NE(out, nullptr);
  print_queue_report(out, j);
  std::fclose(out);
  const std::string text(buf, len);
  std::free(buf);
  EXPECT_EQ(text,
            "  queues         span0: q0 300 (75.0%), q1 100 (25.0%)\n"
            "  IMBALANCE      raised at 30.0 s, cleared at 40.0 s: queues of port span0 are imbalanced: again\n"
            "  CORE SKEW      raised at 20.0 s, still at the end: core skew 2.00: worker 1 is busy 90%\n"
            "  DROPS          100 packets in 2 windows; latest: drops on port span0 are imissed (60 packets)\n");
  // Nothing raised, one queue per port: nothing to say.
  nlohmann::json quiet;
  quiet["queues"] = nlohmann::json::array({{{"port", "tap0"}, {"queue", 0}, {"packets", 50}, {"worker", 0}}});
  quiet["imbalance_events"] = nlohmann::json::array();
  out = open_memstream(&buf, &len);
  print_queue_report(out, quiet);
  std::fclose(out);
  EXPECT_EQ(len, 0u);
  std::free(buf);
}

// The shape of the retransmissions (the field notes' causes of loss): when, how often, who.
constexpr uint64_t kSec = 1'000'000'000, kT0 = 1'700'000'000 * kSec;

// A minute of traffic (one connection open throughout) and the given retransmission times.
RetxTimeline minute_with(const std::vector<uint64_t>& retx_ns) {
  RetxTimeline t;
  t.add_flow(kT0, kT0 + 60 * kSec);
  for (uint64_t ns : retx_ns) t.add_retx(kT0 + ns);
  return t;
}
std::vector<uint64_t> every(uint64_t step_ns, uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < n; ++i) v.push_back(i * step_ns);
  return v;
}
// Bursts of 30 retransmissions within 50 ms, every `period` s from 5 s on.
std::vector<uint64_t> bursts(uint64_t period_s) {
  std::vector<uint64_t> v;
  for (uint64_t at = 5; at < 60; at += period_s)
    for (uint64_t i = 0; i < 30; ++i) v.push_back(at * kSec + i * kSec / 600);
  return v;
}
RetxWho who_of(uint64_t services, double top_service, uint64_t clients, double top_client, uint64_t retx = 1000) {
  RetxWho w;
  w.retx = retx;
  w.services = w.services_with_retx = services;
  w.top_service = "10.1.0.1:443";
  w.top_service_retx = static_cast<uint64_t>(top_service * static_cast<double>(retx));
  w.clients = w.clients_with_retx = clients;
  w.top_client = "10.0.0.7";
  w.top_client_retx = static_cast<uint64_t>(top_client * static_cast<double>(retx));
  return w;
}

TEST(Shape, SteadyOnManyServersIsAFailingLinkOrDevice) {
  const auto j = retx_shape(minute_with(every(kSec / 10, 600)).series(), who_of(20, 0.1, 30, 0.08));
  EXPECT_EQ(j["when"], "persistent") << j.dump(1);
  EXPECT_GE(j["coverage"].get<double>(), 0.95);
  EXPECT_EQ(j["who"], "spread");
  EXPECT_EQ(j["suspect"], "failing_link_or_device");
  EXPECT_NE(j["message"].get<std::string>().find("a failing link or device on the shared path"), std::string::npos);
}

TEST(Shape, PeriodicBurstsOnManyServersAreCongestion) {
  const auto j = retx_shape(minute_with(bursts(10)).series(), who_of(20, 0.1, 30, 0.08));
  EXPECT_EQ(j["when"], "bursty") << j.dump(1);
  EXPECT_EQ(j["bursts"], 6);
  EXPECT_NEAR(j["period_s"].get<double>(), 10.0, 0.2);
  EXPECT_EQ(j["suspect"], "congestion");
  EXPECT_NE(j["message"].get<std::string>().find("in 6 bursts every ~10 s"), std::string::npos) << j["message"];
  // Irregular bursts: no period.
  std::vector<uint64_t> v;
  for (uint64_t at : {3, 5, 17, 20, 41, 58})
    for (uint64_t i = 0; i < 30; ++i) v.push_back(at * kSec + i * kSec / 600);
  const auto k = retx_shape(minute_with(v).series(), who_of(20, 0.1, 30, 0.08));
  EXPECT_EQ(k["suspect"], "congestion");
  EXPECT_EQ(k["period_s"], 0.0) << k.dump(1);
  EXPECT_EQ(k["bursts_off_period"], 0);
  // One more burst off the rhythm (at the start: kernel-shapes saw the connections' start-up
  // overshoot; or between two): the others' period still shows, and the message says so.
  for (const uint64_t extra : {uint64_t{0}, uint64_t{28}}) {
    std::vector<uint64_t> w = bursts(10);
    for (uint64_t i = 0; i < 30; ++i) w.push_back(extra * kSec + i * kSec / 600);
    std::sort(w.begin(), w.end());
    const auto p = retx_shape(minute_with(w).series(), who_of(20, 0.1, 30, 0.08));
    EXPECT_EQ(p["bursts"], 7) << p.dump(1);
    EXPECT_NEAR(p["period_s"].get<double>(), 10.0, 0.2) << "extra burst at " << extra << " s";
    EXPECT_EQ(p["bursts_off_period"], 1);
    EXPECT_NE(p["message"].get<std::string>().find("in 7 bursts every ~10 s (one more burst off that rhythm)"),
              std::string::npos) << p["message"];
  }
  // Four bursts, one off: too few to tell a rhythm from chance (two gaps left).
  std::vector<uint64_t> f;
  for (uint64_t at : {5, 15, 19, 25})
    for (uint64_t i = 0; i < 30; ++i) f.push_back(at * kSec + i * kSec / 600);
  EXPECT_EQ(retx_shape(minute_with(f).series(), who_of(20, 0.1, 30, 0.08))["period_s"], 0.0);
}

// Sparse loss (fewer retransmissions than 100 ms buckets with traffic): steady at a low
// rate, its hit buckets are spaced like independent losses, whether the losses come at
// random times, at regular ones, or as recoveries of 3 re-sends within 5 ms; clustered,
// it is bursty even when no bucket holds 3 (no burst by the dense rule).
TEST(Shape, SparseLossIsSteadyOrClusteredByItsSpacing) {
  const RetxWho spread = who_of(20, 0.1, 30, 0.08);
  std::mt19937_64 rng(11);
  std::vector<uint64_t> random, episodes;
  for (int i = 0; i < 120; ++i) random.push_back(rng() % (60 * kSec));
  for (int i = 0; i < 50; ++i) {
    const uint64_t at = rng() % (59 * kSec);
    for (uint64_t k = 0; k < 3; ++k) episodes.push_back(at + k * kSec / 500);
  }
  for (const auto& [what, times] : {std::pair{"random", random}, std::pair{"regular", every(kSec * 7 / 10, 85)},
                                    std::pair{"episodes", episodes}}) {
    const auto j = retx_shape(minute_with(times).series(), spread);
    EXPECT_EQ(j["sparse"], true) << what;
    EXPECT_EQ(j["when"], "persistent") << what << ": " << j.dump(1);
    EXPECT_LE(j["spacing"].get<double>(), 1.3) << what;
    EXPECT_EQ(j["suspect"], "failing_link_or_device") << what;
    EXPECT_NE(j["message"].get<std::string>().find("steadily at a low rate"), std::string::npos) << j["message"];
  }
  // 8 clusters of 12 retransmissions spread over 1.2 s each (1 per 100 ms), at irregular times.
  std::vector<uint64_t> clusters;
  for (uint64_t at : {2, 9, 13, 24, 31, 40, 47, 55})
    for (uint64_t i = 0; i < 12; ++i) clusters.push_back(at * kSec + i * kSec / 10);
  const auto c = retx_shape(minute_with(clusters).series(), spread);
  EXPECT_EQ(c["sparse"], true);
  EXPECT_EQ(c["bursts"], 0) << c.dump(1);  // no bucket with 3: the dense rule sees no burst
  EXPECT_GE(c["spacing"].get<double>(), 1.7) << c.dump(1);
  EXPECT_EQ(c["when"], "bursty");
  EXPECT_EQ(c["suspect"], "congestion");
  EXPECT_NE(c["message"].get<std::string>().find("clustered in time"), std::string::npos) << c["message"];
}

TEST(Shape, OneHostOrOneServiceIsNamed) {
  const auto steady = minute_with(every(kSec / 10, 600)).series();
  const auto bursty = minute_with(bursts(10)).series();
  EXPECT_EQ(retx_shape(steady, who_of(20, 0.1, 40, 0.9))["suspect"], "one_client");
  EXPECT_EQ(retx_shape(steady, who_of(20, 0.85, 40, 0.1))["suspect"], "one_server");
  EXPECT_EQ(retx_shape(bursty, who_of(20, 0.85, 40, 0.1))["suspect"], "one_service_overloaded");
  RetxWho flow = who_of(20, 0.85, 40, 0.85);
  flow.top_flow = "10.0.0.7:40000 -> 10.1.0.1:443";
  flow.top_flow_retx = 900;
  const auto single = retx_shape(steady, flow);
  EXPECT_EQ(single["suspect"], "one_flow");
  EXPECT_NE(single["message"].get<std::string>().find("one connection, 10.0.0.7:40000 -> 10.1.0.1:443, has 90%"),
            std::string::npos) << single["message"];
  const auto one = retx_shape(steady, who_of(1, 1.0, 40, 0.1));
  EXPECT_EQ(one["who"], "one_service_only");
  EXPECT_EQ(one["suspect"], "unclear");  // a capture of one service cannot tell the server from the path
  EXPECT_NE(one["message"].get<std::string>().find("every connection goes to 10.1.0.1:443"), std::string::npos);
}

// One sick server offering several services (ports): no service has most of the
// retransmissions, the host has; until 2026-12-04 that read as "spread" (a failing link).
// A capture of one server with several services cannot tell it from its path.
TEST(Shape, OneServerWithSeveralServicesIsOneServer) {
  const auto steady = minute_with(every(kSec / 10, 600)).series();
  const auto bursty = minute_with(bursts(10)).series();
  RetxWho w = who_of(16, 0.25, 4, 0.3);
  w.server_hosts = 4;
  w.server_hosts_with_retx = 1;
  w.top_server = "10.1.0.3";
  w.top_server_retx = 950;
  w.top_server_services = 4;
  const auto j = retx_shape(steady, w);
  EXPECT_EQ(j["who"], "one_server") << j.dump(1);
  EXPECT_EQ(j["suspect"], "one_server");
  EXPECT_NE(j["message"].get<std::string>().find("server 10.1.0.3 has 95% of the retransmissions, over 4 of its services"),
            std::string::npos) << j["message"];
  EXPECT_EQ(retx_shape(bursty, w)["suspect"], "one_server_overloaded");
  w.top_server_retx = 300;  // spread over the hosts too: the shared path
  EXPECT_EQ(retx_shape(steady, w)["suspect"], "failing_link_or_device");
  RetxWho only = who_of(4, 0.3, 10, 0.2);
  only.server_hosts = 1;
  only.top_server = "10.1.0.3";
  only.top_server_retx = 1000;
  const auto o = retx_shape(steady, only);
  EXPECT_EQ(o["who"], "one_server_only");
  EXPECT_EQ(o["suspect"], "unclear");
}

TEST(Shape, TooFewOrTooShortTellsNoCause) {
  const auto few = retx_shape(minute_with(every(kSec, 10)).series(), who_of(20, 0.1, 30, 0.08, 10));
  EXPECT_EQ(few["when"], "too_few");
  EXPECT_EQ(few["suspect"], "none");
  RetxTimeline t;  // half a second of traffic: 5 buckets
  t.add_flow(kT0, kT0 + kSec / 2);
  for (uint64_t i = 0; i < 40; ++i) t.add_retx(kT0 + i * kSec / 100);
  const auto short_run = retx_shape(t.series(), who_of(20, 0.1, 30, 0.08));
  EXPECT_EQ(short_run["when"], "too_short") << short_run.dump(1);
  EXPECT_EQ(short_run["suspect"], "unclear");
}

// Flow records come when flows end, after the retransmissions they had: a flow that began
// before the first retransmission extends the timeline back to its start.
TEST(Shape, AFlowThatBeganEarlierExtendsTheTimelineBack) {
  RetxTimeline t;
  for (uint64_t i = 0; i < 30; ++i) t.add_retx(kT0 + 10 * kSec + i * kSec / 10);
  t.add_flow(kT0, kT0 + 20 * kSec);
  const auto s = t.series();
  EXPECT_DOUBLE_EQ(s.bucket_s, 0.1);
  ASSERT_EQ(s.retx.size(), 201u);  // 0 .. 20 s
  EXPECT_EQ(s.retx[100], 1u);      // the first retransmission, 10 s in
  EXPECT_EQ(s.retx[129], 1u);
  EXPECT_TRUE(std::all_of(s.active.begin(), s.active.end(), [](bool a) { return a; }));
  uint64_t sum = 0;
  for (uint64_t n : s.retx) sum += n;
  EXPECT_EQ(sum, 30u);
}

// The series does not depend on the order flows are added in: flows that fall inside the
// buckets there are take a short way (no resizing), the others extend the timeline; flows with
// gaps between them leave buckets idle, and the same idle buckets come out either way.
TEST(Shape, FlowsGiveTheSameSeriesInAnyOrder) {
  struct Span {
    uint64_t first, last;
  };
  std::vector<Span> flows;
  uint64_t x = 88172645463325252ull;  // xorshift64
  auto next = [&x] { return x ^= x << 13, x ^= x >> 7, x ^= x << 17; };
  for (int i = 0; i < 400; ++i) {
    const uint64_t first = kT0 + next() % (30 * kSec);
    flows.push_back({first, first + next() % (kSec / 2)});  // up to half a second long
  }
  RetxTimeline forward, backward;
  for (const Span& f : flows) forward.add_flow(f.first, f.last);
  for (auto it = flows.rbegin(); it != flows.rend(); ++it) backward.add_flow(it->first, it->last);
  for (uint64_t i = 0; i < 50; ++i) {
    forward.add_retx(kT0 + i * kSec / 2);
    backward.add_retx(kT0 + i * kSec / 2);
  }
  const auto a = forward.series(), b = backward.series();
  EXPECT_EQ(a.bucket_s, b.bucket_s);
  EXPECT_EQ(a.retx, b.retx);
  EXPECT_EQ(a.active, b.active);
  EXPECT_TRUE(std::any_of(a.active.begin(), a.active.end(), [](bool v) { return !v; })) << "some idle bucket between flows";
}

// Weeks of packet time: the buckets widen, nothing is lost, the series stays short.
TEST(Shape, TheTimelineWidensItsBucketsOverALongRun) {
  RetxTimeline t;
  const uint64_t week = 7 * 24 * 3600 * kSec;
  t.add_flow(kT0, kT0 + week);
  for (uint64_t i = 0; i < 1000; ++i) t.add_retx(kT0 + i * (week / 1000));
  const auto s = t.series();
  EXPECT_LE(s.retx.size(), RetxTimeline::kSeriesBuckets);
  EXPECT_GE(s.bucket_s * static_cast<double>(s.retx.size()), 7 * 24 * 3600.0);
  uint64_t sum = 0;
  for (uint64_t n : s.retx) sum += n;
  EXPECT_EQ(sum, 1000u);
  EXPECT_TRUE(std::all_of(s.active.begin(), s.active.end(), [](bool a) { return a; }));
  EXPECT_EQ(retx_shape(s, who_of(20, 0.1, 30, 0.08))["when"], "persistent");
}

}  // namespace
}  // namespace seqwatch::app
