// Flow keys and the per-worker flow table: symmetric keys, VLAN/tunnel context,
// fixed capacity with counted eviction, packet-time aging, flush.
#include <gtest/gtest.h>

#include <unordered_set>

#include <algorithm>
#include <array>
#include <cstring>

#include <bit>

#include <map>
#include <set>
#include <vector>

#include "flow/flow_key.hpp"
#include "flow/flow_table.hpp"

namespace seqwatch::flow {
namespace {

// A minimal decoded view of a TCP packet whose IP header (IPv4 or IPv6, addresses already
// written) starts the 64-byte frame.
void tcp_view(decode::PacketView& v, const uint8_t (&frame)[64], uint8_t version, uint16_t sport, uint16_t dport) {
  v.frame = frame;
  v.caplen = sizeof frame;
  v.ip_count = 1;
  v.ip[0].off = 0;
  v.ip[0].version = version;
  v.ip[0].proto = 6;
  v.l4 = decode::L4Type::kTcp;
  v.tcp.sport = sport;
  v.tcp.dport = dport;
}

// An IPv4/TCP packet.
struct Pkt {
  uint8_t frame[64] = {};
  decode::PacketView v;
  Pkt(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, std::vector<uint16_t> vlans = {}) {
    for (int i = 0; i < 4; ++i) {
      frame[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
      frame[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
    }
    tcp_view(v, frame, 4, sport, dport);
    for (uint16_t id : vlans) v.vlan[v.vlan_count++] = id;
  }
};

FlowKey key_of(const Pkt& p, Dir* dir = nullptr) {
  FlowKey k;
  Dir d;
  EXPECT_TRUE(make_key(p.v, k, d));
  if (dir) *dir = d;
  return k;
}

TEST(FlowKey, BothDirectionsGiveTheSameKey) {
  Dir d1, d2;
  const FlowKey a = key_of(Pkt(0x0A000001, 0x0A000002, 40000, 80), &d1);
  const FlowKey b = key_of(Pkt(0x0A000002, 0x0A000001, 80, 40000), &d2);
  EXPECT_EQ(a, b);
  EXPECT_EQ(hash_key(a), hash_key(b));
  EXPECT_NE(d1, d2);
}

// The 64-bit hash carries 64 bits: its halves are not tied to each other (two CRC lanes
// over the same words with different seeds differ by a constant, which made the bucket
// signature repeat the bucket index), and a million keys that differ in address and
// port bits only have a million distinct hashes.
TEST(FlowKey, HashHalvesAreIndependentAndKeysDoNotCollide) {
  std::unordered_set<uint64_t> hashes, xors;
  uint32_t n = 0;
  for (uint32_t client = 0; client < 256; ++client) {
    for (uint32_t port = 1024; port < 1024 + 4096; ++port, ++n) {
      const uint64_t h = hash_key(key_of(Pkt(0x0A000000 | client << 8 | (port & 7), 0xAC100001 + (client >> 4), port, 443)));
      hashes.insert(h);
      if (xors.size() < 1000) xors.insert((h >> 32) ^ (h & 0xFFFFFFFFu));
    }
  }
  EXPECT_EQ(hashes.size(), n);
  EXPECT_GT(xors.size(), 900u);
}

TEST(FlowKey, SameAddressesOrderedByPort) {
  Dir d1, d2;
  const FlowKey a = key_of(Pkt(0x0A000001, 0x0A000001, 5000, 80), &d1);
  const FlowKey b = key_of(Pkt(0x0A000001, 0x0A000001, 80, 5000), &d2);
  EXPECT_EQ(a, b);
  EXPECT_NE(d1, d2);
}

// The IPv6 canonical order is the addresses' byte order (as memcmp compares them), then
// the ports: checked for addresses that differ in their first, eighth, ninth or last byte
// (each half of the 16 bytes, and where they meet) and for equal addresses.
TEST(FlowKey, Ipv6EndpointsOrderedByAddressBytesThenPort) {
  struct Pkt6 {
    uint8_t frame[64] = {};
    decode::PacketView v;
    Pkt6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst, uint16_t sport, uint16_t dport) {
      std::memcpy(frame + 8, src.data(), 16);
      std::memcpy(frame + 24, dst.data(), 16);
      tcp_view(v, frame, 6, sport, dport);
    }
  };
  std::array<uint8_t, 16> base{};
  for (unsigned i = 0; i < 16; ++i) base[i] = static_cast<uint8_t>(0x20 + i);
  for (unsigned at : {0u, 7u, 8u, 15u, 16u}) {  // 16: equal addresses
    std::array<uint8_t, 16> low = base, high = base;
    if (at < 16) {
      low[at] = 0x01;   // lower in that byte, higher in every later one
      high[at] = 0xF0;
      for (unsigned j = at + 1; j < 16; ++j) low[j] = 0xFF;
    }
    FlowKey k1, k2;
    Dir d1, d2;
    ASSERT_TRUE(make_key(Pkt6(low, high, 9000, 80).v, k1, d1)) << at;
    ASSERT_TRUE(make_key(Pkt6(high, low, 80, 9000).v, k2, d2)) << at;
    EXPECT_EQ(k1, k2) << at;
    EXPECT_NE(d1, d2) << at;
    EXPECT_EQ(d1, at < 16 ? Dir::kAtoB : Dir::kBtoA) << at;  // equal addresses: port 80 first
    EXPECT_TRUE(std::equal(k1.addr_a.begin(), k1.addr_a.end(), low.begin())) << at;
    EXPECT_EQ(k1.port_a, at < 16 ? 9000 : 80) << at;
    EXPECT_EQ(k1.family, 6) << at;
  }
}

TEST(FlowKey, VlansKeepOverlappingFlowsApart) {
  // zeek's vlan-collisions.pcap: one 5-tuple untagged, on VLAN 42 and on QinQ 10/20.
  const FlowKey untagged = key_of(Pkt(0x0A000001, 0x0A000002, 1, 2));
  const FlowKey v42 = key_of(Pkt(0x0A000001, 0x0A000002, 1, 2, {42}));
  const FlowKey qinq = key_of(Pkt(0x0A000001, 0x0A000002, 1, 2, {10, 20}));
  std::set<uint64_t> contexts = {untagged.context, v42.context, qinq.context};
  EXPECT_EQ(contexts.size(), 3u);
  EXPECT_FALSE(untagged == v42);
  // VLAN id 0 is a priority tag, not a VLAN (802.1Q): the same flow as untagged, and a
  // priority tag under or over a real VLAN does not make another flow.
  EXPECT_EQ(key_of(Pkt(0x0A000001, 0x0A000002, 1, 2, {0})), untagged);
  EXPECT_EQ(key_of(Pkt(0x0A000001, 0x0A000002, 1, 2, {42, 0})), v42);
  EXPECT_EQ(key_of(Pkt(0x0A000001, 0x0A000002, 1, 2, {0, 42})), v42);
}

TEST(FlowKey, VlansCanBeLeftOutForAsymmetricallyTaggedSpanPorts) {
  // One direction tagged, the other not: with VLANs in the key they are two flows.
  FlowKey a, b;
  Dir da, db;
  Pkt tagged(0x0A000001, 0x0A000002, 1, 2, {3136}), untagged(0x0A000002, 0x0A000001, 2, 1);
  ASSERT_TRUE(make_key(tagged.v, a, da));
  ASSERT_TRUE(make_key(untagged.v, b, db));
  EXPECT_FALSE(a == b);
  ASSERT_TRUE(make_key(tagged.v, a, da, false));
  ASSERT_TRUE(make_key(untagged.v, b, db, false));
  EXPECT_EQ(a, b);
  EXPECT_NE(da, db);
}

TEST(FlowKey, KeylessTunnelAddsNoContext) {
  // zeek tunnel-direct-bypass.pcap: one connection, packets alternately in plain GRE and direct.
  Pkt direct(0x0A000001, 0x0A000002, 1, 2), tunneled(0x0A000001, 0x0A000002, 1, 2);
  tunneled.v.ip_count = 2;
  tunneled.v.ip[1] = tunneled.v.ip[0];
  tunneled.v.tunnel_count = 1;
  tunneled.v.tunnel[0].type = decode::TunnelType::kGre;
  EXPECT_EQ(key_of(direct), key_of(tunneled));
}

TEST(FlowKey, TunnelKeySeparatesInnerAddressSpaces) {
  Pkt a(0x0A000001, 0x0A000002, 1, 2), b(0x0A000001, 0x0A000002, 1, 2);
  for (Pkt* p : {&a, &b}) {
    p->v.ip_count = 2;
    p->v.ip[1] = p->v.ip[0];
    p->v.tunnel_count = 1;
    p->v.tunnel[0].type = decode::TunnelType::kVxlan;
    p->v.tunnel[0].has_key = 1;
  }
  a.v.tunnel[0].key = 100;
  b.v.tunnel[0].key = 200;
  EXPECT_FALSE(key_of(a) == key_of(b));
}

TEST(FlowKey, NonTransportPacketsHaveNoKey) {
  Pkt p(1, 2, 3, 4);
  p.v.l4 = decode::L4Type::kIcmp;
  FlowKey k;
  Dir d;
  EXPECT_FALSE(make_key(p.v, k, d));
  p.v.ip_count = 0;
  EXPECT_FALSE(make_key(p.v, k, d));
}

struct Removed {
  std::vector<std::pair<uint32_t, RemoveReason>> list;
  void operator()(const FlowEntry& e, RemoveReason r) { list.emplace_back(e.id, r); }
};

FlowKey numbered_key(uint32_t i) { return key_of(Pkt(0x0A000000 + i, 0x0B000000, static_cast<uint16_t>(i), 80)); }

TEST(FlowTable, FindsWhatItInserted) {
  FlowTableConfig cfg;
  cfg.capacity = 1024;
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  std::vector<FlowEntry*> entries;
  for (uint32_t i = 0; i < 1000; ++i) {
    bool created = false;
    const FlowKey k = numbered_key(i);
    entries.push_back(t.value()->find_or_insert(k, hash_key(k), 1000, created, rm));
    EXPECT_TRUE(created);
  }
  for (uint32_t i = 0; i < 1000; ++i) {
    bool created = true;
    const FlowKey k = numbered_key(i);
    EXPECT_EQ(t.value()->find_or_insert(k, hash_key(k), 2000, created, rm), entries[i]);
    EXPECT_FALSE(created);
  }
  EXPECT_TRUE(rm.list.empty());
  EXPECT_EQ(t.value()->counters().in_use, 1000u);
  EXPECT_EQ(t.value()->counters().hits, 1000u);
}

TEST(FlowTable, FullTableEvictsTheLeastRecentlyActiveAndCountsIt) {
  FlowTableConfig cfg;
  cfg.capacity = 64;
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  for (uint32_t i = 0; i < 64; ++i) {
    bool c;
    const FlowKey k = numbered_key(i);
    t.value()->find_or_insert(k, hash_key(k), 1000 + i, c, rm)->last_ts_ns = 1000 + i;
  }
  EXPECT_TRUE(rm.list.empty());
  for (uint32_t i = 64; i < 200; ++i) {
    bool c;
    const FlowKey k = numbered_key(i);
    FlowEntry* e = t.value()->find_or_insert(k, hash_key(k), 5000 + i, c, rm);
    ASSERT_NE(e, nullptr);
    EXPECT_TRUE(c);
    e->last_ts_ns = 5000 + i;
  }
  EXPECT_EQ(t.value()->counters().evicted, 200u - 64u);
  EXPECT_EQ(rm.list.size(), 200u - 64u);
  EXPECT_EQ(t.value()->counters().in_use, 64u);
  for (const auto& [id, why] : rm.list) EXPECT_EQ(why, RemoveReason::kEvicted);
}

TEST(FlowTable, SweepExpiresIdleAndClosedFlowsByPacketTime) {
  FlowTableConfig cfg;
  cfg.capacity = 256;
  cfg.idle_timeout_ns = 100;
  cfg.closed_linger_ns = 10;
  cfg.sweep_buckets = 1;
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  bool c;
  FlowKey k1 = numbered_key(1), k2 = numbered_key(2), k3 = numbered_key(3);
  t.value()->find_or_insert(k1, hash_key(k1), 0, c, rm);               // idle from t=0
  t.value()->find_or_insert(k2, hash_key(k2), 0, c, rm)->status |= kFlowClosed;  // closed at t=0
  t.value()->find_or_insert(k3, hash_key(k3), 95, c, rm);              // recent
  // One bucket per call: walking the whole table takes bucket_count() calls.
  for (uint32_t i = 0; i < t.value()->bucket_count(); ++i) t.value()->sweep(50, rm);
  ASSERT_EQ(rm.list.size(), 1u);
  EXPECT_EQ(rm.list[0].second, RemoveReason::kClosed);
  for (uint32_t i = 0; i < t.value()->bucket_count(); ++i) t.value()->sweep(150, rm);
  ASSERT_EQ(rm.list.size(), 2u);
  EXPECT_EQ(rm.list[1].second, RemoveReason::kIdle);
  t.value()->flush(rm);
  ASSERT_EQ(rm.list.size(), 3u);
  EXPECT_EQ(rm.list[2].second, RemoveReason::kFlush);
  EXPECT_EQ(t.value()->counters().in_use, 0u);
}

// At the end of input a flow that had expired by the input's end (closed past its linger,
// idle past the timeout) ends with that reason, whether or not the sweep reached it: which
// buckets the sweep visited depends on the table's size and the worker count.
TEST(FlowTable, FlushAtTheEndGivesExpiredFlowsTheirReason) {
  FlowTableConfig cfg;
  cfg.capacity = 256;
  cfg.idle_timeout_ns = 100;
  cfg.closed_linger_ns = 10;
  for (const uint64_t end : {uint64_t{0}, uint64_t{60}}) {
    auto t = FlowTable::create(cfg);
    ASSERT_TRUE(t);
    Removed rm;
    bool c;
    const FlowKey k1 = numbered_key(1), k2 = numbered_key(2), k3 = numbered_key(3), k4 = numbered_key(4);
    const uint32_t idle = t.value()->find_or_insert(k1, hash_key(k1), 0, c, rm)->id;  // idle, not for long enough
    FlowEntry* closed = t.value()->find_or_insert(k2, hash_key(k2), 0, c, rm);         // closed at t=0
    closed->status |= kFlowClosed;
    FlowEntry* lingering = t.value()->find_or_insert(k3, hash_key(k3), 55, c, rm);     // closed at t=55
    lingering->status |= kFlowClosed;
    FlowEntry* old = t.value()->find_or_insert(k4, hash_key(k4), 0, c, rm);
    old->last_ts_ns = 0;
    while (!t.value()->flush(rm, UINT32_MAX, end)) {
    }
    ASSERT_EQ(rm.list.size(), 4u);
    std::map<uint32_t, RemoveReason> why(rm.list.begin(), rm.list.end());
    EXPECT_EQ(why[idle], RemoveReason::kFlush);
    EXPECT_EQ(why[closed->id], end != 0 ? RemoveReason::kClosed : RemoveReason::kFlush);
    EXPECT_EQ(why[lingering->id], RemoveReason::kFlush);
    EXPECT_EQ(t.value()->counters().expired_closed, end != 0 ? 1u : 0u);
    EXPECT_EQ(t.value()->counters().flushed, end != 0 ? 3u : 4u);
  }
  // Idle past the timeout by the end: idle.
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  bool c;
  const FlowKey k = numbered_key(9);
  t.value()->find_or_insert(k, hash_key(k), 5, c, rm);
  EXPECT_TRUE(t.value()->flush(rm, UINT32_MAX, 200));
  ASSERT_EQ(rm.list.size(), 1u);
  EXPECT_EQ(rm.list[0].second, RemoveReason::kIdle);
  EXPECT_EQ(t.value()->counters().expired_idle, 1u);
}

// A growing table (`seqwatch analyze`) starts with kGrowStart buckets and doubles them as
// flows arrive: every flow stays where find_or_insert, remove, sweep and flush find it, the
// same entries as in a table that never grows, none evicted, and only the buckets the
// flows need are in use.
TEST(FlowTable, GrowingTableKeepsEveryFlowAcrossDoublings) {
  FlowTableConfig fixed_cfg;
  fixed_cfg.capacity = 1u << 20;
  FlowTableConfig grow_cfg = fixed_cfg;
  grow_cfg.grow = true;
  auto fixed = FlowTable::create(fixed_cfg);
  auto grown = FlowTable::create(grow_cfg);
  ASSERT_TRUE(fixed);
  ASSERT_TRUE(grown);
  FlowTable& g = *grown.value();
  ASSERT_EQ(g.bucket_count(), FlowTable::kGrowStart);
  EXPECT_EQ(g.memory_bytes(), fixed.value()->memory_bytes());  // allocated alike; resident differs
  Removed rm;
  constexpr uint32_t kFlows = 100000;
  std::vector<FlowEntry*> entries;
  for (uint32_t i = 0; i < kFlows; ++i) {
    bool c1 = false, c2 = false;
    const FlowKey k = numbered_key(i);
    FlowEntry* e = g.find_or_insert(k, hash_key(k), 1000 + i, c1, rm);
    FlowEntry* f = fixed.value()->find_or_insert(k, hash_key(k), 1000 + i, c2, rm);
    ASSERT_TRUE(c1 && c2);
    EXPECT_EQ(e->id, f->id);
    EXPECT_EQ(g.index_of(e), fixed.value()->index_of(f));
    e->last_ts_ns = 1000 + i;
    entries.push_back(e);
  }
  EXPECT_TRUE(rm.list.empty());
  // 4096 buckets take 8,192 flows (a quarter of their slots): 100,000 need 65,536 buckets,
  // four doublings (a full probe window would have made one more).
  EXPECT_GE(g.bucket_count(), 65536u);
  EXPECT_EQ(g.counters().doublings, std::bit_width(g.bucket_count() / FlowTable::kGrowStart) - 1u);
  EXPECT_EQ(fixed.value()->bucket_count(), 1u << 18);
  EXPECT_EQ(fixed.value()->counters().doublings, 0u);
  for (uint32_t i = 0; i < kFlows; ++i) {
    bool c = true;
    const FlowKey k = numbered_key(i);
    ASSERT_EQ(g.find_or_insert(k, hash_key(k), 500000, c, rm), entries[i]) << i;
    EXPECT_FALSE(c);
  }
  // remove() finds its flows at their new home.
  for (uint32_t i = 0; i < kFlows; i += 10) g.remove(entries[i], RemoveReason::kClosed, rm);
  ASSERT_EQ(rm.list.size(), kFlows / 10);
  EXPECT_EQ(g.counters().in_use, kFlows - kFlows / 10);
  // A sweep over the buckets in use expires what has gone idle, wherever it moved to.
  for (uint32_t n = 0; n < g.bucket_count(); ++n) g.sweep(1000 + kFlows / 2 + 3600ull * 1000000000ull, rm);
  const size_t expired = rm.list.size() - kFlows / 10;
  EXPECT_EQ(g.counters().expired_idle, expired);
  EXPECT_GT(expired, 0u);
  EXPECT_LT(expired, kFlows - kFlows / 10);
  // The rest are flushed, each once.
  while (!g.flush(rm, 5000)) {
  }
  std::set<uint32_t> ids;
  for (const auto& [id, why] : rm.list) ids.insert(id);
  EXPECT_EQ(ids.size(), size_t{kFlows});
  EXPECT_EQ(rm.list.size(), size_t{kFlows});
  EXPECT_EQ(g.counters().in_use, 0u);
  EXPECT_EQ(g.counters().evicted, 0u);
}

// The buckets in use never exceed the table's own (capacity / 4), and with prefault (the
// live appliance) the table never grows: all of them are in use from the start.
TEST(FlowTable, GrowingStopsAtTheTableSizeAndNeverWithPrefault) {
  FlowTableConfig cfg;
  cfg.capacity = 1u << 15;  // 8192 buckets: one doubling from kGrowStart
  cfg.grow = true;
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  for (uint32_t i = 0; i < 2 * cfg.capacity; ++i) {  // twice the capacity: evictions, no growth past it
    bool c;
    const FlowKey k = numbered_key(i);
    t.value()->find_or_insert(k, hash_key(k), 1 + i, c, rm)->last_ts_ns = 1 + i;
  }
  EXPECT_EQ(t.value()->bucket_count(), 8192u);
  EXPECT_EQ(t.value()->counters().doublings, 1u);
  EXPECT_EQ(t.value()->counters().in_use, cfg.capacity);
  EXPECT_EQ(t.value()->counters().evicted, cfg.capacity);
  cfg.prefault = true;
  cfg.capacity = 1u << 16;
  auto p = FlowTable::create(cfg);
  ASSERT_TRUE(p);
  EXPECT_EQ(p.value()->bucket_count(), 16384u);
}

// Flushing in bounded batches (the record ring's free room) ends every flow exactly once,
// including flows inserted between two batches into buckets already visited.
TEST(FlowTable, FlushInBatchesEndsEveryFlowOnce) {
  FlowTableConfig cfg;
  cfg.capacity = 1024;
  auto t = FlowTable::create(cfg);
  ASSERT_TRUE(t);
  Removed rm;
  bool c;
  for (uint32_t i = 0; i < 500; ++i) {
    const FlowKey k = numbered_key(i);
    t.value()->find_or_insert(k, hash_key(k), 1, c, rm);
  }
  ASSERT_TRUE(rm.list.empty());
  EXPECT_FALSE(t.value()->flush(rm, 100));
  EXPECT_EQ(rm.list.size(), 100u);
  for (uint32_t i = 500; i < 520; ++i) {  // arrive mid-flush
    const FlowKey k = numbered_key(i);
    t.value()->find_or_insert(k, hash_key(k), 2, c, rm);
  }
  int calls = 1;
  while (!t.value()->flush(rm, 100)) ASSERT_LT(++calls, 100);
  EXPECT_EQ(rm.list.size(), 520u);
  std::set<uint32_t> ids;
  for (const auto& [id, why] : rm.list) {
    ids.insert(id);
    EXPECT_EQ(why, RemoveReason::kFlush);
  }
  EXPECT_EQ(ids.size(), 520u);
  EXPECT_EQ(t.value()->counters().in_use, 0u);
  EXPECT_TRUE(t.value()->flush(rm, 0));  // empty: done even with no room
}

TEST(FlowTable, RejectsImpossibleCapacityWithTheKeyName) {
  FlowTableConfig cfg;
  cfg.capacity = 3;
  auto t = FlowTable::create(cfg);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("flow_table.capacity"), std::string::npos);
}

TEST(FlowTable, EntryLayoutIsFiveCacheLines) {
  EXPECT_EQ(sizeof(FlowEntry), 320u);
  EXPECT_EQ(alignof(FlowEntry), 64u);
  EXPECT_EQ(sizeof(tcp::HalfState), 64u);
}

}  // namespace
}  // namespace seqwatch::flow
