// Truncation (snaplen cuts at every layer), one frame producing every DecodeStatus, and
// the decode counters.
#include <map>
#include <set>

#include "decode_test_util.hpp"
#include "frame_catalog.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeCounters;
using decode::DecodeStatus;
using decode::L4Type;
using decode::LinkType;
using decode::TunnelType;

constexpr uint32_t kIpOff = 14;
constexpr uint32_t kL4Off = 14 + 20;
constexpr uint32_t kUdpPayloadOff = kL4Off + 8;

// ---- snaplen cuts --------------------------------------------------------------------

TEST(Truncation, CutAfterFixedTcpHeaderKeepsSeqAckAndPayloadLength) {
  const Bytes f = FrameBuilder().eth().ipv4()
                      .tcp({.seq = 0xFFFFFFFF, .ack = 0x7FFFFFFF, .flags = wire::kAck | wire::kPsh,
                            .options = tcpopt::cat({tcpopt::nop(), tcpopt::nop(), tcpopt::timestamp(1, 2),
                                                    tcpopt::nop(), tcpopt::nop(), tcpopt::sack({{5, 6}})})})
                      .payload(1200).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kL4Off + 20);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.flags & (decode::kFlagTruncated | decode::kFlagTcpOptsCut),
            decode::kFlagTruncated | decode::kFlagTcpOptsCut);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, 0xFFFFFFFFu);
  EXPECT_EQ(d.v.tcp.ack, 0x7FFFFFFFu);
  EXPECT_EQ(d.v.tcp.flags, wire::kAck | wire::kPsh);
  EXPECT_EQ(d.v.tcp.hdr_len, 44);
  EXPECT_EQ(d.v.tcp.payload_len, 1200u);
  EXPECT_EQ(d.v.tcp.opts, 0);  // none were read
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

// Options captured whole before the cut are kept; one cut in the middle is not read and
// is not "bad".
TEST(Truncation, CutInsideOptionsKeepsOptionsCapturedWhole) {
  const Bytes f = FrameBuilder().eth().ipv4()
                      .tcp({.flags = wire::kSyn, .options = tcpopt::cat({tcpopt::mss(1460), tcpopt::sack_perm(),
                                                                        tcpopt::timestamp(42, 0), tcpopt::nop(),
                                                                        tcpopt::wscale(7)})})
                      .build();
  struct Cut {
    uint32_t option_bytes;  // captured after the fixed header
    uint8_t opts;
  };
  const Cut cuts[] = {
      {1, 0},
      {4, decode::kOptMss},
      {6, decode::kOptMss | decode::kOptSackPerm},
      {7, decode::kOptMss | decode::kOptSackPerm},   // timestamp's length byte cut
      {15, decode::kOptMss | decode::kOptSackPerm},  // timestamp cut
      {16, decode::kOptMss | decode::kOptSackPerm | decode::kOptTimestamp},
      {19, decode::kOptMss | decode::kOptSackPerm | decode::kOptTimestamp},
  };
  for (const Cut& cut : cuts) {
    const Decoded d = decode_frame(f, LinkType::kEthernet, kL4Off + 20 + cut.option_bytes);
    ASSERT_EQ(d.status, DecodeStatus::kOk) << cut.option_bytes;
    EXPECT_TRUE(d.v.flags & decode::kFlagTcpOptsCut) << cut.option_bytes;
    EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad) << cut.option_bytes;
    EXPECT_EQ(d.v.tcp.opts, cut.opts) << cut.option_bytes;
    if (cut.opts & decode::kOptMss) {
      EXPECT_EQ(d.v.tcp.mss, 1460);
    }
    if (cut.opts & decode::kOptTimestamp) {
      EXPECT_EQ(d.v.tcp.tsval, 42u);
    }
  }
}

TEST(Truncation, CutAfterOptionsIsNotOptsCut) {
  const Bytes f = FrameBuilder().eth().ipv6().tcp({.options = tcpopt::timestamp(5, 6)}).payload(500).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, 14 + 40 + 32);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptsCut);
  EXPECT_EQ(d.v.tcp.tsval, 5u);
  EXPECT_EQ(d.v.tcp.payload_len, 500u);
}

TEST(Truncation, CutInsideTcpHeaderKeepsIpLayers) {
  const Bytes f = FrameBuilder().eth().ipv4({.ttl = 9}).tcp().payload(100).build();
  for (uint32_t cut = kL4Off; cut < kL4Off + 20; ++cut) {
    const Decoded d = decode_frame(f, LinkType::kEthernet, cut);
    EXPECT_EQ(d.status, DecodeStatus::kTruncatedTcp) << cut;
    ASSERT_EQ(d.v.ip_count, 1) << cut;
    EXPECT_EQ(d.v.ip[0].off, kIpOff);
    EXPECT_EQ(d.v.ip[0].ttl, 9);
    EXPECT_EQ(d.v.ip[0].proto, 6);
    EXPECT_EQ(d.v.ip[0].l4_len, 120u);
    EXPECT_EQ(bytes_of(d.v.src_addr(d.v.ip[0])), bytes_of(kIp4Src));
    EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
    EXPECT_EQ(d.v.l4, L4Type::kNone);
  }
}

TEST(Truncation, CutInsideTunnelledTcpHeaderKeepsBothIpLayers) {
  const Bytes f = FrameBuilder().eth().ipv4({.src = kOuter4Src, .dst = kOuter4Dst}).gre().ipv6().tcp().build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kL4Off + 4 + 40 + 12);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedTcp);
  EXPECT_EQ(d.v.ip_count, 2);
  EXPECT_EQ(d.v.tunnel_count, 1);
  EXPECT_EQ(d.v.inner_ip().version, 6);
}

TEST(Truncation, CutInsideIpHeaderIsTruncatedIp) {
  const Bytes f = FrameBuilder().eth().ipv4().tcp().build();
  for (uint32_t cut = kIpOff; cut < kIpOff + 20; ++cut) {
    const Decoded d = decode_frame(f, LinkType::kEthernet, cut);
    EXPECT_EQ(d.status, DecodeStatus::kTruncatedIp) << cut;
    EXPECT_EQ(d.v.ip_count, 0) << cut;
    EXPECT_EQ(d.v.ethertype, wire::kEthIpv4);
  }
}

TEST(Truncation, CutInsideInnerIpHeaderIsTruncatedIp) {
  const Bytes f = FrameBuilder().eth().ipv4().ipv6().tcp().build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kL4Off + 30);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.tunnel_count, 1);
  EXPECT_EQ(d.v.tunnel[0].type, TunnelType::k6in4);
}

struct TunnelCut {
  const char* name;
  FrameBuilder frame;
  uint32_t cut;  // caplen: inside the tunnel header
};

class CutInsideTunnelHeader : public ::testing::TestWithParam<TunnelCut> {};

TEST_P(CutInsideTunnelHeader, IsTruncatedTunnel) {
  const TunnelCut& c = GetParam();
  const Bytes f = c.frame.build();
  ASSERT_LT(c.cut, f.size());
  const Decoded d = decode_frame(f, LinkType::kEthernet, c.cut);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedTunnel);
  ASSERT_GE(d.v.ip_count, 1);
  EXPECT_EQ(d.v.ip[0].off, kIpOff);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
}

FrameBuilder udp_to(uint16_t port) {
  FrameBuilder b;
  b.eth().ipv4().udp({.sport = 40000, .dport = port});
  return b;
}

std::vector<TunnelCut> tunnel_cuts() {
  std::vector<TunnelCut> v;
  auto add = [&](const char* name, FrameBuilder b, uint32_t cut) {
    b.ipv4().tcp().payload(10);
    v.push_back({name, std::move(b), cut});
  };
  {
    FrameBuilder b;
    b.eth().ipv4().gre();
    add("GreBase", b, kL4Off + 3);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre({.key = 1, .seq = 2, .checksum = true});
    add("GreOptionalFields", b, kL4Off + 14);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre({.seq = 1}).erspan2(3).eth();
    add("Erspan2", b, kL4Off + 8 + 7);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre({.seq = 1}).erspan3(3).eth();
    add("Erspan3", b, kL4Off + 8 + 11);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre({.seq = 1}).erspan3(3, true).eth();
    add("Erspan3Platform", b, kL4Off + 8 + 12 + 7);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre_pptp(1, 2, 3).ppp();
    add("PptpGre", b, kL4Off + 15);
  }
  {
    FrameBuilder b = udp_to(wire::kPortVxlan);
    b.vxlan(1).eth();
    add("Vxlan", b, kUdpPayloadOff + 7);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGeneve);
    b.geneve(1, Bytes(8, 0));
    add("GeneveBase", b, kUdpPayloadOff + 7);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGeneve);
    b.geneve(1, Bytes(8, 0));
    add("GeneveOptions", b, kUdpPayloadOff + 12);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGtpU);
    b.gtpu({.teid = 1});
    add("GtpBase", b, kUdpPayloadOff + 7);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGtpU);
    b.gtpu({.teid = 1, .seq = 1});
    add("GtpOptionalWord", b, kUdpPayloadOff + 10);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGtpU);
    b.gtpu({.teid = 1, .ext = {Bytes(6, 0)}});
    add("GtpExtension", b, kUdpPayloadOff + 12 + 5);
  }
  {
    FrameBuilder b;
    b.eth().ipv4().gre().gre_cmd(1);
    add("GreCiscoMetadata", b, kL4Off + 4 + 5);
  }
  {
    FrameBuilder b = udp_to(wire::kPortGreUdp);
    b.gre({.key = 5});
    add("GreInUdp", b, kUdpPayloadOff + 6);
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Tunnels, CutInsideTunnelHeader, ::testing::ValuesIn(tunnel_cuts()),
                         [](const ::testing::TestParamInfo<TunnelCut>& i) { return std::string(i.param.name); });

bool is_truncation_status(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk:
    case DecodeStatus::kTruncatedL2:
    case DecodeStatus::kTruncatedVlan:
    case DecodeStatus::kTruncatedMpls:
    case DecodeStatus::kTruncatedPppoe:
    case DecodeStatus::kTruncatedIp:
    case DecodeStatus::kTruncatedIpv6Ext:
    case DecodeStatus::kTruncatedTcp:
    case DecodeStatus::kTruncatedUdp:
    case DecodeStatus::kTruncatedTunnel: return true;
    default: return false;
  }
}

// The imbalance diagnosis must know a tunnelled packet whose inner IP header the snaplen cut
// (its "inner" hash would be the outer addresses', one flow per tunnel): for every catalogue
// frame that carries IP through a tunnel, cut anywhere from the first tunnel header to the
// end of the fixed part of the IP header that tunnel carries, the view says so; cut before
// the tunnel, or past the innermost IP header, it does not. (A nested tunnel cut between
// the two is not checked: an IP layer inside the first tunnel is there to hash.)
TEST(Truncation, TunnelCutBeforeTheInnerIpHeaderIsKnown) {
  unsigned frames = 0, missing = 0;
  for (const CatalogFrame& cf : frame_catalog()) {
    const Decoded full = decode_frame(cf.bytes, cf.link);
    ASSERT_EQ(full.status, DecodeStatus::kOk) << cf.name;
    EXPECT_FALSE(full.v.tunnel_inner_missing()) << cf.name;
    if (full.v.tunnel_count == 0 || full.v.ip_count <= full.v.tunnel_count) continue;  // no IP inside a tunnel
    // Teredo and AYIYA are told from plain UDP by the IPv6 header they carry: cut before it,
    // the packet is plain UDP (the decoder's rule for them), nothing to miss.
    const decode::TunnelType outer = full.v.tunnel[0].type;
    if (outer == TunnelType::kTeredo || outer == TunnelType::kAyiya) continue;
    ++frames;
    const uint8_t first_inner = full.v.tunnel[0].outer_ip + 1;
    const decode::IpLayer& carried = full.v.ip[first_inner];
    const uint32_t tunnel_start = full.v.tunnel[0].off;
    const uint32_t carried_fixed_end = carried.off + (carried.version == 4 ? 20 : 40);
    const uint32_t innermost_l4 = full.v.ip[full.v.ip_count - 1].l4_off;
    for (size_t cut = 0; cut < cf.bytes.size(); ++cut) {
      const Decoded d = decode_frame(cf.bytes, cf.link, cut);
      SCOPED_TRACE(cf.name + " cut at " + std::to_string(cut));
      if (cut < tunnel_start || cut >= innermost_l4) {
        EXPECT_FALSE(d.v.tunnel_inner_missing()) << decode::decode_status_name(d.status);
      } else if (cut < carried_fixed_end) {
        EXPECT_TRUE(d.v.tunnel_inner_missing()) << decode::decode_status_name(d.status);
        decode::DecodeCounters c;
        decode::count_view(d.v, c);
        EXPECT_EQ(c.tunnel_inner_cut, 1u);
        EXPECT_EQ(c.truncated, 1u);
        ++missing;
      }
    }
  }
  EXPECT_GE(frames, 10u);  // GRE, ERSPAN, IP-in-IP, VXLAN, Geneve, GTP-U, PPTP, ...
  EXPECT_GT(missing, 0u);
}

// A snaplen cut of a valid frame at any length is a truncation, never a malformed
// packet, and whatever was decoded before the cut is what the whole frame decodes to.
TEST(Truncation, EveryPrefixOfEveryCatalogueFrame) {
  for (const CatalogFrame& cf : frame_catalog()) {
    const Decoded full = decode_frame(cf.bytes, cf.link);
    ASSERT_EQ(full.status, DecodeStatus::kOk) << cf.name;
    // With IP length 0 the length comes from the captured bytes, so a cut changes it.
    const bool len_from_frame = full.v.flags & decode::kFlagIpLenFromFrame;
    const uint32_t outer_end = full.v.ip_count ? full.v.ip[0].l4_off + full.v.ip[0].l4_len : 0;
    for (size_t cut = 0; cut < cf.bytes.size(); ++cut) {
      const Decoded d = decode_frame(cf.bytes, cf.link, cut);
      SCOPED_TRACE(cf.name + " cut at " + std::to_string(cut));
      if (!len_from_frame) {
        EXPECT_TRUE(is_truncation_status(d.status)) << decode::decode_status_name(d.status);
      }
      ASSERT_LE(d.v.ip_count, full.v.ip_count);
      for (unsigned i = 0; i < d.v.ip_count; ++i) {
        EXPECT_EQ(d.v.ip[i].off, full.v.ip[i].off);
        EXPECT_EQ(d.v.ip[i].version, full.v.ip[i].version);
      }
      for (unsigned i = 0; i < d.v.tunnel_count && i < full.v.tunnel_count; ++i) {
        EXPECT_EQ(d.v.tunnel[i].type, full.v.tunnel[i].type);
        EXPECT_EQ(d.v.tunnel[i].off, full.v.tunnel[i].off);
      }
      if (d.v.ip_count > 0 && d.v.ip[0].l4_off != 0 && cut < outer_end && !len_from_frame) {
        EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
      }
      if (d.status == DecodeStatus::kOk && d.v.l4 == L4Type::kTcp && d.v.ip_count == full.v.ip_count &&
          !len_from_frame) {
        EXPECT_EQ(d.v.tcp.seq, full.v.tcp.seq);
        EXPECT_EQ(d.v.tcp.ack, full.v.tcp.ack);
        EXPECT_EQ(d.v.tcp.payload_len, full.v.tcp.payload_len);
      }
    }
  }
}

// ---- every status --------------------------------------------------------------------

struct StatusCase {
  const char* name;
  Bytes frame;
  LinkType link;
  DecodeStatus expect;
  size_t caplen = SIZE_MAX;
};

Bytes with_byte(Bytes f, size_t at, uint8_t value) {
  f.at(at) = value;
  return f;
}

std::vector<StatusCase> status_cases() {
  const auto E = LinkType::kEthernet;
  const Bytes eth_tcp = FrameBuilder().eth().ipv4().tcp().payload(10).build();
  FrameBuilder deep_vlan;
  deep_vlan.eth();
  for (uint16_t i = 1; i <= 5; ++i) deep_vlan.vlan(i);
  FrameBuilder deep_mpls;
  deep_mpls.eth();
  for (uint32_t i = 0; i < 9; ++i) deep_mpls.mpls(16 + i, i == 8);
  FrameBuilder deep_ext;
  deep_ext.eth().ipv6();
  for (int i = 0; i < 9; ++i) deep_ext.ipv6_hbh();
  FrameBuilder deep_ip;
  deep_ip.eth();
  for (int i = 0; i < 5; ++i) deep_ip.ipv6();
  size_t gtp = 0;
  const Bytes gtp_ext = FrameBuilder().eth().ipv4().udp({.sport = 1, .dport = wire::kPortGtpU}).at(gtp)
                            .gtpu({.teid = 1, .ext = {Bytes(2, 0)}}).ipv4().tcp().build();
  return {
      {"Ok", eth_tcp, E, DecodeStatus::kOk},
      {"UnsupportedLinkType", eth_tcp, static_cast<LinkType>(147), DecodeStatus::kUnsupportedLinkType},
      {"TruncatedL2", eth_tcp, E, DecodeStatus::kTruncatedL2, 10},
      {"BadL2", FrameBuilder().nflog_header().nflog_tlv(wire::kNflogPrefix, {1}, 3).nflog_payload().ipv4().build(),
       LinkType::kNflog, DecodeStatus::kBadL2},
      {"VlanTooDeep", deep_vlan.ipv4().tcp().build(), E, DecodeStatus::kVlanTooDeep},
      {"TruncatedVlan", FrameBuilder().eth().vlan(1).ipv4().tcp().build(), E, DecodeStatus::kTruncatedVlan, 17},
      {"TruncatedMpls", FrameBuilder().eth().mpls(16).ipv4().tcp().build(), E, DecodeStatus::kTruncatedMpls, 15},
      {"MplsTooDeep", deep_mpls.ipv4().tcp().build(), E, DecodeStatus::kMplsTooDeep},
      {"TruncatedPppoe", FrameBuilder().eth().pppoe().ipv4().tcp().build(), E, DecodeStatus::kTruncatedPppoe, 19},
      {"BadPppoe", FrameBuilder().eth().pppoe(1, kAuto, 0x21).ipv4().tcp().build(), E, DecodeStatus::kBadPppoe},
      {"TruncatedIp", eth_tcp, E, DecodeStatus::kTruncatedIp, 20},
      {"BadIpVersion", FrameBuilder().eth({.type = wire::kEthIpv6}).ipv4().tcp().build(), E, DecodeStatus::kBadIpVersion},
      {"BadIpHeaderLength", FrameBuilder().eth().ipv4({.ihl = 3}).tcp().build(), E, DecodeStatus::kBadIpHeaderLength},
      {"BadIpTotalLength", FrameBuilder().eth().ipv4({.total_len = 12}).tcp().build(), E, DecodeStatus::kBadIpTotalLength},
      {"TruncatedIpv6Ext", FrameBuilder().eth().ipv6().ipv6_hbh().tcp().build(), E, DecodeStatus::kTruncatedIpv6Ext, 14 + 44},
      {"BadIpv6Ext", FrameBuilder().eth().ipv6({.payload_len = 6}).ipv6_routing(0, 0, {kIp6Dst}).tcp().build(), E,
       DecodeStatus::kBadIpv6Ext},
      {"Ipv6ExtTooDeep", deep_ext.tcp().build(), E, DecodeStatus::kIpv6ExtTooDeep},
      {"TruncatedTcp", eth_tcp, E, DecodeStatus::kTruncatedTcp, kL4Off + 19},
      {"BadTcpHeaderLength", FrameBuilder().eth().ipv4().tcp({.data_offset = 2}).payload(20).build(), E,
       DecodeStatus::kBadTcpHeaderLength},
      {"TruncatedUdp", FrameBuilder().eth().ipv4().udp().build(), E, DecodeStatus::kTruncatedUdp, kL4Off + 4},
      {"BadUdpLength", FrameBuilder().eth().ipv4().udp({.length = 3}).build(), E, DecodeStatus::kBadUdpLength},
      {"TruncatedTunnel", FrameBuilder().eth().ipv4().gre().ipv4().tcp().build(), E, DecodeStatus::kTruncatedTunnel,
       kL4Off + 2},
      {"BadTunnelGreVersion", FrameBuilder().eth().ipv4().gre({.version = 2}).ipv4().tcp().build(), E,
       DecodeStatus::kBadTunnel},
      {"BadTunnelGreRouting", FrameBuilder().eth().ipv4().gre({.routing = true}).ipv4().tcp().build(), E,
       DecodeStatus::kBadTunnel},
      {"BadTunnelPptpWithoutKey", FrameBuilder().eth().ipv4().gre({.proto = wire::kEthPpp, .version = 1}).ppp().ipv4().build(),
       E, DecodeStatus::kBadTunnel},
      {"BadTunnelPptpNotPpp", FrameBuilder().eth().ipv4().gre({.key = 1, .version = 1}).ipv4().tcp().build(), E,
       DecodeStatus::kBadTunnel},
      {"BadTunnelErspan2Version", FrameBuilder().eth().ipv4().gre({.seq = 1}).erspan2(1, 0, 2).eth().ipv4().build(), E,
       DecodeStatus::kBadTunnel},
      {"BadTunnelErspan3Version", FrameBuilder().eth().ipv4().gre({.seq = 1}).erspan3(1, false, 1).eth().ipv4().build(), E,
       DecodeStatus::kBadTunnel},
      {"BadTunnelVxlanNoVni", FrameBuilder().eth().ipv4().udp({.dport = wire::kPortVxlan}).vxlan(1, 0x00).eth().ipv4().build(),
       E, DecodeStatus::kBadTunnel},
      {"BadTunnelGeneveVersion", FrameBuilder().eth().ipv4().udp({.dport = wire::kPortGeneve}).geneve(1, {}, kAuto, 1).ipv4().build(),
       E, DecodeStatus::kBadTunnel},
      {"BadTunnelGtpZeroLengthExtension", with_byte(gtp_ext, gtp + 12, 0), E, DecodeStatus::kBadTunnel},
      {"TooManyLayers", deep_ip.tcp().build(), E, DecodeStatus::kTooManyLayers},
  };
}

class EveryStatus : public ::testing::TestWithParam<StatusCase> {};

TEST_P(EveryStatus, FrameProducesStatus) {
  const StatusCase& c = GetParam();
  const Decoded d = decode_frame(c.frame, c.link, c.caplen);
  EXPECT_EQ(d.status, c.expect);
  EXPECT_NE(decode::decode_status_name(d.status), "unknown");
}

INSTANTIATE_TEST_SUITE_P(Statuses, EveryStatus, ::testing::ValuesIn(status_cases()),
                         [](const ::testing::TestParamInfo<StatusCase>& i) { return std::string(i.param.name); });

TEST(EveryStatus, TableCoversEveryStatus) {
  std::set<DecodeStatus> covered;
  for (const StatusCase& c : status_cases()) covered.insert(c.expect);
  for (unsigned s = 0; s < static_cast<unsigned>(DecodeStatus::kCount); ++s) {
    EXPECT_TRUE(covered.count(static_cast<DecodeStatus>(s))) << decode::decode_status_name(static_cast<DecodeStatus>(s));
  }
}

TEST(Names, EveryEnumeratorHasAName) {
  std::set<std::string_view> names;
  for (unsigned s = 0; s < static_cast<unsigned>(DecodeStatus::kCount); ++s) {
    const auto n = decode::decode_status_name(static_cast<DecodeStatus>(s));
    EXPECT_NE(n, "unknown") << s;
    EXPECT_TRUE(names.insert(n).second) << "duplicate " << n;
  }
  names.clear();
  for (unsigned t = 0; t < static_cast<unsigned>(TunnelType::kCount); ++t) {
    const auto n = decode::tunnel_type_name(static_cast<TunnelType>(t));
    EXPECT_NE(n, "unknown") << t;
    EXPECT_TRUE(names.insert(n).second) << "duplicate " << n;
  }
}

// ---- counters ------------------------------------------------------------------------

// Frames of every shape: the catalogue, every status case, and some cut frames.
struct Corpus {
  std::vector<std::unique_ptr<uint8_t[]>> bufs;
  std::vector<decode::FrameRef> refs;
  void add(const Bytes& f, size_t caplen = SIZE_MAX) {
    const auto n = static_cast<uint32_t>(std::min(caplen, f.size()));
    bufs.emplace_back(new uint8_t[n]);
    if (n) std::memcpy(bufs.back().get(), f.data(), n);
    refs.push_back({bufs.back().get(), n});
  }
};

Corpus ethernet_corpus() {
  Corpus c;
  for (const CatalogFrame& f : frame_catalog()) {
    if (f.link != LinkType::kEthernet) continue;
    c.add(f.bytes);
    c.add(f.bytes, 60);
    c.add(f.bytes, 30);
  }
  for (const StatusCase& s : status_cases()) {
    if (s.link == LinkType::kEthernet) c.add(s.frame, s.caplen);
  }
  return c;
}

TEST(Counters, BurstCountsAddUp) {
  Corpus c = ethernet_corpus();
  const auto n = static_cast<uint32_t>(c.refs.size());
  std::vector<decode::PacketView> views(n);
  DecodeCounters counters;
  decode::decode_burst(c.refs.data(), n, LinkType::kEthernet, views.data(), counters);

  DecodeCounters expect;
  uint64_t non_ip_any = 0;
  for (uint32_t i = 0; i < n; ++i) {
    decode::PacketView single;
    const DecodeStatus s = decode::decode(c.refs[i].data, c.refs[i].caplen, LinkType::kEthernet, single);
    ASSERT_EQ(views[i].status, s) << i;
    ASSERT_EQ(views[i].ip_count, single.ip_count) << i;
    ASSERT_EQ(views[i].l4, single.l4) << i;
    ASSERT_EQ(views[i].frame, c.refs[i].data);
    ++expect.packets;
    ++expect.status[static_cast<size_t>(s)];
    if (single.ip_count == 0) {
      ++non_ip_any;
      if (s == DecodeStatus::kOk) ++expect.non_ip;
      continue;
    }
    if (single.l4 == L4Type::kTcp) ++expect.tcp;
    else if (single.l4 == L4Type::kUdp) ++expect.udp;
    else ++expect.other_l4;
    if (single.flags & decode::kFlagTruncated) ++expect.truncated;
    if (single.flags & decode::kFlagFragment) ++expect.fragments;
    if (single.tunnel_count) {
      ++expect.tunneled;
      ++expect.tunnels[static_cast<size_t>(single.tunnel[0].type)];
    }
  }
  EXPECT_EQ(counters.packets, n);
  EXPECT_EQ(counters.status, expect.status);
  EXPECT_EQ(counters.non_ip, expect.non_ip);
  EXPECT_EQ(counters.tcp, expect.tcp);
  EXPECT_EQ(counters.udp, expect.udp);
  EXPECT_EQ(counters.other_l4, expect.other_l4);
  EXPECT_EQ(counters.truncated, expect.truncated);
  EXPECT_EQ(counters.fragments, expect.fragments);
  EXPECT_EQ(counters.tunneled, expect.tunneled);
  EXPECT_EQ(counters.tunnels, expect.tunnels);

  // Every packet lands in exactly one status slot, and IP packets in exactly one L4 bucket.
  uint64_t status_sum = 0;
  for (uint64_t x : counters.status) status_sum += x;
  EXPECT_EQ(status_sum, counters.packets);
  EXPECT_EQ(counters.errors(), counters.packets - counters.status[0]);
  EXPECT_EQ(counters.tcp + counters.udp + counters.other_l4 + non_ip_any, counters.packets);
  uint64_t tunnel_sum = 0;
  for (uint64_t x : counters.tunnels) tunnel_sum += x;
  EXPECT_EQ(tunnel_sum, counters.tunneled);
  // The corpus exercises every counter.
  EXPECT_GT(counters.errors(), 0u);
  EXPECT_GT(counters.non_ip, 0u);
  EXPECT_GT(counters.tcp, 0u);
  EXPECT_GT(counters.udp, 0u);
  EXPECT_GT(counters.other_l4, 0u);
  EXPECT_GT(counters.truncated, 0u);
  EXPECT_GT(counters.fragments, 0u);
  EXPECT_GT(counters.tunneled, 0u);
}

TEST(Counters, CountViewMatchesBurstAndAddSums) {
  Corpus c = ethernet_corpus();
  const auto n = static_cast<uint32_t>(c.refs.size());
  std::vector<decode::PacketView> views(n);
  DecodeCounters burst;
  decode::decode_burst(c.refs.data(), n, LinkType::kEthernet, views.data(), burst);

  // The same frames in uneven bursts (1, 3, 7, ... frames) give the same counters.
  DecodeCounters pieces;
  for (uint32_t at = 0, step = 1; at < n; at += step, step = step * 2 + 1) {
    const uint32_t m = std::min(step, n - at);
    decode::decode_burst(c.refs.data() + at, m, LinkType::kEthernet, views.data() + at, pieces);
  }
  DecodeCounters one_by_one;
  for (uint32_t i = 0; i < n; ++i) decode::count_view(views[i], one_by_one);
  for (const DecodeCounters* x : {&pieces, &one_by_one}) {
    EXPECT_EQ(x->packets, burst.packets);
    EXPECT_EQ(x->status, burst.status);
    EXPECT_EQ(x->tcp, burst.tcp);
    EXPECT_EQ(x->udp, burst.udp);
    EXPECT_EQ(x->other_l4, burst.other_l4);
    EXPECT_EQ(x->non_ip, burst.non_ip);
    EXPECT_EQ(x->truncated, burst.truncated);
    EXPECT_EQ(x->fragments, burst.fragments);
    EXPECT_EQ(x->tunneled, burst.tunneled);
    EXPECT_EQ(x->tunnels, burst.tunnels);
  }

  DecodeCounters sum = burst;
  sum.add(one_by_one);
  EXPECT_EQ(sum.packets, 2 * burst.packets);
  EXPECT_EQ(sum.tcp, 2 * burst.tcp);
  EXPECT_EQ(sum.errors(), 2 * burst.errors());
  for (size_t i = 0; i < sum.status.size(); ++i) EXPECT_EQ(sum.status[i], 2 * burst.status[i]);
  for (size_t i = 0; i < sum.tunnels.size(); ++i) EXPECT_EQ(sum.tunnels[i], 2 * burst.tunnels[i]);

  DecodeCounters empty;
  decode::decode_burst(nullptr, 0, LinkType::kEthernet, nullptr, empty);
  EXPECT_EQ(empty.packets, 0u);
}

}  // namespace
}  // namespace seqwatch::test
