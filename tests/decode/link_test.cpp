// Link layers: every link type decode() accepts, VLAN / QinQ stacks, MPLS, PPPoE.
#include "decode_test_util.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeStatus;
using decode::L4Type;
using decode::LinkType;

constexpr TcpSpec kLinkTcp{.sport = 33000, .dport = 22, .seq = 0x01020304, .ack = 0x0A0B0C0D, .flags = wire::kAck,
                       .window = 1234};

// The frame carries IPv4 (kIp4Src -> kIp4Dst) / kLinkTcp at `ip_off`.
void expect_ipv4_tcp(const Decoded& d, uint32_t ip_off, uint16_t ethertype) {
  const PacketView& v = d.v;
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(v.ethertype, ethertype);
  ASSERT_EQ(v.ip_count, 1);
  EXPECT_EQ(v.ip[0].off, ip_off);
  EXPECT_EQ(v.ip[0].version, 4);
  EXPECT_EQ(v.ip[0].proto, 6);
  EXPECT_EQ(v.ip[0].l4_off, ip_off + 20);
  EXPECT_EQ(bytes_of(v.src_addr(v.ip[0])), bytes_of(kIp4Src));
  EXPECT_EQ(bytes_of(v.dst_addr(v.ip[0])), bytes_of(kIp4Dst));
  ASSERT_EQ(v.l4, L4Type::kTcp);
  EXPECT_EQ(v.l4_off, ip_off + 20);
  EXPECT_EQ(v.tcp.sport, kLinkTcp.sport);
  EXPECT_EQ(v.tcp.dport, kLinkTcp.dport);
  EXPECT_EQ(v.tcp.seq, kLinkTcp.seq);
  EXPECT_EQ(v.tcp.ack, kLinkTcp.ack);
  EXPECT_EQ(v.tcp.window, kLinkTcp.window);
  EXPECT_EQ(v.flags & decode::kFlagTruncated, 0);
}

void expect_ipv6_tcp(const Decoded& d, uint32_t ip_off, uint16_t ethertype) {
  const PacketView& v = d.v;
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(v.ethertype, ethertype);
  ASSERT_EQ(v.ip_count, 1);
  EXPECT_EQ(v.ip[0].off, ip_off);
  EXPECT_EQ(v.ip[0].version, 6);
  EXPECT_EQ(v.ip[0].proto, 6);
  EXPECT_EQ(bytes_of(v.src_addr(v.ip[0])), bytes_of(kIp6Src));
  EXPECT_EQ(bytes_of(v.dst_addr(v.ip[0])), bytes_of(kIp6Dst));
  ASSERT_EQ(v.l4, L4Type::kTcp);
  EXPECT_EQ(v.l4_off, ip_off + 40);
  EXPECT_EQ(v.tcp.seq, kLinkTcp.seq);
  EXPECT_EQ(v.tcp.ack, kLinkTcp.ack);
}

// ---- Ethernet and raw IP ------------------------------------------------------------

TEST(Ethernet, Ipv4Tcp) {
  const Bytes f = FrameBuilder().eth().ipv4().tcp(kLinkTcp).payload(10).build();
  expect_ipv4_tcp(decode_frame(f, LinkType::kEthernet), 14, wire::kEthIpv4);
}

TEST(Ethernet, Ipv6Tcp) {
  const Bytes f = FrameBuilder().eth().ipv6().tcp(kLinkTcp).build();
  expect_ipv6_tcp(decode_frame(f, LinkType::kEthernet), 14, wire::kEthIpv6);
}

TEST(Ethernet, ArpIsNotIpButOk) {
  const Bytes f = FrameBuilder().eth({.type = wire::kEthArp}).payload(28, 0).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
  EXPECT_EQ(d.v.ethertype, wire::kEthArp);
  EXPECT_EQ(d.v.l4, L4Type::kNone);
}

TEST(Ethernet, ShorterThanHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().eth().ipv4().tcp().build();
  for (size_t n : {0, 1, 13}) EXPECT_EQ(decode_frame(f, LinkType::kEthernet, n).status, DecodeStatus::kTruncatedL2) << n;
}

TEST(RawIp, Linktype101CarriesEitherVersion) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().ipv4().tcp(kLinkTcp).build(), LinkType::kRaw), 0, 0);
  expect_ipv6_tcp(decode_frame(FrameBuilder().ipv6().tcp(kLinkTcp).build(), LinkType::kRaw), 0, 0);
}

TEST(RawIp, Linktypes228And229) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().ipv4().tcp(kLinkTcp).build(), LinkType::kIpv4), 0, 0);
  expect_ipv6_tcp(decode_frame(FrameBuilder().ipv6().tcp(kLinkTcp).build(), LinkType::kIpv6), 0, 0);
}

TEST(RawIp, VersionDisagreeingWithLinkTypeIsBadIpVersion) {
  EXPECT_EQ(decode_frame(FrameBuilder().ipv6().tcp().build(), LinkType::kIpv4).status, DecodeStatus::kBadIpVersion);
  EXPECT_EQ(decode_frame(FrameBuilder().ipv4().tcp().build(), LinkType::kIpv6).status, DecodeStatus::kBadIpVersion);
  EXPECT_EQ(decode_frame(FrameBuilder().ipv4({.version = 5}).tcp().build(), LinkType::kRaw).status,
            DecodeStatus::kBadIpVersion);
  EXPECT_EQ(decode_frame(FrameBuilder().eth({.type = wire::kEthIpv4}).ipv6().tcp().build(), LinkType::kEthernet).status,
            DecodeStatus::kBadIpVersion);
}

TEST(RawIp, EmptyFrameIsTruncatedIp) {
  EXPECT_EQ(decode_frame(Bytes{}, LinkType::kRaw).status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(decode_frame(Bytes{}, LinkType::kIpv4).status, DecodeStatus::kTruncatedIp);
  EXPECT_EQ(decode_frame(Bytes{}, LinkType::kIpv6).status, DecodeStatus::kTruncatedIp);
}

// ---- Linux cooked captures ------------------------------------------------------------

TEST(LinuxSll, Ipv4AndIpv6) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().sll().ipv4().tcp(kLinkTcp).build(), LinkType::kLinuxSll), 16, wire::kEthIpv4);
  expect_ipv6_tcp(decode_frame(FrameBuilder().sll().ipv6().tcp(kLinkTcp).build(), LinkType::kLinuxSll), 16, wire::kEthIpv6);
}

TEST(LinuxSll, OutgoingPacketTypeAndOtherHatypeStillDecode) {
  const Bytes f = FrameBuilder().sll(kAuto, /*pkttype=*/4, /*hatype=*/772).ipv4().tcp(kLinkTcp).build();
  expect_ipv4_tcp(decode_frame(f, LinkType::kLinuxSll), 16, wire::kEthIpv4);
}

TEST(LinuxSll, ShortHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().sll().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kLinuxSll, 15).status, DecodeStatus::kTruncatedL2);
}

TEST(LinuxSll2, Ipv4AndIpv6) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().sll2().ipv4().tcp(kLinkTcp).build(), LinkType::kLinuxSll2), 20,
                  wire::kEthIpv4);
  expect_ipv6_tcp(decode_frame(FrameBuilder().sll2().ipv6().tcp(kLinkTcp).build(), LinkType::kLinuxSll2), 20,
                  wire::kEthIpv6);
}

TEST(LinuxSll2, ShortHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().sll2().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kLinuxSll2, 19).status, DecodeStatus::kTruncatedL2);
}

// ---- NFLOG ---------------------------------------------------------------------------

// nflog(): 4-byte header, NFULA_PACKET_HDR (8), NFULA_PREFIX "sw\0" (7, padded to 8),
// then the 4-byte payload TLV header: the packet starts at 24.
TEST(Nflog, PacketAfterOtherTlvs) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().nflog(2).ipv4().tcp(kLinkTcp).build(), LinkType::kNflog), 24, 0);
  expect_ipv6_tcp(decode_frame(FrameBuilder().nflog(10).ipv6().tcp(kLinkTcp).build(), LinkType::kNflog), 24, 0);
}

TEST(Nflog, PayloadTlvFirst) {
  const Bytes f = FrameBuilder().nflog_header().nflog_payload().ipv4().tcp(kLinkTcp).build();
  expect_ipv4_tcp(decode_frame(f, LinkType::kNflog), 8, 0);
}

TEST(Nflog, TlvLengthsAreLittleEndian) {
  // A 5-byte prefix TLV (length 9, padded to 12): read big-endian its length would be 0x0900.
  const Bytes f = FrameBuilder().nflog_header().nflog_tlv(wire::kNflogPrefix, {'a', 'b', 'c', 'd', 0})
                      .nflog_payload().ipv4().tcp(kLinkTcp).build();
  ASSERT_EQ(f[4], 9);
  ASSERT_EQ(f[5], 0);
  expect_ipv4_tcp(decode_frame(f, LinkType::kNflog), 4 + 12 + 4, 0);
}

TEST(Nflog, NoPayloadTlvIsOkAndNotIp) {
  const Bytes f = FrameBuilder().nflog_header().nflog_tlv(wire::kNflogPrefix, {'x', 0}).build();
  const Decoded d = decode_frame(f, LinkType::kNflog);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(Nflog, TlvShorterThanItsHeaderIsBadL2) {
  const Bytes f = FrameBuilder().nflog_header().nflog_tlv(wire::kNflogPrefix, {'x', 0}, /*length=*/2)
                      .nflog_payload().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kNflog).status, DecodeStatus::kBadL2);
}

TEST(Nflog, TlvRunningPastCaptureIsTruncatedL2) {
  const Bytes f = FrameBuilder().nflog_header().nflog_tlv(wire::kNflogPrefix, Bytes(20, 'p')).nflog_payload()
                      .ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kNflog, 3).status, DecodeStatus::kTruncatedL2);
  EXPECT_EQ(decode_frame(f, LinkType::kNflog, 4 + 10).status, DecodeStatus::kTruncatedL2);
}

// NFLOG with a copy range (nflog-size / NFULNL_COPY_PACKET range) puts only the first
// bytes of the packet in the payload TLV: the TLV is shorter than the IP total length,
// and padded to 4 bytes. That is a cut capture, exactly like a pcap snaplen: truncated,
// not malformed.
TEST(Nflog, PayloadCutByCopyRangeIsTruncatedNotBad) {
  constexpr size_t kCopyRange = 50;  // not a multiple of 4: the TLV is followed by 2 pad bytes
  const Bytes full = FrameBuilder().nflog(2, static_cast<int>(4 + kCopyRange)).ipv4().tcp(kLinkTcp).payload(500).build();
  Bytes f(full.begin(), full.begin() + 24 + kCopyRange);
  f.insert(f.end(), 2, 0);  // TLV padding
  const Decoded d = decode_frame(f, LinkType::kNflog);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.ip_count, 1);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpTruncated);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, kLinkTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 500u);
}

TEST(Nflog, UncutPacketFollowedByTlvPadding) {
  const Bytes f = FrameBuilder().nflog(2).ipv4().tcp(kLinkTcp).payload(3).trailer(1).build();
  const Decoded d = decode_frame(f, LinkType::kNflog);
  expect_ipv4_tcp(d, 24, 0);
  EXPECT_EQ(d.v.tcp.payload_len, 3u);
}

// ---- loopback ------------------------------------------------------------------------

TEST(Loopback, NullIpv4HostOrder) {
  const Bytes f = FrameBuilder().null_family().ipv4().tcp(kLinkTcp).build();
  ASSERT_EQ(f[0], 2);  // little-endian AF_INET
  expect_ipv4_tcp(decode_frame(f, LinkType::kNull), 4, 0);
}

TEST(Loopback, NullWrittenOnBigEndianHost) {
  const Bytes f = FrameBuilder().null_family(2, /*big_endian=*/true).ipv4().tcp(kLinkTcp).build();
  expect_ipv4_tcp(decode_frame(f, LinkType::kNull), 4, 0);
}

class LoopbackIpv6Family : public ::testing::TestWithParam<int> {};

TEST_P(LoopbackIpv6Family, NullAndLoop) {
  const int family = GetParam();
  expect_ipv6_tcp(decode_frame(FrameBuilder().null_family(family).ipv6().tcp(kLinkTcp).build(), LinkType::kNull), 4, 0);
  expect_ipv6_tcp(decode_frame(FrameBuilder().loop_family(family).ipv6().tcp(kLinkTcp).build(), LinkType::kLoop), 4, 0);
}

// AF_INET6 on Linux (10), NetBSD/OpenBSD (24), FreeBSD (28), Darwin (30).
INSTANTIATE_TEST_SUITE_P(Families, LoopbackIpv6Family, ::testing::Values(10, 24, 28, 30));

TEST(Loopback, LoopIpv4NetworkOrder) {
  const Bytes f = FrameBuilder().loop_family().ipv4().tcp(kLinkTcp).build();
  ASSERT_EQ(f[3], 2);
  expect_ipv4_tcp(decode_frame(f, LinkType::kLoop), 4, 0);
}

TEST(Loopback, UnknownFamilyIsOkAndNotIp) {
  const Bytes f = FrameBuilder().null_family(7).ipv4().tcp().build();
  const Decoded d = decode_frame(f, LinkType::kNull);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(Loopback, ShortHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().null_family().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kNull, 3).status, DecodeStatus::kTruncatedL2);
  EXPECT_EQ(decode_frame(f, LinkType::kLoop, 0).status, DecodeStatus::kTruncatedL2);
}

// ---- link-type table -----------------------------------------------------------------

TEST(LinkTypes, UnsupportedValueIsReported) {
  const Bytes f = FrameBuilder().eth().ipv4().tcp().build();
  const Decoded d = decode_frame(f, static_cast<LinkType>(6));  // IEEE 802.5 token ring
  EXPECT_EQ(d.status, DecodeStatus::kUnsupportedLinkType);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(LinkTypes, PcapValuesMapToLinkTypes) {
  const std::pair<uint32_t, LinkType> known[] = {
      {0, LinkType::kNull},        {1, LinkType::kEthernet}, {12, LinkType::kRaw},   {14, LinkType::kRaw},
      {9, LinkType::kPpp},         {50, LinkType::kPppSerial}, {51, LinkType::kPppEther}, {104, LinkType::kCHdlc},
      {101, LinkType::kRaw},       {108, LinkType::kLoop},   {113, LinkType::kLinuxSll},
      {228, LinkType::kIpv4},      {229, LinkType::kIpv6},   {239, LinkType::kNflog},
      {276, LinkType::kLinuxSll2}, {105, LinkType::kIeee80211}, {127, LinkType::kIeee80211Radiotap},
  };
  for (const auto& [value, lt] : known) {
    LinkType out = LinkType::kEthernet;
    EXPECT_TRUE(decode::link_type_from_pcap(value, out)) << value;
    EXPECT_EQ(out, lt) << value;
    EXPECT_NE(decode::link_type_name(lt), "unknown");
  }
  LinkType out;
  EXPECT_FALSE(decode::link_type_from_pcap(6, out));    // token ring
  EXPECT_FALSE(decode::link_type_from_pcap(10, out));   // FDDI
  EXPECT_FALSE(decode::link_type_from_pcap(119, out));  // Prism monitor-mode header
}

// ---- IEEE 802.11 -----------------------------------------------------------------------

// A data frame to the AP (3 addresses), a QoS data frame from it, one between two APs (4
// addresses, QoS, HT control): the IP packet after LLC/SNAP, with or without radiotap.
TEST(Wlan, DataFramesCarryIp) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().wlan(0x08, 0x01).ipv4().tcp(kLinkTcp).build(), LinkType::kIeee80211),
                  24 + 8, 0x0800);
  expect_ipv6_tcp(decode_frame(FrameBuilder().wlan(0x88, 0x02).ipv6().tcp(kLinkTcp).build(), LinkType::kIeee80211),
                  24 + 2 + 8, 0x86DD);
  expect_ipv4_tcp(decode_frame(FrameBuilder().wlan(0x88, 0x83).ipv4().tcp(kLinkTcp).build(), LinkType::kIeee80211),
                  24 + 6 + 2 + 4 + 8, 0x0800);
  expect_ipv4_tcp(
      decode_frame(FrameBuilder().radiotap(28).wlan(0x88, 0x01).ipv4().tcp(kLinkTcp).build(), LinkType::kIeee80211Radiotap),
      36 + 24 + 2 + 8, 0x0800);
}

// Frames without a packet seqwatch can read: decoded fine, not IP.
TEST(Wlan, ManagementNullEncryptedFragmentsAndAmsduAreNotIp) {
  const Bytes frames[] = {
      FrameBuilder().wlan(0x80, 0x00, 0, 0x0010, false).payload(40).build(),  // beacon (management)
      FrameBuilder().wlan(0x48, 0x01, 0, 0x0010, false).build(),              // null data
      FrameBuilder().wlan(0x88, 0x41).ipv4().tcp(kLinkTcp).build(),               // protected (encrypted)
      FrameBuilder().wlan(0x08, 0x05).ipv4().tcp(kLinkTcp).build(),               // more fragments
      FrameBuilder().wlan(0x08, 0x01, 0, 0x0011).ipv4().tcp(kLinkTcp).build(),    // fragment number 1
      FrameBuilder().wlan(0x88, 0x01, 0x80).ipv4().tcp(kLinkTcp).build(),         // A-MSDU
      FrameBuilder().wlan(0x08, 0x01, 0, 0x0010, false).payload(40).build(),  // no LLC/SNAP
  };
  for (const Bytes& f : frames) {
    const Decoded d = decode_frame(f, LinkType::kIeee80211);
    EXPECT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.v.ip_count, 0);
  }
}

TEST(Wlan, CutOrBadHeadersAreL2Errors) {
  const Bytes f = FrameBuilder().radiotap(12).wlan(0x88, 0x01).ipv4().tcp(kLinkTcp).build();
  for (const size_t cut : {size_t{4}, size_t{19}, size_t{20 + 10}, size_t{20 + 26 + 3}}) {
    EXPECT_EQ(decode_frame(f, LinkType::kIeee80211Radiotap, cut).status, DecodeStatus::kTruncatedL2) << cut;
  }
  Bytes bad = f;
  bad[0] = 1;  // radiotap version 1
  EXPECT_EQ(decode_frame(bad, LinkType::kIeee80211Radiotap).status, DecodeStatus::kBadL2);
  bad = f;
  bad[2] = 4;  // radiotap length below its own fixed part
  EXPECT_EQ(decode_frame(bad, LinkType::kIeee80211Radiotap).status, DecodeStatus::kBadL2);
  bad = f;
  bad[20] |= 0x01;  // 802.11 protocol version 1
  EXPECT_EQ(decode_frame(bad, LinkType::kIeee80211Radiotap).status, DecodeStatus::kBadL2);
}

// ---- VLAN ----------------------------------------------------------------------------

struct VlanCase {
  std::vector<uint16_t> tpids;  // outermost first
};

class VlanStack : public ::testing::TestWithParam<VlanCase> {};

TEST_P(VlanStack, IdsRecordedInOrder) {
  const auto& tpids = GetParam().tpids;
  FrameBuilder b;
  b.eth();
  for (size_t i = 0; i < tpids.size(); ++i) b.vlan(static_cast<uint16_t>(100 * (i + 1) + i), tpids[i]);
  const Bytes f = b.ipv4().tcp(kLinkTcp).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  expect_ipv4_tcp(d, static_cast<uint32_t>(14 + 4 * tpids.size()), wire::kEthIpv4);
  ASSERT_EQ(d.v.vlan_count, tpids.size());
  for (size_t i = 0; i < tpids.size(); ++i) EXPECT_EQ(d.v.vlan[i], 100 * (i + 1) + i) << i;
  EXPECT_EQ(d.v.inner_vlan, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Depths, VlanStack,
    ::testing::Values(VlanCase{{wire::kEthVlan}}, VlanCase{{wire::kEthQinQ}}, VlanCase{{wire::kEthQinQOld}},
                      VlanCase{{wire::kEthQinQ, wire::kEthVlan}}, VlanCase{{wire::kEthQinQOld, wire::kEthVlan}},
                      VlanCase{{wire::kEthVlan, wire::kEthVlan}},
                      VlanCase{{wire::kEthQinQ, wire::kEthQinQ, wire::kEthVlan}},
                      VlanCase{{wire::kEthQinQ, wire::kEthQinQOld, wire::kEthVlan, wire::kEthVlan}},
                      VlanCase{{wire::kEthVlan, wire::kEthVlan, wire::kEthVlan, wire::kEthVlan}}));

TEST(Vlan, PriorityAndDeiBitsAreNotPartOfTheId) {
  const Bytes f = FrameBuilder().eth().vlan(4095, wire::kEthVlan, 7, true).vlan(1, wire::kEthVlan, 5).ipv6().tcp(kLinkTcp).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  expect_ipv6_tcp(d, 22, wire::kEthIpv6);
  ASSERT_EQ(d.v.vlan_count, 2);
  EXPECT_EQ(d.v.vlan[0], 4095);
  EXPECT_EQ(d.v.vlan[1], 1);
}

TEST(Vlan, FiveTagsIsTooDeep) {
  FrameBuilder b;
  b.eth().vlan(1, wire::kEthQinQ);
  for (uint16_t i = 2; i <= 5; ++i) b.vlan(i);
  const Decoded d = decode_frame(b.ipv4().tcp().build(), LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kVlanTooDeep);
  EXPECT_EQ(d.v.vlan_count, decode::kMaxVlan);
  EXPECT_EQ(d.v.vlan[3], 4);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(Vlan, NonIpUnderTag) {
  const Bytes f = FrameBuilder().eth().vlan(9, wire::kEthVlan, 0, false, wire::kEthArp).payload(28, 0).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.vlan_count, 1);
  EXPECT_EQ(d.v.vlan[0], 9);
  EXPECT_EQ(d.v.ethertype, wire::kEthArp);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(Vlan, CutTagIsTruncatedVlan) {
  const Bytes f = FrameBuilder().eth().vlan(10).vlan(20).ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 16).status, DecodeStatus::kTruncatedVlan);
  const Decoded d = decode_frame(f, LinkType::kEthernet, 20);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedVlan);
  EXPECT_EQ(d.v.vlan_count, 1);
  EXPECT_EQ(d.v.vlan[0], 10);
}

// ---- Cisco MetaData (TrustSec inline SGT) ----------------------------------------------

TEST(CiscoMetadata, SgtHeaderSkipped) {
  const Decoded d = decode_frame(FrameBuilder().eth().cmd(0x00C8).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 14 + 8, wire::kEthIpv4);
}

TEST(CiscoMetadata, AfterVlanTag) {
  const Decoded d = decode_frame(FrameBuilder().eth().vlan(30).cmd(5).ipv6().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv6_tcp(d, 14 + 4 + 8, wire::kEthIpv6);
  EXPECT_EQ(d.v.vlan_count, 1);
  EXPECT_EQ(d.v.vlan[0], 30);
}

TEST(CiscoMetadata, CutHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().eth().cmd(5).ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 14 + 7).status, DecodeStatus::kTruncatedL2);
}

// ---- Cisco FabricPath, Arista timestamp header ------------------------------------------

TEST(FabricPath, ClassicalFrameInsideIsDecodedWithItsVlan) {
  const Decoded d = decode_frame(FrameBuilder().eth().fabricpath().vlan(7).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 14 + 16 + 4, wire::kEthIpv4);
  ASSERT_EQ(d.v.vlan_count, 1);
  EXPECT_EQ(d.v.vlan[0], 7);
}

TEST(FabricPath, CutHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().eth().fabricpath().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 14 + 15).status, DecodeStatus::kTruncatedL2);
}

TEST(Arista, TimestampHeadersOfBothLengthsAreSkipped) {
  for (const auto& [version, ts] : {std::pair<uint16_t, size_t>{0x10, 8}, {0x110, 8}, {0x20, 6}, {0x120, 6}}) {
    const Decoded d = decode_frame(FrameBuilder().eth().avsp(version, ts).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
    expect_ipv4_tcp(d, static_cast<uint32_t>(14 + 4 + ts + 2), wire::kEthIpv4);
  }
  const Decoded d = decode_frame(FrameBuilder().eth().avsp(0x20, 6).vlan(100).mpls(1024).ipv6().tcp(kLinkTcp).build(),
                                 LinkType::kEthernet);
  expect_ipv6_tcp(d, 14 + 12 + 4 + 4, wire::kEthMpls);
  EXPECT_EQ(d.v.vlan[0], 100);
  EXPECT_EQ(d.v.mpls_label, 1024u);
}

TEST(Arista, UnknownSubtypeOrVersionIsOkAndNotIp) {
  for (const auto& [subtype, version] : {std::pair<uint16_t, uint16_t>{2, 0x10}, {1, 0x30}}) {
    const Decoded d = decode_frame(FrameBuilder().eth().avsp(version, 8, subtype).ipv4().tcp().build(), LinkType::kEthernet);
    EXPECT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.v.ip_count, 0);
    EXPECT_EQ(d.v.ethertype, wire::kEthAvsp);
  }
}

TEST(Arista, CutHeaderIsTruncatedL2) {
  const Bytes f = FrameBuilder().eth().avsp(0x10, 8).ipv4().tcp().build();
  for (size_t n : {14 + 3, 14 + 13}) EXPECT_EQ(decode_frame(f, LinkType::kEthernet, n).status, DecodeStatus::kTruncatedL2) << n;
}

// ---- PPP and Cisco HDLC link types (routers' serial / WAN captures) ------------------------

TEST(PppLink, WithAndWithoutAddressControl) {
  for (const LinkType lt : {LinkType::kPpp, LinkType::kPppSerial}) {
    expect_ipv4_tcp(decode_frame(FrameBuilder().ppp().ipv4().tcp(kLinkTcp).build(), lt), 4, 0);
    expect_ipv6_tcp(decode_frame(FrameBuilder().ppp(false).ipv6().tcp(kLinkTcp).build(), lt), 2, 0);
    expect_ipv4_tcp(decode_frame(FrameBuilder().ppp(false, true).ipv4().tcp(kLinkTcp).build(), lt), 1, 0);
  }
}

TEST(PppLink, MplsUnderPpp) {
  const Decoded d = decode_frame(FrameBuilder().ppp(true, false, 0x0281).mpls(16).ipv4().tcp(kLinkTcp).build(), LinkType::kPpp);
  expect_ipv4_tcp(d, 8, 0);
  EXPECT_EQ(d.v.mpls_label, 16u);
}

TEST(PppLink, CiscoHdlcFramesUnderPppLinkTypes) {
  for (const LinkType lt : {LinkType::kPpp, LinkType::kPppSerial, LinkType::kCHdlc}) {
    for (const uint8_t address : {uint8_t{0x0F}, uint8_t{0x8F}}) {
      expect_ipv4_tcp(decode_frame(FrameBuilder().chdlc(address).ipv4().tcp(kLinkTcp).build(), lt), 4, wire::kEthIpv4);
      expect_ipv6_tcp(decode_frame(FrameBuilder().chdlc(address).ipv6().tcp(kLinkTcp).build(), lt), 4, wire::kEthIpv6);
    }
  }
  const Decoded d = decode_frame(FrameBuilder().chdlc().mpls(77).ipv4().tcp(kLinkTcp).build(), LinkType::kCHdlc);
  expect_ipv4_tcp(d, 8, wire::kEthMpls);
}

TEST(PppLink, PppoeWithoutEthernet) {
  expect_ipv4_tcp(decode_frame(FrameBuilder().pppoe().ipv4().tcp(kLinkTcp).build(), LinkType::kPppEther), 8,
                  wire::kEthPppoeSession);
}

TEST(PppLink, LcpIsOkAndNotIp) {
  const Decoded d = decode_frame(FrameBuilder().ppp(true, false, 0xC021).payload(8).build(), LinkType::kPpp);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(PppLink, CutHeadersAreTruncated) {
  const Bytes h = FrameBuilder().chdlc().ipv4().tcp().build();
  EXPECT_EQ(decode_frame(h, LinkType::kCHdlc, 3).status, DecodeStatus::kTruncatedL2);
  EXPECT_EQ(decode_frame(h, LinkType::kPpp, 0).status, DecodeStatus::kTruncatedL2);
  EXPECT_EQ(decode_frame(h, LinkType::kPpp, 3).status, DecodeStatus::kTruncatedL2);
}

// ---- MPLS ----------------------------------------------------------------------------

TEST(Mpls, SingleLabelIpv4) {
  const Decoded d = decode_frame(FrameBuilder().eth().mpls(16).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 18, wire::kEthMpls);
  EXPECT_EQ(d.v.mpls_count, 1);
  EXPECT_EQ(d.v.mpls_label, 16u);
}

TEST(Mpls, ThreeLabelsIpv6BottomLabelKept) {
  const Decoded d =
      decode_frame(FrameBuilder().eth().mpls(100, false).mpls(200, false).mpls(0xFFFFF).ipv6().tcp(kLinkTcp).build(),
                   LinkType::kEthernet);
  expect_ipv6_tcp(d, 26, wire::kEthMpls);
  EXPECT_EQ(d.v.mpls_count, 3);
  EXPECT_EQ(d.v.mpls_label, 0xFFFFFu);
}

TEST(Mpls, EightLabelsIsTheLimit) {
  FrameBuilder b;
  b.eth();
  for (uint32_t i = 0; i < 7; ++i) b.mpls(i + 16, false);
  const Decoded d = decode_frame(b.mpls(99).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 14 + 32, wire::kEthMpls);
  EXPECT_EQ(d.v.mpls_count, 8);
  EXPECT_EQ(d.v.mpls_label, 99u);
}

TEST(Mpls, NineLabelsIsTooDeep) {
  FrameBuilder b;
  b.eth();
  for (uint32_t i = 0; i < 8; ++i) b.mpls(i + 16, false);
  const Decoded d = decode_frame(b.mpls(99).ipv4().tcp().build(), LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kMplsTooDeep);
  EXPECT_EQ(d.v.ip_count, 0);
}

TEST(Mpls, CutLabelIsTruncatedMpls) {
  const Bytes f = FrameBuilder().eth().mpls(16, false).mpls(17).ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 16).status, DecodeStatus::kTruncatedMpls);
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 21).status, DecodeStatus::kTruncatedMpls);
}

TEST(Mpls, PseudowireWithControlWordIsOkAndNotIp) {
  // Ethernet pseudowire: a 4-byte control word starting with nibble 0, then a frame.
  const Bytes f = FrameBuilder().eth().mpls(16).bytes({0, 0, 0, 1}).eth().ipv4().tcp().build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
  EXPECT_EQ(d.v.mpls_count, 1);
}

TEST(Mpls, UnderVlan) {
  const Decoded d = decode_frame(FrameBuilder().eth().vlan(5).mpls(16).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 22, wire::kEthMpls);
  EXPECT_EQ(d.v.vlan_count, 1);
}

// ---- PPPoE ---------------------------------------------------------------------------

TEST(Pppoe, SessionIpv4) {
  const Decoded d = decode_frame(FrameBuilder().eth().pppoe(0x1234).ipv4().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv4_tcp(d, 22, wire::kEthPppoeSession);
}

TEST(Pppoe, SessionIpv6UnderVlan) {
  const Decoded d = decode_frame(FrameBuilder().eth().vlan(3).pppoe(1).ipv6().tcp(kLinkTcp).build(), LinkType::kEthernet);
  expect_ipv6_tcp(d, 26, wire::kEthPppoeSession);
}

TEST(Pppoe, CompressedProtocolField) {
  const Bytes f = FrameBuilder().eth().pppoe(1, kAuto, 0x11, 0, /*compressed=*/true).ipv4().tcp(kLinkTcp).build();
  ASSERT_EQ(f[20], 0x21);
  expect_ipv4_tcp(decode_frame(f, LinkType::kEthernet), 21, wire::kEthPppoeSession);
}

TEST(Pppoe, LcpIsOkAndNotIp) {
  const Bytes f = FrameBuilder().eth().pppoe(1, kAuto, 0x11, 0, false, wire::kPppLcp).payload(10).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.ip_count, 0);
  EXPECT_EQ(d.v.ethertype, wire::kEthPppoeSession);
}

TEST(Pppoe, WrongVersionOrCodeIsBadPppoe) {
  EXPECT_EQ(decode_frame(FrameBuilder().eth().pppoe(1, kAuto, 0x12).ipv4().tcp().build(), LinkType::kEthernet).status,
            DecodeStatus::kBadPppoe);
  EXPECT_EQ(decode_frame(FrameBuilder().eth().pppoe(1, kAuto, 0x11, 0x09).ipv4().tcp().build(), LinkType::kEthernet).status,
            DecodeStatus::kBadPppoe);
}

TEST(Pppoe, CutHeaderIsTruncatedPppoe) {
  const Bytes f = FrameBuilder().eth().pppoe(1).ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 17).status, DecodeStatus::kTruncatedPppoe);
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet, 21).status, DecodeStatus::kTruncatedPppoe);  // protocol cut
}

// PPPoE says 52 bytes (PPP protocol + a 50-byte IP packet), the IP header says 60: the
// IP packet is clipped to its carrier (as tshark does), flagged, and decoded on.
TEST(Pppoe, IpLongerThanPppoePayloadIsClippedToIt) {
  const Bytes f = FrameBuilder().eth().pppoe(1, /*length=*/2 + 50).ipv4().tcp(kLinkTcp).payload(20).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenClipped);
  EXPECT_TRUE(d.v.ip[0].flags & decode::kIpLenClipped);
  EXPECT_FALSE(d.v.flags & decode::kFlagTruncated);
  EXPECT_EQ(d.v.ip[0].l4_len, 30u);
  EXPECT_EQ(d.v.tcp.payload_len, 10u);  // the 10 bytes past the carrier are not payload
}

// Clipped into the TCP header: the header does not fit in what carries it.
TEST(Pppoe, CarrierEndingInsideTcpHeaderIsTruncatedTcp) {
  const Bytes f = FrameBuilder().eth().pppoe(1, /*length=*/2 + 30).ipv4().tcp().payload(20).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedTcp);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenClipped);
}

// The corpus case (zeek pppoe-over-qinq.pcap): a pure ACK whose IP length counts 6 bytes
// of Ethernet padding the PPPoE length leaves out. Clipped, it is a pure ACK again.
TEST(Pppoe, PaddingCountedIntoIpLengthIsClippedToPureAck) {
  FrameBuilder b;
  b.eth().pppoe(1, /*length=*/2 + 40).ipv4({.total_len = 46}).tcp(kLinkTcp).trailer(6);
  const Decoded d = decode_frame(b.build(), LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagIpLenClipped);
  EXPECT_EQ(d.v.tcp.seq, kLinkTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 0u);
}

// A carrier that ends inside the IP header: nothing above it can be read.
TEST(Pppoe, CarrierShorterThanIpHeaderIsTruncatedIp) {
  const Bytes f = FrameBuilder().eth().pppoe(1, /*length=*/2 + 12).ipv4().tcp().build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet).status, DecodeStatus::kTruncatedIp);
}

TEST(Pppoe, SnaplenCutIsTruncatedNotBad) {
  const Bytes f = FrameBuilder().eth().pppoe(1).ipv4().tcp(kLinkTcp).payload(500).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, 100);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagTruncated);
  EXPECT_EQ(d.v.tcp.seq, kLinkTcp.seq);
  EXPECT_EQ(d.v.tcp.payload_len, 500u);
}

// A minimum-size Ethernet frame holding a small PPPoE session packet is padded after the
// PPPoE payload; the captured bytes extend past the IP packet.
TEST(Pppoe, EthernetPaddingAfterSessionIsFlagged) {
  const Bytes f = FrameBuilder().eth().pppoe(1).ipv4().tcp(kLinkTcp).trailer(10).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  expect_ipv4_tcp(d, 22, wire::kEthPppoeSession);
  EXPECT_EQ(d.v.tcp.payload_len, 0u);
  EXPECT_TRUE(d.v.flags & decode::kFlagPadding);
}

}  // namespace
}  // namespace seqwatch::test
