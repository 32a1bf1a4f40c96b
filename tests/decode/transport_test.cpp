// TCP (fixed header, every flag, options) and UDP.
#include "decode_test_util.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeStatus;
using decode::L4Type;
using decode::LinkType;

constexpr uint32_t kTcpOff = 14 + 20;

Decoded decode_tcp(const TcpSpec& s, size_t payload = 0) {
  return decode_frame(FrameBuilder().eth().ipv4().tcp(s).payload(payload).build(), LinkType::kEthernet);
}

// ---- TCP fixed header ----------------------------------------------------------------

TEST(Tcp, FixedHeaderFields) {
  const Decoded d = decode_tcp({.sport = 0xFFFE, .dport = 1, .seq = 0x89ABCDEF, .ack = 0x01234567,
                                .flags = wire::kAck | wire::kPsh | wire::kUrg, .window = 0xFFFF, .urgent = 0x0102},
                               321);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  const decode::TcpInfo& t = d.v.tcp;
  EXPECT_EQ(d.v.l4_off, kTcpOff);
  EXPECT_EQ(t.sport, 0xFFFE);
  EXPECT_EQ(t.dport, 1);
  EXPECT_EQ(t.seq, 0x89ABCDEFu);
  EXPECT_EQ(t.ack, 0x01234567u);
  EXPECT_EQ(t.flags, wire::kAck | wire::kPsh | wire::kUrg);
  EXPECT_EQ(t.window, 0xFFFF);
  EXPECT_EQ(t.urgent, 0x0102);
  EXPECT_EQ(t.checksum, (d.buf[kTcpOff + 16] << 8) | d.buf[kTcpOff + 17]);
  EXPECT_EQ(t.ip_id, (d.buf[kTcpOff - 20 + 4] << 8) | d.buf[kTcpOff - 20 + 5]);  // the IPv4 header before it
  EXPECT_NE(t.ip_id, 0);
  EXPECT_EQ(t.hdr_len, 20);
  EXPECT_EQ(t.payload_len, 321u);
  EXPECT_EQ(t.ae, 0);
  EXPECT_EQ(t.opts, 0);
  EXPECT_EQ(t.sack_count, 0);
  EXPECT_EQ(d.v.flags, 0);
}

class TcpFlagBit : public ::testing::TestWithParam<uint8_t> {};

TEST_P(TcpFlagBit, RecordedExactly) {
  const uint8_t flags = GetParam();
  const Decoded d = decode_tcp({.flags = flags});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.flags, flags);
  EXPECT_EQ(d.v.tcp.ae, 0);
}

INSTANTIATE_TEST_SUITE_P(EachBitAndAll, TcpFlagBit,
                         ::testing::Values(wire::kFin, wire::kSyn, wire::kRst, wire::kPsh, wire::kAck, wire::kUrg,
                                           wire::kEce, wire::kCwr, 0x00, 0xFF,
                                           static_cast<uint8_t>(wire::kSyn | wire::kAck | wire::kEce | wire::kCwr)));

TEST(Tcp, AeBitIsSeparateFromFlags) {
  const Decoded d = decode_tcp({.flags = wire::kAck, .ae = true});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.ae, 1);
  EXPECT_EQ(d.v.tcp.flags, wire::kAck);
  EXPECT_EQ(d.v.tcp.hdr_len, 20);
}

TEST(Tcp, SequenceNumbersNearWrap) {
  for (const uint32_t seq : {0xFFFFFFFFu, 0xFFFFFFF0u, 0x80000000u, 0u}) {
    const Decoded d = decode_tcp({.seq = seq, .ack = ~seq}, 100);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.v.tcp.seq, seq);
    EXPECT_EQ(d.v.tcp.ack, ~seq);
    EXPECT_EQ(d.v.tcp.payload_len, 100u);
  }
}

TEST(Tcp, Ipv6PayloadLength) {
  const Bytes f = FrameBuilder().eth().ipv6().tcp({.options = tcpopt::timestamp(1, 2)}).payload(1448).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.hdr_len, 32);
  EXPECT_EQ(d.v.tcp.payload_len, 1448u);
}

TEST(Tcp, DataOffsetBelowFiveIsBadTcpHeaderLength) {
  for (int doff : {0, 4}) {
    const Decoded d = decode_tcp({.data_offset = doff}, 40);
    EXPECT_EQ(d.status, DecodeStatus::kBadTcpHeaderLength) << doff;
    EXPECT_EQ(d.v.ip_count, 1);
  }
}

TEST(Tcp, DataOffsetBeyondSegmentIsBadTcpHeaderLength) {
  // 15 words = 60 bytes of header in a 20-byte segment.
  const Decoded d = decode_tcp({.data_offset = 15});
  EXPECT_EQ(d.status, DecodeStatus::kBadTcpHeaderLength);
}

// ---- TCP options ---------------------------------------------------------------------

TEST(TcpOptions, LinuxSynOptions) {
  const Decoded d = decode_tcp({.flags = wire::kSyn,
                                .options = tcpopt::cat({tcpopt::mss(1460), tcpopt::sack_perm(),
                                                        tcpopt::timestamp(0xDEADBEEF, 0), tcpopt::nop(),
                                                        tcpopt::wscale(7)})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  const decode::TcpInfo& t = d.v.tcp;
  EXPECT_EQ(t.hdr_len, 40);
  EXPECT_EQ(t.opts, decode::kOptMss | decode::kOptSackPerm | decode::kOptTimestamp | decode::kOptWscale);
  EXPECT_EQ(t.mss, 1460);
  EXPECT_EQ(t.wscale, 7);
  EXPECT_EQ(t.tsval, 0xDEADBEEFu);
  EXPECT_EQ(t.tsecr, 0u);
  EXPECT_EQ(t.payload_len, 0u);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

TEST(TcpOptions, WindowScaleRecordedAsSent) {
  const Decoded d = decode_tcp({.flags = wire::kSyn, .options = tcpopt::cat({tcpopt::nop(), tcpopt::wscale(15)})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.tcp.opts & decode::kOptWscale);
  EXPECT_EQ(d.v.tcp.wscale, 15);
}

TEST(TcpOptions, TimestampsAtExtremes) {
  const Decoded d = decode_tcp({.options = tcpopt::cat({tcpopt::nop(), tcpopt::nop(),
                                                        tcpopt::timestamp(0xFFFFFFFF, 0x80000001)})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.opts, decode::kOptTimestamp);
  EXPECT_EQ(d.v.tcp.tsval, 0xFFFFFFFFu);
  EXPECT_EQ(d.v.tcp.tsecr, 0x80000001u);
  EXPECT_EQ(d.v.tcp.hdr_len, 32);
}

class SackBlocks : public ::testing::TestWithParam<int> {};

TEST_P(SackBlocks, AllBlocksRecorded) {
  const int n = GetParam();
  const std::pair<uint32_t, uint32_t> all[] = {
      {0xFFFFFF00u, 0x00000100u}, {1000, 2000}, {3000, 4000}, {0x7FFFFFFFu, 0x80000010u}};
  Bytes sack{5, static_cast<uint8_t>(2 + 8 * n)};
  for (int i = 0; i < n; ++i) {
    for (const uint32_t x : {all[i].first, all[i].second}) {
      for (int s = 24; s >= 0; s -= 8) sack.push_back(static_cast<uint8_t>(x >> s));
    }
  }
  // With timestamps when they fit (up to 3 blocks), as Linux sends them.
  const Bytes opts = n <= 3 ? tcpopt::cat({tcpopt::nop(), tcpopt::nop(), tcpopt::timestamp(7, 8), tcpopt::nop(),
                                           tcpopt::nop(), sack})
                            : tcpopt::cat({tcpopt::nop(), tcpopt::nop(), sack});
  const Decoded d = decode_tcp({.options = opts}, 10);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  const decode::TcpInfo& t = d.v.tcp;
  EXPECT_TRUE(t.opts & decode::kOptSack);
  EXPECT_EQ(static_cast<bool>(t.opts & decode::kOptTimestamp), n <= 3);
  ASSERT_EQ(t.sack_count, n);
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(t.sack[i].left, all[i].first) << i;
    EXPECT_EQ(t.sack[i].right, all[i].second) << i;
  }
  EXPECT_EQ(t.hdr_len, 20 + opts.size() + (4 - opts.size() % 4) % 4);
  EXPECT_EQ(t.payload_len, 10u);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

INSTANTIATE_TEST_SUITE_P(OneToFour, SackBlocks, ::testing::Values(1, 2, 3, 4));

TEST(TcpOptions, NopAndEolPadding) {
  // MSS, then EOL: everything after EOL is padding, even bytes that look like options.
  const Decoded d = decode_tcp({.options = tcpopt::cat({tcpopt::nop(), tcpopt::mss(536), tcpopt::eol(),
                                                        tcpopt::wscale(3), tcpopt::nop()})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.opts, decode::kOptMss);
  EXPECT_EQ(d.v.tcp.mss, 536);
  EXPECT_EQ(d.v.tcp.hdr_len, 32);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

TEST(TcpOptions, OnlyNops) {
  const Decoded d = decode_tcp({.options = Bytes(40, 1)});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.hdr_len, 60);
  EXPECT_EQ(d.v.tcp.opts, 0);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

struct BadOption {
  const char* name;
  Bytes options;
};

class MalformedOption : public ::testing::TestWithParam<BadOption> {};

TEST_P(MalformedOption, FlaggedAndFixedHeaderStillValid) {
  const Bytes opts = tcpopt::cat({tcpopt::mss(1400), GetParam().options});
  const Decoded d = decode_tcp({.seq = 0xFFFFFFFE, .ack = 77, .flags = wire::kSyn, .window = 512, .options = opts}, 5);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.v.flags & decode::kFlagTcpOptBad);
  ASSERT_EQ(d.v.l4, L4Type::kTcp);
  EXPECT_EQ(d.v.tcp.seq, 0xFFFFFFFEu);
  EXPECT_EQ(d.v.tcp.ack, 77u);
  EXPECT_EQ(d.v.tcp.flags, wire::kSyn);
  EXPECT_EQ(d.v.tcp.window, 512);
  EXPECT_EQ(d.v.tcp.payload_len, 5u);
  // Options before the bad one are kept; nothing after it is read.
  EXPECT_EQ(d.v.tcp.mss, 1400);
  EXPECT_EQ(d.v.tcp.opts, decode::kOptMss);
}

INSTANTIATE_TEST_SUITE_P(
    Lengths, MalformedOption,
    ::testing::Values(BadOption{"LengthZero", {8, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}},
                      BadOption{"LengthOne", {3, 1, 3, 3, 7, 1, 1, 1}},
                      BadOption{"LengthPastHeader", {1, 1, 8, 10}},
                      BadOption{"KindWithoutLengthByte", {1, 1, 1, 3}}),
    [](const ::testing::TestParamInfo<BadOption>& i) { return std::string(i.param.name); });

TEST(TcpOptions, KnownOptionWithUnexpectedLengthIsIgnored) {
  // MSS with length 6 is not an MSS option as RFC 9293 defines it; it is skipped by its
  // length and the timestamps after it are still read.
  const Decoded d = decode_tcp({.options = tcpopt::cat({{2, 6, 5, 0xB4, 0, 0}, tcpopt::timestamp(9, 10)})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_FALSE(d.v.tcp.opts & decode::kOptMss);
  EXPECT_TRUE(d.v.tcp.opts & decode::kOptTimestamp);
  EXPECT_EQ(d.v.tcp.tsval, 9u);
  EXPECT_FALSE(d.v.flags & decode::kFlagTcpOptBad);
}

TEST(TcpOptions, MptcpAndFastOpenArePresenceBits) {
  const Decoded d = decode_tcp({.flags = wire::kSyn,
                                .options = tcpopt::cat({{30, 4, 0x00, 0x81}, {34, 10, 1, 2, 3, 4, 5, 6, 7, 8}})});
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.tcp.opts, decode::kOptMptcp | decode::kOptTfo);
}

// ---- UDP -----------------------------------------------------------------------------

TEST(Udp, PortsAndLength) {
  const Bytes f = FrameBuilder().eth().ipv4().udp({.sport = 5353, .dport = 53}).payload(100).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.l4, L4Type::kUdp);
  EXPECT_EQ(d.v.l4_off, kTcpOff);
  EXPECT_EQ(d.v.udp.sport, 5353);
  EXPECT_EQ(d.v.udp.dport, 53);
  EXPECT_EQ(d.v.udp.length, 108);
  EXPECT_EQ(d.v.tunnel_count, 0);
}

TEST(Udp, Ipv6AndPadding) {
  const Bytes f = FrameBuilder().eth().ipv6().udp({.sport = 1, .dport = 2}).trailer(12).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.l4, L4Type::kUdp);
  EXPECT_EQ(d.v.udp.length, 8);
  EXPECT_TRUE(d.v.flags & decode::kFlagPadding);
}

TEST(Udp, LengthShorterThanIpPayloadIsAccepted) {
  const Bytes f = FrameBuilder().eth().ipv4().udp({.length = 12}).payload(20).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.v.udp.length, 12);
}

TEST(Udp, LengthBelowHeaderIsBadUdpLength) {
  for (int len : {0, 7}) {
    const Bytes f = FrameBuilder().eth().ipv4().udp({.length = len}).payload(20).build();
    EXPECT_EQ(decode_frame(f, LinkType::kEthernet).status, DecodeStatus::kBadUdpLength) << len;
  }
}

TEST(Udp, LengthBeyondIpPayloadIsBadUdpLength) {
  const Bytes f = FrameBuilder().eth().ipv4().udp({.length = 29}).payload(20).build();
  EXPECT_EQ(decode_frame(f, LinkType::kEthernet).status, DecodeStatus::kBadUdpLength);
}

TEST(Udp, Ipv6JumbogramLengthZero) {
  const Bytes f = FrameBuilder().eth().ipv6().ipv6_jumbo().udp({.sport = 9, .dport = 10, .length = 0}).payload(70000).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, 300);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.v.l4, L4Type::kUdp);
  EXPECT_EQ(d.v.udp.length, 0);
  EXPECT_EQ(d.v.ip[0].l4_len, 70008u);
}

TEST(Udp, CutHeaderIsTruncatedUdp) {
  const Bytes f = FrameBuilder().eth().ipv4().udp().payload(20).build();
  const Decoded d = decode_frame(f, LinkType::kEthernet, kTcpOff + 7);
  EXPECT_EQ(d.status, DecodeStatus::kTruncatedUdp);
  EXPECT_EQ(d.v.ip_count, 1);
  EXPECT_EQ(d.v.l4, L4Type::kNone);
}

// ---- One view reused for every frame (as the workers do) --------------------------------

// decode() writes only what a frame has (it leaves SACK blocks past sack_count as they were):
// decoding into a view that last held a tunnelled, SACK-carrying, tagged segment must give
// exactly what a fresh view gives.
TEST(ViewReuse, NothingCarriesOverFromThePreviousFrame) {
  const Bytes busy = FrameBuilder()
                         .eth()
                         .vlan(42)
                         .ipv4()
                         .gre({.key = 7})
                         .ipv4()
                         .tcp({.flags = wire::kAck,
                               .options = tcpopt::cat({tcpopt::nop(), tcpopt::nop(), tcpopt::timestamp(1, 2),
                                                       tcpopt::nop(), tcpopt::nop(),
                                                       tcpopt::sack({{100, 200}, {300, 400}})})})
                         .build();
  const Bytes plain_frames[] = {
      FrameBuilder().eth().ipv4().tcp({.seq = 5, .flags = wire::kAck}).payload(3).build(),
      FrameBuilder().eth().ipv4().tcp({.flags = wire::kSyn, .options = tcpopt::mss(1400)}).build(),
      FrameBuilder().eth().ipv6().tcp({.flags = wire::kAck}).build(),
      FrameBuilder().eth().ipv4().udp({}).payload(8).build(),
  };
  for (const Bytes& plain : plain_frames) {
    const Decoded fresh = decode_frame(plain, LinkType::kEthernet);
    Decoded reused = decode_frame(busy, LinkType::kEthernet);
    ASSERT_EQ(reused.status, DecodeStatus::kOk);
    ASSERT_EQ(reused.v.tcp.sack_count, 2);
    ASSERT_EQ(reused.v.tunnel_count, 1);
    const uint8_t* frame = fresh.buf.get();
    ASSERT_EQ(decode::decode(frame, fresh.len, LinkType::kEthernet, reused.v), fresh.status);
    EXPECT_EQ(view_difference(fresh.v, reused.v), "");  // sack_count included
  }
}

}  // namespace
}  // namespace seqwatch::test
