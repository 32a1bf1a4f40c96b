// Tests of the differential harness itself, on hand-written tshark lines and models: the
// parser attributes fields to the right layer, the comparison notices a change in every
// field, and the allow-list accepts only what its classes describe. No tshark or corpus
// needed.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "allow_list.hpp"
#include "decode/packet_view.hpp"
#include "frame_model.hpp"
#include "tshark_frames.hpp"

namespace seqwatch::corpus {
namespace {

// One tshark output line from field values given by name (absent fields are empty).
std::string line(const std::map<std::string, std::string>& values) {
  std::string out;
  for (const std::string& f : tshark_field_names()) {
    if (!out.empty()) out += '\t';
    const auto it = values.find(f);
    if (it != values.end()) out += it->second;
  }
  return out;
}

FrameModel parse(const std::map<std::string, std::string>& values) {
  std::string error;
  auto m = parse_tshark_line(line(values), error);
  EXPECT_TRUE(m.has_value()) << error;
  return m.value_or(FrameModel{});
}

Addr v4(const char* text) { return parse_addr(text, 4).value(); }

TcpModel tcp(uint64_t sport, uint64_t dport, uint64_t seq, uint64_t ack, uint64_t flags, uint64_t window,
             uint64_t len, uint64_t hdr_len) {
  TcpModel t;
  t.sport = sport;
  t.dport = dport;
  t.seq = seq;
  t.ack = ack;
  t.flags = flags;
  t.window = window;
  t.len = len;
  t.hdr_len = hdr_len;
  return t;
}

TEST(TsharkParser, VxlanStackAttributesFieldsToLayers) {
  const FrameModel m = parse({
      {"frame.number", "7"},
      {"frame.protocols", "eth:ethertype:vlan:ethertype:ip:udp:vxlan:eth:ethertype:vlan:ethertype:ip:tcp:http"},
      {"frame.len", "120"}, {"frame.cap_len", "120"},
      {"ip.src", "10.0.0.1,192.168.1.1"}, {"ip.dst", "10.0.0.2,192.168.1.2"},
      {"udp.srcport", "40000"}, {"udp.dstport", "4789"},
      {"tcp.srcport", "1234"}, {"tcp.dstport", "80"}, {"tcp.seq_raw", "4000000000"}, {"tcp.ack_raw", "7"},
      {"tcp.flags", "0x0e18"}, {"tcp.window_size_value", "512"}, {"tcp.len", "100"}, {"tcp.hdr_len", "32"},
      {"vlan.id", "10,20"}, {"vxlan.vni", "5001"},
      {"tcp.options.mss_val", "1460"}, {"tcp.options.sack_le", "5,12"}, {"tcp.options.sack_re", "9,20"},
  });
  EXPECT_EQ(m.number, 7u);
  ASSERT_EQ(m.ip.size(), 2u);
  EXPECT_EQ(m.vlan, std::vector<uint16_t>{10});
  EXPECT_EQ(m.inner_vlan, 20);
  EXPECT_EQ(m.ip[0].src, v4("10.0.0.1"));
  EXPECT_EQ(m.ip[1].dst, v4("192.168.1.2"));
  EXPECT_EQ(m.ip[0].next, "udp");
  ASSERT_TRUE(m.ip[0].udp.has_value());
  EXPECT_EQ(m.ip[0].udp->dport, 4789u);
  EXPECT_EQ(m.ip[0].tunnel, "vxlan");
  EXPECT_EQ(m.ip[0].tunnel_key, 5001u);
  EXPECT_EQ(m.ip[1].next, "tcp");
  ASSERT_TRUE(m.ip[1].tcp.has_value());
  EXPECT_EQ(m.ip[1].tcp->seq, 4000000000u);
  EXPECT_EQ(m.ip[1].tcp->flags, 0x018u);  // reserved bits left out
  EXPECT_EQ(m.ip[1].tcp->len, 100u);
  EXPECT_EQ(m.ip[1].tcp->mss, 1460u);
  EXPECT_EQ(m.ip[1].tcp->sack, "5-9,12-20");
  EXPECT_FALSE(m.ip[1].tcp->tsval.has_value());
  EXPECT_FALSE(m.ip[1].tunnel.has_value());
}

TEST(TsharkParser, IcmpErrorQuoteIsMarkedQuoted) {
  const FrameModel m = parse({
      {"frame.number", "1"}, {"frame.protocols", "eth:ethertype:ip:icmp:ip:tcp"},
      {"ip.src", "10.0.0.9,10.0.0.1"}, {"ip.dst", "10.0.0.1,10.0.0.2"},
      {"tcp.srcport", "1"}, {"tcp.dstport", "2"},
  });
  ASSERT_EQ(m.ip.size(), 2u);
  EXPECT_EQ(m.ip[0].next, "icmp");
  EXPECT_FALSE(m.ip[0].quoted);
  EXPECT_TRUE(m.ip[1].quoted);
  EXPECT_FALSE(m.ip[0].tunnel.has_value());
}

TEST(TsharkParser, GreKeysAttributedOnlyWhenEveryGreHasOne) {
  const FrameModel both = parse({{"frame.number", "1"}, {"frame.protocols", "eth:ethertype:ip:gre:ip:gre:ip:tcp"},
                                 {"ip.src", "1.1.1.1,2.2.2.2,3.3.3.3"}, {"ip.dst", "1.1.1.2,2.2.2.3,3.3.3.4"},
                                 {"gre.key", "0x00000028,0x00000029"}});
  ASSERT_EQ(both.ip.size(), 3u);
  EXPECT_EQ(both.ip[0].tunnel_key, 0x28u);
  EXPECT_EQ(both.ip[1].tunnel_key, 0x29u);
  const FrameModel one = parse({{"frame.number", "1"}, {"frame.protocols", "eth:ethertype:ip:gre:ip:gre:ip:tcp"},
                                {"ip.src", "1.1.1.1,2.2.2.2,3.3.3.3"}, {"ip.dst", "1.1.1.2,2.2.2.3,3.3.3.4"},
                                {"gre.key", "0x00000028"}});
  EXPECT_FALSE(one.ip[0].tunnel_key_known);
  EXPECT_FALSE(one.ip[1].tunnel_key_known);
}

TEST(TsharkParser, RejectsAWrongColumnCount) {
  std::string error;
  EXPECT_FALSE(parse_tshark_line("1\teth", error).has_value());
  EXPECT_NE(error.find("columns"), std::string::npos);
}

// A frame with a tunnel and TCP, as both sides would model it.
FrameModel tunneled_tcp() {
  FrameModel m;
  m.number = 1;
  m.vlan = {42};
  IpModel outer;
  outer.version = 4;
  outer.src = v4("10.0.0.1");
  outer.dst = v4("10.0.0.2");
  outer.next = "udp";
  outer.udp = UdpModel{40000, 4789};
  outer.tunnel = "vxlan";
  outer.tunnel_key = 5;
  IpModel inner;
  inner.version = 4;
  inner.src = v4("192.168.0.1");
  inner.dst = v4("192.168.0.2");
  inner.next = "tcp";
  inner.tcp = tcp(1234, 80, 1, 2, 0x18, 512, 100, 40);
  inner.tcp->mss = 1460;
  inner.tcp->wscale = 7;
  inner.tcp->tsval = 100;
  inner.tcp->tsecr = 99;
  inner.tcp->sack = "10-20";
  m.ip = {outer, inner};
  return m;
}

TEST(Compare, EveryFieldChangeIsADisagreement) {
  const FrameModel ts = tunneled_tcp();
  struct Mutation {
    Field field;
    void (*apply)(FrameModel&);
  };
  const Mutation mutations[] = {
      {Field::kIpLayers, [](FrameModel& m) { m.ip.pop_back(); }},
      {Field::kIpVersion, [](FrameModel& m) { m.ip[1].version = 6; }},
      {Field::kIpSrc, [](FrameModel& m) { m.ip[0].src = v4("10.0.0.3"); }},
      {Field::kIpDst, [](FrameModel& m) { m.ip[1].dst = v4("192.168.0.3"); }},
      {Field::kNext, [](FrameModel& m) { m.ip[1].next = std::string("-"); }},  // move: GCC 12 -Wrestrict false positive on a literal
      {Field::kTunnel, [](FrameModel& m) { m.ip[0].tunnel = "geneve"; }},
      {Field::kTunnelKey, [](FrameModel& m) { m.ip[0].tunnel_key = 6; }},
      {Field::kTcpSport, [](FrameModel& m) { m.ip[1].tcp->sport = 1; }},
      {Field::kTcpDport, [](FrameModel& m) { m.ip[1].tcp->dport = 1; }},
      {Field::kTcpSeq, [](FrameModel& m) { m.ip[1].tcp->seq = 9; }},
      {Field::kTcpAck, [](FrameModel& m) { m.ip[1].tcp->ack = 9; }},
      {Field::kTcpFlags, [](FrameModel& m) { m.ip[1].tcp->flags = 0x10; }},
      {Field::kTcpWindow, [](FrameModel& m) { m.ip[1].tcp->window = 1; }},
      {Field::kTcpLen, [](FrameModel& m) { m.ip[1].tcp->len = 99; }},
      {Field::kTcpHdrLen, [](FrameModel& m) { m.ip[1].tcp->hdr_len = 32; }},
      {Field::kTcpMss, [](FrameModel& m) { m.ip[1].tcp->mss.reset(); }},
      {Field::kTcpWscale, [](FrameModel& m) { m.ip[1].tcp->wscale = 8; }},
      {Field::kTcpTsval, [](FrameModel& m) { m.ip[1].tcp->tsval = 1; }},
      {Field::kTcpTsecr, [](FrameModel& m) { m.ip[1].tcp->tsecr = 1; }},
      {Field::kTcpSack, [](FrameModel& m) { m.ip[1].tcp->sack = std::string("10-21"); }},
      {Field::kUdpSport, [](FrameModel& m) { m.ip[0].udp->sport = 1; }},
      {Field::kUdpDport, [](FrameModel& m) { m.ip[0].udp->dport = 1; }},
      {Field::kVlan, [](FrameModel& m) { m.vlan = {42, 7}; }},
      {Field::kInnerVlan, [](FrameModel& m) { m.inner_vlan = 3; }},
      {Field::kMplsLabel, [](FrameModel& m) { m.mpls_label = 16; }},
  };
  for (const Mutation& mu : mutations) {
    FrameModel sw = ts;
    mu.apply(sw);
    FieldCounts counts;
    std::vector<Disagreement> d;
    compare(sw, ts, counts, d);
    bool found = false;
    for (const Disagreement& x : d) found |= x.field == mu.field;
    EXPECT_TRUE(found) << field_name(mu.field) << " change not reported";
  }
  FieldCounts counts;
  std::vector<Disagreement> d;
  compare(ts, ts, counts, d);
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(counts.agreed, counts.compared);
  EXPECT_EQ(counts.compared[static_cast<size_t>(Field::kTcpSeq)][1], 1u);  // inside the tunnel
}

TEST(AllowList, IcmpQuoteAcceptsOnlyTheQuotedLayers) {
  FrameModel ts;
  IpModel outer;
  outer.version = 4;
  outer.next = "icmp";
  IpModel quoted = outer;
  quoted.next = "tcp";
  quoted.quoted = true;
  ts.ip = {outer, quoted};
  FrameModel sw;
  sw.ip = {outer};
  const Disagreement layers{Field::kIpLayers, -1, "1", "2"};
  EXPECT_STREQ(classify(FrameContext{"f", sw, ts}, layers)->name, "icmp-error-quote");
  ts.ip[1].quoted = false;  // a real tunnel seqwatch missed is not a quote
  EXPECT_EQ(classify(FrameContext{"f", sw, ts}, layers), nullptr);
}

TEST(AllowList, TcpHeaderCutAcceptsOnlyTheNextProtocolOfACutHeader) {
  FrameModel ts;
  IpModel l;
  l.version = 4;
  l.next = "tcp";
  ts.ip = {l};
  FrameModel sw = ts;
  sw.ip[0].next = "-";
  sw.status = "truncated_tcp";
  const Disagreement next{Field::kNext, 0, "-", "tcp"};
  EXPECT_STREQ(classify(FrameContext{"f", sw, ts}, next)->name, "tcp-header-cut");
  sw.status = "ok";  // seqwatch read the frame fine and still named nothing: a real bug
  EXPECT_EQ(classify(FrameContext{"f", sw, ts}, next), nullptr);
  sw.status = "truncated_tcp";
  ts.ip[0].next = "udp";  // tshark saw another protocol
  EXPECT_EQ(classify(FrameContext{"f", sw, ts}, next), nullptr);
}

TEST(AllowList, IpLongerThanFrameNeedsAnUncutTruncatedFrame) {
  FrameModel ts;
  IpModel l;
  l.version = 4;
  l.next = "tcp";
  l.tcp = tcp(1, 2, 3, 4, 0x10, 5, 1440, 32);
  ts.ip = {l};
  ts.frame_len = ts.cap_len = 1506;
  FrameModel sw = ts;
  sw.ip[0].tcp->len = 1448;
  sw.flags = decode::kFlagTruncated;
  const Disagreement len{Field::kTcpLen, 0, "1448", "1440"};
  EXPECT_STREQ(classify(FrameContext{"f", sw, ts}, len)->name, "ip-longer-than-frame");
  sw.flags = 0;  // seqwatch did not see the frame as cut: a real length bug
  EXPECT_EQ(classify(FrameContext{"f", sw, ts}, len), nullptr);
}

}  // namespace
}  // namespace seqwatch::corpus
