// Link layers: link-type headers (Ethernet, Linux SLL/SLL2, NFLOG, loopback, raw IP, PPP,
// Cisco HDLC, 802.11 with or without radiotap), 802.1Q/802.1ad VLAN stacks, Cisco MetaData, FabricPath and Arista headers,
// MPLS label stacks, PPPoE sessions and PPP.
// Internal to src/decode/; included only by decoder.cpp.
#pragma once

#include "decode/cursor.hpp"

namespace seqwatch::decode::detail {

inline constexpr uint32_t kEtherHdr = 14;
inline constexpr uint32_t kVlanTag = 4;
inline constexpr uint32_t kSllHdr = 16;
inline constexpr uint32_t kSll2Hdr = 20;
inline constexpr uint32_t kNflogHdr = 4;
inline constexpr uint32_t kNflogTlvHdr = 4;
inline constexpr uint16_t kNflogPayload = 9;  // NFULA_PAYLOAD: the packet itself
inline constexpr uint32_t kLoopHdr = 4;
inline constexpr uint32_t kMplsLabel = 4;
inline constexpr uint32_t kPppoeHdr = 6;
// Cisco MetaData after its ethertype: version, length, option, SGT, next ethertype.
inline constexpr uint32_t kCmdHdr = 8;
// Cisco FabricPath after its ethertype: FTag/TTL, then the classical frame's MAC addresses
// and ethertype.
inline constexpr uint32_t kFabricPathHdr = 16;
// Arista vendor header after its ethertype: subtype, version, then (subtype 1) a timestamp
// of 8 (versions 0x10, 0x110) or 6 bytes (0x20, 0x120), then the ethertype.
inline constexpr uint16_t kAvspTimestamp = 1;
inline constexpr uint32_t kAvspHdr = 4;
inline constexpr uint32_t kCHdlcHdr = 4;  // address, control, ethertype
inline constexpr uint32_t kWlanHdr = 24;  // frame control, duration, 3 addresses, sequence control
inline constexpr uint32_t kSnapHdr = 8;   // LLC AA AA 03, OUI, ethertype
inline constexpr uint32_t kRadiotapHdr = 8;  // version, pad, length, first present word

SEQWATCH_DECODE_HOT Next ether(Cursor& c) noexcept {
  if (!c.have(kEtherHdr)) return c.fail(DecodeStatus::kTruncatedL2);
  c.ethertype = load_be16(c.at() + 12);
  c.off += kEtherHdr;
  return Next::kEthertype;
}

// Arista's vendor header (ethertype 0xD28B: switches that stamp mirrored frames with the
// time they were seen, tap aggregation): its length, or 0 for a subtype or version
// without a known layout (the frame is left as non-IP).
inline uint32_t avsp_length(const uint8_t* h) noexcept {
  if (load_be16(h) != kAvspTimestamp) return 0;
  switch (load_be16(h + 2)) {
    case 0x10:
    case 0x110: return kAvspHdr + 8 + 2;
    case 0x20:
    case 0x120: return kAvspHdr + 6 + 2;
    default: return 0;
  }
}

// Dispatches on c.ethertype; VLAN tags are consumed here (outer ones into v.vlan[],
// those of a tunnel's inner Ethernet frame into v.inner_vlan), and so are, once each, a
// Cisco MetaData (CMD) header (TrustSec's inline security-group tag, 8 bytes ending with
// the ethertype of what it tags: the layout Wireshark's packet-cisco-metadata.c reads), a
// Cisco FabricPath header (a frame captured on a FabricPath core link: the classical
// Ethernet frame follows whole, its VLAN tags are the frame's own) and an Arista
// timestamp header.
SEQWATCH_DECODE_HOT Next ethertype(Cursor& c) noexcept {
  PacketView& v = c.v;
  unsigned inner_tags = 0;
  bool cmd_seen = false, fabricpath_seen = false, avsp_seen = false;
  for (;;) {
    if (c.ethertype == kEthIpv4) {  // the common case, before the general dispatch below
      if (v.ip_count == 0) v.ethertype = kEthIpv4;
      return Next::kIpv4;
    }
    const uint16_t et = c.ethertype;
    if (et == kEthVlan || et == kEthQinQ || et == kEthQinQOld1 || et == kEthQinQOld2) {
      if (!c.have(kVlanTag)) return c.fail(DecodeStatus::kTruncatedVlan);
      const uint16_t vid = load_be16(c.at()) & 0x0FFF;
      if (c.inner_l2) {
        if (++inner_tags > kMaxVlan) return c.fail(DecodeStatus::kVlanTooDeep);
        v.inner_vlan = vid;
      } else {
        if (v.vlan_count == kMaxVlan) return c.fail(DecodeStatus::kVlanTooDeep);
        v.vlan[v.vlan_count++] = vid;
      }
      c.ethertype = load_be16(c.at() + 2);
      c.off += kVlanTag;
      continue;
    }
    if (et == kEthCmd && !cmd_seen) {
      if (!c.have(kCmdHdr)) return c.fail(DecodeStatus::kTruncatedL2);
      cmd_seen = true;  // a second one is not defined by anyone: left undecoded below
      c.ethertype = load_be16(c.at() + 6);
      c.off += kCmdHdr;
      continue;
    }
    if (et == kEthFabricPath && !fabricpath_seen && !c.inner_l2) {
      if (!c.have(kFabricPathHdr)) return c.fail(DecodeStatus::kTruncatedL2);
      fabricpath_seen = true;
      c.ethertype = load_be16(c.at() + kFabricPathHdr - 2);
      c.off += kFabricPathHdr;
      continue;
    }
    if (et == kEthAvsp && !avsp_seen) {
      if (!c.have(kAvspHdr)) return c.fail(DecodeStatus::kTruncatedL2);
      const uint32_t len = avsp_length(c.at());
      if (len == 0) {
        if (v.ip_count == 0) v.ethertype = et;
        return Next::kDone;
      }
      if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedL2);
      avsp_seen = true;
      c.ethertype = load_be16(c.at() + len - 2);
      c.off += len;
      continue;
    }
    switch (et) {
      case kEthIpv6:
        if (v.ip_count == 0) v.ethertype = c.ethertype;
        return Next::kIpv6;
      case kEthMpls:
      case kEthMplsMcast:
        if (v.ip_count == 0) v.ethertype = c.ethertype;
        return Next::kMpls;
      case kEthPppoeSession: {
        if (v.ip_count == 0) v.ethertype = c.ethertype;
        if (!c.have(kPppoeHdr)) return c.fail(DecodeStatus::kTruncatedPppoe);
        const uint8_t* h = c.at();
        if (h[0] != 0x11 || h[1] != 0x00) return c.fail(DecodeStatus::kBadPppoe);  // ver 1 type 1, session data
        const uint16_t len = load_be16(h + 4);
        c.off += kPppoeHdr;
        c.enclose(uint64_t{c.off} + len);  // the PPPoE length bounds the PPP frame
        return Next::kPpp;
      }
      default:
        if (v.ip_count == 0) v.ethertype = c.ethertype;
        return Next::kDone;  // not IP (ARP, LLDP, 802.3 length field, ...)
    }
  }
}

inline Next mpls(Cursor& c) noexcept {
  PacketView& v = c.v;
  for (unsigned i = 0;; ++i) {
    if (i == kMaxMpls) return c.fail(DecodeStatus::kMplsTooDeep);
    if (!c.have(kMplsLabel)) return c.fail(DecodeStatus::kTruncatedMpls);
    const uint32_t entry = load_be32(c.at());
    c.off += kMplsLabel;
    ++v.mpls_count;
    if (entry & 0x100) {  // bottom of stack
      v.mpls_label = entry >> 12;
      break;
    }
  }
  return Next::kIpAny;  // IP under MPLS is recognised by its version nibble
}

// PPP protocol field, with optional address/control bytes (FF 03) and protocol-field
// compression (a one-byte protocol has its low bit set).
inline Next ppp(Cursor& c) noexcept {
  if (c.have(1) && c.at()[0] == 0xFF) {  // address and control fields, 0xFF 0x03
    if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedPppoe);  // not a 1-byte protocol 0xFF
    if (c.at()[1] == 0x03) c.off += 2;
  }
  if (!c.have(1)) return c.fail(DecodeStatus::kTruncatedPppoe);
  uint16_t proto = c.at()[0];
  if (proto & 1) {
    c.off += 1;
  } else {
    if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedPppoe);
    proto = load_be16(c.at());
    c.off += 2;
  }
  if (proto == 0x0021) return Next::kIpv4;
  if (proto == 0x0057) return Next::kIpv6;
  if (proto == 0x0281 || proto == 0x0283) return Next::kMpls;  // MPLS unicast / multicast
  return Next::kDone;
}

// A link-type header of `len` bytes naming the next protocol by ethertype at `type_at`.
inline Next ethertype_header(Cursor& c, uint32_t len, uint32_t type_at) noexcept {
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedL2);
  c.ethertype = load_be16(c.at() + type_at);
  c.off += len;
  return Next::kEthertype;
}

// Cisco HDLC (link type 104): address (0x0F unicast, 0x8F broadcast), control, ethertype.
inline Next chdlc(Cursor& c) noexcept { return ethertype_header(c, kCHdlcHdr, 2); }

// IEEE 802.11 (link type 105): a data frame's MAC header (a fourth address between two
// access points, QoS control in QoS data, HT control when QoS data has the Order bit), then
// LLC/SNAP naming the ethertype, as Wireshark reads it. Management and control frames,
// data frames without a body (null), encrypted ones (Protected: no key here), fragments and
// A-MSDUs carry no packet seqwatch can read: decoded fine, not IP.
inline Next wlan(Cursor& c) noexcept {
  if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedL2);
  const uint8_t fc0 = c.at()[0], fc1 = c.at()[1];
  if ((fc0 & 0x03) != 0) return c.fail(DecodeStatus::kBadL2);  // protocol version 0 only
  if (((fc0 >> 2) & 0x03) != 2 || (fc0 & 0x40)) return Next::kDone;  // not data, or no body (null)
  const bool qos = fc0 & 0x80;
  uint32_t len = kWlanHdr + ((fc1 & 0x03) == 0x03 ? 6u : 0u) + (qos ? 2u : 0u) + (qos && (fc1 & 0x80) ? 4u : 0u);
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedL2);
  const uint8_t* h = c.at();
  const bool more_fragments = fc1 & 0x04, protected_frame = fc1 & 0x40;
  const bool fragment = (load_le16(h + 22) & 0x000F) != 0;
  const bool amsdu = qos && (h[len - (fc1 & 0x80 ? 6 : 2)] & 0x80);
  if (more_fragments || fragment || protected_frame || amsdu) return Next::kDone;
  c.off += len;
  if (!c.have(kSnapHdr)) return c.fail(DecodeStatus::kTruncatedL2);
  const uint8_t* s = c.at();
  // SNAP with the RFC 1042 OUI (00 00 00) or 802.1H's bridge-tunnel one (00 00 F8).
  if (s[0] != 0xAA || s[1] != 0xAA || s[2] != 0x03 || s[3] != 0 || s[4] != 0 || (s[5] != 0 && s[5] != 0xF8))
    return Next::kDone;
  c.ethertype = load_be16(s + 6);
  c.off += kSnapHdr;
  return Next::kEthertype;
}

// Radiotap (link type 127): version 0, a pad byte, the header's length (little-endian),
// present flags; the header is skipped whole and the 802.11 frame follows. A frame whose
// FCS the radio found bad is still decoded, as Wireshark does (its 4-byte FCS, when the
// radio kept it, lies past the IP packet's length, like an Ethernet trailer).
inline Next radiotap(Cursor& c) noexcept {
  if (!c.have(kRadiotapHdr)) return c.fail(DecodeStatus::kTruncatedL2);
  const uint8_t* h = c.at();
  const uint16_t len = load_le16(h + 2);
  if (h[0] != 0 || len < kRadiotapHdr) return c.fail(DecodeStatus::kBadL2);
  if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedL2);
  c.off += len;
  return wlan(c);
}

// Link types 9 (PPP) and 50 (PPP_SERIAL): PPP, with or without address/control; routers
// also write Cisco HDLC frames under them (address 0x0F / 0x8F: no PPP protocol in use
// starts with either byte, compressed or not), as Wireshark reads them.
inline Next ppp_link(Cursor& c) noexcept {
  if (!c.have(1)) return c.fail(DecodeStatus::kTruncatedL2);
  if (c.at()[0] == 0x0F || c.at()[0] == 0x8F) return chdlc(c);
  return ppp(c);
}

inline Next linux_sll(Cursor& c) noexcept { return ethertype_header(c, kSllHdr, 14); }

inline Next linux_sll2(Cursor& c) noexcept { return ethertype_header(c, kSll2Hdr, 0); }

// NFLOG: a 4-byte header then TLVs whose length/type are in the capturing host's byte
// order (little-endian on every platform that writes these files in practice), each
// padded to 4 bytes. The packet is in the NFULA_PAYLOAD TLV.
inline Next nflog(Cursor& c) noexcept {
  if (!c.have(kNflogHdr)) return c.fail(DecodeStatus::kTruncatedL2);
  c.off += kNflogHdr;
  while (c.have(kNflogTlvHdr)) {
    const uint16_t len = load_le16(c.at());
    const uint16_t type = load_le16(c.at() + 2);
    if (len < kNflogTlvHdr) return c.fail(DecodeStatus::kBadL2);
    if ((type & 0x7FFF) == kNflogPayload) {
      // The TLV holds the packet's first bytes, as many as the rule's copy range allowed:
      // its end is where the capture of the packet ends (like a snaplen), not a length
      // the packet must fit in. What follows it is TLV padding or other TLVs.
      const uint32_t value_len = len - kNflogTlvHdr;
      c.off += kNflogTlvHdr;
      if (value_len < c.limit - c.off) {
        c.limit = c.off + value_len;
        c.cap_end = c.limit;
      }
      return Next::kIpAny;
    }
    const uint32_t padded = (static_cast<uint32_t>(len) + 3u) & ~3u;
    if (!c.have(padded)) return c.fail(DecodeStatus::kTruncatedL2);
    c.off += padded;
  }
  return Next::kDone;  // no payload TLV: nothing to decode
}

// BSD loopback (host byte order) and OpenBSD loop (network byte order): 4-byte family.
inline Next loopback(Cursor& c, bool network_order) noexcept {
  if (!c.have(kLoopHdr)) return c.fail(DecodeStatus::kTruncatedL2);
  uint32_t family = network_order ? load_be32(c.at()) : load_le32(c.at());
  if (!network_order && family > 0xFFFF) family = load_be32(c.at());  // written on a big-endian host
  c.off += kLoopHdr;
  if (family == 2) return Next::kIpv4;
  if (family == 10 || family == 24 || family == 28 || family == 30) return Next::kIpv6;  // Linux, BSDs, macOS
  return Next::kDone;
}

}  // namespace seqwatch::decode::detail
