// Tunnels: GRE (keys, sequence numbers, PPTP's enhanced GRE, Cisco MetaData), ERSPAN
// I/II/III, IP-in-IP (4in4, 6in4, 4in6, 6in6) and UDP tunnels (VXLAN, Geneve, GTP-U,
// GRE-in-UDP, Teredo, AYIYA, L2TP). Each records a TunnelLayer between the carrying IP layer and the next one.
// Internal to src/decode/; included only by decoder.cpp.
#pragma once

#include "decode/cursor.hpp"

namespace seqwatch::decode::detail {

inline constexpr uint16_t kPortVxlan = 4789;
inline constexpr uint16_t kPortGeneve = 6081;
inline constexpr uint16_t kPortGtpU = 2152;
inline constexpr uint16_t kPortGreUdp = 4754;
inline constexpr uint16_t kPortTeredo = 3544;
inline constexpr uint16_t kPortAyiya = 5072;
inline constexpr uint16_t kPortL2tp = 1701;

inline constexpr uint32_t kGreHdr = 4;
inline constexpr uint32_t kErspan2Hdr = 8;
inline constexpr uint32_t kErspan3Hdr = 12;
inline constexpr uint32_t kErspan3PlatformHdr = 8;
inline constexpr uint32_t kVxlanHdr = 8;
inline constexpr uint32_t kGeneveHdr = 8;
inline constexpr uint32_t kGtpHdr = 8;
inline constexpr uint32_t kGtpOptHdr = 4;
inline constexpr uint8_t kGtpTpdu = 0xFF;  // G-PDU: carries a user packet
inline constexpr uint32_t kGreCmdHdr = 8;  // CMD in GRE: protocol type, version, length, option, SGT
inline constexpr uint32_t kAyiyaHdr = 8;
inline constexpr uint8_t kAyiyaForward = 1;  // the opcode of packets that carry a packet

inline TunnelLayer& push_tunnel(Cursor& c, TunnelType type, uint32_t off) noexcept {
  PacketView& v = c.v;
  // One tunnel per IP layer: tunnel[i] sits between ip[i] and ip[i+1].
  const uint8_t idx = static_cast<uint8_t>(v.ip_count - 1);
  TunnelLayer& t = v.tunnel[idx];
  t = TunnelLayer{};
  t.type = type;
  t.outer_ip = idx;
  t.off = off;
  v.tunnel_count = static_cast<uint8_t>(idx + 1);
  return t;
}

inline Next ip_in_ip(Cursor& c, uint8_t outer_version, uint8_t inner_version) noexcept {
  TunnelType type;
  if (outer_version == 4) type = inner_version == 4 ? TunnelType::kIpInIp : TunnelType::k6in4;
  else type = inner_version == 4 ? TunnelType::k4in6 : TunnelType::k6in6;
  push_tunnel(c, type, c.off);
  return inner_version == 4 ? Next::kIpv4 : Next::kIpv6;
}

// What a tunnel payload with protocol type `proto` (an ethertype) continues with.
inline Next tunnel_payload(Cursor& c, uint16_t proto) noexcept {
  switch (proto) {
    case kEthIpv4: return Next::kIpv4;
    case kEthIpv6: return Next::kIpv6;
    case kEthTeb:
      c.inner_l2 = true;
      c.v.flags |= kFlagInnerEther;
      return Next::kEther;
    case kEthMpls:
    case kEthMplsMcast: return Next::kMpls;
    default: return Next::kDone;  // a payload seqwatch does not follow
  }
}

inline Next gre(Cursor& c, TunnelType base) noexcept {
  if (!c.have(kGreHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint32_t start = c.off;
  const uint8_t* h = c.at();
  const uint16_t fl = load_be16(h);
  uint16_t proto = load_be16(h + 2);
  const bool csum = fl & 0x8000, routing = fl & 0x4000, key = fl & 0x2000, seq = fl & 0x1000;
  const unsigned version = fl & 0x7;
  if (version == 1) {
    // Enhanced GRE (RFC 2637, PPTP): key field always present, optional seq and ack.
    if (!key || proto != kEthPpp) return c.fail(DecodeStatus::kBadTunnel);
    const bool ack = fl & 0x0080;
    const uint32_t len = kGreHdr + 4 + (seq ? 4u : 0u) + (ack ? 4u : 0u);
    if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedTunnel);
    TunnelLayer& t = push_tunnel(c, TunnelType::kPptpGre, start);
    t.has_key = 1;
    t.key = load_be16(h + 6);  // call id
    if (seq) {
      t.has_seq = 1;
      t.seq = load_be32(h + 8);
    }
    const uint16_t payload_len = load_be16(h + 4);
    c.off += len;
    if (payload_len == 0) return Next::kDone;  // acknowledgement only
    return Next::kPpp;
  }
  if (version != 0 || routing) return c.fail(DecodeStatus::kBadTunnel);  // RFC 1701 source routes: obsolete
  const uint32_t len = kGreHdr + (csum ? 4u : 0u) + (key ? 4u : 0u) + (seq ? 4u : 0u);
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedTunnel);
  uint32_t o = kGreHdr + (csum ? 4u : 0u);
  uint32_t key_value = 0, seq_value = 0;
  if (key) {
    key_value = load_be32(h + o);
    o += 4;
  }
  if (seq) seq_value = load_be32(h + o);
  c.off += len;

  TunnelType type = base;
  uint32_t session = 0;
  bool has_session = false;
  if (proto == kEthErspan2) {
    if (!seq) {
      type = TunnelType::kErspan1;  // type I: no ERSPAN header, the mirrored frame follows
    } else {
      if (!c.have(kErspan2Hdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
      const uint8_t* e = c.at();
      if ((e[0] >> 4) != 1) return c.fail(DecodeStatus::kBadTunnel);
      type = TunnelType::kErspan2;
      session = load_be16(e + 2) & 0x03FF;
      has_session = true;
      c.off += kErspan2Hdr;
    }
  } else if (proto == kEthErspan3) {
    if (!c.have(kErspan3Hdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
    const uint8_t* e = c.at();
    if ((e[0] >> 4) != 2) return c.fail(DecodeStatus::kBadTunnel);
    type = TunnelType::kErspan3;
    session = load_be16(e + 2) & 0x03FF;
    has_session = true;
    const bool platform = e[11] & 0x01;  // O bit: an 8-byte platform-specific subheader follows
    const uint32_t elen = kErspan3Hdr + (platform ? kErspan3PlatformHdr : 0u);
    if (!c.have(elen)) return c.fail(DecodeStatus::kTruncatedTunnel);
    c.off += elen;
  } else if (proto == kEthCmd) {
    // Cisco MetaData in GRE (DMVPN with TrustSec tags) puts the payload's protocol type
    // first, then version, length, option and SGT (Wireshark's dissect_cmd_gre). Only one:
    // a CMD header inside it is left undecoded by tunnel_payload().
    if (!c.have(kGreCmdHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
    proto = load_be16(c.at());
    c.off += kGreCmdHdr;
  }
  TunnelLayer& t = push_tunnel(c, type, start);
  if (has_session) {
    t.has_key = 1;
    t.key = session;  // ERSPAN session id separates mirror sessions
  } else if (key) {
    t.has_key = 1;
    t.key = key_value;
  }
  if (seq) {
    t.has_seq = 1;
    t.seq = seq_value;
  }
  if (type == TunnelType::kErspan1 || type == TunnelType::kErspan2 || type == TunnelType::kErspan3) {
    c.inner_l2 = true;
    c.v.flags |= kFlagInnerEther;
    return Next::kEther;
  }
  return tunnel_payload(c, proto);
}

inline Next vxlan(Cursor& c) noexcept {
  if (!c.have(kVxlanHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint8_t* h = c.at();
  if (!(h[0] & 0x08)) return c.fail(DecodeStatus::kBadTunnel);  // I flag: VNI valid
  TunnelLayer& t = push_tunnel(c, TunnelType::kVxlan, c.off);
  t.has_key = 1;
  t.key = load_be32(h + 4) >> 8;
  c.off += kVxlanHdr;
  c.inner_l2 = true;
  c.v.flags |= kFlagInnerEther;
  return Next::kEther;
}

inline Next geneve(Cursor& c) noexcept {
  if (!c.have(kGeneveHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint8_t* h = c.at();
  if ((h[0] >> 6) != 0) return c.fail(DecodeStatus::kBadTunnel);  // version 0 only
  const uint32_t len = kGeneveHdr + (h[0] & 0x3Fu) * 4u;
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedTunnel);
  TunnelLayer& t = push_tunnel(c, TunnelType::kGeneve, c.off);
  t.has_key = 1;
  t.key = load_be32(h + 4) >> 8;
  const uint16_t proto = load_be16(h + 2);
  c.off += len;
  return tunnel_payload(c, proto);
}

// GTP-U version 1 (3GPP TS 29.281): only G-PDUs carry a user packet.
inline Next gtp_u(Cursor& c) noexcept {
  if (!c.have(kGtpHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint8_t* h = c.at();
  if ((h[0] >> 5) != 1 || !(h[0] & 0x10)) return Next::kDone;  // not GTP-U v1: plain UDP payload
  const uint32_t start = c.off;
  const uint8_t flags = h[0];
  const uint8_t type = h[1];
  const uint32_t teid = load_be32(h + 4);
  c.off += kGtpHdr;
  if (flags & 0x07) {  // E, S or PN: sequence, N-PDU and next-extension fields present
    if (!c.have(kGtpOptHdr)) return c.fail(DecodeStatus::kTruncatedTunnel);
    uint8_t next_ext = c.at()[3];
    c.off += kGtpOptHdr;
    for (unsigned n = 0; (flags & 0x04) && next_ext != 0; ++n) {
      if (n == 8 || !c.have(1)) return c.fail(DecodeStatus::kTruncatedTunnel);
      const uint32_t elen = c.at()[0] * 4u;
      if (elen == 0) return c.fail(DecodeStatus::kBadTunnel);
      if (!c.have(elen)) return c.fail(DecodeStatus::kTruncatedTunnel);
      next_ext = c.at()[elen - 1];
      c.off += elen;
    }
  }
  if (type != kGtpTpdu) return Next::kDone;  // signalling (echo, error indication, ...)
  TunnelLayer& t = push_tunnel(c, TunnelType::kGtpU, start);
  t.has_key = 1;
  t.key = teid;
  return Next::kIpAny;
}

// Teredo (RFC 4380): optional authentication and origin indicators, then IPv6.
inline Next teredo(Cursor& c) noexcept {
  const uint32_t start = c.off;
  if (c.have(4) && load_be16(c.at()) == 0x0001) {  // authentication indicator
    const uint32_t len = 4u + c.at()[2] + c.at()[3] + 8u + 1u;
    if (!c.have(len)) return Next::kDone;
    c.off += len;
  }
  if (c.have(8) && load_be16(c.at()) == 0x0000) c.off += 8;  // origin indication
  if (!c.have(40) || (c.at()[0] >> 4) != 6) {
    c.off = start;
    return Next::kDone;  // not a Teredo data packet (e.g. a bubble without IPv6)
  }
  push_tunnel(c, TunnelType::kTeredo, start);
  return Next::kIpv6;
}

// AYIYA, "Anything In Anything" (SixXS; draft-massar-v6ops-ayiya): an 8-byte header,
// the identity (2^IDLen bytes) and the signature (SigLen * 4 bytes), then, in "forward"
// packets, the packet named by the next-header byte. Other opcodes (heartbeats), other
// payloads or a payload whose version nibble disagrees are left as plain UDP, as Zeek's
// AYIYA analyzer leaves them: the port alone does not make a packet AYIYA.
inline Next ayiya(Cursor& c) noexcept {
  if (!c.have(kAyiyaHdr)) return Next::kDone;
  const uint8_t* h = c.at();
  const uint32_t len = kAyiyaHdr + (1u << (h[0] >> 4)) + (h[1] >> 4) * 4u;
  if ((h[2] & 0x0F) != kAyiyaForward || !c.have(len + 1)) return Next::kDone;
  const unsigned version = h[len] >> 4;
  Next next;
  if (h[3] == 41 && version == 6) next = Next::kIpv6;
  else if (h[3] == 4 && version == 4) next = Next::kIpv4;
  else return Next::kDone;
  push_tunnel(c, TunnelType::kAyiya, c.off);
  c.off += len;
  return next;
}

// L2TP version 2 (RFC 2661) on UDP 1701: a data message carries a PPP frame (a subscriber's
// session between an access concentrator and its LNS: broadband, VPNs). The header: flags
// and version, the length if L, tunnel and session ids, Ns/Nr if S, an offset size and that
// many bytes of padding if O. Control messages (T), version 3 (L2TPv3's session header
// depends on configuration the packet does not carry) and headers with reserved bits set
// stay plain UDP; a message cut inside its header is a truncated tunnel. No key: the
// tunnel and session ids are the receiver's, so the two directions carry different ones
// (as GTP-U's TEIDs).
inline Next l2tp(Cursor& c) noexcept {
  if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint8_t* h = c.at();
  const uint16_t fl = load_be16(h);
  if ((fl & 0x000F) != 2 || (fl & 0x8000) || (fl & 0x34F0)) return Next::kDone;
  const bool length = fl & 0x4000, sequence = fl & 0x0800, offset = fl & 0x0200;
  const uint32_t fixed = 2u + (length ? 2u : 0u) + 4u + (sequence ? 4u : 0u) + (offset ? 2u : 0u);
  if (!c.have(fixed)) return c.fail(DecodeStatus::kTruncatedTunnel);
  const uint32_t len = fixed + (offset ? load_be16(h + fixed - 2) : 0u);
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedTunnel);
  push_tunnel(c, TunnelType::kL2tp, c.off);
  c.off += len;
  return Next::kPpp;
}

// Picks the UDP tunnel by port (either side, as Wireshark's port table does).
inline Next udp_tunnel(Cursor& c, uint16_t sport, uint16_t dport) noexcept {
  auto is = [&](uint16_t p) { return sport == p || dport == p; };
  if (is(kPortVxlan)) return vxlan(c);
  if (is(kPortGeneve)) return geneve(c);
  if (is(kPortGtpU)) return gtp_u(c);
  if (is(kPortGreUdp)) return gre(c, TunnelType::kGreUdp);
  if (is(kPortTeredo)) return teredo(c);
  if (is(kPortAyiya)) return ayiya(c);
  if (is(kPortL2tp)) return l2tp(c);
  return Next::kDone;
}

}  // namespace seqwatch::decode::detail
