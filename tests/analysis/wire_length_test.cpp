// A segment's payload length on the wire (tcp::wire_payload_len) from frames the decoder
// reads, and what TcpStage counts with it: a frame shorter on the wire than its IP length,
// and a TSO aggregate with IP length 0 cut by the snaplen (a Windows capture's super-frames
// cut to 58 bytes: their segments must keep their length, or every next segment reads as
// "previous segment not captured").
#include <gtest/gtest.h>

#include <vector>

#include "decode/decoder.hpp"
#include "support/frame_builder.hpp"
#include "tcp/tcp_stage.hpp"

namespace seqwatch {
namespace {

using test::FrameBuilder;

struct Decoded {
  std::vector<uint8_t> bytes;
  decode::PacketView v;
};

// An Ethernet/IPv4/TCP frame with `payload` bytes, its IP total length set to `ip_len`
// (0: a TSO aggregate), captured to `caplen` bytes.
Decoded frame(uint32_t seq, uint32_t payload, int ip_len, uint32_t caplen) {
  Decoded d;
  d.bytes = FrameBuilder().eth().ipv4().tcp({.seq = seq, .ack = 1}).payload(payload).build();
  if (ip_len >= 0) d.bytes[16] = static_cast<uint8_t>(ip_len >> 8), d.bytes[17] = static_cast<uint8_t>(ip_len);
  decode::decode(d.bytes.data(), caplen, decode::LinkType::kEthernet, d.v);
  return d;
}

TEST(WirePayloadLength, FromTheIpLengthOrTheWire) {
  // Whole and plain: the IP length's.
  Decoded a = frame(1000, 1000, -1, 1054);
  EXPECT_EQ(tcp::wire_payload_len(a.v, PacketRef{a.bytes.data(), 1054, 1054, 0, 1}), 1000u);
  // Cut by the snaplen, IP length intact: still the IP length's.
  Decoded b = frame(1000, 1000, -1, 58);
  EXPECT_EQ(tcp::wire_payload_len(b.v, PacketRef{b.bytes.data(), 58, 1054, 0, 1}), 1000u);
  // IP length 0, whole: the frame's.
  Decoded c = frame(1000, 3000, 0, 3054);
  EXPECT_EQ(tcp::wire_payload_len(c.v, PacketRef{c.bytes.data(), 3054, 3054, 0, 1}), 3000u);
  // IP length 0, cut to 58 bytes: the frame's length on the wire.
  Decoded d = frame(1000, 3000, 0, 58);
  EXPECT_EQ(d.v.tcp.payload_len, 4u);  // what the captured bytes alone say
  EXPECT_EQ(tcp::wire_payload_len(d.v, PacketRef{d.bytes.data(), 58, 3054, 0, 1}), 3000u);
  // ... unless the source cannot tell the wire length (net_pcap): the captured bytes'.
  EXPECT_EQ(tcp::wire_payload_len(d.v, PacketRef{d.bytes.data(), 58, 0, 0, 1}), 4u);
  // Shorter on the wire than the IP length says: what was on the wire.
  Decoded e = frame(1000, 1000, -1, 1054);
  EXPECT_EQ(tcp::wire_payload_len(e.v, PacketRef{e.bytes.data(), 1054, 554, 0, 1}), 500u);
}

TEST(WirePayloadLength, CutTsoAggregateKeepsTheNextSegmentInOrder) {
  tcp::TcpStageConfig cfg;
  cfg.table.capacity = 64;
  auto stage = tcp::TcpStage::create(cfg);
  ASSERT_TRUE(stage.ok());
  // Three data segments of one direction, the middle one a 3000-byte aggregate with IP
  // length 0, every frame cut to 58 bytes.
  Decoded f1 = frame(1000, 1000, -1, 58), f2 = frame(2000, 3000, 0, 58), f3 = frame(5000, 1000, -1, 58);
  const decode::PacketView views[3] = {f1.v, f2.v, f3.v};
  const PacketRef pkts[3] = {{f1.bytes.data(), 58, 1054, 1000, 1}, {f2.bytes.data(), 58, 3054, 2000, 2},
                             {f3.bytes.data(), 58, 1054, 3000, 3}};
  stage.value()->process_burst(views, pkts, 3);
  uint32_t bits = 0;
  stage.value()->events().drain([&](const event::SegmentEvent& e) { bits |= e.verdict.bits; });
  EXPECT_EQ(bits & tcp::kLostSegment, 0u) << "the aggregate's 3000 bytes end where the third segment starts";
  stage.value()->flush();
  uint64_t bytes = 0;
  stage.value()->records().drain([&](const event::FlowRecord& r) { bytes += r.count[0].data_bytes + r.count[1].data_bytes; });
  EXPECT_EQ(bytes, 5000u);
}

}  // namespace
}  // namespace seqwatch
