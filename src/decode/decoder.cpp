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
SEQWATCH_DECODE_HOT Next upper(Cursor& c) noexcept {
  PacketView& v = c.v;
  const IpLayer& l = v.ip[v.ip_count - 1];
  if (l.proto == 6) return tcp(c, l);  // most packets, ahead of the jump table below
  // A first fragment (offset 0, more to come; later fragments never get here): a tunnel
  // in it is followed, and the packet it carries is cut at the fragment's end.
  const bool first_fragment = l.flags & kIpFragment;
  switch (l.proto) {
    case 6:
      return tcp(c, l);
    case 17: {
      if (!udp(c, l)) return Next::kDone;
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
      if (first_fragment) fragment_payload(c, kNoBound);
      return ip_in_ip(c, l.version, l.proto == 4 ? 4 : 6);
    case 47:
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      if (first_fragment) fragment_payload(c, kNoBound);
      return gre(c, TunnelType::kGre);
    case 51: {
      // IPv4 Authentication Header (RFC 4302): skipped to the protocol it protects, as
      // IPv6's is with its extension headers (tshark analyses the TCP inside). Not in a
      // fragment (its protected header may lie in the next one), not AH in AH.
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      if (l.version != 4 || first_fragment) return Next::kDone;
      if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedIp);
      const uint32_t len = (c.at()[1] + 2u) * 4u;
      if (len > l.l4_len) return c.fail(DecodeStatus::kBadIpTotalLength);
      if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedIp);
      IpLayer& m = v.ip[v.ip_count - 1];
      m.proto = c.at()[0];
      c.off += len;
      m.l4_off = c.off;
      m.l4_len -= len;
      if (m.proto == 51) return Next::kDone;
      return upper(c);
    }
    default:
      v.l4 = L4Type::kOther;
      v.l4_off = c.off;
      return Next::kDone;
  }
}

// Every header chain has the same shape: [Ethernet ->] ethertype -> [MPLS | PPP ->]
// [IP by version ->] IPv4 | IPv6 -> upper layer, where a tunnel in the upper layer starts
// the chain again for the packet it carries. run() walks one chain per round, in that
// order, with one predictable compare per step instead of a dispatch loop (the common
// Ethernet/IPv4/TCP frame is one round of straight-line code). Each round that goes on
// to another has added an IP layer, so push_ip's kMaxIpLayers bounds the rounds; the
// round count is a backstop only.
inline constexpr unsigned kMaxRounds = kMaxIpLayers + 2;

inline Next ip_any(Cursor& c) noexcept {
  if (!c.have(1)) return c.fail(DecodeStatus::kTruncatedIp);
  const unsigned version = c.at()[0] >> 4;
  if (version == 4) return Next::kIpv4;
  if (version == 6) return Next::kIpv6;
  if (c.v.ip_count == 0 && c.v.mpls_count == 0 && c.v.tunnel_count == 0) {
    return c.fail(DecodeStatus::kBadIpVersion);  // a raw-IP link type promised IP
  }
  return Next::kDone;  // MPLS / GTP payload that is not IP: stop, nothing malformed
}

SEQWATCH_DECODE_HOT void run(Cursor& c, Next next) noexcept {
  for (unsigned round = 0; next != Next::kDone; ++round) {
    if (round == kMaxRounds) {
      c.fail(DecodeStatus::kTooManyLayers);
      return;
    }
    if (next == Next::kEther) next = ether(c);
    if (next == Next::kEthertype) next = ethertype(c);
    if (next == Next::kMpls) next = mpls(c);
    if (next == Next::kPpp) next = ppp(c);
    if (next == Next::kIpAny) next = ip_any(c);
    if (next == Next::kIpv4) {
      c.v.l4 = L4Type::kNone;
      next = ipv4(c);
    } else if (next == Next::kIpv6) {
      c.v.l4 = L4Type::kNone;
      next = ipv6(c);
    }
    if (next == Next::kUpper) next = upper(c);
  }
}

// The frames nearly every sensor sees: Ethernet, at most one 802.1Q tag, IPv4 without
// options and not a fragment or IPv6 without extension headers, captured whole.
// Straight-line code with the offsets in registers; it records exactly what the general
// path records for such a frame, which tests/decode/mutation_test.cpp checks on every
// corpus frame and on ~1M mutated ones.
enum class Fast : uint8_t {
  kNo,     // not such a frame; nothing written that the general path does not write
  kDone,   // a TCP segment, decoded completely
  kUpper,  // Ethernet and IPv4 recorded; the general path goes on at the upper layer,
           // from offset ip[0].l4_off with the packet ending at `end`
};

SEQWATCH_DECODE_HOT Fast eth_ip(const uint8_t* f, uint32_t caplen, PacketView& v, uint32_t& end) noexcept {
  if (caplen < kEtherHdr + kIpv4Hdr) return Fast::kNo;
  uint32_t off = kEtherHdr;
  uint16_t et = load_be16(f + 12);
  uint16_t vid = 0;
  const bool tagged = et == kEthVlan;
  if (tagged) {
    if (caplen < kEtherHdr + kVlanTag + kIpv4Hdr) return Fast::kNo;
    vid = load_be16(f + 14) & 0x0FFF;
    et = load_be16(f + 16);
    off += kVlanTag;
  }
  const uint8_t* h = f + off;
  const uint32_t room = caplen - off;
  IpLayer& l = v.ip[0];
  if (et == kEthIpv4) {
    const uint32_t total = load_be16(h + 2);
    if (!ipv4_plain(h) || total < kIpv4Hdr || total > room) return Fast::kNo;
    ipv4_plain_layer(l, h, off, total);
    end = off + total;
  } else if (et == kEthIpv6) {
    if (room < kIpv6Hdr || !ipv6_plain(h) || load_be16(h + 4) > room - kIpv6Hdr) return Fast::kNo;
    ipv6_plain_layer(l, h, off);
    end = l.l4_off + l.l4_len;
  } else {
    return Fast::kNo;
  }
  if (tagged) {
    v.vlan[0] = vid;
    v.vlan_count = 1;
  }
  v.ethertype = et;
  v.ip_count = 1;
  if (end < caplen) v.flags = kFlagPadding;
  const uint8_t* th = f + l.l4_off;
  if (l.proto != 6 || l.l4_len < kTcpHdr) return Fast::kUpper;
  const uint32_t hdr_len = (th[12] >> 4) * 4u;
  if (hdr_len < kTcpHdr || hdr_len > l.l4_len) return Fast::kUpper;  // the general path names the error
  v.l4 = L4Type::kTcp;
  v.l4_off = l.l4_off;
  TcpInfo& t = v.tcp;
  tcp_fixed(th, t);
  t.ip_id = et == kEthIpv4 ? load_be16(h + 4) : 0;
  t.payload_len = l.l4_len - hdr_len;
  if (hdr_len > kTcpHdr) tcp_options(th + kTcpHdr, hdr_len - kTcpHdr, hdr_len - kTcpHdr, t, v);
  return Fast::kDone;
}

}  // namespace detail

namespace {

// decode(), inlined into decode_burst's loop as well. kFastPath = false is the general
// path alone (detail::decode_general, for the tests that compare the two).
template <bool kFastPath>
[[gnu::always_inline]] inline DecodeStatus decode_frame(const uint8_t* frame, uint32_t caplen, LinkType link,
                                                        PacketView& v) noexcept {
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
  if constexpr (kFastPath) {
    if (link == LinkType::kEthernet) {
      uint32_t end = 0;
      const detail::Fast taken = detail::eth_ip(frame, caplen, v, end);
      if (taken == detail::Fast::kDone) return DecodeStatus::kOk;
      if (taken == detail::Fast::kUpper) {
        detail::Cursor c{frame, v.ip[0].l4_off, end, caplen, end, v};
        detail::run(c, Next::kUpper);
        return v.status;
      }
    }
  }

  detail::Cursor c{frame, 0, caplen, caplen, detail::kNoBound, v};
  Next first = Next::kEther;
  if (link != LinkType::kEthernet) {  // Ethernet (first = kEther) is the common case
    switch (link) {
      case LinkType::kEthernet: break;
      case LinkType::kRaw: first = Next::kIpAny; break;
      case LinkType::kIpv4: first = Next::kIpv4; break;
      case LinkType::kIpv6: first = Next::kIpv6; break;
      case LinkType::kLinuxSll: first = detail::linux_sll(c); break;
      case LinkType::kLinuxSll2: first = detail::linux_sll2(c); break;
      case LinkType::kNflog: first = detail::nflog(c); break;
      case LinkType::kNull: first = detail::loopback(c, false); break;
      case LinkType::kLoop: first = detail::loopback(c, true); break;
      case LinkType::kPpp:
      case LinkType::kPppSerial: first = detail::ppp_link(c); break;
      case LinkType::kCHdlc: first = detail::chdlc(c); break;
      case LinkType::kIeee80211: first = detail::wlan(c); break;
      case LinkType::kIeee80211Radiotap: first = detail::radiotap(c); break;
      case LinkType::kPppEther:
        c.ethertype = detail::kEthPppoeSession;  // the PPPoE header comes first
        first = Next::kEthertype;
        break;
      default:
        v.status = DecodeStatus::kUnsupportedLinkType;
        return v.status;
    }
  }
  detail::run(c, first);
  return v.status;
}

}  // namespace

DecodeStatus decode(const uint8_t* frame, uint32_t caplen, LinkType link, PacketView& v) noexcept {
  return decode_frame<true>(frame, caplen, link, v);
}

DecodeStatus detail::decode_general(const uint8_t* frame, uint32_t caplen, LinkType link, PacketView& v) noexcept {
  return decode_frame<false>(frame, caplen, link, v);
}

void count_view(const PacketView& v, DecodeCounters& c) noexcept {
  ++c.packets;
  // A well-formed, untunnelled, unflagged TCP segment (most traffic): one counter more.
  if (v.l4 == L4Type::kTcp && v.status == DecodeStatus::kOk && v.tunnel_count == 0 &&
      (v.flags & (kFlagTruncated | kFlagIpLenClipped | kFlagFragment)) == 0) {
    ++c.status[0];
    ++c.tcp;
    return;
  }
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
  if (v.flags & (kFlagTruncated | kFlagIpLenClipped | kFlagFragment)) {
    if (v.flags & kFlagTruncated) {
      ++c.truncated;
      if (v.tunnel_inner_missing()) ++c.tunnel_inner_cut;
    }
    if (v.flags & kFlagIpLenClipped) ++c.ip_len_clipped;
    if (v.flags & kFlagFragment) ++c.fragments;
  }
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
  tunnel_inner_cut += o.tunnel_inner_cut;
  for (size_t i = 0; i < tunnels.size(); ++i) tunnels[i] += o.tunnels[i];
}

// How far ahead of the frame being decoded the next frames' headers are prefetched: far
// enough to hide a DRAM miss behind ~4 decodes of ~10 ns each. Their first TWO cache lines:
// a tagged Ethernet/IPv4/TCP header with timestamps is 70 bytes, a tunnelled one 100-130, so
// the decoder reads the second line of most frames (until 2026-12-05 only the first was
// prefetched: bench_decode on the AMD EPYC VM (a) 12.0 -> 10.5 ns, (b) one tunnel 32.5-34.7
// -> 28.5-29.1 ns, a 65536-frame pool 65 -> 18-33 ns; docs/performance.md "Decoder").
inline constexpr uint32_t kDecodePrefetchAhead = 4;

void decode_burst(const FrameRef* frames, uint32_t n, LinkType link, PacketView* views,
                  DecodeCounters& counters) noexcept {
  for (uint32_t i = 0; i < n && i < kDecodePrefetchAhead; ++i) {
    __builtin_prefetch(frames[i].data);
    __builtin_prefetch(frames[i].data + 64);
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (i + kDecodePrefetchAhead < n) {
      __builtin_prefetch(frames[i + kDecodePrefetchAhead].data);
      __builtin_prefetch(frames[i + kDecodePrefetchAhead].data + 64);
    }
    decode_frame<true>(frames[i].data, frames[i].caplen, link, views[i]);
    count_view(views[i], counters);
  }
}

bool link_type_from_pcap(uint32_t value, LinkType& out) noexcept {
  switch (value) {
    case 0: out = LinkType::kNull; return true;
    case 1: out = LinkType::kEthernet; return true;
    case 9: out = LinkType::kPpp; return true;
    case 50: out = LinkType::kPppSerial; return true;
    case 51: out = LinkType::kPppEther; return true;
    case 104: out = LinkType::kCHdlc; return true;
    case 105: out = LinkType::kIeee80211; return true;
    case 127: out = LinkType::kIeee80211Radiotap; return true;
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
    case LinkType::kPpp: return "ppp";
    case LinkType::kPppSerial: return "ppp-serial";
    case LinkType::kPppEther: return "ppp-ether";
    case LinkType::kCHdlc: return "c-hdlc";
    case LinkType::kIeee80211: return "802.11";
    case LinkType::kIeee80211Radiotap: return "802.11-radiotap";
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
    case TunnelType::kL2tp: return "l2tp";
    case TunnelType::kCount: break;
  }
  return "unknown";
}

}  // namespace seqwatch::decode
