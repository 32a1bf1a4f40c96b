// Frame encoder: Ethernet, 802.1Q / QinQ, IPv4, IPv6, GRE (RFC 2784/2890), IP-in-IP
// (RFC 2003 / 4213), VXLAN (RFC 7348, UDP 4789) and TCP with options (RFC 9293, 7323,
// 2018), written from the RFCs. All checksums (IPv4 header, TCP, UDP) are computed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "gen/gen_config.hpp"

namespace seqwatch::gen {

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> b{};  // IPv4 uses b[0..3]
};

namespace wire {
inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint16_t kEthVlan = 0x8100;
inline constexpr uint16_t kEthQinQ = 0x88A8;  // IEEE 802.1ad service tag
inline constexpr uint16_t kEthTeb = 0x6558;   // transparent Ethernet bridging
inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6 = 41;
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint16_t kVxlanPort = 4789;
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10;
}  // namespace wire

// One TCP segment as the inner packet of a frame.
struct TcpSpec {
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  bool syn_options = false;  // MSS, SACK-permitted, [timestamps], window scale
  uint16_t mss = 1460;
  uint8_t wscale = 7;
  bool timestamps = false;
  uint32_t tsval = 0, tsecr = 0;
  const uint8_t* payload = nullptr;
  uint32_t payload_len = 0;
  uint16_t ip_id = 0;
  uint8_t ttl = 64;
  uint32_t flow_label = 0;
};

// The tunnel / VLAN wrapping of one frame, already oriented for its direction.
struct OuterSpec {
  const EncapConfig* encap = nullptr;
  IpAddr src, dst;           // outer addresses (tunnels only)
  uint32_t key = 0;          // GRE key or VXLAN VNI
  uint16_t udp_sport = 0;    // VXLAN source port (RFC 7348: entropy from the inner flow)
  uint16_t ip_id = 0;
};

// Largest frame encode_frame() can write: headers plus a 64 KiB payload.
inline constexpr size_t kMaxFrame = 65536 + 512;

// Writes the frame into out (kMaxFrame bytes) and returns its length.
size_t encode_frame(uint8_t* out, const TcpSpec& tcp, const OuterSpec& outer);

// Internet checksum helpers (RFC 1071), exposed for the tests.
uint16_t inet_checksum(const uint8_t* data, size_t len, uint64_t initial = 0);

}  // namespace seqwatch::gen
