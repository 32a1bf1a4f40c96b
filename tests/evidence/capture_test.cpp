// Worker side: slices hold exactly the pre-trigger history, the trigger packet and the
// next M packets of the flow, in order; budgets, ring-full, trimming, triggers, sampling.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <map>
#include <set>

#include "evidence/capture.hpp"
#include "evidence_test_util.hpp"

namespace seqwatch::evidence {
namespace {

using test::PacketFactory;
using test::Pkt;

struct Rec {
  RecordHeader h;
  std::vector<uint8_t> data;
};

std::vector<Rec> drain(EvidenceCapture& c) {
  std::vector<Rec> out;
  c.ring().drain([&](const RecordHeader& h, const uint8_t* d) {
    out.push_back(Rec{h, std::vector<uint8_t>(d, d + (h.kind == RecordKind::kSliceBegin ? sizeof(flow::FlowKey) : h.caplen))});
  });
  return out;
}

// frame numbers of the kPacket records, in ring order
std::vector<uint64_t> frames_of(const std::vector<Rec>& rs) {
  std::vector<uint64_t> f;
  for (const Rec& r : rs)
    if (r.h.kind == RecordKind::kPacket) f.push_back(r.h.frame);
  return f;
}

CaptureConfig small_config(uint16_t k, uint16_t m) {
  CaptureConfig c;
  c.flow_slots = 64;
  c.pre_packets = k;
  c.post_packets = m;
  c.ring = 1024;
  c.trim = {TrimMode::kBytes, 256};
  c.budget.global_packets = 0;
  return c;
}

TriggerSet rst_triggers() {
  TriggerConfig tc;
  tc.rst = true;
  tc.dup_ack_run = 3;
  auto t = TriggerSet::compile(tc);
  EXPECT_TRUE(t.ok());
  return t.value();
}

FlowRef ref(const Pkt& p, uint32_t id) { return FlowRef{id, id, static_cast<uint8_t>(p.dir), &p.key}; }

tcp::SegmentVerdict none() { return {}; }
tcp::SegmentVerdict dupack(uint16_t n) {
  tcp::SegmentVerdict v;
  v.bits = tcp::kDuplicateAck;
  v.dupack_num = n;
  return v;
}

TEST(EvidenceSlice, PreTriggerPostExactlyInOrder) {
  auto c = EvidenceCapture::create(small_config(3, 2), rst_triggers()).value();
  PacketFactory f;
  std::vector<const Pkt*> a, b;
  // Two interleaved flows; flow 1 triggers (dup-ACK run of 3) on its 6th packet.
  for (int i = 0; i < 10; ++i) {
    const Pkt& pa = f.tcp(40001, i % 2 == 0, 1000 + i * 10);
    c->observe(pa.ref, pa.view, ref(pa, 1), i == 5 ? dupack(3) : (i == 4 ? dupack(2) : none()));
    a.push_back(&pa);
    const Pkt& pb = f.tcp(40002, true, 1005 + i * 10);
    c->observe(pb.ref, pb.view, ref(pb, 2), none());
    b.push_back(&pb);
  }
  const auto rs = drain(*c);
  ASSERT_EQ(rs.size(), 1u + 3 + 1 + 2 + 1);
  EXPECT_EQ(rs.front().h.kind, RecordKind::kSliceBegin);
  EXPECT_EQ(rs.front().h.triggers, uint32_t{kTrigDupAckRun});
  EXPECT_EQ(rs.front().h.frame, a[5]->ref.frame);
  flow::FlowKey k;
  std::memcpy(&k, rs.front().data.data(), sizeof k);
  EXPECT_TRUE(k == a[0]->key);
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{a[2]->ref.frame, a[3]->ref.frame, a[4]->ref.frame, a[5]->ref.frame,
                                                   a[6]->ref.frame, a[7]->ref.frame}));
  const std::vector<Role> roles = {Role::kPre, Role::kPre, Role::kPre, Role::kTrigger, Role::kPost, Role::kPost};
  for (size_t i = 0; i < roles.size(); ++i) EXPECT_EQ(rs[1 + i].h.role, roles[i]) << i;
  EXPECT_EQ(rs[4].h.verdicts, uint32_t{tcp::kDuplicateAck});
  EXPECT_EQ(rs.back().h.kind, RecordKind::kSliceEnd);
  EXPECT_EQ(rs.back().h.end_reason, EndReason::kPostDone);
  for (const Rec& r : rs) EXPECT_EQ(r.h.slice, rs.front().h.slice);
  // Bytes are the frame's bytes.
  EXPECT_EQ(rs[1].data, a[2]->bytes);
  EXPECT_EQ(c->counters().slices, 1u);
  EXPECT_EQ(c->counters().emitted, 6u);
}

TEST(EvidenceSlice, ShortHistoryAndNewHistoryAfterSlice) {
  auto c = EvidenceCapture::create(small_config(4, 1), rst_triggers()).value();
  PacketFactory f;
  std::vector<const Pkt*> a;
  // RST on packet 2 (history of 1), then 5 more packets, RST again on the last.
  for (int i = 0; i < 8; ++i) {
    const bool rst = i == 1 || i == 7;
    const Pkt& p = f.tcp(40001, true, 1000 + i, 0, rst ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
    c->observe(p.ref, p.view, ref(p, 9), none());
    a.push_back(&p);
  }
  const auto rs = drain(*c);
  // slice 1: pre {0}, trigger 1, post 2; slice 2: pre {3,4,5,6}, trigger 7 (no post yet)
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(c->counters().slices, 2u);
  EXPECT_EQ(c->counters().triggers[4], 2u);  // kTrigRst
}

TEST(EvidenceSlice, TriggerInsideSliceExtendsIt) {
  auto c = EvidenceCapture::create(small_config(2, 2), rst_triggers()).value();
  PacketFactory f;
  for (int i = 0; i < 10; ++i) {
    const Pkt& p = f.tcp(40001, true, 1000 + i);
    c->observe(p.ref, p.view, ref(p, 1), i == 3 || i == 4 ? dupack(3) : none());
  }
  const auto rs = drain(*c);
  // pre 2,3; trigger 4; trigger 5 (merged, restarts M); post 6,7
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(c->counters().triggers_merged, 1u);
}

// evidence.triggers[].post_packets: a RST's slice gets its own M (1), a dup-ACK run's the
// evidence-wide one (4); a packet firing both gets the larger.
TEST(EvidenceSlice, APerTriggerPostCountAppliesToItsSlices) {
  CaptureConfig cfg = small_config(1, 4);
  cfg.post_override = kTrigRst;
  cfg.post_by_trigger[4] = 1;  // kTrigRst's bit
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  auto run = [&](uint16_t port, int trigger_at, bool rst, bool dup, int rst_at = -1) {
    for (int i = 0; i < 8; ++i) {
      const bool fire = i == trigger_at;
      const bool r = (fire && rst) || i == rst_at;
      const Pkt& p = f.tcp(port, true, 1000 + i, 0, r ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
      c->observe(p.ref, p.view, ref(p, port), fire && dup ? dupack(3) : none());
    }
    std::vector<Role> roles;
    for (const Rec& r : drain(*c))
      if (r.h.kind == RecordKind::kPacket) roles.push_back(r.h.role);
    return roles;
  };
  EXPECT_EQ(run(40001, 2, true, false), (std::vector<Role>{Role::kPre, Role::kTrigger, Role::kPost}));
  EXPECT_EQ(run(40002, 2, false, true),
            (std::vector<Role>{Role::kPre, Role::kTrigger, Role::kPost, Role::kPost, Role::kPost, Role::kPost}));
  EXPECT_EQ(run(40003, 2, true, true),
            (std::vector<Role>{Role::kPre, Role::kTrigger, Role::kPost, Role::kPost, Role::kPost, Role::kPost}));
  // A RST inside the dup-ACK run's slice extends it by its own M at most, never shortens it.
  EXPECT_EQ(run(40004, 1, false, true, 2), (std::vector<Role>{Role::kPre, Role::kTrigger, Role::kTrigger, Role::kPost,
                                                             Role::kPost, Role::kPost, Role::kPost}));
}

TEST(EvidenceBudget, PerFlowSlicesAndPackets) {
  CaptureConfig cfg = small_config(2, 1);
  cfg.budget.flow_slices = 1;
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  for (int i = 0; i < 10; ++i) {
    const Pkt& p = f.tcp(40001, true, 1000 + i);
    c->observe(p.ref, p.view, ref(p, 1), i == 3 || i == 8 ? dupack(3) : none());
  }
  EXPECT_EQ(frames_of(drain(*c)), (std::vector<uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(c->counters().refused_flow_budget, 1u);

  cfg.budget.flow_slices = 0;
  cfg.budget.flow_packets = 5;
  cfg.post_packets = 10;
  auto d = EvidenceCapture::create(cfg, rst_triggers()).value();
  for (int i = 0; i < 12; ++i) {
    const Pkt& p = f.tcp(40001, true, 2000 + i);
    d->observe(p.ref, p.view, ref(p, 1), i == 3 ? dupack(3) : none());
  }
  const auto rs = drain(*d);
  EXPECT_EQ(frames_of(rs).size(), 5u);
  EXPECT_EQ(rs.back().h.end_reason, EndReason::kFlowBudget);
  EXPECT_EQ(d->counters().cut_flow_budget, 1u);
}

TEST(EvidenceBudget, GlobalBudgetPerInterval) {
  CaptureConfig cfg = small_config(2, 0);
  cfg.budget.global_packets = 7;  // two slices of 3 fit, the third does not
  cfg.budget.global_interval_ms = 1000;
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  for (uint32_t flow = 1; flow <= 3; ++flow) {
    for (int i = 0; i < 3; ++i) {
      const Pkt& p = f.tcp(static_cast<uint16_t>(40000 + flow), true, 1000 + flow * 10 + i);
      c->observe(p.ref, p.view, ref(p, flow), i == 2 ? dupack(3) : none());
    }
  }
  EXPECT_EQ(c->counters().slices, 2u);
  EXPECT_EQ(c->counters().refused_global_budget, 1u);
  // A new interval refills the budget.
  for (int i = 0; i < 3; ++i) {
    const Pkt& p = f.tcp(40009, true, 2'000'000'000ull + i);
    c->observe(p.ref, p.view, ref(p, 9), i == 2 ? dupack(3) : none());
  }
  EXPECT_EQ(c->counters().slices, 3u);
}

TEST(EvidenceBudget, FullRingIsCountedNeverBlocks) {
  CaptureConfig cfg = small_config(2, 100);
  cfg.ring = 8;
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  for (int i = 0; i < 50; ++i) {
    const Pkt& p = f.tcp(40001, true, 1000 + i);
    c->observe(p.ref, p.view, ref(p, 1), i == 2 ? dupack(3) : none());
  }
  EXPECT_EQ(drain(*c).size(), 8u);
  EXPECT_GT(c->counters().ring_full, 0u);
  // A trigger without room for its history is refused, not half-emitted.
  auto d = EvidenceCapture::create(cfg, rst_triggers()).value();
  for (int fl = 1; fl <= 3; ++fl)
    for (int i = 0; i < 3; ++i) {
      const Pkt& p = f.tcp(static_cast<uint16_t>(41000 + fl), true, 5000 + i);
      d->observe(p.ref, p.view, ref(p, fl), i == 2 ? dupack(3) : none());
    }
  EXPECT_EQ(d->counters().refused_ring, 2u);  // flow 1's open slice fills the ring
}

TEST(EvidenceTrim, HeadersModeKeepsOriginalLength) {
  CaptureConfig cfg = small_config(4, 0);
  cfg.trim = {TrimMode::kHeaders, 128};
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  const Pkt& p1 = f.tcp(40001, true, 1000, 1400);
  c->observe(p1.ref, p1.view, ref(p1, 1), none());
  const Pkt& p2 = f.tcp(40001, true, 1001, 0, test::wire::kRst);
  c->observe(p2.ref, p2.view, ref(p2, 1), none());
  const auto rs = drain(*c);
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[1].h.caplen, 14u + 20u + 20u);  // Ethernet + IPv4 + TCP header
  EXPECT_EQ(rs[1].h.wirelen, p1.bytes.size());
  EXPECT_EQ(rs[1].data, std::vector<uint8_t>(p1.bytes.begin(), p1.bytes.begin() + 54));
  cfg.trim = {TrimMode::kBytes, 100};
  auto d = EvidenceCapture::create(cfg, rst_triggers()).value();
  d->observe(p1.ref, p1.view, ref(p1, 1), none());
  d->observe(p2.ref, p2.view, ref(p2, 1), none());
  const auto ds = drain(*d);
  EXPECT_EQ(ds[1].h.caplen, 100u);
  EXPECT_EQ(ds[1].h.wirelen, p1.bytes.size());
  EXPECT_EQ(ds[2].h.caplen, 54u);  // shorter than the snap: whole frame
}

// A frame whose source lost its wire length (a net_pcap replay of a snaplen-cut file, a
// net_af_packet frame cut at its ring slot: wirelen 0) and whose bytes end before its IP
// length says: its records carry the IP length as the original length, so Wireshark reads
// them as cut frames (history, trigger and sample records alike). A whole frame keeps its
// captured length.
TEST(EvidenceTrim, CutFramesWithoutAWireLengthKeepTheirIpLength) {
  CaptureConfig cfg = small_config(4, 0);
  cfg.trim = {TrimMode::kHeaders, 128};
  cfg.sample.every_n = 1;
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  const Pkt& full = f.tcp(40001, true, 1000, 1400);
  Pkt cut = full;                    // the same frame, only its first 200 bytes delivered
  cut.ref.caplen = 200;
  cut.ref.wirelen = 0;
  decode::decode(cut.bytes.data(), cut.ref.caplen, decode::LinkType::kEthernet, cut.view);
  c->observe(cut.ref, cut.view, ref(cut, 1), none());
  c->sample(cut.ref, cut.view, cut.hash, true);
  const Pkt& rst = f.tcp(40001, true, 1001, 0, test::wire::kRst);
  Pkt whole = rst;
  whole.ref.wirelen = 0;
  c->observe(whole.ref, whole.view, ref(whole, 1), none());
  const auto rs = drain(*c);
  ASSERT_EQ(rs.size(), 5u);  // sample, slice begin, history (the cut frame), trigger, end
  EXPECT_EQ(rs[0].h.wirelen, full.bytes.size());  // the sample: 14 + 20 + 20 + 1400
  EXPECT_EQ(rs[0].h.caplen, 54u);
  EXPECT_EQ(rs[2].h.wirelen, full.bytes.size());
  EXPECT_EQ(rs[3].h.wirelen, whole.bytes.size());
}

// History entries are written with 16-byte non-temporal stores and a shuffled last chunk:
// every trim length from 1 to 80 bytes (every tail size, frames shorter and longer than 16)
// comes back byte for byte, and the bytes after it are not part of the record.
TEST(EvidenceTrim, EveryLengthComesBackExactlyFromTheHistory) {
  PacketFactory f;
  const Pkt& p1 = f.tcp(40001, true, 1000, 1400);
  const Pkt& p2 = f.tcp(40001, true, 1001, 0, test::wire::kRst);
  for (uint32_t snap = 1; snap <= 80; ++snap) {
    CaptureConfig cfg = small_config(4, 0);
    cfg.trim = {TrimMode::kBytes, snap};
    auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
    c->observe(p1.ref, p1.view, ref(p1, 1), none());  // into the history
    c->observe(p2.ref, p2.view, ref(p2, 1), none());  // the trigger
    const auto rs = drain(*c);
    ASSERT_EQ(rs.size(), 4u) << snap;
    EXPECT_EQ(rs[1].h.caplen, snap);
    EXPECT_EQ(rs[1].data, std::vector<uint8_t>(p1.bytes.begin(), p1.bytes.begin() + snap)) << snap;
    EXPECT_EQ(rs[1].h.wirelen, p1.bytes.size());
  }
}

// Whole frames (snap above every length) from buffers that end exactly where the frame ends:
// the history's vector copy (16-byte moves, the last ending at the length) reads nothing past
// the frame (the ASan build checks) and every length comes back byte for byte, across the
// inline lengths (32-256) and the memcpy ones on either side.
TEST(EvidenceTrim, WholeFramesFromExactBuffersComeBackExactly) {
  PacketFactory f;
  const Pkt& trig = f.tcp(40001, true, 5000, 0, test::wire::kRst);
  for (uint32_t payload = 0; payload <= 300; ++payload) {
    const Pkt& p = f.tcp(40001, true, 1000, payload);
    CaptureConfig cfg = small_config(4, 0);
    // Above every frame length here (<= 400 bytes), and small: the ring reserves snap bytes
    // per record, and 301 rings of 65535-byte records (64 MiB each) took 67 s where malloc
    // fills every allocation (meson's MALLOC_PERTURB_), past the test timeout on a busy CI.
    cfg.trim = {TrimMode::kBytes, 1024};
    ASSERT_GT(cfg.trim.snap, p.bytes.size());
    auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
    std::unique_ptr<uint8_t[]> exact(new uint8_t[p.bytes.size()]);
    std::memcpy(exact.get(), p.bytes.data(), p.bytes.size());
    PacketRef r = p.ref;
    r.data = exact.get();
    c->observe(r, p.view, ref(p, 1), none());
    c->observe(trig.ref, trig.view, ref(trig, 1), none());
    const auto rs = drain(*c);
    ASSERT_EQ(rs.size(), 4u) << payload;
    EXPECT_EQ(rs[1].h.caplen, p.bytes.size());
    EXPECT_EQ(rs[1].data, p.bytes) << payload;
  }
}

TEST(EvidenceTrigger, RetransmissionStormWithinWindow) {
  TriggerConfig tc;
  tc.retx_storm_count = 3;
  tc.retx_storm_window_ms = 100;
  const TriggerSet t = TriggerSet::compile(tc).value();
  FlowTriggerState st;
  SegmentInput in;
  in.verdict.bits = tcp::kRetransmission;
  auto at = [&](uint64_t ms) {
    in.ts_ns = ms * 1000000;
    return t.evaluate(st, in);
  };
  EXPECT_EQ(at(0), 0u);
  EXPECT_EQ(at(150), 0u);
  EXPECT_EQ(at(200), 0u);       // 0,150,200: span 200 ms > 100
  EXPECT_EQ(at(240), uint32_t{kTrigRetxStorm});  // 150,200,240: within 100 ms
  EXPECT_EQ(at(250), 0u);       // the storm fired: counting starts again
  EXPECT_EQ(at(260), 0u);
  EXPECT_EQ(at(270), uint32_t{kTrigRetxStorm});
}

TEST(EvidenceTrigger, ZeroWindowLongerThanT) {
  TriggerConfig tc;
  tc.zero_window_ms = 500;
  const TriggerSet t = TriggerSet::compile(tc).value();
  FlowTriggerState st;
  SegmentInput zw;
  zw.verdict.bits = tcp::kZeroWindow;
  zw.dir = 1;
  auto seg = [&](SegmentInput in, uint64_t ms) {
    in.ts_ns = ms * 1000000;
    return t.evaluate(st, in);
  };
  EXPECT_EQ(seg(zw, 1000), 0u);
  EXPECT_EQ(seg(zw, 1400), 0u);
  EXPECT_EQ(seg(zw, 1500), uint32_t{kTrigZeroWindow});
  EXPECT_EQ(seg(zw, 1700), 0u);  // once per episode
  SegmentInput open;
  open.dir = 1;
  open.window = 1000;
  EXPECT_EQ(seg(open, 1800), 0u);
  EXPECT_EQ(seg(zw, 1900), 0u);
  EXPECT_EQ(seg(zw, 2400), uint32_t{kTrigZeroWindow});
  // Time stepping back (merged interfaces or queues) is no time: no episode of 584 years.
  FlowTriggerState back;
  zw.ts_ns = 1000 * 1000000ull;
  EXPECT_EQ(t.evaluate(back, zw), 0u);
  zw.ts_ns = 990 * 1000000ull;
  EXPECT_EQ(t.evaluate(back, zw), 0u);
}

TEST(EvidenceTrigger, SimpleTriggersAndConfigErrors) {
  TriggerConfig tc;
  tc.ack_in_segment = true;
  tc.syn_attempts = 3;
  tc.payload_rules = {7, 3};
  tc.bpf_mask = 0b10;
  const TriggerSet t = TriggerSet::compile(tc).value();
  FlowTriggerState st;
  SegmentInput in;
  in.verdict.bits = tcp::kAckInSegment;
  EXPECT_EQ(t.evaluate(st, in), uint32_t{kTrigAckInSegment});
  in.verdict.bits = tcp::kSynRetransmission;
  in.verdict.attempt = 2;
  EXPECT_EQ(t.evaluate(st, in), 0u);
  in.verdict.attempt = 3;
  EXPECT_EQ(t.evaluate(st, in), uint32_t{kTrigSynUnanswered});
  in.verdict.bits = tcp::kDuplicateAck;  // dup-ack trigger off
  in.verdict.dupack_num = 3;
  EXPECT_EQ(t.evaluate(st, in), 0u);
  in.verdict = {};
  in.tcp_flags = 0x04;  // RST trigger off
  EXPECT_EQ(t.evaluate(st, in), 0u);
  EXPECT_TRUE(t.payload_rule(3, false));  // named: whatever its action
  EXPECT_TRUE(t.payload_rule(3, true));
  EXPECT_FALSE(t.payload_rule(4, true));
  EXPECT_EQ(t.bpf(0b01), 0u);
  in.extra = t.bpf(0b10);
  EXPECT_EQ(t.evaluate(st, in), uint32_t{kTrigBpf});

  TriggerConfig bad;
  bad.retx_storm_count = 40;
  bad.retx_storm_window_ms = 10;
  auto r = TriggerSet::compile(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("retransmission storm"), std::string::npos);
  EXPECT_EQ(trigger_names(kTrigRst | kTrigBpf), "rst,bpf");
}

// A verdict trigger fires on a segment carrying any of its verdicts, and only then; the
// worker's quiet test must not skip such a segment.
TEST(EvidenceTrigger, VerdictTriggerFiresOnItsVerdictsOnly) {
  TriggerConfig tc;
  tc.verdict_mask = tcp::kSpuriousRetransmission | tcp::kRstAfterFin;
  const TriggerSet t = TriggerSet::compile(tc).value();
  EXPECT_EQ(t.enabled(), uint32_t{kTrigVerdict});
  FlowTriggerState st;
  SegmentInput in;
  in.verdict.bits = tcp::kOutOfOrder | tcp::kWindowUpdate;
  EXPECT_TRUE(t.quiet(st, in.verdict.bits, 0x10, 0, 0));
  EXPECT_EQ(t.evaluate(st, in), 0u);
  in.verdict.bits = tcp::kRetransmission | tcp::kFastRetransmission;
  EXPECT_EQ(t.evaluate(st, in), 0u);
  in.verdict.bits = tcp::kRetransmission | tcp::kSpuriousRetransmission;
  EXPECT_FALSE(t.quiet(st, in.verdict.bits, 0x10, 0, 0));
  EXPECT_EQ(t.evaluate(st, in), uint32_t{kTrigVerdict});
  in.verdict.bits = tcp::kRstAfterFin;
  EXPECT_FALSE(t.quiet(st, in.verdict.bits, 0x14, 1, 0));
  EXPECT_EQ(t.evaluate(st, in), uint32_t{kTrigVerdict});  // the rst trigger is off: only the verdict's
  EXPECT_EQ(trigger_names(kTrigVerdict | kTrigRst), "rst,verdict");

  TriggerConfig bad;
  bad.verdict_mask = 1u << tcp::kVerdictBits;
  ASSERT_FALSE(TriggerSet::compile(bad).ok());
  EXPECT_EQ(tcp::verdict_bit("synack_after_ack"), 30);
  EXPECT_EQ(tcp::verdict_bit("no_such_verdict"), -1);
  EXPECT_EQ(tcp::verdict_bit(""), -1);  // bit 15 has no name
  for (unsigned b = 0; b < tcp::kVerdictBits; ++b) {
    if (tcp::kVerdictNames[b].empty()) continue;
    EXPECT_EQ(tcp::verdict_bit(tcp::verdict_name(b)), static_cast<int>(b));
  }
}

TEST(EvidenceTrigger, SynUnansweredAtFlowEnd) {
  TriggerConfig tc;
  tc.syn_unanswered_at_end = true;
  auto c = EvidenceCapture::create(small_config(4, 4), TriggerSet::compile(tc).value()).value();
  PacketFactory f;
  for (int i = 0; i < 3; ++i) {
    const Pkt& p = f.tcp(40001, true, 1000 + i, 0, test::wire::kSyn);
    c->observe(p.ref, p.view, ref(p, 1), none());
  }
  c->flow_end(FlowRef{1, 1, 0, nullptr}, true);
  const auto rs = drain(*c);
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(rs.front().h.triggers, uint32_t{kTrigSynUnanswered});
  EXPECT_EQ(rs.back().h.end_reason, EndReason::kFlowEnded);
}

TEST(EvidenceSample, FlowHashKeepsBothDirectionsTogether) {
  CaptureConfig cfg = small_config(2, 0);
  cfg.ring = 1u << 14;
  cfg.sample.flow_fraction = 0.25;
  auto c = EvidenceCapture::create(cfg, TriggerSet{}).value();
  PacketFactory f;
  constexpr int kFlows = 800;
  for (int fl = 0; fl < kFlows; ++fl) {
    const test::Ip4 client{10, 1, static_cast<uint8_t>(fl >> 8), static_cast<uint8_t>(fl)};
    for (int i = 0; i < 4; ++i) {
      const Pkt& p = f.tcp(static_cast<uint16_t>(30000 + fl), i % 2 == 0, 1000 + i, 10, test::wire::kAck, 8192, client);
      c->sample(p.ref, p.view, p.hash, true);
    }
  }
  std::map<std::string, std::set<int>> dirs;  // flow (client address) -> directions seen
  c->ring().drain([&](const RecordHeader& h, const uint8_t* d) {
    ASSERT_EQ(h.kind, RecordKind::kSample);
    decode::PacketView v;
    decode::decode(d, h.caplen, decode::LinkType::kEthernet, v);
    flow::FlowKey k;
    flow::Dir dir;
    ASSERT_TRUE(flow::make_key(v, k, dir));
    dirs[std::string(reinterpret_cast<const char*>(&k), sizeof k)].insert(static_cast<int>(dir));
  });
  for (const auto& [k, d] : dirs) EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(c->counters().samples, dirs.size() * 4);
  EXPECT_GT(dirs.size(), kFlows * 0.15);
  EXPECT_LT(dirs.size(), kFlows * 0.35);
}

TEST(EvidenceSample, OneInN) {
  CaptureConfig cfg = small_config(2, 0);
  cfg.sample.every_n = 10;
  cfg.sample.trim = {TrimMode::kHeaders, 64};
  auto c = EvidenceCapture::create(cfg, TriggerSet{}).value();
  PacketFactory f;
  for (int i = 0; i < 1000; ++i) {
    const Pkt& p = f.tcp(40001, true, 1000 + i, 500);
    c->sample(p.ref, p.view, 0, false);
  }
  EXPECT_EQ(c->counters().samples, 100u);
  std::vector<uint64_t> frames;
  c->ring().drain([&](const RecordHeader& h, const uint8_t*) {
    frames.push_back(h.frame);
    EXPECT_EQ(h.caplen, 54u);
    EXPECT_EQ(h.wirelen, 554u);
  });
  EXPECT_EQ(frames.front(), 1u);
  EXPECT_EQ(frames[1], 11u);
}

TEST(EvidenceMemory, BoundedAndReported) {
  CaptureConfig cfg;
  cfg.flow_slots = 1u << 10;
  cfg.pre_packets = 8;
  cfg.trim.snap = 128;
  cfg.ring = 1u << 10;
  cfg.history_bytes = 1u << 20;
  auto c = EvidenceCapture::create(cfg, TriggerSet{}).value();
  // per flow slot: its state; the history log; K walk positions; the ring
  const size_t expect = size_t{1024} * sizeof(EvidenceCapture::FlowSlot) + (1u << 20) + 8 * 8 + 1024 * record_stride(128);
  EXPECT_EQ(c->memory_bytes(), expect);
  EXPECT_EQ(sizeof(EvidenceCapture::FlowSlot), 192u);
  // Flow slots start as zero pages: the default state must be all-zero bytes.
  const EvidenceCapture::FlowSlot fresh{};
  const auto* bytes = reinterpret_cast<const uint8_t*>(&fresh);
  EXPECT_TRUE(std::all_of(bytes, bytes + sizeof fresh, [](uint8_t b) { return b == 0; }));
  cfg.history_bytes = 3u << 20;  // not a power of two
  EXPECT_FALSE(EvidenceCapture::create(cfg, TriggerSet{}).ok());
  cfg.history_bytes = 4096;  // fewer than 64 entries of 48 + 128 bytes
  auto small = EvidenceCapture::create(cfg, TriggerSet{});
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("history_bytes 4096"), std::string::npos) << small.error().message;
  cfg.pre_packets = 0;  // no history: no log
  EXPECT_EQ(EvidenceCapture::create(cfg, TriggerSet{}).value()->memory_bytes(),
            size_t{1024} * sizeof(EvidenceCapture::FlowSlot) + 1024 * record_stride(128));
  cfg.flow_slots = 1000;
  EXPECT_FALSE(EvidenceCapture::create(cfg, TriggerSet{}).ok());
}

// One log holds every flow's history: a flow's slice gets its own last packets, never
// another flow's, however the flows interleave; each flow keeps its own trigger state.
TEST(EvidenceHistory, InterleavedFlowsEachGetTheirOwnHistory) {
  CaptureConfig cfg = small_config(2, 0);
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  std::vector<const Pkt*> a, b;
  // Flows 1 and 2 alternate; both build a dup-ACK run of 3 (fires on their third packet).
  for (int i = 0; i < 3; ++i) {
    const Pkt& pa = f.tcp(40001, true, 1000 + i);
    c->observe(pa.ref, pa.view, ref(pa, 1), dupack(static_cast<uint16_t>(i + 1)));
    a.push_back(&pa);
    const Pkt& pb = f.tcp(40002, true, 2000 + i);
    c->observe(pb.ref, pb.view, ref(pb, 2), dupack(static_cast<uint16_t>(i + 1)));
    b.push_back(&pb);
  }
  const auto rs = drain(*c);
  EXPECT_EQ(c->counters().triggers[1], 2u) << "both flows' dup-ACK runs fired";  // kTrigDupAckRun
  EXPECT_EQ(c->counters().slices, 2u);
  EXPECT_EQ(c->counters().history_cut, 0u);
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{a[0]->ref.frame, a[1]->ref.frame, a[2]->ref.frame, b[0]->ref.frame,
                                                   b[1]->ref.frame, b[2]->ref.frame}));
  std::map<uint64_t, uint32_t> flow_of_slice;
  for (const Rec& r : rs) {
    if (r.h.kind == RecordKind::kSliceBegin) flow_of_slice[r.h.slice] = r.h.flow_id;
    if (r.h.kind == RecordKind::kPacket) {
      const bool from_b = std::any_of(b.begin(), b.end(), [&](const Pkt* p) { return p->ref.frame == r.h.frame; });
      EXPECT_EQ(flow_of_slice[r.h.slice], from_b ? 2u : 1u) << "frame " << r.h.frame << " in the other flow's slice";
    }
  }
  // The bytes come back from the log unchanged.
  for (const Rec& r : rs) {
    if (r.h.kind == RecordKind::kPacket && r.h.frame == a[0]->ref.frame) {
      EXPECT_EQ(r.data, a[0]->bytes);
    }
  }
}

// The log keeps the latest packets of all flows: when other traffic has lapped it since a
// flow's packets were stored, the flow's slice begins with what is left (counted), and never
// with bytes that now belong to other packets.
TEST(EvidenceHistory, ALappedLogCutsTheHistoryAndCountsIt) {
  CaptureConfig cfg = small_config(4, 0);
  cfg.trim = {TrimMode::kBytes, 64};
  const uint64_t entry = sizeof(EvidenceCapture::HistEntry) + 64;  // header + 64 trimmed bytes (a multiple of 16)
  uint64_t bytes = 1;
  while (bytes < 64 * entry) bytes <<= 1;  // the smallest log: 64 entries, rounded up to a power of two
  cfg.history_bytes = bytes;
  const uint64_t per_lap = bytes / entry;  // 32-byte header: 85 entries of 96 bytes in 8 KiB
  auto c = EvidenceCapture::create(cfg, rst_triggers()).value();
  PacketFactory f;
  std::vector<const Pkt*> a;
  for (int i = 0; i < 3; ++i) {  // flow 1 stores 3 packets
    const Pkt& p = f.tcp(40001, true, 1000 + i);
    c->observe(p.ref, p.view, ref(p, 1), none());
    a.push_back(&p);
  }
  // Flow 1 holds entries 0-2; flow 2's next per_lap - 3 fill the log (the bytes at its end
  // that hold no whole entry stay unused), its next two go to the start of the next lap, over
  // flow 1's first two entries; flow 1's third survives.
  ASSERT_GT(per_lap, 64u);
  for (uint64_t i = 0; i < per_lap - 1; ++i) {
    const Pkt& p = f.tcp(40002, true, 5000 + static_cast<uint32_t>(i));
    c->observe(p.ref, p.view, ref(p, 2), none());
  }
  const Pkt& trig = f.tcp(40001, true, 1003, 0, test::wire::kRst | test::wire::kAck);
  c->observe(trig.ref, trig.view, ref(trig, 1), none());
  const auto rs = drain(*c);
  EXPECT_EQ(c->counters().slices, 1u);
  EXPECT_EQ(c->counters().history_cut, 1u);
  EXPECT_EQ(c->counters().history_cut_packets, 2u);
  EXPECT_EQ(frames_of(rs), (std::vector<uint64_t>{a[2]->ref.frame, trig.ref.frame}));
  for (const Rec& r : rs) {
    if (r.h.kind == RecordKind::kPacket && r.h.frame == a[2]->ref.frame) {  // trimmed to 64 bytes
      EXPECT_EQ(r.data, std::vector<uint8_t>(a[2]->bytes.begin(), a[2]->bytes.begin() + 64));
    }
  }
}

}  // namespace
}  // namespace seqwatch::evidence
