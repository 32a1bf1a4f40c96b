// The decoder's output: a compact, zero-copy parsed view of one captured frame.
//
// The view stores offsets into the caller's frame bytes (never copies of them), the
// fields the rest of seqwatch reads on every packet (TCP seq/ack/flags/window/options),
// and the whole encapsulation stack: VLAN tags, MPLS, every IP layer from the outermost
// to the innermost, and the tunnel between each pair. The frame must outlive the view.
//
// Lengths that describe the original packet (IP payload, TCP payload) come from the IP
// header, not from the number of captured bytes, so a snaplen-cut frame still reports the
// true segment size; such frames carry kFlagTruncated.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace seqwatch::decode {

// Link-layer header types, numbered as LINKTYPE_* values in pcap/pcapng files.
enum class LinkType : uint16_t {
  kNull = 0,        // BSD loopback: 4-byte host-order address family
  kEthernet = 1,
  kPpp = 9,         // PPP (address/control optional), or Cisco HDLC frames written under it
  kPppSerial = 50,  // PPP in HDLC-like framing, or Cisco HDLC (routers' serial links)
  kPppEther = 51,   // PPPoE session header, no Ethernet
  kRaw = 101,       // raw IPv4 or IPv6, version from the first nibble
  kIeee80211 = 105, // IEEE 802.11 (Wi-Fi) frames, no radio header
  kCHdlc = 104,     // Cisco HDLC: address, control, ethertype
  kIeee80211Radiotap = 127,  // 802.11 after a radiotap header (monitor-mode captures)
  kLoop = 108,      // OpenBSD loopback: 4-byte network-order address family
  kLinuxSll = 113,  // Linux cooked capture v1
  kIpv4 = 228,
  kIpv6 = 229,
  kNflog = 239,     // Linux netfilter NFLOG
  kLinuxSll2 = 276, // Linux cooked capture v2
};

// Maps a pcap file's link-type number (or libpcap's DLT_* value, which differs for raw IP)
// to a LinkType; returns false when seqwatch cannot decode that link type.
bool link_type_from_pcap(uint32_t value, LinkType& out) noexcept;
std::string_view link_type_name(LinkType lt) noexcept;

// Why decoding stopped before the end of the headers. kOk means every header present in
// the frame was decoded (the packet may still be non-IP, a fragment, or cut after its
// headers). Every other value is a typed, counted decode error; the view still holds all
// layers decoded before the error.
enum class DecodeStatus : uint8_t {
  kOk = 0,
  kUnsupportedLinkType,
  kTruncatedL2,         // Ethernet / SLL / SLL2 / NFLOG / loopback header cut short
  kBadL2,               // link-layer header with an impossible length field (NFLOG TLV)
  kVlanTooDeep,         // more than kMaxVlan 802.1Q/802.1ad tags
  kTruncatedVlan,
  kTruncatedMpls,
  kMplsTooDeep,         // more than kMaxMpls labels without bottom-of-stack
  kTruncatedPppoe,
  kBadPppoe,
  kTruncatedIp,         // fixed IPv4/IPv6 header cut short
  kBadIpVersion,        // version nibble disagrees with the link/ethertype
  kBadIpHeaderLength,   // IPv4 IHL < 5 or beyond total length
  kBadIpTotalLength,    // IPv4 total length < IHL*4, or IPv6 payload shorter than ext headers
  kTruncatedIpv6Ext,
  kBadIpv6Ext,          // extension header length runs past the payload
  kIpv6ExtTooDeep,      // more than kMaxIpv6Ext extension headers
  kTruncatedTcp,        // fewer than 20 TCP header bytes captured
  kBadTcpHeaderLength,  // data offset < 5 or beyond the IP payload
  kTruncatedUdp,
  kBadUdpLength,        // UDP length < 8 or beyond the IP payload
  kTruncatedTunnel,     // GRE / ERSPAN / VXLAN / Geneve / GTP / Teredo header cut short
  kBadTunnel,           // tunnel header with an impossible version or length
  kTooManyLayers,       // encapsulation deeper than kMaxIpLayers IP layers
  kCount
};

std::string_view decode_status_name(DecodeStatus s) noexcept;

enum class TunnelType : uint8_t {
  kNone = 0,
  kIpInIp,    // IPv4 in IPv4 (IP proto 4)
  k6in4,      // IPv6 in IPv4 (IP proto 41)
  k4in6,      // IPv4 in IPv6 (next header 4)
  k6in6,      // IPv6 in IPv6 (next header 41)
  kGre,       // GRE carrying IP or Ethernet (transparent bridging) directly
  kErspan1,   // GRE 0x88BE without sequence number: no ERSPAN header
  kErspan2,   // GRE 0x88BE with an 8-byte ERSPAN type II header
  kErspan3,   // GRE 0x22EB with a 12-byte (+8 optional) ERSPAN type III header
  kGreUdp,    // GRE-in-UDP, RFC 8086, UDP port 4754
  kVxlan,     // UDP 4789
  kGeneve,    // UDP 6081
  kGtpU,      // UDP 2152
  kTeredo,    // UDP 3544, IPv6 over UDP/IPv4
  kPptpGre,   // enhanced GRE (version 1) carrying PPP
  kAyiya,     // UDP 5072, "Anything In Anything" (SixXS): IPv6 or IPv4 over UDP
  kL2tp,      // UDP 1701, L2TP version 2 data messages carrying PPP (RFC 2661)
  kCount
};

std::string_view tunnel_type_name(TunnelType t) noexcept;

// Limits: a frame deeper than these is a decode error, never an overflow.
inline constexpr unsigned kMaxVlan = 4;       // QinQ stacks up to 4 tags deep
inline constexpr unsigned kMaxMpls = 8;
inline constexpr unsigned kMaxIpLayers = 4;   // outer IP + up to 3 nested tunnels
inline constexpr unsigned kMaxIpv6Ext = 8;
inline constexpr unsigned kMaxSackBlocks = 4; // 40 option bytes hold at most 4 blocks

// Packet-level flags (PacketView::flags).
enum PacketFlag : uint16_t {
  kFlagTruncated = 1u << 0,   // captured bytes end before the IP packet does (snaplen)
  kFlagFragment = 1u << 1,    // innermost IP packet is a fragment (not reassembled)
  kFlagIpOptions = 1u << 2,   // some IPv4 layer carries options
  kFlagTcpOptBad = 1u << 3,   // a TCP option's length byte is invalid; options after it ignored
  kFlagInnerEther = 1u << 4,  // a tunnel carried an Ethernet frame (ERSPAN, VXLAN, TEB)
  kFlagPadding = 1u << 5,     // captured bytes extend past the IP packet (Ethernet padding)
  kFlagIpLenFromFrame = 1u << 6,  // IP length 0 (TSO / BIG TCP): length from captured bytes
  kFlagTcpOptsCut = 1u << 7,  // TCP header fits, its options were cut by the snaplen
  kFlagIpLenClipped = 1u << 8,  // an IP length exceeded its carrier's: clipped to the carrier
};

// IP layer flags (IpLayer::flags).
enum IpFlag : uint8_t {
  kIpFragment = 1u << 0,       // part of a fragmented datagram
  kIpFirstFragment = 1u << 1,  // offset 0 (the upper-layer header is present)
  kIpHasOptions = 1u << 2,     // IPv4 options / IPv6 extension headers present
  kIpTruncated = 1u << 3,      // this IP packet extends past the captured bytes
  kIpLenClipped = 1u << 4,     // its length exceeded its carrier's: clipped to the carrier
};

struct IpLayer {
  uint32_t off = 0;      // offset of the IP header in the frame
  uint32_t l4_off = 0;   // offset of the upper-layer header (after options / ext headers)
  uint32_t l4_len = 0;   // upper-layer bytes per the IP header (may exceed what was captured)
  uint8_t version = 0;   // 4 or 6
  uint8_t proto = 0;     // upper-layer protocol (final IPv6 next header)
  uint8_t flags = 0;     // IpFlag bits
  uint8_t ttl = 0;       // TTL / hop limit

  // Offset just past this IP packet as its header gives it (may lie past the captured bytes).
  uint64_t end() const noexcept { return uint64_t{l4_off} + l4_len; }
};

struct TunnelLayer {
  TunnelType type = TunnelType::kNone;
  uint8_t outer_ip = 0;  // index in PacketView::ip of the IP layer carrying this tunnel
  uint8_t has_key : 1 = 0;  // GRE key / VXLAN VNI / Geneve VNI / ERSPAN session / GTP TEID valid
  uint8_t has_seq : 1 = 0;  // GRE sequence number valid
  uint8_t reserved = 0;
  uint32_t off = 0;      // offset of the tunnel header
  uint32_t key = 0;
  uint32_t seq = 0;
};

// TCP option presence bits (TcpInfo::opts).
enum TcpOpt : uint8_t {
  kOptMss = 1u << 0,
  kOptWscale = 1u << 1,
  kOptSackPerm = 1u << 2,
  kOptSack = 1u << 3,
  kOptTimestamp = 1u << 4,
  kOptMptcp = 1u << 5,
  kOptTfo = 1u << 6,
};

// TCP header flag bits, as in byte 13 of the header.
enum TcpFlag : uint8_t {
  kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
  kTcpAck = 0x10, kTcpUrg = 0x20, kTcpEce = 0x40, kTcpCwr = 0x80,
};

struct SackBlock {
  uint32_t left = 0;
  uint32_t right = 0;
};

struct TcpInfo {
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint32_t payload_len = 0;  // from the IP length: true segment size even when cut
  uint32_t tsval = 0;
  uint32_t tsecr = 0;
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint16_t window = 0;       // raw, unscaled
  uint16_t mss = 0;
  uint16_t urgent = 0;
  uint16_t checksum = 0;     // TCP checksum field (not verified: offloaded captures hold partial sums)
  uint16_t ip_id = 0;        // IPv4 identification: the carrying header's, or for IPv6 in an IPv4 tunnel the tunnel's; 0 if none
  uint8_t hdr_len = 0;       // bytes, 20..60
  uint8_t flags = 0;         // TcpFlag bits
  uint8_t ae = 0;            // AccECN / former NS bit (byte 12, bit 0)
  uint8_t opts = 0;          // TcpOpt bits
  uint8_t wscale = 0;        // shift as sent (not clamped; RFC 7323 caps use at 14)
  uint8_t sack_count = 0;
  std::array<SackBlock, kMaxSackBlocks> sack{};  // the first sack_count are valid; decode() leaves the rest as they were
};

struct UdpInfo {
  uint16_t sport = 0;
  uint16_t dport = 0;
  uint16_t length = 0;  // UDP header length field
};

enum class L4Type : uint8_t { kNone = 0, kTcp, kUdp, kIcmp, kIcmpv6, kOther };

// Everything decode() learned about one frame.
struct PacketView {
  const uint8_t* frame = nullptr;
  uint32_t caplen = 0;
  DecodeStatus status = DecodeStatus::kOk;
  L4Type l4 = L4Type::kNone;   // upper layer of the innermost IP packet
  uint16_t flags = 0;          // PacketFlag bits
  uint16_t ethertype = 0;      // last ethertype seen before the first IP layer (0 when none)

  uint8_t vlan_count = 0;      // tags on the outer Ethernet header
  uint8_t mpls_count = 0;
  uint8_t ip_count = 0;        // 0 = not IP
  uint8_t tunnel_count = 0;
  uint16_t inner_vlan = 0;     // last tag of an Ethernet frame carried by a tunnel (0 = none)
  std::array<uint16_t, kMaxVlan> vlan{};  // VLAN ids, outermost first
  uint32_t mpls_label = 0;     // bottom-of-stack label

  std::array<IpLayer, kMaxIpLayers> ip{};
  std::array<TunnelLayer, kMaxIpLayers> tunnel{};  // tunnel[i] sits between ip[i] and ip[i+1]

  uint32_t l4_off = 0;         // offset of the innermost upper-layer header
  TcpInfo tcp;                 // valid when l4 == kTcp
  UdpInfo udp;                 // valid when l4 == kUdp

  bool is_ip() const noexcept { return ip_count != 0; }
  bool is_tcp() const noexcept { return l4 == L4Type::kTcp; }
  const IpLayer& inner_ip() const noexcept { return ip[ip_count - 1]; }
  const IpLayer& outer_ip() const noexcept { return ip[0]; }
  // A tunnelled packet whose innermost IP header the capture does not hold: the decoding
  // stopped in a tunnel header, or after a tunnel before the IP header it carries (a snaplen
  // too short for the encapsulation, or damage there). Only its outer addresses can be
  // hashed: inner_ip() is an outer layer.
  bool tunnel_inner_missing() const noexcept {
    if (status == DecodeStatus::kOk) return false;
    return status == DecodeStatus::kTruncatedTunnel || status == DecodeStatus::kBadTunnel ||
           (tunnel_count != 0 && ip_count <= tunnel_count);
  }
  // Addresses of an IP layer: 4 or 16 bytes pointing into the frame.
  std::span<const uint8_t> src_addr(const IpLayer& l) const noexcept {
    return l.version == 4 ? std::span<const uint8_t>(frame + l.off + 12, 4)
                          : std::span<const uint8_t>(frame + l.off + 8, 16);
  }
  std::span<const uint8_t> dst_addr(const IpLayer& l) const noexcept {
    return l.version == 4 ? std::span<const uint8_t>(frame + l.off + 16, 4)
                          : std::span<const uint8_t>(frame + l.off + 24, 16);
  }
};

}  // namespace seqwatch::decode
