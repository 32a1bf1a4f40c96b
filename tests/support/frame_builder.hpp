// FrameBuilder: composes hand-made frames for the unit tests, outermost layer first.
//
//   auto f = FrameBuilder().eth().vlan(100).ipv4().tcp({.seq = 7}).payload(10).build();
//
// Contract:
//  * a field that names the next protocol (ethertype, IP protocol / IPv6 next header,
//    PPP protocol, loopback family, GRE / Geneve protocol type) is written by the layer
//    that follows it, so a chain only says what it contains; a spec field set to a value
//    other than kAuto is written as given and the following layer leaves it alone;
//  * length fields (IPv4 total length, IPv6 payload length, UDP, PPPoE, NFLOG payload TLV,
//    GTP-U, PPTP payload, RFC 2675 jumbo) are filled in by build() from where the frame
//    ends, i.e. every layer extends to the end of the frame; trailer() bytes (Ethernet
//    padding) come after and are counted by none of them;
//  * IPv4 header and GRE checksums are computed; TCP/UDP checksums are left zero (the
//    decoder does not read them);
//  * fields() lists the offsets of every length / header-length / next-protocol field
//    written, so mutation tests can corrupt exactly the bytes a parser trusts.
//
// The builder is independent of the decoder's headers: it encodes the wire formats from
// their RFCs, so it is an oracle for the decoder rather than a copy of it.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace seqwatch::test {

using Bytes = std::vector<uint8_t>;
using Mac = std::array<uint8_t, 6>;
using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

// "Fill this field automatically" (the next layer's code, or the computed length).
inline constexpr int kAuto = -1;

inline Ip6 ip6(const char* text) {
  Ip6 a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1) throw std::invalid_argument(std::string("bad IPv6 literal: ") + text);
  return a;
}

inline constexpr Mac kMacDst{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr Mac kMacSrc{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr Ip4 kIp4Src{10, 0, 0, 1};
inline constexpr Ip4 kIp4Dst{10, 0, 0, 2};
inline const Ip6 kIp6Src = ip6("2001:db8::1");
inline const Ip6 kIp6Dst = ip6("2001:db8::2");

// Wire constants the builder writes (IANA / IEEE registries).
namespace wire {
inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthArp = 0x0806;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint16_t kEthVlan = 0x8100;
inline constexpr uint16_t kEthQinQ = 0x88A8;
inline constexpr uint16_t kEthQinQOld = 0x9100;
inline constexpr uint16_t kEthMpls = 0x8847;
inline constexpr uint16_t kEthPppoeSession = 0x8864;
inline constexpr uint16_t kEthTeb = 0x6558;
inline constexpr uint16_t kEthErspan2 = 0x88BE;  // ERSPAN type I and II
inline constexpr uint16_t kEthErspan3 = 0x22EB;
inline constexpr uint16_t kEthPpp = 0x880B;      // PPP in enhanced GRE
inline constexpr uint16_t kEthCmd = 0x8909;      // Cisco MetaData (TrustSec SGT)
inline constexpr uint16_t kEthFabricPath = 0x8903;  // Cisco FabricPath
inline constexpr uint16_t kEthAvsp = 0xD28B;     // Arista vendor header
inline constexpr uint16_t kPppIpv4 = 0x0021;
inline constexpr uint16_t kPppIpv6 = 0x0057;
inline constexpr uint16_t kPppLcp = 0xC021;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIpv6 = 41;
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint8_t kProtoEsp = 50;
inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoNoNext = 59;
inline constexpr uint8_t kNhHopByHop = 0;
inline constexpr uint8_t kNhRouting = 43;
inline constexpr uint8_t kNhFragment = 44;
inline constexpr uint8_t kNhAh = 51;
inline constexpr uint8_t kNhDestOpts = 60;
inline constexpr uint32_t kAfInet = 2;
inline constexpr uint32_t kAfInet6Bsd = 24;  // NetBSD / OpenBSD; FreeBSD 28, Darwin 30, Linux 10
inline constexpr uint16_t kNflogPacketHdr = 1;
inline constexpr uint16_t kNflogPayload = 9;
inline constexpr uint16_t kNflogPrefix = 10;
inline constexpr uint16_t kPortVxlan = 4789;
inline constexpr uint16_t kPortGeneve = 6081;
inline constexpr uint16_t kPortGtpU = 2152;
inline constexpr uint16_t kPortGreUdp = 4754;
inline constexpr uint16_t kPortTeredo = 3544;
inline constexpr uint16_t kPortAyiya = 5072;
inline constexpr uint16_t kPortL2tp = 1701;
inline constexpr uint8_t kGtpGpdu = 0xFF;
inline constexpr uint8_t kGtpEchoRequest = 1;
inline constexpr uint8_t kGtpExtPduSession = 0x85;
// TCP flag bits (byte 13).
inline constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10,
                         kUrg = 0x20, kEce = 0x40, kCwr = 0x80;
}  // namespace wire

// TCP options, concatenated with tcpopt::cat({...}); TcpSpec pads them to 4 bytes with EOL.
namespace tcpopt {
inline Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
inline Bytes eol() { return {0}; }
inline Bytes nop() { return {1}; }
inline Bytes mss(uint16_t v) { return {2, 4, static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
inline Bytes wscale(uint8_t shift) { return {3, 3, shift}; }
inline Bytes sack_perm() { return {4, 2}; }
inline Bytes sack(std::initializer_list<std::pair<uint32_t, uint32_t>> blocks) {
  Bytes o{5, static_cast<uint8_t>(2 + 8 * blocks.size())};
  for (const auto& [l, r] : blocks) {
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(l >> s));
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(r >> s));
  }
  return o;
}
inline Bytes timestamp(uint32_t val, uint32_t ecr) {
  Bytes o{8, 10};
  for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(val >> s));
  for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(ecr >> s));
  return o;
}
}  // namespace tcpopt

struct EthSpec {
  Mac dst = kMacDst;
  Mac src = kMacSrc;
  int type = kAuto;
};

struct Ipv4Spec {
  Ip4 src = kIp4Src;
  Ip4 dst = kIp4Dst;
  int proto = kAuto;
  uint8_t ttl = 64;
  bool mf = false;
  uint16_t frag_offset = 0;  // in 8-byte units
  bool df = false;
  uint16_t id = 0x1234;
  Bytes options{};           // padded with EOL to a multiple of 4
  int total_len = kAuto;
  int ihl = kAuto;           // in 32-bit words
  uint8_t version = 4;
  uint8_t tos = 0;
};

struct Ipv6Spec {
  Ip6 src = kIp6Src;
  Ip6 dst = kIp6Dst;
  int next_header = kAuto;
  uint8_t hop_limit = 64;
  int payload_len = kAuto;
  uint32_t flow_label = 0;
  uint8_t version = 6;
};

struct TcpSpec {
  uint16_t sport = 40000;
  uint16_t dport = 80;
  uint32_t seq = 1000;
  uint32_t ack = 2000;
  uint8_t flags = wire::kAck;
  uint16_t window = 8192;
  Bytes options{};        // padded with EOL to a multiple of 4
  bool ae = false;        // byte 12 bit 0 (AccECN, formerly NS)
  uint16_t urgent = 0;
  int data_offset = kAuto;  // in 32-bit words
};

struct UdpSpec {
  uint16_t sport = 40000;
  uint16_t dport = 53;
  int length = kAuto;
};

// FrameBuilder::l2tp: which parts of an L2TP version 2 header are present.
struct L2tpSpec {
  bool control = false;   // T: a control message
  bool length = false;    // L
  bool sequence = false;  // S: Ns and Nr
  std::optional<uint16_t> offset{};  // O: offset size, then that many bytes of padding
  uint8_t version = 2;
  uint16_t reserved = 0;  // bits of the first word that must be 0 (0x34F0)
};

struct GreSpec {
  std::optional<uint32_t> key{};
  std::optional<uint32_t> seq{};
  bool checksum = false;
  int proto = kAuto;
  bool routing = false;
  uint8_t version = 0;
};

struct GtpSpec {
  uint32_t teid = 0;
  uint8_t type = wire::kGtpGpdu;
  std::optional<uint16_t> seq{};  // sets S
  std::vector<Bytes> ext{};       // extension header contents; sets E (type 0x85 each)
  int length = kAuto;
  uint8_t version = 1;
  bool pt = true;                // protocol type 1 = GTP (0 = GTP')
};

class FrameBuilder {
 public:
  // Offset and width of a field a parser trusts (a length, a header length, a type).
  struct Field {
    size_t off;
    uint8_t width;
  };

  // ---- link-layer headers ----------------------------------------------------------

  FrameBuilder& eth(const EthSpec& s = {}) {
    open({.ethertype = wire::kEthTeb});
    put(s.dst);
    put(s.src);
    type_slot(Slot::kEthertype, s.type);
    return *this;
  }
  // 802.1Q / 802.1ad tag: its TPID is the ethertype of the header before it.
  FrameBuilder& vlan(uint16_t vid, uint16_t tpid = wire::kEthVlan, uint8_t pcp = 0, bool dei = false,
                     int type = kAuto) {
    open({.ethertype = tpid});
    be16(static_cast<uint16_t>((pcp & 7u) << 13 | (dei ? 0x1000u : 0u) | (vid & 0x0FFFu)));
    type_slot(Slot::kEthertype, type);
    return *this;
  }
  FrameBuilder& mpls(uint32_t label, bool bottom = true, uint8_t tc = 0, uint8_t ttl = 64) {
    open({.ethertype = wire::kEthMpls});
    be32((label & 0xFFFFFu) << 12 | (tc & 7u) << 9 | (bottom ? 0x100u : 0u) | ttl);
    return *this;
  }
  // PPPoE session header (RFC 2516) and the PPP protocol field that follows it.
  // `compressed`: a one-byte PPP protocol field (RFC 1661 protocol-field compression).
  FrameBuilder& pppoe(uint16_t session = 1, int length = kAuto, uint8_t ver_type = 0x11, uint8_t code = 0,
                      bool compressed = false, int proto = kAuto) {
    open({.ethertype = wire::kEthPppoeSession});
    const size_t start = b_.size();
    u8(ver_type);
    u8(code);
    be16(session);
    length_field(Fix::kPppoe, start, length);
    type_slot(compressed ? Slot::kPpp8 : Slot::kPpp, proto);
    return *this;
  }
  // PPP header as carried by PPTP: address/control (FF 03) and the protocol field,
  // optionally compressed to one byte (RFC 1661 protocol-field compression).
  FrameBuilder& ppp(bool address_control = true, bool compressed = false, int proto = kAuto) {
    open({});
    if (address_control) {
      u8(0xFF);
      u8(0x03);
    }
    type_slot(compressed ? Slot::kPpp8 : Slot::kPpp, proto);
    return *this;
  }
  FrameBuilder& sll(int proto = kAuto, uint16_t pkttype = 0, uint16_t hatype = 1) {
    open({});
    be16(pkttype);
    be16(hatype);
    be16(6);
    put(kMacSrc);
    be16(0);
    type_slot(Slot::kEthertype, proto);
    return *this;
  }
  FrameBuilder& sll2(int proto = kAuto, uint32_t ifindex = 3, uint16_t hatype = 1, uint8_t pkttype = 0) {
    open({});
    type_slot(Slot::kEthertype, proto);
    be16(0);
    be32(ifindex);
    be16(hatype);
    u8(pkttype);
    u8(6);
    put(kMacSrc);
    be16(0);
    return *this;
  }
  // NFLOG header (family, version 0, resource id) followed by the TLVs a real capture
  // carries before the packet: NFULA_PACKET_HDR and an NFULA_PREFIX whose length is not a
  // multiple of 4 (so its padding is exercised). Ends with the payload TLV header.
  FrameBuilder& nflog(uint8_t family = 2, int payload_tlv_len = kAuto) {
    return nflog_header(family).nflog_tlv(wire::kNflogPacketHdr, {0x08, 0x00, 3, 0})
        .nflog_tlv(wire::kNflogPrefix, {'s', 'w', 0}).nflog_payload(payload_tlv_len);
  }
  FrameBuilder& nflog_header(uint8_t family = 2, uint16_t resource_id = 1) {
    open({});
    u8(family);
    u8(0);
    be16(resource_id);
    return *this;
  }
  // One TLV (length and type little-endian, as x86 hosts write them), padded to 4.
  FrameBuilder& nflog_tlv(uint16_t type, const Bytes& value, int length = kAuto) {
    open({});
    fields_.push_back({b_.size(), 2});
    le16(static_cast<uint16_t>(length == kAuto ? 4 + value.size() : static_cast<size_t>(length)));
    le16(type);
    b_.insert(b_.end(), value.begin(), value.end());
    while (b_.size() % 4 != 0) u8(0);
    return *this;
  }
  FrameBuilder& nflog_payload(int length = kAuto) {
    open({});
    const size_t start = b_.size();
    fields_.push_back({start, 2});
    fixups_.push_back({Fix::kNflogPayload, start, start, length});
    le16(0);
    le16(wire::kNflogPayload);
    return *this;
  }
  // BSD loopback: 4-byte address family in host order (little-endian unless told).
  FrameBuilder& null_family(int family = kAuto, bool big_endian = false) {
    open({});
    type_slot(big_endian ? Slot::kLoopBe : Slot::kLoopLe, family);
    return *this;
  }
  // Radiotap (link type 127): version 0, pad, length (LE), present word, `extra` bytes of
  // fields (contents not read by the decoder).
  FrameBuilder& radiotap(uint16_t extra = 0, uint8_t version = 0) {
    open({});
    u8(version);
    u8(0);
    u8(static_cast<uint8_t>((8 + extra) & 0xFF));
    u8(static_cast<uint8_t>((8 + extra) >> 8));
    be32(0);  // present: no field named (the `extra` bytes stand for vendor data)
    b_.insert(b_.end(), extra, 0);
    return *this;
  }
  // An IEEE 802.11 frame's MAC header and LLC/SNAP (link type 105, or after radiotap).
  // fc0/fc1: the frame control bytes (0x08 = data, 0x88 = QoS data; fc1: ToDS 0x01, FromDS
  // 0x02, more fragments 0x04, protected 0x40, order 0x80). qos0: the first QoS control byte
  // (0x80: A-MSDU). snap: false writes no LLC/SNAP.
  FrameBuilder& wlan(uint8_t fc0 = 0x08, uint8_t fc1 = 0x01, uint8_t qos0 = 0, uint16_t seq_ctl = 0x0010,
                     bool snap = true) {
    open({});
    u8(fc0);
    u8(fc1);
    be16(0x3a01);  // duration
    put(kMacDst);
    put(kMacSrc);
    put(kMacDst);
    u8(static_cast<uint8_t>(seq_ctl & 0xFF));
    u8(static_cast<uint8_t>(seq_ctl >> 8));
    if ((fc1 & 0x03) == 0x03) put(kMacSrc);
    if (fc0 & 0x80) {
      u8(qos0);
      u8(0);
      if (fc1 & 0x80) be32(0);
    }
    if (snap) {
      u8(0xAA);
      u8(0xAA);
      u8(0x03);
      u8(0);
      u8(0);
      u8(0);
      type_slot(Slot::kEthertype, kAuto);
    }
    return *this;
  }
  // OpenBSD loop: the family in network order.
  FrameBuilder& loop_family(int family = kAuto) { return null_family(family, true); }

  // ---- IP ------------------------------------------------------------------------------

  FrameBuilder& ipv4(const Ipv4Spec& s = {}) {
    open({.ethertype = wire::kEthIpv4, .ip_proto = wire::kProtoIpip, .ppp = wire::kPppIpv4,
          .loop = static_cast<int>(wire::kAfInet)});
    const size_t start = b_.size();
    Bytes opts = s.options;
    while (opts.size() % 4 != 0) opts.push_back(0);
    const unsigned ihl = s.ihl == kAuto ? 5 + static_cast<unsigned>(opts.size() / 4) : static_cast<unsigned>(s.ihl);
    fields_.push_back({start, 1});
    u8(static_cast<uint8_t>(s.version << 4 | (ihl & 0xF)));
    u8(s.tos);
    length_field(Fix::kIpv4Total, start, s.total_len);
    be16(s.id);
    be16(static_cast<uint16_t>((s.df ? 0x4000 : 0) | (s.mf ? 0x2000 : 0) | (s.frag_offset & 0x1FFF)));
    u8(s.ttl);
    type_slot(Slot::kIpProto, s.proto);
    fixups_.push_back({Fix::kIpv4Checksum, start, start, kAuto});
    be16(0);
    put(s.src);
    put(s.dst);
    b_.insert(b_.end(), opts.begin(), opts.end());
    return *this;
  }
  FrameBuilder& ipv6(const Ipv6Spec& s = {}) {
    open({.ethertype = wire::kEthIpv6, .ip_proto = wire::kProtoIpv6, .ppp = wire::kPppIpv6,
          .loop = static_cast<int>(wire::kAfInet6Bsd)});
    const size_t start = b_.size();
    be32(static_cast<uint32_t>(s.version) << 28 | (s.flow_label & 0xFFFFF));
    last_ipv6_fix_ = fixups_.size();
    length_field(Fix::kIpv6Payload, start, s.payload_len);
    type_slot(Slot::kIpProto, s.next_header);
    u8(s.hop_limit);
    put(s.src);
    put(s.dst);
    return *this;
  }
  // An options-style extension header (hop-by-hop, routing, destination options, ...):
  // next header, length in 8-octet units beyond the first, the body, PadN to 8 bytes.
  FrameBuilder& ipv6_ext(uint8_t type, const Bytes& body) {
    open({.ip_proto = type});
    type_slot(Slot::kIpProto, kAuto);
    Bytes b = body;
    const size_t pad = (8 - (2 + b.size()) % 8) % 8;
    if (pad == 1) {
      b.push_back(0);  // Pad1
    } else if (pad > 1) {
      b.push_back(1);  // PadN
      b.push_back(static_cast<uint8_t>(pad - 2));
      b.insert(b.end(), pad - 2, 0);
    }
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>((2 + b.size()) / 8 - 1));
    b_.insert(b_.end(), b.begin(), b.end());
    return *this;
  }
  FrameBuilder& ipv6_hbh(const Bytes& options = {}) { return ipv6_ext(wire::kNhHopByHop, options); }
  FrameBuilder& ipv6_dstopts(const Bytes& options = {}) { return ipv6_ext(wire::kNhDestOpts, options); }
  FrameBuilder& ipv6_routing(uint8_t routing_type, uint8_t segments_left, const std::vector<Ip6>& addrs) {
    Bytes body{routing_type, segments_left, 0, 0, 0, 0};
    for (const Ip6& a : addrs) body.insert(body.end(), a.begin(), a.end());
    return ipv6_ext(wire::kNhRouting, body);
  }
  // Fragment header (RFC 8200 4.5): offset in 8-byte units.
  FrameBuilder& ipv6_frag(uint16_t offset, bool more, uint32_t id = 0xABCD, int next_header = kAuto) {
    open({.ip_proto = wire::kNhFragment});
    type_slot(Slot::kIpProto, next_header);
    u8(0);
    be16(static_cast<uint16_t>(offset << 3 | (more ? 1 : 0)));
    be32(id);
    return *this;
  }
  // Authentication header (RFC 4302): length in 4-byte units minus 2.
  FrameBuilder& ipv6_ah(uint32_t spi, uint32_t seq, size_t icv_len = 12) {
    open({.ip_proto = wire::kNhAh});
    type_slot(Slot::kIpProto, kAuto);
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>((12 + icv_len) / 4 - 2));
    be16(0);
    be32(spi);
    be32(seq);
    b_.insert(b_.end(), icv_len, 0x5A);
    return *this;
  }
  // Hop-by-hop header holding an RFC 2675 jumbo payload option; the enclosing IPv6
  // payload length becomes 0 and the jumbo length is computed (or `value` as given).
  FrameBuilder& ipv6_jumbo(std::optional<uint32_t> value = std::nullopt) {
    open({.ip_proto = wire::kNhHopByHop});
    type_slot(Slot::kIpProto, kAuto);
    fields_.push_back({b_.size(), 1});
    u8(0);                // 8 bytes: nh, len, then option C2 04 <4 bytes>
    u8(0xC2);
    u8(4);
    if (last_ipv6_fix_ >= fixups_.size()) throw std::logic_error("ipv6_jumbo() without ipv6()");
    fixups_[last_ipv6_fix_].value = 0;
    fields_.push_back({b_.size(), 4});
    fixups_.push_back({Fix::kJumbo, b_.size(), fixups_[last_ipv6_fix_].base,
                       value ? static_cast<int64_t>(*value) : kAuto});
    be32(0);
    return *this;
  }

  // ---- transport -----------------------------------------------------------------------

  FrameBuilder& tcp(const TcpSpec& s = {}) {
    open({.ip_proto = wire::kProtoTcp});
    Bytes opts = s.options;
    while (opts.size() % 4 != 0) opts.push_back(0);
    const unsigned doff = s.data_offset == kAuto ? 5 + static_cast<unsigned>(opts.size() / 4) : static_cast<unsigned>(s.data_offset);
    be16(s.sport);
    be16(s.dport);
    be32(s.seq);
    be32(s.ack);
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>((doff & 0xF) << 4 | (s.ae ? 1 : 0)));
    u8(s.flags);
    be16(s.window);
    be16(0);
    be16(s.urgent);
    b_.insert(b_.end(), opts.begin(), opts.end());
    return *this;
  }
  FrameBuilder& udp(const UdpSpec& s = {}) {
    open({.ip_proto = wire::kProtoUdp});
    const size_t start = b_.size();
    be16(s.sport);
    be16(s.dport);
    length_field(Fix::kUdp, start, s.length);
    be16(0);
    return *this;
  }
  // ICMP echo request (8 bytes).
  FrameBuilder& icmp(uint8_t type = 8) {
    open({.ip_proto = wire::kProtoIcmp});
    u8(type);
    u8(0);
    be16(0);
    be32(0x00010001);
    return *this;
  }
  FrameBuilder& icmpv6(uint8_t type = 128) {
    open({.ip_proto = wire::kProtoIcmpv6});
    u8(type);
    u8(0);
    be16(0);
    be32(0x00010001);
    return *this;
  }

  // ---- tunnels -------------------------------------------------------------------------

  // GRE (RFC 2784 / 2890): C, K, S bits and their optional fields.
  FrameBuilder& gre(const GreSpec& s = {}) {
    open({.ip_proto = wire::kProtoGre});
    const size_t start = b_.size();
    fields_.push_back({start, 2});
    be16(static_cast<uint16_t>((s.checksum ? 0x8000 : 0) | (s.routing ? 0x4000 : 0) | (s.key ? 0x2000 : 0) |
                               (s.seq ? 0x1000 : 0) | (s.version & 7)));
    type_slot(Slot::kEthertype, s.proto);
    if (s.checksum) {
      fixups_.push_back({Fix::kGreChecksum, b_.size(), start, kAuto});
      be32(0);
    }
    if (s.key) be32(*s.key);
    if (s.seq) be32(*s.seq);
    return *this;
  }
  // Enhanced GRE (RFC 2637, PPTP): version 1, K always, payload length + call id.
  FrameBuilder& gre_pptp(uint16_t call_id, std::optional<uint32_t> seq, std::optional<uint32_t> ack,
                         int payload_len = kAuto) {
    open({.ip_proto = wire::kProtoGre});
    const size_t start = b_.size();
    fields_.push_back({start, 2});
    be16(static_cast<uint16_t>(0x2000 | (seq ? 0x1000 : 0) | (ack ? 0x0080 : 0) | 1));
    be16(wire::kEthPpp);
    const size_t hdr = 8 + (seq ? 4 : 0) + (ack ? 4 : 0);
    fields_.push_back({b_.size(), 2});
    fixups_.push_back({Fix::kPptpPayload, b_.size(), start + hdr, payload_len});
    be16(0);
    be16(call_id);
    if (seq) be32(*seq);
    if (ack) be32(*ack);
    return *this;
  }
  // ERSPAN type I has no header of its own: it only names the GRE protocol (0x88BE).
  FrameBuilder& erspan1() {
    open({.ethertype = wire::kEthErspan2});
    return *this;
  }
  // ERSPAN type II: Ver=1, VLAN, COS/En/T, session id (10 bits), index.
  // `cos_en_t`: the 6 bits before the session id (COS, En, T), to check they are masked.
  FrameBuilder& erspan2(uint16_t session, uint16_t vlan = 0, uint8_t version = 1, uint8_t cos_en_t = 0) {
    open({.ethertype = wire::kEthErspan2});
    be16(static_cast<uint16_t>(version << 12 | (vlan & 0x0FFF)));
    be16(static_cast<uint16_t>((cos_en_t & 0x3F) << 10 | (session & 0x03FF)));
    be32(0x00000007);  // reserved + index
    return *this;
  }
  // ERSPAN type III: Ver=2, VLAN, session id, timestamp, SGT, flags ending in the O bit,
  // then (when O is set) the 8-byte platform-specific subheader.
  FrameBuilder& erspan3(uint16_t session, bool platform = false, uint8_t version = 2, uint8_t cos_bso_t = 0) {
    open({.ethertype = wire::kEthErspan3});
    be16(static_cast<uint16_t>(version << 12));
    be16(static_cast<uint16_t>((cos_bso_t & 0x3F) << 10 | (session & 0x03FF)));
    be32(0x11223344);  // timestamp
    be16(0);           // SGT
    fields_.push_back({b_.size() + 1, 1});
    be16(platform ? 0x0001 : 0x0000);
    if (platform) {
      be32(0x0A000001);  // platform id 5 etc.: content not interpreted
      be32(0x00000000);
    }
    return *this;
  }
  FrameBuilder& vxlan(uint32_t vni, uint8_t flags = 0x08) {
    open({});
    fields_.push_back({b_.size(), 1});
    u8(flags);
    u8(0);
    be16(0);
    be32(vni << 8);
    return *this;
  }
  // Geneve (RFC 8926): options are padded to 4 bytes; opt len counts them in words.
  FrameBuilder& geneve(uint32_t vni, const Bytes& options = {}, int proto = kAuto, uint8_t version = 0) {
    open({});
    Bytes opts = options;
    while (opts.size() % 4 != 0) opts.push_back(0);
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>(version << 6 | (opts.size() / 4 & 0x3F)));
    u8(0);
    type_slot(Slot::kEthertype, proto);
    be32(vni << 8);
    b_.insert(b_.end(), opts.begin(), opts.end());
    return *this;
  }
  // GTP-U (3GPP TS 29.281): flags, type, length (bytes after the first 8), TEID, then the
  // optional seq / N-PDU / next-extension word and the extension headers.
  FrameBuilder& gtpu(const GtpSpec& s) {
    open({});
    const size_t start = b_.size();
    const bool e = !s.ext.empty();
    const bool opt = e || s.seq;
    fields_.push_back({start, 1});
    u8(static_cast<uint8_t>(s.version << 5 | (s.pt ? 0x10 : 0) | (e ? 0x04 : 0) | (s.seq ? 0x02 : 0)));
    u8(s.type);
    length_field(Fix::kGtp, start + 8, s.length);
    be32(s.teid);
    if (opt) {
      be16(s.seq.value_or(0));
      u8(0);
      u8(e ? wire::kGtpExtPduSession : 0);
      for (size_t i = 0; i < s.ext.size(); ++i) {
        Bytes content = s.ext[i];
        while ((content.size() + 2) % 4 != 0) content.push_back(0);
        fields_.push_back({b_.size(), 1});
        u8(static_cast<uint8_t>((content.size() + 2) / 4));
        b_.insert(b_.end(), content.begin(), content.end());
        u8(i + 1 < s.ext.size() ? wire::kGtpExtPduSession : 0);
      }
    }
    return *this;
  }
  // Teredo origin indication (RFC 4380 5.1.1): port and address obfuscated (inverted).
  FrameBuilder& teredo_origin(uint16_t port, Ip4 addr) {
    open({});
    be16(0x0000);
    be16(static_cast<uint16_t>(~port));
    for (uint8_t byte : addr) u8(static_cast<uint8_t>(~byte));
    return *this;
  }
  // Teredo authentication indication: client id, authentication value, nonce, confirmation.
  FrameBuilder& teredo_auth(const Bytes& client_id, const Bytes& auth) {
    open({});
    be16(0x0001);
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>(client_id.size()));
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>(auth.size()));
    b_.insert(b_.end(), client_id.begin(), client_id.end());
    b_.insert(b_.end(), auth.begin(), auth.end());
    be32(0x01020304);  // nonce
    be32(0x05060708);
    u8(0);             // confirmation
    return *this;
  }

  // AYIYA (draft-massar-v6ops-ayiya): IDLen/IDType, SigLen/HshMeth, AutMeth/OpCode, next
  // header, epoch, then the identity (2^id_len_log2 bytes) and signature (sig_words * 4).
  FrameBuilder& ayiya(uint8_t id_len_log2 = 4, uint8_t sig_words = 5, uint8_t opcode = 1, int next_header = kAuto) {
    open({});
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>(id_len_log2 << 4 | 1));  // IDType 1: integer
    fields_.push_back({b_.size(), 1});
    u8(static_cast<uint8_t>(sig_words << 4 | 2));    // HshMeth 2: SHA-1
    u8(static_cast<uint8_t>(2 << 4 | (opcode & 0x0F)));
    type_slot(Slot::kIpProto, next_header);
    be32(0x5F000000);                                  // epoch
    b_.insert(b_.end(), size_t{1} << id_len_log2, 0x11);
    b_.insert(b_.end(), size_t{4} * sig_words, 0x22);
    return *this;
  }
  // L2TP version 2 (RFC 2661) message header: flags/version (T for a control message, L, S,
  // O with `offset` bytes of padding), the length (0 here: not checked), tunnel and session
  // ids, Ns/Nr. A data message is followed by ppp().
  FrameBuilder& l2tp(const L2tpSpec& s = {}) {
    open({});
    fields_.push_back({b_.size(), 2});
    be16(static_cast<uint16_t>((s.control ? 0x8000 : 0) | (s.length ? 0x4000 : 0) | (s.sequence ? 0x0800 : 0) |
                               (s.offset ? 0x0200 : 0) | s.reserved | (s.version & 0x0F)));
    if (s.length) be16(0);
    be16(0x1234);  // tunnel id
    be16(0x5678);  // session id
    if (s.sequence) {
      be16(7);
      be16(9);
    }
    if (s.offset) {
      fields_.push_back({b_.size(), 2});
      be16(*s.offset);
      b_.insert(b_.end(), *s.offset, 0);
    }
    return *this;
  }
  // Cisco MetaData on Ethernet (after its ethertype 0x8909): version, length, option type,
  // SGT, then the ethertype of what it tags.
  FrameBuilder& cmd(uint16_t sgt) {
    open({.ethertype = wire::kEthCmd});
    u8(1);
    u8(1);
    be16(0x0001);
    be16(sgt);
    type_slot(Slot::kEthertype, kAuto);
    return *this;
  }
  // Cisco FabricPath (after its ethertype 0x8903): FTag/TTL, then the classical frame's
  // destination and source MAC and its ethertype.
  FrameBuilder& fabricpath(uint16_t ftag_ttl = 0x4020) {
    open({.ethertype = wire::kEthFabricPath});
    be16(ftag_ttl);
    put(kMacDst);
    put(kMacSrc);
    type_slot(Slot::kEthertype, kAuto);
    return *this;
  }
  // Arista vendor header (after its ethertype 0xD28B): subtype, version, a timestamp of
  // `ts_bytes` bytes, then the ethertype.
  FrameBuilder& avsp(uint16_t version = 0x10, size_t ts_bytes = 8, uint16_t subtype = 1) {
    open({.ethertype = wire::kEthAvsp});
    be16(subtype);
    be16(version);
    b_.insert(b_.end(), ts_bytes, 0x5A);
    type_slot(Slot::kEthertype, kAuto);
    return *this;
  }
  // Cisco HDLC header (link type 104): address, control 0, ethertype.
  FrameBuilder& chdlc(uint8_t address = 0x0F) {
    open({});
    u8(address);
    u8(0);
    type_slot(Slot::kEthertype, kAuto);
    return *this;
  }
  // Cisco MetaData in GRE (GRE protocol 0x8909): the payload's protocol type comes first,
  // then version, length, option type and SGT.
  FrameBuilder& gre_cmd(uint16_t sgt) {
    open({.ethertype = wire::kEthCmd});
    type_slot(Slot::kEthertype, kAuto);  // stays pending: the next layer fills it
    u8(1);
    u8(1);
    be16(0x0001);
    be16(sgt);
    return *this;
  }

  // ---- raw bytes -----------------------------------------------------------------------

  FrameBuilder& bytes(const Bytes& raw) {
    open({});
    b_.insert(b_.end(), raw.begin(), raw.end());
    return *this;
  }
  FrameBuilder& payload(size_t n, uint8_t fill = 0xAB) {
    open({});
    b_.insert(b_.end(), n, fill);
    return *this;
  }
  // Bytes after every layer's end (Ethernet padding / FCS): no length field counts them.
  FrameBuilder& trailer(size_t n, uint8_t fill = 0x00) {
    trailer_.insert(trailer_.end(), n, fill);
    return *this;
  }
  // Records the current offset (where the next layer starts).
  FrameBuilder& at(size_t& out) {
    out = b_.size();
    return *this;
  }
  size_t size() const { return b_.size(); }

  Bytes build() const {
    Bytes f = b_;
    const size_t end = f.size();
    // Lengths first, then checksums innermost first: an outer checksum (GRE, the outer
    // IPv4 header) covers the inner headers' final bytes.
    for (const Fixup& x : fixups_) {
      if (x.kind != Fix::kIpv4Checksum && x.kind != Fix::kGreChecksum) apply(f, x, end);
    }
    for (auto it = fixups_.rbegin(); it != fixups_.rend(); ++it) {
      if (it->kind == Fix::kIpv4Checksum || it->kind == Fix::kGreChecksum) apply(f, *it, end);
    }
    f.insert(f.end(), trailer_.begin(), trailer_.end());
    return f;
  }
  const std::vector<Field>& fields() const { return fields_; }

 private:
  enum class Slot : uint8_t { kNone, kEthertype, kIpProto, kPpp, kPpp8, kLoopLe, kLoopBe };
  enum class Fix : uint8_t { kIpv4Total, kIpv4Checksum, kIpv6Payload, kUdp, kPppoe, kNflogPayload, kGtp,
                             kPptpPayload, kJumbo, kGreChecksum };
  // The codes a layer answers to each kind of next-protocol field (kAuto: none).
  struct Codes {
    int ethertype = kAuto;
    int ip_proto = kAuto;
    int ppp = kAuto;
    int loop = kAuto;
  };
  struct Fixup {
    Fix kind;
    size_t at;      // where the field is
    size_t base;    // where the counted region (or the header) starts
    int64_t value;  // kAuto: computed
  };

  // Starts a layer: writes its code into the previous layer's pending next-protocol field.
  void open(const Codes& c) {
    int code = kAuto;
    switch (slot_) {
      case Slot::kEthertype: code = c.ethertype; break;
      case Slot::kIpProto: code = c.ip_proto; break;
      case Slot::kPpp:
      case Slot::kPpp8: code = c.ppp; break;
      case Slot::kLoopLe:
      case Slot::kLoopBe: code = c.loop; break;
      case Slot::kNone: break;
    }
    if (code != kAuto) {
      const auto v = static_cast<uint32_t>(code);
      switch (slot_) {
        case Slot::kEthertype:
        case Slot::kPpp: b_[slot_at_] = static_cast<uint8_t>(v >> 8); b_[slot_at_ + 1] = static_cast<uint8_t>(v); break;
        case Slot::kIpProto:
        case Slot::kPpp8: b_[slot_at_] = static_cast<uint8_t>(v); break;
        case Slot::kLoopLe: for (int i = 0; i < 4; ++i) b_[slot_at_ + i] = static_cast<uint8_t>(v >> (8 * i)); break;
        case Slot::kLoopBe: for (int i = 0; i < 4; ++i) b_[slot_at_ + i] = static_cast<uint8_t>(v >> (24 - 8 * i)); break;
        case Slot::kNone: break;
      }
    }
    slot_ = Slot::kNone;
  }
  // Writes a next-protocol field: `value` as given, or zero now and the next layer's code.
  void type_slot(Slot kind, int value) {
    const uint8_t width = kind == Slot::kIpProto || kind == Slot::kPpp8 ? 1 : kind == Slot::kLoopLe || kind == Slot::kLoopBe ? 4 : 2;
    fields_.push_back({b_.size(), width});
    const size_t at = b_.size();
    b_.insert(b_.end(), width, 0);
    if (value == kAuto) {
      slot_ = kind;
      slot_at_ = at;
      return;
    }
    const auto v = static_cast<uint32_t>(value);
    for (unsigned i = 0; i < width; ++i) {
      const unsigned shift = kind == Slot::kLoopLe ? 8 * i : 8 * (width - 1 - i);
      b_[at + i] = static_cast<uint8_t>(v >> shift);
    }
  }
  void length_field(Fix kind, size_t base, int value) {
    fields_.push_back({b_.size(), 2});
    fixups_.push_back({kind, b_.size(), base, value});
    be16(0);
  }
  static void put16(Bytes& f, size_t at, uint32_t v) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  }
  static uint16_t checksum(const Bytes& f, size_t from, size_t to) {
    uint32_t sum = 0;
    for (size_t i = from; i < to; i += 2) sum += static_cast<uint32_t>(f[i] << 8 | (i + 1 < to ? f[i + 1] : 0));
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
  }
  static void apply(Bytes& f, const Fixup& x, size_t end) {
    const auto given = [&](int64_t computed) { return x.value == kAuto ? computed : x.value; };
    switch (x.kind) {
      case Fix::kIpv4Total: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base)))); break;
      case Fix::kIpv6Payload: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base - 40)))); break;
      case Fix::kUdp: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base)))); break;
      case Fix::kPppoe: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base - 6)))); break;
      case Fix::kGtp: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base)))); break;
      case Fix::kPptpPayload: put16(f, x.at, static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base)))); break;
      case Fix::kNflogPayload: {
        const auto v = static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base)));
        f[x.at] = static_cast<uint8_t>(v);
        f[x.at + 1] = static_cast<uint8_t>(v >> 8);
        break;
      }
      case Fix::kJumbo: {
        const auto v = static_cast<uint32_t>(given(static_cast<int64_t>(end - x.base - 40)));
        for (int i = 0; i < 4; ++i) f[x.at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
        break;
      }
      case Fix::kIpv4Checksum: {
        const size_t hlen = (f[x.base] & 0x0Fu) * 4u;
        const size_t to = x.base + hlen <= f.size() ? x.base + hlen : f.size();
        f[x.base + 10] = 0;
        f[x.base + 11] = 0;
        put16(f, x.base + 10, checksum(f, x.base, to));
        break;
      }
      case Fix::kGreChecksum: put16(f, x.at, checksum(f, x.base, end)); break;
    }
  }

  void u8(uint8_t v) { b_.push_back(v); }
  void be16(uint16_t v) {
    b_.push_back(static_cast<uint8_t>(v >> 8));
    b_.push_back(static_cast<uint8_t>(v));
  }
  void le16(uint16_t v) {
    b_.push_back(static_cast<uint8_t>(v));
    b_.push_back(static_cast<uint8_t>(v >> 8));
  }
  void be32(uint32_t v) {
    be16(static_cast<uint16_t>(v >> 16));
    be16(static_cast<uint16_t>(v));
  }
  template <size_t N>
  void put(const std::array<uint8_t, N>& a) {
    // push_back, not insert: GCC 12 at -O3 reports a false stringop-overflow for a range
    // insert into a vector that may be empty (GCC bug 107852).
    for (const uint8_t x : a) b_.push_back(x);
  }

  Bytes b_;
  Bytes trailer_;
  std::vector<Fixup> fixups_;
  std::vector<Field> fields_;
  Slot slot_ = Slot::kNone;
  size_t slot_at_ = 0;
  size_t last_ipv6_fix_ = static_cast<size_t>(-1);
};

}  // namespace seqwatch::test
