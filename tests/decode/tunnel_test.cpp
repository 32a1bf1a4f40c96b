// Tunnels: the outer packet stays in ip[0], the inner one is inner_ip(), tunnel[i] sits
// between ip[i] and ip[i+1] with its key / VNI / session / TEID.
#include "decode_test_util.hpp"
#include "frame_catalog.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeStatus;
using decode::L4Type;
using decode::LinkType;
using decode::TunnelType;

constexpr TcpSpec kInnerTcp{.sport = 11111, .dport = 443, .seq = 0xFFFFFFF0u, .ack = 0x10, .flags = wire::kAck,
                            .window = 300};
constexpr uint32_t kOuterIpOff = 14;
constexpr uint32_t kAfterOuter4 = 14 + 20;

// What a two-layer tunnel frame must decode to.
struct Expect {
  TunnelType type;
  uint32_t tunnel_off;
  uint32_t inner_off;
  uint8_t outer_version = 4;
  uint8_t inner_version = 4;
  bool inner_ether = false;
};

void expect_tunnel(const Decoded& d, const Expect& e) {
  const PacketView& v = d.v;
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(v.ip_count, 2);
  ASSERT_EQ(v.tunnel_count, 1);
  // Outer packet kept.
  EXPECT_EQ(v.outer_ip().off, kOuterIpOff);
  EXPECT_EQ(v.outer_ip().version, e.outer_version);
  if (e.outer_version == 4) {
    EXPECT_EQ(bytes_of(v.src_addr(v.ip[0])), bytes_of(kOuter4Src));
    EXPECT_EQ(bytes_of(v.dst_addr(v.ip[0])), bytes_of(kOuter4Dst));
  } else {
    EXPECT_EQ(bytes_of(v.src_addr(v.ip[0])), bytes_of(kOuter6Src));
    EXPECT_EQ(bytes_of(v.dst_addr(v.ip[0])), bytes_of(kOuter6Dst));
  }
  // The tunnel between them.
  EXPECT_EQ(v.tunnel[0].type, e.type);
  EXPECT_EQ(v.tunnel[0].outer_ip, 0);
  EXPECT_EQ(v.tunnel[0].off, e.tunnel_off);
  // Inner 5-tuple.
  const decode::IpLayer& in = v.inner_ip();
  EXPECT_EQ(&in, &v.ip[1]);
  EXPECT_EQ(in.off, e.inner_off);
  EXPECT_EQ(in.version, e.inner_version);
  EXPECT_EQ(in.proto, 6);
  if (e.inner_version == 4) {
    EXPECT_EQ(bytes_of(v.src_addr(in)), bytes_of(kIp4Src));
    EXPECT_EQ(bytes_of(v.dst_addr(in)), bytes_of(kIp4Dst));
  } else {
    EXPECT_EQ(bytes_of(v.src_addr(in)), bytes_of(kIp6Src));
    EXPECT_EQ(bytes_of(v.dst_addr(in)), bytes_of(kIp6Dst));
  }
  ASSERT_EQ(v.l4, L4Type::kTcp);
  EXPECT_EQ(v.l4_off, in.l4_off);
  EXPECT_EQ(v.tcp.sport, kInnerTcp.sport);
  EXPECT_EQ(v.tcp.dport, kInnerTcp.dport);
  EXPECT_EQ(v.tcp.seq, kInnerTcp.seq);
  EXPECT_EQ(v.tcp.ack, kInnerTcp.ack);
  EXPECT_EQ(v.tcp.payload_len, 17u);
  EXPECT_EQ(static_cast<bool>(v.flags & decode::kFlagInnerEther), e.inner_ether);
  EXPECT_FALSE(v.flags & decode::kFlagTruncated);
}

constexpr Ipv4Spec kOuter4{.src = kOuter4Src, .dst = kOuter4Dst};
const Ipv6Spec kOuter6{.src = kOuter6Src, .dst = kOuter6Dst};

Decoded decode_eth(const FrameBuilder& b) { return decode_frame(b.build(), LinkType::kEthernet); }

// A frame on a tunnel's port that is no tunnel packet: one IP layer, plain UDP, no error.
void expect_plain_udp(const Decoded& d) {
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.tunnel_count, 0);
  EXPECT_EQ(d.v.l4, L4Type::kUdp);
}

// ---- GRE -----------------------------------------------------------------------------

TEST(Gre, PlainIpv4Payload) {
  size_t gre = 0, inner = 0;
  FrameBuilder b;
  Ipv4Spec outer = kOuter4;
  outer.id = 0x0BAD;  // the inner header keeps the builder's 0x1234
  b.eth().ipv4(outer).at(gre).gre().at(inner).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGre, static_cast<uint32_t>(gre), static_cast<uint32_t>(inner)});
  EXPECT_EQ(inner, kAfterOuter4 + 4);
  EXPECT_EQ(d.v.ip[0].proto, wire::kProtoGre);
  EXPECT_FALSE(d.v.tunnel[0].has_key);
  EXPECT_FALSE(d.v.tunnel[0].has_seq);
  // The copy check's identity: the IPv4 header carrying the segment (the inner one).
  EXPECT_EQ(d.v.tcp.ip_id, 0x1234);
}

TEST(Gre, PlainIpv6Payload) {
  size_t inner = 0;
  FrameBuilder b;
  Ipv4Spec outer = kOuter4;
  outer.id = 0x0BAD;
  b.eth().ipv4(outer).gre().at(inner).ipv6().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGre, .tunnel_off = kAfterOuter4,
                    .inner_off = static_cast<uint32_t>(inner), .inner_version = 6});
  // IPv6 carries no identification: the IPv4 tunnel packet's stands for it.
  EXPECT_EQ(d.v.tcp.ip_id, 0x0BAD);
}

TEST(Gre, OverIpv6) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv6(kOuter6).gre({.key = 1}).at(inner).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGre, .tunnel_off = 14 + 40, .inner_off = static_cast<uint32_t>(inner),
                    .outer_version = 6});
  EXPECT_EQ(d.v.ip[0].proto, wire::kProtoGre);
}

TEST(Gre, ChecksumKeyAndSequence) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.key = 0xDEADBEEF, .seq = 0xFFFFFFFF, .checksum = true}).at(inner).ipv4().tcp(kInnerTcp)
      .payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 16);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, static_cast<uint32_t>(inner)});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0xDEADBEEFu);
  EXPECT_TRUE(d.v.tunnel[0].has_seq);
  EXPECT_EQ(d.v.tunnel[0].seq, 0xFFFFFFFFu);
}

TEST(Gre, KeyOnlyAndSequenceOnly) {
  {
    FrameBuilder b;
    b.eth().ipv4(kOuter4).gre({.key = 7}).ipv4().tcp(kInnerTcp).payload(17);
    const Decoded d = decode_eth(b);
    expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, kAfterOuter4 + 8});
    EXPECT_TRUE(d.v.tunnel[0].has_key);
    EXPECT_EQ(d.v.tunnel[0].key, 7u);
    EXPECT_FALSE(d.v.tunnel[0].has_seq);
  }
  {
    FrameBuilder b;
    b.eth().ipv4(kOuter4).gre({.seq = 3, .checksum = true}).ipv4().tcp(kInnerTcp).payload(17);
    const Decoded d = decode_eth(b);
    expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, kAfterOuter4 + 12});
    EXPECT_FALSE(d.v.tunnel[0].has_key);
    EXPECT_TRUE(d.v.tunnel[0].has_seq);
    EXPECT_EQ(d.v.tunnel[0].seq, 3u);
  }
}

TEST(Gre, TransparentEthernetBridging) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.key = 5}).eth().vlan(300).at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 8 + 14 + 4);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGre, .tunnel_off = kAfterOuter4, .inner_off = static_cast<uint32_t>(inner),
                    .inner_ether = true});
  EXPECT_EQ(d.v.tunnel[0].key, 5u);
  EXPECT_EQ(d.v.inner_vlan, 300);
  EXPECT_EQ(d.v.vlan_count, 0);
  EXPECT_EQ(d.v.ethertype, wire::kEthIpv4);  // the outer frame's
}

TEST(Gre, MplsPayload) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre().mpls(20).at(inner).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, static_cast<uint32_t>(inner)});
  EXPECT_EQ(d.v.mpls_label, 20u);
}

TEST(Gre, UnknownProtocolStopsAfterTheTunnel) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.proto = 0x0806}).payload(28);
  const Decoded d = decode_eth(b);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.tunnel_count, 1);
  EXPECT_EQ(d.v.tunnel[0].type, TunnelType::kGre);
}

// ---- ERSPAN --------------------------------------------------------------------------

TEST(Erspan, TypeOneIsGreWithoutSequence) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre().erspan1().eth().at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 4 + 14);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kErspan1, .tunnel_off = kAfterOuter4,
                    .inner_off = static_cast<uint32_t>(inner), .inner_ether = true});
  EXPECT_FALSE(d.v.tunnel[0].has_key);
}

TEST(Erspan, TypeTwoSessionId) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.seq = 9}).erspan2(0x3A5, 10, 1, /*cos_en_t=*/0x3F).eth().vlan(12).at(inner).ipv4()
      .tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 8 + 8 + 14 + 4);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kErspan2, .tunnel_off = kAfterOuter4,
                    .inner_off = static_cast<uint32_t>(inner), .inner_ether = true});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0x3A5u);
  EXPECT_TRUE(d.v.tunnel[0].has_seq);
  EXPECT_EQ(d.v.tunnel[0].seq, 9u);
  EXPECT_EQ(d.v.inner_vlan, 12);
}

TEST(Erspan, TypeThreeWithoutPlatformSubheader) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.seq = 1}).erspan3(0x2AA, false, 2, 0x3F).eth().at(inner).ipv6().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 8 + 12 + 14);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kErspan3, .tunnel_off = kAfterOuter4,
                    .inner_off = static_cast<uint32_t>(inner), .inner_version = 6, .inner_ether = true});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0x2AAu);
}

TEST(Erspan, TypeThreeWithPlatformSubheader) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv6(kOuter6).gre({.seq = 1}).erspan3(7, true).eth().at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, 14 + 40 + 8 + 12 + 8 + 14);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kErspan3, .tunnel_off = 14 + 40, .inner_off = static_cast<uint32_t>(inner),
                    .outer_version = 6, .inner_ether = true});
  EXPECT_EQ(d.v.tunnel[0].key, 7u);
}

// ---- IP in IP ------------------------------------------------------------------------

struct IpInIpCase {
  const char* name;
  bool outer_v6;
  bool inner_v6;
  TunnelType type;
};

class IpInIp : public ::testing::TestWithParam<IpInIpCase> {};

TEST_P(IpInIp, InnerAfterOuterHeader) {
  const IpInIpCase& c = GetParam();
  FrameBuilder b;
  b.eth();
  if (c.outer_v6) b.ipv6(kOuter6);
  else b.ipv4(kOuter4);
  size_t inner = 0;
  b.at(inner);
  if (c.inner_v6) b.ipv6();
  else b.ipv4();
  b.tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = c.type, .tunnel_off = static_cast<uint32_t>(inner), .inner_off = static_cast<uint32_t>(inner),
                    .outer_version = static_cast<uint8_t>(c.outer_v6 ? 6 : 4),
                    .inner_version = static_cast<uint8_t>(c.inner_v6 ? 6 : 4)});
  EXPECT_EQ(d.v.ip[0].proto, c.inner_v6 ? wire::kProtoIpv6 : wire::kProtoIpip);
}

INSTANTIATE_TEST_SUITE_P(Kinds, IpInIp,
                         ::testing::Values(IpInIpCase{"4in4", false, false, TunnelType::kIpInIp},
                                           IpInIpCase{"6in4", false, true, TunnelType::k6in4},
                                           IpInIpCase{"4in6", true, false, TunnelType::k4in6},
                                           IpInIpCase{"6in6", true, true, TunnelType::k6in6}),
                         [](const ::testing::TestParamInfo<IpInIpCase>& i) { return std::string("T") + i.param.name; });

// ---- UDP tunnels ---------------------------------------------------------------------

constexpr uint32_t kAfterOuterUdp = kAfterOuter4 + 8;

TEST(Vxlan, VniInnerEthernetAndVlan) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 49152, .dport = wire::kPortVxlan}).vxlan(0xABCDEF).eth().vlan(42).at(inner).ipv4()
      .tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 8 + 14 + 4);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kVxlan, .tunnel_off = kAfterOuterUdp, .inner_off = static_cast<uint32_t>(inner),
                    .inner_ether = true});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0xABCDEFu);
  EXPECT_EQ(d.v.inner_vlan, 42);
  EXPECT_EQ(d.v.ip[0].proto, wire::kProtoUdp);
}

TEST(Vxlan, InnerQinQRecordsLastTag) {
  FrameBuilder b;
  b.eth().vlan(5).ipv4(kOuter4).udp({.sport = 49152, .dport = wire::kPortVxlan}).vxlan(1).eth()
      .vlan(100, wire::kEthQinQ).vlan(200).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.vlan_count, 1);
  EXPECT_EQ(d.v.vlan[0], 5);
  EXPECT_EQ(d.v.inner_vlan, 200);
  EXPECT_EQ(d.v.tunnel[0].key, 1u);
}

TEST(Vxlan, PortOnEitherSide) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortVxlan, .dport = 50000}).vxlan(9).eth().ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kVxlan, .tunnel_off = kAfterOuterUdp, .inner_off = kAfterOuterUdp + 8 + 14,
                    .inner_ether = true});
}

TEST(Geneve, OptionsSkippedAndVni) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 1, .dport = wire::kPortGeneve})
      .geneve(0x123456, {0x01, 0x02, 0x80, 0x01, 0xAA, 0xBB, 0xCC, 0xDD}).eth().at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 8 + 8 + 14);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGeneve, .tunnel_off = kAfterOuterUdp,
                    .inner_off = static_cast<uint32_t>(inner), .inner_ether = true});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0x123456u);
}

TEST(Geneve, IpPayloadWithoutEthernet) {
  FrameBuilder b;
  b.eth().ipv6(kOuter6).udp({.sport = 1, .dport = wire::kPortGeneve}).geneve(77).ipv6().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGeneve, .tunnel_off = 14 + 40 + 8, .inner_off = 14 + 40 + 8 + 8,
                    .outer_version = 6, .inner_version = 6});
  EXPECT_EQ(d.v.tunnel[0].key, 77u);
}

TEST(GtpU, GpduWithoutOptionalFields) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortGtpU, .dport = wire::kPortGtpU}).gtpu({.teid = 0xFEDCBA98}).ipv4()
      .tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGtpU, kAfterOuterUdp, kAfterOuterUdp + 8});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0xFEDCBA98u);
}

TEST(GtpU, SequenceNumberOnly) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 40000, .dport = wire::kPortGtpU}).gtpu({.teid = 5, .seq = 0x1234}).ipv6()
      .tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kGtpU, .tunnel_off = kAfterOuterUdp, .inner_off = kAfterOuterUdp + 12,
                    .inner_version = 6});
  EXPECT_EQ(d.v.tunnel[0].key, 5u);
}

TEST(GtpU, ExtensionHeaders) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortGtpU, .dport = wire::kPortGtpU})
      .gtpu({.teid = 0xCAFE, .ext = {{0x10, 0x05}, {0, 1, 2, 3, 4, 5}}}).at(inner).ipv4().tcp(kInnerTcp).payload(17);
  // 8 + 4 (seq / N-PDU / next type) + 4 (PDU session container) + 8.
  ASSERT_EQ(inner, kAfterOuterUdp + 24);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGtpU, kAfterOuterUdp, static_cast<uint32_t>(inner)});
  EXPECT_EQ(d.v.tunnel[0].key, 0xCAFEu);
}

TEST(GtpU, SignallingMessageIsNotATunnel) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortGtpU, .dport = wire::kPortGtpU})
      .gtpu({.teid = 0, .type = wire::kGtpEchoRequest, .seq = 1});
  const Decoded d = decode_eth(b);
  expect_plain_udp(d);
  EXPECT_EQ(d.v.udp.dport, wire::kPortGtpU);
}

TEST(GreInUdp, KeyAndInnerPacket) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 50000, .dport = wire::kPortGreUdp}).gre({.key = 0x55}).ipv4().tcp(kInnerTcp)
      .payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGreUdp, kAfterOuterUdp, kAfterOuterUdp + 8});
  EXPECT_EQ(d.v.tunnel[0].key, 0x55u);
}

TEST(Teredo, PlainIpv6) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortTeredo, .dport = 50000}).ipv6().tcp(kInnerTcp).payload(17);
  // udp() has no next-protocol field: ipv6() right after it is the Teredo payload.
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kTeredo, .tunnel_off = kAfterOuterUdp, .inner_off = kAfterOuterUdp,
                    .inner_version = 6});
}

TEST(Teredo, OriginIndicator) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortTeredo, .dport = 50000}).teredo_origin(50000, {198, 51, 100, 7}).ipv6()
      .tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kTeredo, .tunnel_off = kAfterOuterUdp, .inner_off = kAfterOuterUdp + 8,
                    .inner_version = 6});
}

TEST(Teredo, AuthenticationAndOriginIndicators) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 50000, .dport = wire::kPortTeredo}).teredo_auth({1, 2, 3}, {4, 5})
      .teredo_origin(50000, {198, 51, 100, 7}).at(inner).ipv6().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 4 + 3 + 2 + 9 + 8);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kTeredo, .tunnel_off = kAfterOuterUdp,
                    .inner_off = static_cast<uint32_t>(inner), .inner_version = 6});
}

TEST(Teredo, NonIpv6PayloadIsPlainUdp) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortTeredo, .dport = 50000}).payload(60, 0x45);
  const Decoded d = decode_eth(b);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tunnel_count, 0);
  EXPECT_EQ(d.v.l4, L4Type::kUdp);
}

TEST(Ayiya, Ipv6OverUdpIpv4) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 40000, .dport = wire::kPortAyiya}).ayiya(4, 5).at(inner).ipv6().tcp(kInnerTcp)
      .payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 8 + 16 + 20);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kAyiya, .tunnel_off = kAfterOuterUdp, .inner_off = static_cast<uint32_t>(inner),
                    .inner_version = 6});
}

TEST(Ayiya, Ipv4PayloadSmallIdentityNoSignature) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortAyiya, .dport = 40000}).ayiya(0, 0).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kAyiya, kAfterOuterUdp, kAfterOuterUdp + 8 + 1});
}

TEST(Ayiya, HeartbeatIsPlainUdp) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 40000, .dport = wire::kPortAyiya}).ayiya(4, 5, /*opcode=*/0, 59);
  const Decoded d = decode_eth(b);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tunnel_count, 0);
  EXPECT_EQ(d.v.l4, L4Type::kUdp);
}

TEST(Ayiya, PayloadVersionDisagreeingWithNextHeaderIsPlainUdp) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 40000, .dport = wire::kPortAyiya}).ayiya(4, 5, 1, wire::kProtoIpv6).ipv4().tcp();
  const Decoded d = decode_eth(b);
  expect_plain_udp(d);
}

TEST(Gre, CiscoMetadataThenIpv4) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre({.key = 9}).gre_cmd(77).at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 8 + 8);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, static_cast<uint32_t>(inner)});
  EXPECT_EQ(d.v.tunnel[0].key, 9u);
}

// ---- L2TP (version 2, UDP 1701) ---------------------------------------------------------

TEST(L2tp, DataMessageCarryingPppIpv4) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortL2tp, .dport = wire::kPortL2tp}).l2tp().ppp().at(inner).ipv4()
      .tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 6 + 4);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kL2tp, kAfterOuterUdp, static_cast<uint32_t>(inner)});
  EXPECT_FALSE(d.v.tunnel[0].has_key);  // the ids are the receiver's: they differ per direction
}

TEST(L2tp, LengthSequenceOffsetAndCompressedPpp) {
  // L, S and O (3 bytes of padding), PPP without address/control and a 1-byte protocol.
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 50000, .dport = wire::kPortL2tp})
      .l2tp({.length = true, .sequence = true, .offset = 3}).ppp(false, true).at(inner).ipv6().tcp(kInnerTcp)
      .payload(17);
  ASSERT_EQ(inner, kAfterOuterUdp + 2 + 2 + 4 + 4 + 2 + 3 + 1);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {.type = TunnelType::kL2tp, .tunnel_off = kAfterOuterUdp, .inner_off = static_cast<uint32_t>(inner),
                    .inner_version = 6});
}

TEST(L2tp, ControlVersion3AndReservedBitsArePlainUdp) {
  for (const L2tpSpec& spec : {L2tpSpec{.control = true, .length = true, .sequence = true}, L2tpSpec{.version = 3},
                               L2tpSpec{.reserved = 0x0010}}) {
    FrameBuilder b;
    b.eth().ipv4(kOuter4).udp({.sport = wire::kPortL2tp, .dport = wire::kPortL2tp}).l2tp(spec).ppp().ipv4()
        .tcp(kInnerTcp);
    const Decoded d = decode_eth(b);
    expect_plain_udp(d);
  }
}

TEST(L2tp, CutInsideTheHeaderOrItsPaddingIsATruncatedTunnel) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = wire::kPortL2tp, .dport = wire::kPortL2tp})
      .l2tp({.sequence = true, .offset = 8}).ppp().ipv4().tcp(kInnerTcp);
  const auto whole = b.build();
  // The header is 12 bytes (flags, ids, Ns/Nr, offset size) and 8 of padding: cut inside the
  // ids, right after the offset size, inside the padding.
  for (const uint32_t cut : {kAfterOuterUdp + 4, kAfterOuterUdp + 12, kAfterOuterUdp + 14}) {
    const Decoded d = decode_frame({whole.begin(), whole.begin() + cut}, LinkType::kEthernet);
    EXPECT_EQ(d.status, DecodeStatus::kTruncatedTunnel) << cut;
  }
}

// ---- PPTP ----------------------------------------------------------------------------

TEST(Pptp, EnhancedGreCarryingPppIpv4) {
  size_t inner = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre_pptp(0x4242, 0x01020304, 0x0A).ppp().at(inner).ipv4().tcp(kInnerTcp).payload(17);
  ASSERT_EQ(inner, kAfterOuter4 + 16 + 4);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kPptpGre, kAfterOuter4, static_cast<uint32_t>(inner)});
  EXPECT_TRUE(d.v.tunnel[0].has_key);
  EXPECT_EQ(d.v.tunnel[0].key, 0x4242u);  // call id
  EXPECT_TRUE(d.v.tunnel[0].has_seq);
  EXPECT_EQ(d.v.tunnel[0].seq, 0x01020304u);
}

TEST(Pptp, NoAckCompressedPpp) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre_pptp(7, 1, std::nullopt).ppp(false, true).ipv4().tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kPptpGre, kAfterOuter4, kAfterOuter4 + 12 + 1});
  EXPECT_EQ(d.v.tunnel[0].key, 7u);
}

TEST(Pptp, AcknowledgementOnly) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre_pptp(7, std::nullopt, 99, /*payload_len=*/0);
  const Decoded d = decode_eth(b);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.tunnel_count, 1);
  EXPECT_EQ(d.v.tunnel[0].type, TunnelType::kPptpGre);
  EXPECT_FALSE(d.v.tunnel[0].has_seq);
}

// ---- nesting and lengths -------------------------------------------------------------

TEST(Nesting, FourIpLayersEachTunnelBetweenItsPair) {
  size_t gre = 0, ip1 = 0, vx = 0, ip2 = 0, ip3 = 0;
  FrameBuilder b;
  b.eth().ipv4(kOuter4).at(gre).gre({.key = 1}).at(ip1).ipv6(kOuter6).udp({.sport = 1, .dport = wire::kPortVxlan})
      .at(vx).vxlan(2).eth().at(ip2).ipv4({.src = {172, 16, 0, 1}, .dst = {172, 16, 0, 2}}).at(ip3).ipv4()
      .tcp(kInnerTcp).payload(17);
  const Decoded d = decode_eth(b);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.ip_count, 4);
  ASSERT_EQ(d.v.tunnel_count, 3);
  const uint32_t ip_offs[] = {kOuterIpOff, static_cast<uint32_t>(ip1), static_cast<uint32_t>(ip2),
                              static_cast<uint32_t>(ip3)};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(d.v.ip[i].off, ip_offs[i]) << i;
  const TunnelType types[] = {TunnelType::kGre, TunnelType::kVxlan, TunnelType::kIpInIp};
  const uint32_t tun_offs[] = {static_cast<uint32_t>(gre), static_cast<uint32_t>(vx), static_cast<uint32_t>(ip3)};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.v.tunnel[i].type, types[i]) << i;
    EXPECT_EQ(d.v.tunnel[i].outer_ip, i);
    EXPECT_EQ(d.v.tunnel[i].off, tun_offs[i]) << i;
  }
  EXPECT_EQ(d.v.tunnel[0].key, 1u);
  EXPECT_EQ(d.v.tunnel[1].key, 2u);
  EXPECT_EQ(&d.v.inner_ip(), &d.v.ip[3]);
  EXPECT_EQ(bytes_of(d.v.src_addr(d.v.inner_ip())), bytes_of(kIp4Src));
  EXPECT_EQ(bytes_of(d.v.src_addr(d.v.ip[2])), (Bytes{172, 16, 0, 1}));
  EXPECT_EQ(d.v.tcp.seq, kInnerTcp.seq);
  EXPECT_TRUE(d.v.flags & decode::kFlagInnerEther);
}

TEST(Nesting, FifthIpLayerIsTooManyLayers) {
  FrameBuilder b;
  b.eth();
  for (int i = 0; i < 5; ++i) b.ipv4();
  const Decoded d = decode_eth(b.tcp(kInnerTcp));
  EXPECT_EQ(d.status, DecodeStatus::kTooManyLayers);
  EXPECT_EQ(d.v.ip_count, decode::kMaxIpLayers);
}

TEST(Nesting, FifthIpLayerViaUdpTunnelsIsTooManyLayers) {
  FrameBuilder b;
  b.eth();
  for (int i = 0; i < 4; ++i) b.ipv4().udp({.sport = 1, .dport = wire::kPortGeneve}).geneve(static_cast<uint32_t>(i));
  const Decoded d = decode_eth(b.ipv4().tcp(kInnerTcp));
  EXPECT_EQ(d.status, DecodeStatus::kTooManyLayers);
  EXPECT_EQ(d.v.ip_count, decode::kMaxIpLayers);
}

TEST(Nesting, SnaplenCutInsideInnerPacket) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre().ipv4().tcp(kInnerTcp).payload(1000);
  const Decoded d = decode_frame(b.build(), LinkType::kEthernet, 200);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.ip_count, 2);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpTruncated);
  EXPECT_TRUE(d.v.ip[1].flags & decode::kIpTruncated);
  EXPECT_EQ(d.v.tcp.payload_len, 1000u);
}

// An inner IP packet claiming more bytes than its outer packet carries: the outer packet
// was captured whole, so this is not a snaplen cut; the inner packet is clipped to its
// carrier and flagged.
TEST(Nesting, InnerLongerThanOuterIsClipped) {
  for (const size_t trailer : {0, 6}) {
    FrameBuilder b;
    b.eth().ipv4(kOuter4).ipv4({.total_len = 20 + 20 + 100}).tcp(kInnerTcp).payload(17).trailer(trailer);
    const Decoded d = decode_eth(b);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << "trailer " << trailer;
    EXPECT_TRUE(d.v.flags & decode::kFlagIpLenClipped) << "trailer " << trailer;
    EXPECT_FALSE(d.v.flags & decode::kFlagTruncated) << "trailer " << trailer;
    EXPECT_EQ(d.v.tcp.payload_len, 17u) << "trailer " << trailer;
  }
}

TEST(Nesting, InnerLongerThanUdpDatagramIsClipped) {
  // The outer IP packet has room (trailing bytes), but the VXLAN datagram ends first.
  FrameBuilder b;
  b.eth().ipv4(kOuter4).udp({.sport = 1, .dport = wire::kPortVxlan, .length = 8 + 8 + 14 + 40}).vxlan(1).eth()
      .ipv4({.total_len = 60}).tcp(kInnerTcp).payload(20);
  const Decoded d = decode_eth(b);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tunnel_count, 1);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenClipped);
  EXPECT_EQ(d.v.tcp.payload_len, 0u);  // the 20 payload bytes lie outside the datagram
}

// A tunnel datagram larger than the underlay's MTU is fragmented by the sender (a VXLAN
// device with a 1500-byte inner MTU on a 1500-byte underlay): the first fragment carries
// the UDP header, whose length counts every fragment, and the start of the carried
// packet. The tunnel is followed (as Wireshark does without reassembly); the carried
// packet is cut where the fragment ends: truncated, its lengths from its own headers, not
// malformed. (Found on a kernel capture, tools/tunnel-captures.sh: the UDP length was
// reported as bad_udp_length and the carried TCP segments were never analysed.)
TEST(Nesting, TunnelInFirstFragmentIsFollowedAndCarriedPacketCut) {
  // VXLAN: outer IPv4 first fragment, 1448 bytes of TCP payload claimed, 100 present.
  for (const bool inner6 : {false, true}) {
    FrameBuilder b;
    b.eth().ipv4({.mf = true}).udp({.sport = 51253, .dport = wire::kPortVxlan, .length = 8 + 8 + 14 + 1500}).vxlan(100)
        .eth();
    if (inner6) b.ipv6({.payload_len = 1460}).tcp(kInnerTcp).payload(100);  // 40 + 20 + 1440 = 1500
    else b.ipv4({.df = true, .total_len = 1500}).tcp(kInnerTcp).payload(100);
    const Decoded d = decode_eth(b);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << (inner6 ? "inner IPv6" : "inner IPv4");
    ASSERT_EQ(d.v.ip_count, 2);
    EXPECT_EQ(d.v.tunnel_count, 1);
    EXPECT_EQ(d.v.tunnel[0].type, TunnelType::kVxlan);
    EXPECT_EQ(d.v.tunnel[0].key, 100u);
    EXPECT_TRUE(d.v.ip[0].flags & decode::kIpFragment);
    EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
    EXPECT_FALSE(d.v.flags & decode::kFlagFragment) << "the innermost packet is whole";
    EXPECT_FALSE(d.v.flags & decode::kFlagIpLenClipped);
    ASSERT_EQ(d.v.l4, L4Type::kTcp);
    EXPECT_EQ(d.v.tcp.seq, kInnerTcp.seq);
    EXPECT_EQ(d.v.tcp.payload_len, 1440u + (inner6 ? 0u : 20u)) << "from the carried IP header";
  }
  // GRE and IPIP in a first fragment: no enclosing length; the carried packet is cut too.
  for (const bool gre : {false, true}) {
    FrameBuilder b;
    b.eth().ipv4({.mf = true});
    if (gre) b.gre();
    b.ipv4({.total_len = 1400}).tcp(kInnerTcp).payload(64);
    const Decoded d = decode_eth(b);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << (gre ? "GRE" : "IPIP");
    ASSERT_EQ(d.v.ip_count, 2);
    EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
    ASSERT_EQ(d.v.l4, L4Type::kTcp);
    EXPECT_EQ(d.v.tcp.payload_len, 1400u - 40u);
  }
}

// A plain UDP datagram in a first fragment: its length field counts the later fragments;
// that is no error.
TEST(Nesting, UdpLengthBeyondAFirstFragmentIsNoError) {
  FrameBuilder b;
  b.eth().ipv4({.mf = true}).udp({.sport = 5000, .dport = 53, .length = 3008}).payload(200);
  const Decoded d = decode_eth(b);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.l4, L4Type::kUdp);
  EXPECT_TRUE(d.v.flags & decode::kFlagFragment);
  // Not a fragment: the same length is malformed.
  FrameBuilder w;
  w.eth().ipv4().udp({.sport = 5000, .dport = 53, .length = 3008}).payload(200);
  EXPECT_EQ(decode_eth(w).status, DecodeStatus::kBadUdpLength);
}

TEST(Nesting, OuterPaddingNotParsedAsInnerPayload) {
  FrameBuilder b;
  b.eth().ipv4(kOuter4).gre().ipv4().tcp(kInnerTcp).payload(17).trailer(8);
  const Decoded d = decode_eth(b);
  expect_tunnel(d, {TunnelType::kGre, kAfterOuter4, kAfterOuter4 + 4});
  EXPECT_TRUE(d.v.flags & decode::kFlagPadding);
}

}  // namespace
}  // namespace seqwatch::test
