// The common shape both sides of the differential test are reduced to: one FrameModel per
// captured frame, built once from tshark's field output and once from seqwatch's
// PacketView, then compared field by field.
//
// The model is deliberately the decoder's contract, not tshark's tree: the stack of IP
// layers from the outermost to the innermost, what each layer carries (its "next"
// protocol), the TCP/UDP header above each layer, and the VLAN tags. Anything absent on a
// side is std::nullopt, so "tshark shows a field seqwatch does not" is a disagreement too.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace seqwatch::corpus {

// An IPv4 (4 bytes used) or IPv6 address, compared as bytes, printed by inet_ntop.
struct Addr {
  uint8_t version = 0;
  std::array<uint8_t, 16> bytes{};
  bool operator==(const Addr&) const = default;
};
std::string to_string(const Addr& a);
// Parses tshark's text form; nullopt when the text is not an address of that version.
std::optional<Addr> parse_addr(const std::string& text, uint8_t version);

struct TcpModel {
  std::optional<uint64_t> sport, dport, seq, ack, flags, window, len, hdr_len;
  // Options seqwatch's sequence analysis reads; nullopt when the option is absent.
  std::optional<uint64_t> mss, wscale, tsval, tsecr;
  std::optional<std::string> sack;  // "left-right" blocks, comma-separated
  bool options_known = true;        // tshark: false when options cannot be attributed
};

struct UdpModel {
  std::optional<uint64_t> sport, dport;
};

// One IP layer and the header right above it.
struct IpModel {
  uint8_t version = 0;
  std::optional<Addr> src, dst;
  // What this layer carries: "tcp", "udp", "icmp", "icmpv6", "gre", "ip", "ipv6", "other"
  // (a protocol neither side follows) or "-" (nothing decoded: non-first fragment,
  // payload cut before the header, no next header).
  std::string next = "-";
  std::optional<TcpModel> tcp;  // when next == "tcp" and the header was decoded
  std::optional<UdpModel> udp;  // when next == "udp" and the header was decoded
  // The tunnel from this layer to the next one, by family: "ip" (IP in IP), "gre",
  // "gre-udp", "pptp", "erspan", "vxlan", "geneve", "gtp", "teredo", "ayiya", "l2tp".
  std::optional<std::string> tunnel;
  std::optional<uint64_t> tunnel_key;  // GRE key, VNI, TEID, ERSPAN session, PPTP call id
  bool tunnel_key_known = true;        // tshark: false when its key cannot be attributed
  bool quoted = false;                 // tshark only: a header quoted inside an ICMP error
  bool fragment = false;               // seqwatch only (allow-list context): this layer is an IP fragment
};

struct FrameModel {
  uint32_t number = 0;            // 1-based, as tshark's frame.number
  std::vector<IpModel> ip;        // outermost first
  std::vector<uint16_t> vlan;     // tags before the first IP layer, outermost first
  uint16_t inner_vlan = 0;        // last tag of an Ethernet frame carried by a tunnel
  std::optional<uint64_t> mpls_label;  // bottom-of-stack label before the first IP layer
  // Context for the allow-list (not compared).
  std::string protocols;          // tshark: frame.protocols
  bool malformed = false;         // tshark: _ws.malformed present
  uint32_t frame_len = 0, cap_len = 0;
  std::string status = "ok";      // seqwatch: decode status name
  uint16_t flags = 0;             // seqwatch: PacketFlag bits
};

// The compared fields. Each comparison is counted per field and per position: the
// outermost IP layer ("outer") or a layer inside a tunnel ("tunneled").
enum class Field : uint8_t {
  kIpLayers,   // number of IP layers (tunnel nesting)
  kIpVersion,
  kIpSrc,
  kIpDst,
  kNext,       // what the layer carries (see IpModel::next)
  kTunnel,     // tunnel family to the next layer
  kTunnelKey,
  kTcpSport, kTcpDport, kTcpSeq, kTcpAck, kTcpFlags, kTcpWindow, kTcpLen, kTcpHdrLen,
  kTcpMss, kTcpWscale, kTcpTsval, kTcpTsecr, kTcpSack,
  kUdpSport, kUdpDport,
  kVlan,       // outer VLAN tag list
  kInnerVlan,  // tag of a tunneled Ethernet frame
  kMplsLabel,
  kCount
};
const char* field_name(Field f);

struct Disagreement {
  Field field;
  int layer = -1;  // IP layer index the field belongs to, -1 for frame-level fields
  std::string seqwatch, tshark;
};

// Agreement counters: [field][position] where position 0 = outer / frame-level, 1 = tunneled.
struct FieldCounts {
  std::array<std::array<uint64_t, 2>, static_cast<size_t>(Field::kCount)> compared{}, agreed{};
  void add(const FieldCounts& o);
};

// Compares one frame, appending every disagreement and counting every comparison.
void compare(const FrameModel& sw, const FrameModel& ts, FieldCounts& counts,
             std::vector<Disagreement>& out);

// Text forms used in reports.
std::string describe_layers(const FrameModel& m);  // e.g. "ip(10.0.0.1>10.0.0.2)/tcp"

}  // namespace seqwatch::corpus
