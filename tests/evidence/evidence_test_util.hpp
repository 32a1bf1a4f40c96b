// Hand-made TCP packets for the evidence tests: frames from FrameBuilder, decoded by the
// real decoder, wrapped as PacketRefs with chosen times and frame numbers.
#pragma once

#include <deque>
#include <vector>

#include "decode/decoder.hpp"
#include "flow/flow_key.hpp"
#include "source/packet_source.hpp"
#include "support/frame_builder.hpp"

namespace seqwatch::test {

struct Pkt {
  Bytes bytes;
  PacketRef ref{};
  decode::PacketView view{};
  flow::FlowKey key{};
  flow::Dir dir = flow::Dir::kAtoB;
  uint64_t hash = 0;
};

// Keeps every packet alive (PacketRef/PacketView point into the bytes).
class PacketFactory {
 public:
  // A TCP segment between (client 10.0.0.1:sport) and (server 10.0.0.2:80); `from_client`
  // picks the direction. Frame numbers count up from 1.
  const Pkt& tcp(uint16_t sport, bool from_client, uint64_t ts_ns, size_t payload = 100, uint8_t flags = wire::kAck,
                 uint16_t window = 8192, Ip4 client = kIp4Src) {
    Pkt& p = store_.emplace_back();
    TcpSpec t;
    t.sport = from_client ? sport : 80;
    t.dport = from_client ? 80 : sport;
    t.flags = flags;
    t.window = window;
    t.seq = 1000 + static_cast<uint32_t>(frame_) * 100;
    Ipv4Spec ip;
    ip.src = from_client ? client : kIp4Dst;
    ip.dst = from_client ? kIp4Dst : client;
    p.bytes = FrameBuilder().eth().ipv4(ip).tcp(t).payload(payload).build();
    p.ref = PacketRef{p.bytes.data(), static_cast<uint32_t>(p.bytes.size()), static_cast<uint32_t>(p.bytes.size()),
                      ts_ns, ++frame_};
    decode::decode(p.bytes.data(), p.ref.caplen, decode::LinkType::kEthernet, p.view);
    flow::make_key(p.view, p.key, p.dir);
    p.hash = flow::hash_key(p.key);
    return p;
  }
  uint64_t frames() const { return frame_; }

 private:
  std::deque<Pkt> store_;
  uint64_t frame_ = 0;
};

}  // namespace seqwatch::test
