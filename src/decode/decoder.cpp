// The decoder's state machine: link type -> L2 -> (tunnels ->)* IP -> TCP/UDP.
// Protocol parsers live in one header per family (l2, ip, transport, tunnel) and are
// compiled into this single translation unit so the whole chain inlines.
#include "decode/decoder.hpp"

#include "decode/cursor.hpp"
#include "decode/ip.hpp"
#include "decode/l2.hpp"
#include "decode/transport.hpp"
#include "decode/tunnel.hpp"

namespace seqwatch::decode {

namespace detail {

// Upper-layer dispatch for the innermost IP layer parsed so far.
inline Next upper(Cursor& c) noexcept {
  PacketView& v = c.v;
  const IpLayer& l = v.ip[v.ip_count - 1];
  const bool first_fragment_only = l.flags & kIpFragment;  // offset 0, more to come
  switch (l.proto) {
    case 6:
      return tcp(c, l);
    case 17: {
      if (!udp(c, l)) return Next::kDone;
      if (first_fragment_only) return Next::kDone;  // the tunnel payload is incomplete
      return udp_tunnel(c, v.udp.sport, v.udp.dport);
    }
    case 1:
      v.l4 = L4Type::kIcmp;
      v.l4_off = c.off;
      return Next::kDone;
    case 58:
      v.l4 = L4Type::kIcmpv6;
      v.l4_off = c.off;
      return Next::kDone;
    case 4:
    case 41:
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      if (first_fragment_only) return Next::kDone;
      return ip_in_ip(c, l.version, l.proto == 4 ? 4 : 6);
    case 47:
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      if (first_fragment_only) return Next::kDone;
      return gre(c, TunnelType::kGre);
    default:
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      return Next::kDone;
  }
}

// Bounds the number of state transitions: each transition consumes a header, and the
// header counts are bounded (VLAN, MPLS, IP layers), so this is a backstop only.
inline constexpr unsigned kMaxSteps = 32;

inline void run(Cursor& c, Next next) noexcept {
  for (unsigned step = 0; next != Next::kDone; ++step) {
    if (step == kMaxSteps) {
      c.fail(DecodeStatus::kTooManyLayers);
      return;
    }
    switch (next) {
      case Next::kEther: next = ether(c); break;
      case Next::kEthertype: next = ethertype(c); break;
      case Next::kIpv4: c.v.l4 = L4Type::kNone; next = ipv4(c); break;
      case Next::kIpv6: c.v.l4 = L4Type::kNone; next = ipv6(c); break;
      case Next::kIpAny: {
        if (!c.have(1)) {
          c.fail(DecodeStatus::kTruncatedIp);
          return;
        }
        const unsigned version = c.at()[0] >> 4;
        if (version == 4) next = Next::kIpv4;
        else if (version == 6) next = Next::kIpv6;
        else if (c.v.ip_count == 0 && c.v.mpls_count == 0 && c.v.tunnel_count == 0) {
          c.fail(DecodeStatus::kBadIpVersion);  // a raw-IP link type promised IP
          return;
        } else {
          return;  // MPLS / GTP payload that is not IP: stop, nothing malformed
        }
        break;
      }
      case Next::kMpls: next = mpls(c); break;
      case Next::kPpp: next = ppp(c); break;
      case Next::kUpper: next = upper(c); break;
      case Next::kDone: break;
    }
  }
}

}  // namespace detail

DecodeStatus decode(const uint8_t* frame, uint32_t caplen, LinkType link, PacketView& v) noexcept {
  using detail::Next;
  v.frame = frame;
  v.caplen = caplen;
  v.status = DecodeStatus::kOk;
  v.l4 = L4Type::kNone;
  v.flags = 0;
  v.ethertype = 0;
  v.vlan_count = 0;
  v.mpls_count = 0;
  v.ip_count = 0;
  v.tunnel_count = 0;
  v.inner_vlan = 0;
  v.mpls_label = 0;
  v.l4_off = 0;

  detail::Cursor c{frame, 0, caplen, caplen, detail::kNoBound, v};
  Next first;
  switch (link) {
    case LinkType::kEthernet: first = detail::ether(c); break;
    case LinkType::kRaw: first = Next::kIpAny; break;
    case LinkType::kIpv4: first = Next::kIpv4; break;
    case LinkType::kIpv6: first = Next::kIpv6; break;
    case LinkType::kLinuxSll: first = detail::linux_sll(c); break;
    case LinkType::kLinuxSll2: first = detail::linux_sll2(c); break;
    case LinkType::kNflog: first = detail::nflog(c); break;
    case LinkType::kNull: first = detail::loopback(c, false); break;
    case LinkType::kLoop: first = detail::loopback(c, true); break;
    default:
      v.status = DecodeStatus::kUnsupportedLinkType;
      return v.status;
  }
  detail::run(c, first);
  return v.status;
}

void count_view(const PacketView& v, DecodeCounters& c) noexcept {
  ++c.packets;
  ++c.status[static_cast<size_t>(v.status)];
  if (v.ip_count == 0) {
    if (v.status == DecodeStatus::kOk) ++c.non_ip;
    return;
  }
  switch (v.l4) {
    case L4Type::kTcp: ++c.tcp; break;
    case L4Type::kUdp: ++c.udp; break;
    default: ++c.other_l4; break;
  }
  if (v.flags & kFlagTruncated) ++c.truncated;
  if (v.flags & kFlagIpLenClipped) ++c.ip_len_clipped;
  if (v.flags & kFlagFragment) ++c.fragments;
  if (v.tunnel_count != 0) {
    ++c.tunneled;
    ++c.tunnels[static_cast<size_t>(v.tunnel[0].type)];
  }
}

void DecodeCounters::add(const DecodeCounters& o) noexcept {
  packets += o.packets;
  for (size_t i = 0; i < status.size(); ++i) status[i] += o.status[i];
  non_ip += o.non_ip;
  tcp += o.tcp;
  udp += o.udp;
  other_l4 += o.other_l4;
  truncated += o.truncated;
  ip_len_clipped += o.ip_len_clipped;
  fragments += o.fragments;
  tunneled += o.tunneled;
  for (size_t i = 0; i < tunnels.size(); ++i) tunnels[i] += o.tunnels[i];
}

// How far ahead of the frame being decoded the next frames' first cache line is
// prefetched: far enough to hide a DRAM miss behind ~4 decodes of ~10 ns each.
inline constexpr uint32_t kDecodePrefetchAhead = 4;

void decode_burst(const FrameRef* frames, uint32_t n, LinkType link, PacketView* views,
                  DecodeCounters& counters) noexcept {
  for (uint32_t i = 0; i < n && i < kDecodePrefetchAhead; ++i) __builtin_prefetch(frames[i].data);
  for (uint32_t i = 0; i < n; ++i) {
    if (i + kDecodePrefetchAhead < n) __builtin_prefetch(frames[i + kDecodePrefetchAhead].data);
    decode(frames[i].data, frames[i].caplen, link, views[i]);
    count_view(views[i], counters);
  }
}

bool link_type_from_pcap(uint32_t value, LinkType& out) noexcept {
  switch (value) {
    case 0: out = LinkType::kNull; return true;
    case 1: out = LinkType::kEthernet; return true;
    case 12:   // DLT_RAW as libpcap reports LINKTYPE_RAW on most platforms
    case 14:   // DLT_RAW on OpenBSD
    case 101: out = LinkType::kRaw; return true;
    case 108: out = LinkType::kLoop; return true;
    case 113: out = LinkType::kLinuxSll; return true;
    case 228: out = LinkType::kIpv4; return true;
    case 229: out = LinkType::kIpv6; return true;
    case 239: out = LinkType::kNflog; return true;
    case 276: out = LinkType::kLinuxSll2; return true;
    default: return false;
  }
}

std::string_view link_type_name(LinkType lt) noexcept {
  switch (lt) {
    case LinkType::kNull: return "null";
    case LinkType::kEthernet: return "ethernet";
    case LinkType::kRaw: return "raw";
    case LinkType::kLoop: return "loop";
    case LinkType::kLinuxSll: return "linux-sll";
    case LinkType::kIpv4: return "ipv4";
    case LinkType::kIpv6: return "ipv6";
    case LinkType::kNflog: return "nflog";
    case LinkType::kLinuxSll2: return "linux-sll2";
  }
  return "unknown";
}

std::string_view decode_status_name(DecodeStatus s) noexcept {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kUnsupportedLinkType: return "unsupported_link_type";
    case DecodeStatus::kTruncatedL2: return "truncated_l2";
    case DecodeStatus::kBadL2: return "bad_l2";
    case DecodeStatus::kVlanTooDeep: return "vlan_too_deep";
    case DecodeStatus::kTruncatedVlan: return "truncated_vlan";
    case DecodeStatus::kTruncatedMpls: return "truncated_mpls";
    case DecodeStatus::kMplsTooDeep: return "mpls_too_deep";
    case DecodeStatus::kTruncatedPppoe: return "truncated_pppoe";
    case DecodeStatus::kBadPppoe: return "bad_pppoe";
    case DecodeStatus::kTruncatedIp: return "truncated_ip";
    case DecodeStatus::kBadIpVersion: return "bad_ip_version";
    case DecodeStatus::kBadIpHeaderLength: return "bad_ip_header_length";
    case DecodeStatus::kBadIpTotalLength: return "bad_ip_total_length";
    case DecodeStatus::kTruncatedIpv6Ext: return "truncated_ipv6_ext";
    case DecodeStatus::kBadIpv6Ext: return "bad_ipv6_ext";
    case DecodeStatus::kIpv6ExtTooDeep: return "ipv6_ext_too_deep";
    case DecodeStatus::kTruncatedTcp: return "truncated_tcp";
    case DecodeStatus::kBadTcpHeaderLength: return "bad_tcp_header_length";
    case DecodeStatus::kTruncatedUdp: return "truncated_udp";
    case DecodeStatus::kBadUdpLength: return "bad_udp_length";
    case DecodeStatus::kTruncatedTunnel: return "truncated_tunnel";
    case DecodeStatus::kBadTunnel: return "bad_tunnel";
    case DecodeStatus::kTooManyLayers: return "too_many_layers";
    case DecodeStatus::kCount: break;
  }
  return "unknown";
}

std::string_view tunnel_type_name(TunnelType t) noexcept {
  switch (t) {
    case TunnelType::kNone: return "none";
    case TunnelType::kIpInIp: return "ipip";
    case TunnelType::k6in4: return "6in4";
    case TunnelType::k4in6: return "4in6";
    case TunnelType::k6in6: return "6in6";
    case TunnelType::kGre: return "gre";
    case TunnelType::kErspan1: return "erspan1";
    case TunnelType::kErspan2: return "erspan2";
    case TunnelType::kErspan3: return "erspan3";
    case TunnelType::kGreUdp: return "gre_udp";
    case TunnelType::kVxlan: return "vxlan";
    case TunnelType::kGeneve: return "geneve";
    case TunnelType::kGtpU: return "gtpu";
    case TunnelType::kTeredo: return "teredo";
    case TunnelType::kPptpGre: return "pptp_gre";
    case TunnelType::kAyiya: return "ayiya";
    case TunnelType::kCount: break;
  }
  return "unknown";
}

}  // namespace seqwatch::decode
