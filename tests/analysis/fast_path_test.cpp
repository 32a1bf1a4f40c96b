// The analyzer's short path (analyzer.cpp, fast_segment) against the full rule walk
// (analyze_segment_rules): for every TCP segment of every corpus capture and of generated
// traces with every impairment (plus the same traces with segments perturbed at random),
// one flow entry is driven by analyze_segment_fast-then-rules and a twin by the rules alone.
// After every segment the verdicts and the whole flow entries must be identical, and a
// short path that declines must not have changed anything. Also one flow across the
// sequence-number wraps (2^31, 2^32).
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>

#include "decode/decoder.hpp"
#include "flow/flow_key.hpp"
#include "gen/gen_config.hpp"
#include "gen/trace_generator.hpp"
#include "source/pcap_file.hpp"
#include "support/corpus.hpp"
#include "tcp/analyzer.hpp"

namespace seqwatch::testing {
namespace {

using flow::FlowEntry;

bool same_verdict(const tcp::SegmentVerdict& a, const tcp::SegmentVerdict& b) {
  return a.bits == b.bits && a.dupack_frame == b.dupack_frame && a.dupack_num == b.dupack_num &&
         a.midack_offset == b.midack_offset && a.attempt == b.attempt;
}

// Two copies of every flow: `both` goes through the short path where it applies, `rules`
// through the full walk only.
class Twins {
 public:
  // `mutate`, when set, may change the decoded segment before both copies see it.
  template <class Mutate>
  void feed(const uint8_t* data, uint32_t caplen, decode::LinkType link, uint64_t ts_ns, uint32_t frame,
            Mutate&& mutate) {
    decode::PacketView v;
    if (decode::decode(data, caplen, link, v) != decode::DecodeStatus::kOk || !v.is_tcp()) return;
    flow::FlowKey key;
    flow::Dir dir;
    if (!flow::make_key(v, key, dir)) return;
    decode::TcpInfo t = v.tcp;
    mutate(t);
    feed_flow(std::string(reinterpret_cast<const char*>(&key), sizeof key), dir, t, ts_ns, frame);
  }

  // A segment given as header fields, of the one flow `feed_fields` keeps.
  void feed_fields(flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame) {
    feed_flow("fields", dir, t, ts_ns, frame);
  }

  uint64_t segments = 0;
  uint64_t fast = 0;       // segments a short path took
  uint64_t mismatches = 0;
  std::string first_mismatch;

 private:
  struct Pair {
    FlowEntry both{};
    FlowEntry rules{};
  };

  void feed_flow(const std::string& k, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame) {
    auto& slot = flows_[k];
    if (!slot) {
      slot = std::make_unique<Pair>();
      tcp::start_flow(slot->both, dir, t, ts_ns);
      tcp::start_flow(slot->rules, dir, t, ts_ns);
    }
    ++segments;
    segment(*slot, dir, t, ts_ns, frame);
  }

  void segment(Pair& p, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame) {
    tcp::SegmentVerdict va{}, vb{};
    const FlowEntry before = p.both;
    tcp::Action aa = tcp::Action::kNone;
    if (tcp::analyze_segment_fast(p.both, dir, t, ts_ns, frame, va)) {
      ++fast;
    } else {
      if (std::memcmp(&before, &p.both, sizeof before) != 0 || va.bits != 0) note(frame, "declined but changed state");
      aa = tcp::analyze_segment_rules(p.both, dir, t, ts_ns, frame, va);
    }
    const tcp::Action ab = tcp::analyze_segment_rules(p.rules, dir, t, ts_ns, frame, vb);
    if (aa != ab) note(frame, "different action");
    if (aa == tcp::Action::kRestart && ab == tcp::Action::kRestart) {
      // As the TCP stage does: the old flow ends, a new one starts with this segment.
      p.both = FlowEntry{};
      p.rules = FlowEntry{};
      tcp::start_flow(p.both, dir, t, ts_ns);
      tcp::start_flow(p.rules, dir, t, ts_ns);
      va = vb = tcp::SegmentVerdict{};
      tcp::analyze_segment(p.both, dir, t, ts_ns, frame, va);
      tcp::analyze_segment_rules(p.rules, dir, t, ts_ns, frame, vb);
    }
    if (!same_verdict(va, vb)) note(frame, "verdicts " + std::to_string(va.bits) + " vs " + std::to_string(vb.bits));
    if (std::memcmp(&p.both, &p.rules, sizeof(FlowEntry)) != 0) note(frame, "flow state differs");
  }

  void note(uint32_t frame, const std::string& what) {
    if (mismatches++ == 0) first_mismatch = "frame " + std::to_string(frame) + ": " + what;
  }

  std::unordered_map<std::string, std::unique_ptr<Pair>> flows_;
};

// Perturbs about one segment in `one_in`: sequence or ACK number moved back or forward, ACK
// number 0 (the "unset" value of the state), window closed, flags changed, payload cut:
// states the clean traces never reach.
struct Perturb {
  std::mt19937_64 rng;
  uint32_t one_in;
  void operator()(decode::TcpInfo& t) {
    if (one_in == 0 || rng() % one_in != 0) return;
    switch (rng() % 9) {
      case 0: t.seq -= static_cast<uint32_t>(rng() % 3000); break;
      case 1: t.seq += static_cast<uint32_t>(rng() % 3000); break;
      case 2: t.ack -= static_cast<uint32_t>(rng() % 3000); break;
      case 3: t.ack += static_cast<uint32_t>(rng() % 3000); break;
      case 4: t.window = 0; break;
      case 5: t.flags ^= static_cast<uint8_t>(1u << (rng() % 5)); break;
      case 6: t.payload_len = t.payload_len > 1 ? static_cast<uint32_t>(rng() % t.payload_len) : 1; break;
      case 7: t.ack = 0; break;
      default: t.window = static_cast<uint16_t>(rng()); break;
    }
  }
};

Twins run_generated(const std::string& preset, uint64_t packets, uint32_t flows, uint32_t perturb_one_in,
                    double ipv6_share = 0.0) {
  gen::GenConfig cfg;
  EXPECT_TRUE(gen::apply_preset(preset, cfg)) << preset;
  cfg.packets = packets;
  cfg.flows = flows;
  cfg.ipv6_share = ipv6_share;
  EXPECT_EQ(gen::validate(cfg), "");
  gen::TraceGenerator g(cfg);
  Twins tw;
  Perturb perturb{std::mt19937_64(cfg.seed), perturb_one_in};
  gen::Frame fr;
  uint32_t frame = 0;
  while (g.next(fr)) tw.feed(fr.data, fr.caplen, decode::LinkType::kEthernet, fr.ts_ns, ++frame, perturb);
  return tw;
}

void expect_twins(const Twins& tw, const std::string& what, double min_fast_share) {
  EXPECT_EQ(tw.mismatches, 0u) << what << ": " << tw.first_mismatch;
  ASSERT_GT(tw.segments, 0u) << what;
  EXPECT_GE(static_cast<double>(tw.fast) / static_cast<double>(tw.segments), min_fast_share)
      << what << ": the short path took " << tw.fast << " of " << tw.segments << " segments";
}

TEST(FastPath, GeneratedPresetsMatchTheRules) {
  for (const auto& name : gen::preset_names()) {
    if (name == "syn-flood") continue;  // SYNs only (below)
    const Twins tw = run_generated(std::string(name), 60000, 300, 0, 0.3);
    // Clean and lossy traffic alike: most segments are in-order data and advancing ACKs.
    expect_twins(tw, std::string(name), 0.5);
  }
}

// A flood of first SYNs: every one takes the first-SYN path; a repeated SYN (a
// retransmission: attempt 2) never does.
TEST(FastPath, SynFloodTakesTheFirstSynPath) {
  const Twins tw = run_generated("syn-flood", 5000, 1000, 0);
  EXPECT_EQ(tw.mismatches, 0u) << tw.first_mismatch;
  EXPECT_GT(tw.segments, 0u);
  EXPECT_EQ(tw.fast, tw.segments);
  Twins again;
  decode::TcpInfo syn{};
  syn.seq = 1000;
  syn.flags = decode::kTcpSyn;
  syn.window = 64240;
  again.feed_fields(flow::Dir::kAtoB, syn, 1'000'000'000, 1);
  again.feed_fields(flow::Dir::kAtoB, syn, 2'000'000'000, 2);
  EXPECT_EQ(again.mismatches, 0u) << again.first_mismatch;
  EXPECT_EQ(again.fast, 1u);
}

TEST(FastPath, PerturbedSegmentsMatchTheRules) {
  for (const char* name : {"lossy", "lb-midsegment", "imix-100k"}) {
    const Twins tw = run_generated(name, 60000, 200, 7, 0.2);
    expect_twins(tw, std::string(name) + " perturbed", 0.2);
  }
}

// In-order bulk data across 2^31 and 2^32 (ISNs just below both), every 16th pair of
// segments swapped, every 8th ACK repeated: the short path's serial comparisons near
// the wraps against the full walk's.
TEST(FastPath, SequenceWrapsMatchTheRules) {
  for (const uint32_t isn : {0xFFFF0000u, 0x7FFF0000u, 0xFFFFFFFFu}) {
    Twins tw;
    uint32_t frame = 0;
    uint64_t t = 1'000'000'000;
    auto seg = [&](bool from_client, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t len) {
      decode::TcpInfo s{};
      s.seq = seq;
      s.ack = ack;
      s.flags = flags;
      s.payload_len = len;
      s.window = 512;
      t += 50'000;
      tw.feed_fields(from_client ? flow::Dir::kAtoB : flow::Dir::kBtoA, s, t, ++frame);
    };
    const uint32_t srv = 0x12345678u;
    seg(true, isn, 0, decode::kTcpSyn, 0);
    seg(false, srv, isn + 1, decode::kTcpSyn | decode::kTcpAck, 0);
    seg(true, isn + 1, srv + 1, decode::kTcpAck, 0);
    uint32_t next = isn + 1;
    constexpr uint32_t kLen = 1448;
    for (int i = 0; i < 400; ++i) {
      if (i % 16 == 5) {  // two segments swapped
        seg(true, next + kLen, srv + 1, decode::kTcpAck, kLen);
        seg(true, next, srv + 1, decode::kTcpAck, kLen);
        next += 2 * kLen;
      } else {
        seg(true, next, srv + 1, decode::kTcpAck, kLen);
        next += kLen;
      }
      seg(false, srv + 1, next, decode::kTcpAck, 0);
      if (i % 8 == 3) seg(false, srv + 1, next, decode::kTcpAck, 0);  // a duplicate ACK
    }
    expect_twins(tw, "isn " + std::to_string(isn), 0.5);
  }
}

TEST(FastPath, CorpusMatchesTheRules) {
  const auto& c = test::corpus();
  if (!c.present) GTEST_FAIL() << "corpus not found (SEQWATCH_CORPUS_DIR=" << c.dir << ")";
  Twins all;
  size_t files = 0;
  for (const auto& file : c.files) {
    auto src = PcapFileSource::open(file.path);
    if (!src) continue;
    PcapFileSource& s = *src.value();
    Twins tw;
    std::array<PacketRef, kBurstSize> pkts{};
    for (;;) {
      const uint16_t n = s.rx_burst(pkts.data(), kBurstSize);
      if (n == 0) break;
      for (uint16_t i = 0; i < n; ++i)
        tw.feed(pkts[i].data, pkts[i].caplen, s.link_type(), pkts[i].ts_ns, pkts[i].frame, [](decode::TcpInfo&) {});
    }
    ++files;
    EXPECT_EQ(tw.mismatches, 0u) << file.rel << ": " << tw.first_mismatch;
    all.segments += tw.segments;
    all.fast += tw.fast;
  }
  EXPECT_GT(files, 0u);
  // Real captures hold handshakes, teardowns and scans, but most segments are still plain.
  EXPECT_GE(static_cast<double>(all.fast) / static_cast<double>(all.segments), 0.3)
      << "short path took " << all.fast << " of " << all.segments;
  std::printf("corpus: %zu files, %llu TCP segments, short path %llu (%.1f%%)\n", files,
              static_cast<unsigned long long>(all.segments), static_cast<unsigned long long>(all.fast),
              100.0 * static_cast<double>(all.fast) / static_cast<double>(all.segments));
}

}  // namespace
}  // namespace seqwatch::testing
