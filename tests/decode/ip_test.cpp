// IPv4 (options, fragments, length edge cases) and IPv6 (extension headers, fragments,
// jumbograms).
#include "decode_test_util.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeStatus;
using decode::L4Type;
using decode::LinkType;

constexpr uint32_t kEth = 14;
constexpr TcpSpec kTcp{.sport = 5000, .dport = 6000, .seq = 123456789, .ack = 987654321};

// ---- IPv4 ----------------------------------------------------------------------------

TEST(Ipv4, BasicFields) {
  const Bytes f = FrameBuilder().eth().ipv4({.ttl = 17}).tcp(kTcp).payload(30).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  const decode::IpLayer& l = d.v.ip[0];
  EXPECT_EQ(l.off, kEth);
  EXPECT_EQ(l.version, 4);
  EXPECT_EQ(l.ttl, 17);
  EXPECT_EQ(l.proto, 6);
  EXPECT_EQ(l.l4_off, kEth + 20);
  EXPECT_EQ(l.l4_len, 50u);
  EXPECT_EQ(l.flags, 0);
  EXPECT_EQ(d.v.flags, 0);
  EXPECT_EQ(d.v.tcp.payload_len, 30u);
}

class Ipv4Options : public ::testing::TestWithParam<size_t> {};

TEST_P(Ipv4Options, OptionsSkippedAndFlagged) {
  const size_t n = GetParam();  // option bytes: IHL = 5 + n / 4
  Bytes opts(n - 1, 0x01);      // NOPs
  opts.push_back(0x00);         // EOL
  const Bytes f = FrameBuilder().eth().ipv4({.options = opts}).tcp(kTcp).payload(7).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.ip_count, 1);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpOptions);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpHasOptions);
  EXPECT_EQ(d.v.ip[0].l4_off, kEth + 20 + n);
  EXPECT_EQ(d.v.l4_off, kEth + 20 + n);
  EXPECT_EQ(d.v.ip[0].l4_len, 27u);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 7u);
}

INSTANTIATE_TEST_SUITE_P(Ihl6To15, Ipv4Options, ::testing::Values(4, 8, 12, 16, 20, 24, 28, 32, 36, 40));

TEST(Ipv4, FirstFragmentStillParsesTcp) {
  const Bytes f = FrameBuilder().eth().ipv4({.mf = true}).tcp(kTcp).payload(64).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
  EXPECT_EQ(d.v.ip[0].flags & (decode::kIpFragment | decode::kIpFirstFragment),
            decode::kIpFragment | decode::kIpFirstFragment);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.ack, kTcp.ack);
  EXPECT_EQ(d.v.tcp.payload_len, 64u);  // of this fragment
}

TEST(Ipv4, LaterFragmentsHaveNoL4) {
  for (const bool more : {true, false}) {
    const Bytes f = FrameBuilder().eth().ipv4({.proto = 6, .mf = more, .frag_offset = 185}).payload(48).build();
    const Decoded d = decode_frame(f, LinkType::kEthernet);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    ASSERT_EQ(d.v.ip_count, 1);
    EXPECT_EQ(d.v.l4, L4Type::kNone);
    EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
    EXPECT_TRUE(d.v.ip[0].flags & decode::kIpFragment);
    EXPECT_FALSE(d.v.ip[0].flags & decode::kIpFirstFragment);
    EXPECT_EQ(d.v.ip[0].proto, 6);
    EXPECT_EQ(d.v.ip[0].l4_off, kEth + 20);
    EXPECT_EQ(d.v.ip[0].l4_len, 48u);
  }
}

TEST(Ipv4, DontFragmentIsNotAFragment) {
  const Decoded d = decode_frame(FrameBuilder().eth().ipv4({.df = true}).tcp(kTcp).build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_FALSE(d.v.flags & decode::kFlagFragment);
  EXPECT_EQ(d.v.ip[0].flags, 0);
}

TEST(Ipv4, EthernetPaddingIsFlaggedAndNotPayload) {
  // 14 + 20 + 20 = 54 bytes, padded to the 60-byte Ethernet minimum.
  const Bytes f = FrameBuilder().eth().ipv4().tcp(kTcp).trailer(6).build();
  ASSERT_EQ(f.size(), 60u);
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagPadding);
  EXPECT_FALSE(d.v.flags & decode::kFlagTruncated);
  EXPECT_EQ(d.v.ip[0].l4_len, 20u);
  EXPECT_EQ(d.v.tcp.payload_len, 0u);
}

TEST(Ipv4, ZeroTotalLengthTakesLengthFromFrame) {
  // TSO / BIG TCP captured on the sender: total length 0, the segment is 1000 bytes.
  const Bytes f = FrameBuilder().eth().ipv4({.total_len = 0}).tcp(kTcp).payload(1000).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenFromFrame);
  EXPECT_EQ(d.v.ip[0].l4_len, 1020u);
  EXPECT_EQ(d.v.tcp.payload_len, 1000u);
}

TEST(Ipv4, SnaplenCutKeepsLengthsFromHeader) {
  const Bytes f = FrameBuilder().eth().ipv4().tcp(kTcp).payload(1400).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, 96);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpTruncated);
  EXPECT_EQ(d.v.ip[0].l4_len, 1420u);
  EXPECT_EQ(d.v.tcp.payload_len, 1400u);
}

TEST(Ipv4, HeaderLengthBelowFiveIsBadIpHeaderLength) {
  for (int ihl : {0, 1, 4}) {
    const Bytes f = FrameBuilder().eth().ipv4({.ihl = ihl}).tcp().build();
    EXPECT_EQ(decode_frame(f, LinkType::kEthernet).status, DecodeStatus::kBadIpHeaderLength) << ihl;
  }
}

TEST(Ipv4, TotalLengthBelowHeaderLengthIsBadIpTotalLength) {
  EXPECT_EQ(decode_frame(FrameBuilder().eth().ipv4({.total_len = 19}).tcp().build(), LinkType::kEthernet).status,
            DecodeStatus::kBadIpTotalLength);
  EXPECT_EQ(decode_frame(FrameBuilder().eth().ipv4({.options = {1, 1, 1, 0}, .total_len = 22}).tcp().build(),
                         LinkType::kEthernet).status,
            DecodeStatus::kBadIpTotalLength);
}

TEST(Ipv4, CutFixedHeaderOrOptionsIsTruncatedIp) {
  const Bytes f = FrameBuilder().eth().ipv4({.options = Bytes(40, 1)}).tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, kEth + 19).status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, kEth).status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, kEth + 20 + 39).status, DecodeStatus::kTruncatedIp);
}

TEST(Ipv4, IcmpIsRecognised) {
  const Decoded d = decode_frame(FrameBuilder().eth().ipv4().icmp().build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.l4, L4Type::kIcmp);
  EXPECT_EQ(d.v.l4_off, kEth + 20);
}

TEST(Ipv4, UnknownProtocolIsOther) {
  const Decoded d = decode_frame(FrameBuilder().eth().ipv4({.proto = 132}).payload(12).build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.l4, L4Type::kOther);
  EXPECT_EQ(d.v.ip[0].proto, 132);
}

// ---- IPv6 ----------------------------------------------------------------------------

// IPv4 with an Authentication Header (RFC 4302): the TCP segment it protects is decoded,
// as tshark does and as IPv6's AH is walked with its extension headers (until 2026-12-02
// such packets were "other IP" and their flows went unanalysed).
TEST(Ipv4, AuthenticationHeaderThenTcp) {
  const Bytes f = FrameBuilder().eth().ipv4().ipv6_ah(0x1000, 7).tcp(kTcp).payload(100).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.ip[0].l4_off, kEth + 20 + 24);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 100u);
  // An AH longer than the IPv4 payload is an error, not a read past it.
  Bytes bad = f;
  bad[kEth + 20 + 1] = 200;
  EXPECT_EQ(decode_frame(bad, LinkType::kEthernet).status, DecodeStatus::kBadIpTotalLength);
}

TEST(Ipv6, BasicFields) {
  const Bytes f = FrameBuilder().eth().ipv6({.hop_limit = 3, .flow_label = 0xABCDE}).tcp(kTcp).payload(11).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  const decode::IpLayer& l = d.v.ip[0];
  EXPECT_EQ(l.version, 6);
  EXPECT_EQ(l.ttl, 3);
  EXPECT_EQ(l.proto, 6);
  EXPECT_EQ(l.l4_off, kEth + 40);
  EXPECT_EQ(l.l4_len, 31u);
  EXPECT_EQ(l.flags, 0);
  EXPECT_EQ(d.v.tcp.payload_len, 11u);
}

TEST(Ipv6, HopByHopThenTcp) {
  size_t tcp_off = 0;
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_hbh({0x05, 0x02, 0x00, 0x00}).at(tcp_off).tcp(kTcp).payload(5).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(tcp_off, kEth + 48);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.ip[0].l4_off, tcp_off);
  EXPECT_EQ(d.v.ip[0].l4_len, 25u);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpHasOptions);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.l4_off, tcp_off);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 5u);
}

TEST(Ipv6, RoutingHeaderThenUdp) {
  size_t udp_off = 0;
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_routing(4, 2, {ip6("2001:db8::a"), ip6("2001:db8::b")})
                      .at(udp_off).udp({.sport = 7, .dport = 9}).payload(3).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(udp_off, kEth + 40 + 40);
  EXPECT_EQ(d.v.ip[0].proto, 17);
  EXPECT_EQ(d.v.ip[0].l4_off, udp_off);
  ASSERT_EQ(d.v.l4, L4Type::kUdp);
  EXPECT_EQ(d.v.udp.sport, 7);
  EXPECT_EQ(d.v.udp.dport, 9);
  EXPECT_EQ(d.v.udp.length, 11);
}

TEST(Ipv6, DestinationOptionsThenTcp) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_dstopts(Bytes(14, 0)).tcp(kTcp).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip[0].l4_off, kEth + 40 + 16);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
}

TEST(Ipv6, FirstFragmentStillParsesTcp) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_frag(0, true).tcp(kTcp).payload(100).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.ip[0].l4_off, kEth + 48);
  EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
  EXPECT_EQ(d.v.ip[0].flags & (decode::kIpFragment | decode::kIpFirstFragment),
            decode::kIpFragment | decode::kIpFirstFragment);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 100u);
}

// An atomic fragment (offset 0, no more fragments: RFC 6946) is a whole packet: analysed as
// if the header were not there, as tshark does.
TEST(Ipv6, AtomicFragmentIsAWholePacket) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_frag(0, false).tcp(kTcp).payload(100).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_FALSE(d.v.flags & decode::kFlagFragment);
  EXPECT_FALSE(d.v.ip[0].flags & decode::kIpFragment);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpHasOptions);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 100u);
}

TEST(Ipv6, LaterFragmentHasNoL4) {
  for (const bool more : {true, false}) {
    const Bytes f = FrameBuilder().eth().ipv6().ipv6_frag(13, more, 1, wire::kProtoTcp).payload(40).build();
    const Decoded d = decode_frame(f, LinkType::kEthernet);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    ASSERT_EQ(d.v.ip_count, 1);
    EXPECT_EQ(d.v.l4, L4Type::kNone);
    EXPECT_EQ(d.v.ip[0].proto, 6);
    EXPECT_EQ(d.v.ip[0].l4_off, kEth + 48);
    EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
    EXPECT_TRUE(d.v.ip[0].flags & decode::kIpFragment);
    EXPECT_FALSE(d.v.ip[0].flags & decode::kIpFirstFragment);
  }
}

// In a fragment with offset != 0 the fragment header's next header names the first
// header of the fragmentable part, which is in the first fragment only (RFC 8200 4.5):
// the bytes after it are fragment data, not a destination-options header.
TEST(Ipv6, LaterFragmentDoesNotWalkFragmentableHeaders) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_frag(13, false, 1, wire::kNhDestOpts).payload(64, 0xAB).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.l4, L4Type::kNone);
  EXPECT_EQ(d.v.ip[0].proto, wire::kNhDestOpts);
  EXPECT_EQ(d.v.ip[0].l4_off, kEth + 48);
  EXPECT_EQ(d.v.ip[0].l4_len, 64u);
  EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
}

TEST(Ipv6, FullExtensionChainOffsetsAndProtocol) {
  size_t tcp_off = 0;
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_hbh().ipv6_dstopts({0x01, 0x02, 0, 0})
                      .ipv6_routing(4, 1, {kIp6Dst}).ipv6_frag(0, true).ipv6_dstopts(Bytes(20, 0)).at(tcp_off)
                      .tcp(kTcp).payload(9).build();
  // 8 (HBH) + 8 (DstOpts) + 24 (Routing) + 8 (Fragment) + 24 (DstOpts).
  ASSERT_EQ(tcp_off, kEth + 40 + 72);
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.ip[0].l4_off, tcp_off);
  EXPECT_EQ(d.v.ip[0].l4_len, 29u);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpHasOptions);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpFirstFragment);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.l4_off, tcp_off);
  EXPECT_EQ(d.v.tcp.payload_len, 9u);
}

TEST(Ipv6, AuthenticationHeaderThenTcp) {
  size_t tcp_off = 0;
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_ah(0x1000, 5, 12).at(tcp_off).tcp(kTcp).build();
  ASSERT_EQ(tcp_off, kEth + 40 + 24);
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip[0].proto, 6);
  EXPECT_EQ(d.v.l4_off, tcp_off);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
}

TEST(Ipv6, EightExtensionHeadersIsTheLimit) {
  FrameBuilder b;
  b.eth().ipv6();
  for (int i = 0; i < 8; ++i) b.ipv6_dstopts();
  const Decoded d = decode_frame(b.tcp(kTcp).build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.l4_off, kEth + 40 + 64);
  EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
}

TEST(Ipv6, NineExtensionHeadersIsTooDeep) {
  FrameBuilder b;
  b.eth().ipv6();
  for (int i = 0; i < 9; ++i) b.ipv6_dstopts();
  EXPECT_EQ(decode_frame(b.tcp().build(), LinkType::kEthernet).status, DecodeStatus::kIpv6ExtTooDeep);
}

TEST(Ipv6, CutExtensionHeaderIsTruncatedIpv6Ext) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_hbh().ipv6_routing(0, 0, {kIp6Dst}).tcp().build();
  for (size_t cut : {kEth + 40, kEth + 41, kEth + 47, kEth + 49, kEth + 60}) {
    const Decoded d = decode_frame(f, LinkType::kEthernet, cut);
    EXPECT_EQ(d.status, DecodeStatus::kTruncatedIpv6Ext) << cut;
  }
}

TEST(Ipv6, ExtensionHeaderPastPayloadIsBadIpv6Ext) {
  // Payload length 4, but the hop-by-hop header is 8 bytes (the rest looks like padding).
  const Bytes f = FrameBuilder().eth().ipv6({.payload_len = 4}).ipv6_hbh().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet).status, DecodeStatus::kBadIpv6Ext);
}

TEST(Ipv6, NoNextHeaderAndEspAreOther) {
  for (int nh : {wire::kProtoNoNext, wire::kProtoEsp}) {
    const Decoded d = decode_frame(FrameBuilder().eth().ipv6({.next_header = nh}).payload(16).build(), LinkType::kEthernet);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.v.ip[0].proto, nh);
    EXPECT_EQ(d.v.l4, L4Type::kOther);
    EXPECT_EQ(d.v.l4_off, kEth + 40);
  }
}

TEST(Ipv6, Icmpv6IsRecognised) {
  const Decoded d = decode_frame(FrameBuilder().eth().ipv6().icmpv6().build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.l4, L4Type::kIcmpv6);
}

TEST(Ipv6, PaddingIsFlagged) {
  const Decoded d = decode_frame(FrameBuilder().eth().ipv6().tcp(kTcp).trailer(4).build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagPadding);
  EXPECT_EQ(d.v.tcp.payload_len, 0u);
}

TEST(Ipv6, ZeroPayloadLengthWithoutJumboTakesLengthFromFrame) {
  const Bytes f = FrameBuilder().eth().ipv6({.payload_len = 0}).tcp(kTcp).payload(3000).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenFromFrame);
  EXPECT_EQ(d.v.ip[0].l4_len, 3020u);
  EXPECT_EQ(d.v.tcp.payload_len, 3000u);
}

TEST(Ipv6, JumboPayloadOption) {
  // A real jumbogram: more than 65535 bytes of payload (RFC 2675).
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_jumbo().tcp(kTcp).payload(70000).build();
  ASSERT_EQ(f[kEth + 4], 0);
  ASSERT_EQ(f[kEth + 5], 0);
  for (size_t caplen : {f.size(), size_t{200}}) {
    const Decoded d = decode_frame(f, LinkType::kEthernet, caplen);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << caplen;
    EXPECT_FALSE(d.v.flags & decode::kFlagIpLenFromFrame);
    EXPECT_EQ(d.v.ip[0].proto, 6);
    EXPECT_EQ(d.v.ip[0].l4_off, kEth + 48);
    EXPECT_EQ(d.v.ip[0].l4_len, 70020u);
    ASSERT_EQ(d.v.l4, L4Type::kTcp);
    EXPECT_EQ(d.v.tcp.seq, kTcp.seq);
    EXPECT_EQ(d.v.tcp.payload_len, 70000u);
    EXPECT_EQ(static_cast<bool>(d.v.flags & decode::kFlagTruncated), caplen != f.size());
  }
}

// A jumbo length near 2^32 is legal on the wire; a snaplen-cut capture of such a packet
// is truncated. The length arithmetic must not wrap (40 + 0xFFFFFFF0 overflows 32 bits).
TEST(Ipv6, JumboLengthNear4GiBIsTruncatedNotWrapped) {
  constexpr uint32_t kJumbo = 0xFFFFFFF0u;
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_jumbo(kJumbo).tcp(kTcp).payload(40).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_FALSE(d.v.flags & decode::kFlagPadding);
  EXPECT_EQ(d.v.ip[0].l4_len, kJumbo - 8);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.payload_len, kJumbo - 8 - 20);
}

// Same, cut right after the hop-by-hop header: nothing past caplen may be read (under
// AddressSanitizer an over-read aborts here).
TEST(Ipv6, JumboLengthNear4GiBCutBeforeTcpIsTruncatedTcp) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_jumbo(0xFFFFFFF0u).tcp(kTcp).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kEth + 48 + 6);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedTcp);
  EXPECT_EQ(d.v.ip_count, 1);
}

TEST(Ipv6, CutFixedHeaderIsTruncatedIp) {
  const Bytes f = FrameBuilder().eth().ipv6().tcp().build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kEth + 39);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(d.v.ip_count, 0);
}

}  // namespace
}  // namespace seqwatch::test
