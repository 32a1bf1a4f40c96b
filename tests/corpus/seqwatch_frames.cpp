#include "seqwatch_frames.hpp"

#include <cstring>

#include "decode/bytes.hpp"

namespace seqwatch::corpus {
namespace {

using decode::IpLayer;
using decode::L4Type;
using decode::PacketView;

Addr addr_of(std::span<const uint8_t> bytes, uint8_t version) {
  Addr a;
  a.version = version;
  std::memcpy(a.bytes.data(), bytes.data(), bytes.size());
  return a;
}

// What an IP protocol number carries, in IpModel::next's vocabulary.
std::string next_of_proto(uint8_t proto) {
  switch (proto) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    case 47: return "gre";
    case 4: return "ip";
    case 41: return "ipv6";
    case 59: return "-";  // IPv6 "No Next Header": nothing follows (the view says kOther, proto 59)
    default: return "other";
  }
}

// A tunnel type by family, as tshark names the protocols (see IpModel::tunnel).
std::string tunnel_family(decode::TunnelType t) {
  using decode::TunnelType;
  switch (t) {
    case TunnelType::kIpInIp:
    case TunnelType::k6in4:
    case TunnelType::k4in6:
    case TunnelType::k6in6: return "ip";
    case TunnelType::kGre: return "gre";
    case TunnelType::kErspan1:
    case TunnelType::kErspan2:
    case TunnelType::kErspan3: return "erspan";
    case TunnelType::kGreUdp: return "gre-udp";
    case TunnelType::kVxlan: return "vxlan";
    case TunnelType::kGeneve: return "geneve";
    case TunnelType::kGtpU: return "gtp";
    case TunnelType::kTeredo: return "teredo";
    case TunnelType::kPptpGre: return "pptp";
    case TunnelType::kAyiya: return "ayiya";
    case TunnelType::kL2tp: return "l2tp";
    case TunnelType::kNone:
    case TunnelType::kCount: break;
  }
  return "none";
}

}  // namespace

FrameModel model_of(const PacketView& v, uint32_t number) {
  FrameModel m;
  m.number = number;
  m.status = std::string(decode::decode_status_name(v.status));
  m.flags = v.flags;
  m.cap_len = v.caplen;
  m.vlan.assign(v.vlan.begin(), v.vlan.begin() + v.vlan_count);
  m.inner_vlan = v.inner_vlan;
  if (v.mpls_count != 0) m.mpls_label = v.mpls_label;
  for (unsigned i = 0; i < v.ip_count; ++i) {
    const IpLayer& l = v.ip[i];
    IpModel im;
    im.version = l.version;
    im.fragment = (l.flags & decode::kIpFragment) != 0;
    im.src = addr_of(v.src_addr(l), l.version);
    im.dst = addr_of(v.dst_addr(l), l.version);
    const bool innermost = i + 1 == v.ip_count;
    if (!innermost) {
      if (i < v.tunnel_count) {
        im.tunnel = tunnel_family(v.tunnel[i].type);
        if (v.tunnel[i].has_key) im.tunnel_key = v.tunnel[i].key;
      }
      im.next = next_of_proto(l.proto);
      // A tunnel's UDP header: the view keeps only the innermost UDP header.
      if (l.proto == 17 && l.l4_off + 4u <= v.caplen) {
        im.udp = UdpModel{load_be16(v.frame + l.l4_off), load_be16(v.frame + l.l4_off + 2)};
      }
    } else {
      switch (v.l4) {
        case L4Type::kNone: im.next = "-"; break;
        case L4Type::kTcp: {
          im.next = "tcp";
          TcpModel t;
          t.sport = v.tcp.sport;
          t.dport = v.tcp.dport;
          t.seq = v.tcp.seq;
          t.ack = v.tcp.ack;
          t.flags = static_cast<uint64_t>(v.tcp.ae) << 8 | v.tcp.flags;
          t.window = v.tcp.window;
          t.len = v.tcp.payload_len;
          t.hdr_len = v.tcp.hdr_len;
          if (v.tcp.opts & decode::kOptMss) t.mss = v.tcp.mss;
          if (v.tcp.opts & decode::kOptWscale) t.wscale = v.tcp.wscale;
          if (v.tcp.opts & decode::kOptTimestamp) {
            t.tsval = v.tcp.tsval;
            t.tsecr = v.tcp.tsecr;
          }
          if (v.tcp.opts & decode::kOptSack) {
            std::string blocks;
            for (unsigned b = 0; b < v.tcp.sack_count; ++b) {
              if (!blocks.empty()) blocks += ',';
              blocks += std::to_string(v.tcp.sack[b].left) + "-" + std::to_string(v.tcp.sack[b].right);
            }
            t.sack = blocks;
          }
          im.tcp = t;
          break;
        }
        case L4Type::kUdp:
          im.next = "udp";
          im.udp = UdpModel{v.udp.sport, v.udp.dport};
          break;
        default: im.next = next_of_proto(l.proto); break;
      }
    }
    m.ip.push_back(im);
  }
  return m;
}

}  // namespace seqwatch::corpus
