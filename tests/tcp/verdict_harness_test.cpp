// Tests of the TCP differential harness itself, on literal tshark output lines and
// hand-made frames: the parser, the flag table, the comparison and the allow-list matching.
// Needs neither tshark nor the corpus.
#include <gtest/gtest.h>

#include <algorithm>

#include <string>

#include "tcp/verdict.hpp"
#include "tshark_verdicts.hpp"
#include "verdict_diff.hpp"

namespace seqwatch::tcpdiff {
namespace {

// Builds a line in the harness's column order: number, 15 flags, dup num, dup frame, stream,
// tcp.flags, tcp.len, vlan.id, protocols.
std::string line(const std::string& number, const std::array<const char*, kFlagCount>& flags, const char* dup_num,
                 const char* dup_frame, const char* protocols, const char* stream = "0", const char* tcp_flags = "0x0010",
                 const char* tcp_len = "0", const char* vlan = "") {
  std::string s = number;
  for (const char* f : flags) s += std::string("\t") + f;
  return s + "\t" + dup_num + "\t" + dup_frame + "\t" + stream + "\t" + tcp_flags + "\t" + tcp_len + "\t" + vlan +
         "\t" + protocols;
}

TEST(TsharkVerdictParser, FlagTableMatchesVerdictNames) {
  for (const FlagDef& f : kFlags) {
    EXPECT_EQ(f.field, "tcp.analysis." + std::string(f.name));
    const unsigned bit = static_cast<unsigned>(__builtin_ctz(f.bit));
    EXPECT_EQ(tcp::verdict_name(bit), f.name) << "verdict bit " << bit;
  }
  EXPECT_EQ(tshark_fields().size(), kFlagCount + 8);
  EXPECT_EQ(tshark_fields().front(), "frame.number");
  EXPECT_EQ(tshark_fields().back(), "frame.protocols");
}

TEST(TsharkVerdictParser, PlainFrameHasNoFlags) {
  std::string err;
  // tshark 4.0.17's line for arkime wireshark-retrans.pcap frame 1.
  const auto f = parse_tshark_line("1\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t0\t0x0002\t0\t\teth:ethertype:ip:tcp", err);
  ASSERT_TRUE(f.has_value()) << err;
  EXPECT_EQ(f->number, 1u);
  EXPECT_EQ(f->bits, 0u);
  EXPECT_TRUE(f->dupack_num.empty());
  EXPECT_EQ(f->tcp_layers, 1u);
  EXPECT_EQ(f->quoted_tcp_layers, 0u);
  EXPECT_EQ(f->protocols, "eth:ethertype:ip:tcp");
  EXPECT_EQ(f->streams, (std::vector<uint32_t>{0}));
  EXPECT_EQ(f->tcp_flags, (std::vector<uint32_t>{0x02}));
  EXPECT_EQ(f->tcp_len, (std::vector<uint32_t>{0}));
  EXPECT_TRUE(f->vlan_ids.empty());
}

TEST(TsharkVerdictParser, DuplicateAckWithTwoOccurrences) {
  // duplicate_ack prints "1,1": the flag item and its expert item share the field name.
  // tshark 4.0.17's values for arkime wireshark-retrans.pcap frame 19, in the harness's column order.
  std::string err;
  const auto f = parse_tshark_line("19\t\t\t\t\t\t\t1,1\t\t\t\t\t\t\t\t\t2\t17\t0\t0x0010\t0\t42,7\teth:ethertype:ip:tcp", err);
  ASSERT_TRUE(f.has_value()) << err;
  EXPECT_EQ(f->bits, uint32_t{tcp::kDuplicateAck});
  ASSERT_EQ(f->dupack_num.size(), 1u);
  EXPECT_EQ(f->dupack_num[0], 2u);
  ASSERT_EQ(f->dupack_frame.size(), 1u);
  EXPECT_EQ(f->dupack_frame[0], 17u);
  EXPECT_EQ(f->vlan_ids, (std::vector<uint32_t>{42, 7}));
}

TEST(TsharkVerdictParser, FastRetransmissionAndLastColumns) {
  std::string err;
  const auto f = parse_tshark_line(
      line("22", {"1", "1", "", "", "", "", "", "", "", "", "", "", "", "", "1"}, "", "", "eth:ethertype:ip:tcp"), err);
  ASSERT_TRUE(f.has_value()) << err;
  EXPECT_EQ(f->bits, uint32_t{tcp::kRetransmission | tcp::kFastRetransmission | tcp::kReusedPorts});
}

TEST(TsharkVerdictParser, IcmpQuotedTcpCountsLayers) {
  std::string err;
  const auto f = parse_tshark_line(
      line("5", {"", "", "", "", "1", "", "1,1,1,1", "", "", "", "", "", "", "", ""}, "1,3", "2,4",
           "eth:ethertype:ip:tcp:icmp:ip:tcp", "3,7"),
      err);
  ASSERT_TRUE(f.has_value()) << err;
  EXPECT_EQ(f->tcp_layers, 2u);
  EXPECT_EQ(f->quoted_tcp_layers, 1u);
  EXPECT_EQ(f->bits, uint32_t{tcp::kLostSegment | tcp::kDuplicateAck});
  EXPECT_EQ(f->dupack_num, (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(f->dupack_frame, (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(f->streams, (std::vector<uint32_t>{3, 7}));
}

TEST(TsharkVerdictParser, RejectsMalformedLines) {
  const std::array<const char*, kFlagCount> none{"", "", "", "", "", "", "", "", "", "", "", "", "", "", ""};
  std::string err;
  EXPECT_FALSE(parse_tshark_line("1\t\t\teth:ip:tcp", err).has_value());
  EXPECT_NE(err.find("columns"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(parse_tshark_line(line("x", none, "", "", "eth"), err).has_value());
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_FALSE(parse_tshark_line(line("3", none, "1,x", "", "eth"), err).has_value());
  EXPECT_NE(err.find("duplicate_ack_num"), std::string::npos) << err;
  err.clear();
  EXPECT_FALSE(parse_tshark_line(line("0", none, "", "", "eth"), err).has_value());
}

TsharkFrame ts_frame(uint32_t n, uint32_t bits, std::vector<uint32_t> num = {}, std::vector<uint32_t> fr = {}) {
  TsharkFrame f;
  f.number = n;
  f.bits = bits;
  f.dupack_num = std::move(num);
  f.dupack_frame = std::move(fr);
  f.tcp_layers = 1;
  return f;
}

// A TCP header quoted in an ICMP error that tshark flags reused_ports opened a new tshark
// conversation: disagreements in it are the rule's, those elsewhere stay unexplained.
// The other rules, each from the frame that shows its cause on, in that conversation only.
TEST(VerdictDiff, RulesCoverTheRestOfTheirConversation) {
  struct Case {
    Rule rule;
    TsharkFrame cause;  // frame 2, stream 0
    bool seqwatch_analysed_cause;
  };
  TsharkFrame synack = ts_frame(2, tcp::kReusedPorts);
  synack.tcp_flags = {0x12};
  TsharkFrame skipped = ts_frame(2, 0);  // left without tcp.len below: tshark stopped before its analysis
  TsharkFrame tagged = ts_frame(2, 0);
  tagged.vlan_ids = {300};
  TsharkFrame plain = ts_frame(2, 0);
  const Case cases[] = {{Rule::kSynAckNewIsn, synack, true},
                        {Rule::kTsharkSkippedSegment, skipped, true},
                        {Rule::kSeqwatchSkippedSegment, plain, false},
                        {Rule::kVlansMerged, tagged, true}};
  for (const Case& c : cases) {
    auto frame = [](TsharkFrame f, uint32_t stream) {
      f.streams = {stream};
      return f;
    };
    std::vector<TsharkFrame> ts = {frame(ts_frame(1, 0), 0), frame(c.cause, 0), frame(ts_frame(3, 0), 0),
                                   frame(ts_frame(4, 0), 1)};
    for (TsharkFrame& f : ts)
      if (f.number != 2 || c.rule != Rule::kTsharkSkippedSegment) f.tcp_len = {0};
    std::vector<SeqwatchFrame> sw(4);
    for (SeqwatchFrame& s : sw) s.tcp = true, s.bits = tcp::kRetransmission;  // disagrees on every frame
    sw[1].tcp = c.seqwatch_analysed_cause;
    const FileDiff d = compare_file("x.pcap", ts, sw, {});
    std::vector<uint32_t> ruled, open;
    for (const auto& [dis, r] : d.by_rule) {
      EXPECT_EQ(r, c.rule) << rule_name(c.rule);
      ruled.push_back(dis.frame);
    }
    for (const Disagreement& dis : d.unexplained) open.push_back(dis.frame);
    for (std::vector<uint32_t>* v : {&ruled, &open}) v->erase(std::unique(v->begin(), v->end()), v->end());
    // VLANs merged: the whole conversation; the others: from the cause on.
    const std::vector<uint32_t> want = c.rule == Rule::kVlansMerged ? std::vector<uint32_t>{1, 2, 3}
                                                                    : std::vector<uint32_t>{2, 3};
    EXPECT_EQ(ruled, want) << rule_name(c.rule);
    const std::vector<uint32_t> rest = c.rule == Rule::kVlansMerged ? std::vector<uint32_t>{4} : std::vector<uint32_t>{1, 4};
    EXPECT_EQ(open, rest) << rule_name(c.rule);
  }
}

TEST(VerdictDiff, IcmpQuoteOpenedStreamRule) {
  auto with = [](TsharkFrame f, std::vector<uint32_t> streams, unsigned quoted) {
    f.streams = std::move(streams);
    f.tcp_layers = 1;
    f.quoted_tcp_layers = quoted;
    f.tcp_len = {0};
    return f;
  };
  const std::vector<TsharkFrame> ts = {
      with(ts_frame(1, 0), {0}, 0),                  // SYN
      with(ts_frame(2, tcp::kRetransmission), {0}, 0),  // its re-send
      with(ts_frame(3, tcp::kReusedPorts), {1}, 1),  // ICMP error quoting it, another seq: stream 1
      with(ts_frame(4, 0), {1}, 0),                  // the next re-send, first of stream 1 for tshark
      with(ts_frame(5, 0), {2}, 0),                  // another connection
  };
  std::vector<SeqwatchFrame> sw(5);
  for (SeqwatchFrame& s : sw) s.tcp = true;
  sw[1].bits = tcp::kRetransmission;
  sw[3].bits = tcp::kRetransmission;  // seqwatch: still the same SYN re-sent
  sw[4].bits = tcp::kRetransmission;  // a real disagreement
  const FileDiff d = compare_file("x.pcap", ts, sw, {});
  ASSERT_EQ(d.by_rule.size(), 2u);  // frame 3's reused_ports, frame 4's retransmission
  EXPECT_EQ(d.by_rule[0].first.frame, 3u);
  EXPECT_EQ(d.by_rule[1].first.frame, 4u);
  EXPECT_EQ(d.by_rule[1].second, Rule::kIcmpQuoteOpenedStream);
  ASSERT_EQ(d.unexplained.size(), 1u);
  EXPECT_EQ(d.unexplained[0].frame, 5u);
  const size_t retx = 0;  // kFlags index of retransmission
  EXPECT_EQ(d.counts[retx].tp, 1u);
  EXPECT_EQ(d.counts[retx].fp, 1u);
}

TEST(VerdictDiff, CountsFlagsAndDupAckValues) {
  const std::vector<TsharkFrame> ts = {
      ts_frame(1, 0),
      ts_frame(2, tcp::kRetransmission | tcp::kFastRetransmission),
      ts_frame(3, tcp::kDuplicateAck, {2}, {1}),
      ts_frame(4, tcp::kOutOfOrder),
  };
  std::vector<SeqwatchFrame> sw(4);
  for (SeqwatchFrame& f : sw) f.tcp = true;
  sw[0].tcp = false;  // frame 1: tshark saw TCP, seqwatch's decoder did not deliver it
  sw[1].bits = tcp::kRetransmission | tcp::kSynRetransmission;  // own bits are not compared
  sw[2].bits = tcp::kDuplicateAck;
  sw[2].dupack_num = 2;
  sw[2].dupack_frame = 3;
  sw[3].bits = tcp::kRetransmission;
  const FileDiff d = compare_file("x/a.pcap", ts, sw, {});
  EXPECT_EQ(d.counts[0].tp, 1u);  // retransmission on frame 2
  EXPECT_EQ(d.counts[0].fp, 1u);  // retransmission on frame 4
  EXPECT_EQ(d.counts[1].fn, 1u);  // fast retransmission missed on frame 2
  EXPECT_EQ(d.counts[3].fn, 1u);  // out_of_order missed on frame 4
  EXPECT_EQ(d.counts[6].tp, 1u);  // duplicate_ack
  EXPECT_EQ(d.counts[kCheckDupNum].tp, 1u);
  EXPECT_EQ(d.counts[kCheckDupFrame].fp, 1u);
  EXPECT_EQ(d.counts[kCheckDupFrame].fn, 1u);
  EXPECT_EQ(d.unexplained.size(), 4u);
  EXPECT_EQ(d.tcp_not_analysed, (std::vector<uint32_t>{1}));
  EXPECT_TRUE(d.allowed.empty());
}

TEST(VerdictDiff, AllowListTakesMatchesOutOfTheScores) {
  const std::vector<TsharkFrame> ts = {ts_frame(1, tcp::kRetransmission), ts_frame(2, tcp::kKeepAlive)};
  std::vector<SeqwatchFrame> sw(2);
  const std::vector<AllowEntry> allow = {{"zeek/*/vlan-collisions.pcap", {1}, {"retransmission"}, "test"}};
  const FileDiff d = compare_file("zeek/testing/btest/Traces/vlan-collisions.pcap", ts, sw, allow);
  ASSERT_EQ(d.allowed.size(), 1u);
  EXPECT_EQ(d.allowed[0].first.frame, 1u);
  EXPECT_EQ(d.counts[0].fn, 0u);
  ASSERT_EQ(d.unexplained.size(), 1u);  // frame 2's keep_alive: another frame and check
  EXPECT_EQ(d.unexplained[0].check, 12u);

  EXPECT_TRUE(allow_matches({"a.pcap", {}, {"all"}, ""}, "a.pcap", 7, kCheckDupFrame));
  EXPECT_FALSE(allow_matches({"a.pcap", {}, {"all"}, ""}, "b/a.pcap", 7, 0));
  EXPECT_TRUE(allow_matches({"*/a.pcap", {}, {"all"}, ""}, "b/c/a.pcap", 7, 0));
}

TEST(VerdictDiff, ScoresAndThreshold) {
  EXPECT_TRUE(passes(CheckCounts{}, 0.99));           // nobody says yes
  EXPECT_FALSE(passes(CheckCounts{0, 0, 3}, 0.99));   // only tshark says yes
  EXPECT_FALSE(passes(CheckCounts{0, 2, 0}, 0.99));   // only seqwatch says yes
  EXPECT_TRUE(passes(CheckCounts{100, 1, 0}, 0.99));  // 0.990099
  EXPECT_FALSE(passes(CheckCounts{98, 0, 2}, 0.99));  // recall 0.98
  const Score s = score(CheckCounts{3, 1, 0});
  EXPECT_DOUBLE_EQ(s.precision, 0.75);
  EXPECT_DOUBLE_EQ(s.recall, 1.0);
}

}  // namespace
}  // namespace seqwatch::tcpdiff
