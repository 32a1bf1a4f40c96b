// IPv4 (with options and fragments) and IPv6 (with extension headers).
// Internal to src/decode/; included only by decoder.cpp.
//
// Each parser appends an IpLayer, narrows the cursor limit to the end of the IP packet
// (so trailing Ethernet padding is never parsed as payload), and returns Next::kUpper
// to dispatch on the upper-layer protocol, or kDone when there is nothing above it
// (a non-first fragment, or no next header).
#pragma once

#include "decode/cursor.hpp"

namespace seqwatch::decode::detail {

inline constexpr uint32_t kIpv4Hdr = 20;
inline constexpr uint32_t kIpv6Hdr = 40;
inline constexpr uint32_t kIpv6FragHdr = 8;

// IPv6 extension header numbers seqwatch walks through (RFC 8200 section 4, RFC 4302).
inline constexpr uint8_t kNhHopByHop = 0;
inline constexpr uint8_t kNhRouting = 43;
inline constexpr uint8_t kNhFragment = 44;
inline constexpr uint8_t kNhAh = 51;
inline constexpr uint8_t kNhDestOpts = 60;
inline constexpr uint8_t kNhMobility = 135;
inline constexpr uint8_t kNhHip = 139;
inline constexpr uint8_t kNhShim6 = 140;
inline constexpr uint8_t kIpv6OptJumbo = 0xC2;  // RFC 2675 jumbo payload option

// Opens a new IP layer at c.off; fails when the encapsulation is too deep.
inline IpLayer* push_ip(Cursor& c) noexcept {
  PacketView& v = c.v;
  if (v.ip_count == kMaxIpLayers) {
    c.fail(DecodeStatus::kTooManyLayers);
    return nullptr;
  }
  IpLayer& l = v.ip[v.ip_count++];
  l = IpLayer{};
  l.off = c.off;
  return &l;
}

// Ends the cursor's packet at the end of an IP packet `total` bytes long starting at
// `start` (64-bit: an IPv6 jumbo length near 2^32 must not wrap), flagging a packet cut by
// the capture (snaplen, NFLOG copy range). A packet claiming more than what carries it
// (PPPoE payload length, outer IP length, tunnel UDP length) is clipped to its carrier and
// flagged kFlagIpLenClipped: the two length fields contradict each other and the carrier,
// which a device had to honour to forward the frame, is the one to believe (as tshark
// does). `total` returns the length used.
SEQWATCH_DECODE_HOT void bound_ip(Cursor& c, IpLayer& l, uint32_t start, uint64_t& total) noexcept {
  uint64_t end = uint64_t{start} + total;
  if (end > c.bound) {
    end = c.bound;
    total = end - start;
    l.flags |= kIpLenClipped;
    c.v.flags |= kFlagIpLenClipped;
  }
  if (end > c.cap_end) {
    l.flags |= kIpTruncated;
    c.v.flags |= kFlagTruncated;
  } else if (c.v.ip_count == 1 && end < c.cap_end) {
    c.v.flags |= kFlagPadding;  // captured bytes after the outer IP packet (Ethernet padding)
  }
  c.enclose(end);
}

// An IPv4 header without options that is not a fragment (DF may be set).
SEQWATCH_DECODE_HOT bool ipv4_plain(const uint8_t* h) noexcept {
  return h[0] == 0x45 && (load_be16(h + 6) & 0x3FFF) == 0;
}

// The layer such a header at `off`, `total` bytes long and captured whole, records.
SEQWATCH_DECODE_HOT void ipv4_plain_layer(IpLayer& l, const uint8_t* h, uint32_t off, uint32_t total) noexcept {
  l.off = off;
  l.l4_off = off + kIpv4Hdr;
  l.l4_len = total - kIpv4Hdr;
  l.version = 4;
  l.proto = h[9];
  l.flags = 0;
  l.ttl = h[8];
}

// An IPv6 header with a payload length (not a jumbogram or TSO length 0) whose next header
// is no extension header the general parser walks (an upper layer, ESP or "no next header").
SEQWATCH_DECODE_HOT bool ipv6_plain(const uint8_t* h) noexcept {
  const uint8_t nh = h[6];
  return (h[0] >> 4) == 6 && load_be16(h + 4) != 0 && nh != kNhHopByHop && nh != kNhRouting &&
         nh != kNhFragment && nh != kNhAh && nh != kNhDestOpts && nh != kNhMobility && nh != kNhHip &&
         nh != kNhShim6;
}

// The layer such a header at `off`, captured whole, records.
SEQWATCH_DECODE_HOT void ipv6_plain_layer(IpLayer& l, const uint8_t* h, uint32_t off) noexcept {
  l.off = off;
  l.l4_off = off + kIpv6Hdr;
  l.l4_len = load_be16(h + 4);
  l.version = 6;
  l.proto = h[6];
  l.flags = 0;
  l.ttl = h[7];
}

SEQWATCH_DECODE_HOT Next ipv4(Cursor& c) noexcept {
  if (!c.have(kIpv4Hdr)) return c.fail(DecodeStatus::kTruncatedIp);
  const uint8_t* h = c.at();
  // Common case first: no options, not a fragment, the whole packet within the captured
  // bytes and its carrier. What the general path below records for such a packet, with
  // nothing to clip, flag as truncated or fail.
  {
    const uint32_t total = load_be16(h + 2);
    if (ipv4_plain(h) && total >= kIpv4Hdr && total <= c.limit - c.off && c.v.ip_count != kMaxIpLayers) {
      ipv4_plain_layer(c.v.ip[c.v.ip_count++], h, c.off, total);
      const uint32_t end = c.off + total;
      c.v.flags &= static_cast<uint16_t>(~kFlagFragment);  // only the innermost layer counts
      if (c.v.ip_count == 1 && end < c.cap_end) c.v.flags |= kFlagPadding;
      c.bound = end;  // end <= limit <= bound
      c.limit = end;
      c.off += kIpv4Hdr;
      return Next::kUpper;
    }
  }
  if ((h[0] >> 4) != 4) return c.fail(DecodeStatus::kBadIpVersion);
  const uint32_t ihl = (h[0] & 0x0Fu) * 4u;
  if (ihl < kIpv4Hdr) return c.fail(DecodeStatus::kBadIpHeaderLength);
  IpLayer* l = push_ip(c);
  if (l == nullptr) return Next::kDone;
  l->version = 4;
  l->proto = h[9];
  l->ttl = h[8];
  uint32_t total = load_be16(h + 2);
  if (total == 0) {
    // TSO / BIG TCP captured on the sending host: the length lives in the skb, not here.
    total = c.limit - c.off;
    c.v.flags |= kFlagIpLenFromFrame;
  }
  if (total < ihl) return c.fail(DecodeStatus::kBadIpTotalLength);
  if (!c.have(ihl)) return c.fail(DecodeStatus::kTruncatedIp);
  if (ihl > kIpv4Hdr) {
    l->flags |= kIpHasOptions;
    c.v.flags |= kFlagIpOptions;
  }
  const uint16_t frag = load_be16(h + 6);
  const bool more_fragments = frag & 0x2000;
  const uint16_t frag_offset = frag & 0x1FFF;
  if (more_fragments || frag_offset != 0) {
    l->flags |= kIpFragment;
    if (frag_offset == 0) l->flags |= kIpFirstFragment;
    c.v.flags |= kFlagFragment;
  } else {
    c.v.flags &= static_cast<uint16_t>(~kFlagFragment);  // only the innermost layer counts
  }
  uint64_t len = total;
  bound_ip(c, *l, c.off, len);
  if (len < ihl) return c.fail(DecodeStatus::kBadIpTotalLength);  // clipped into the header
  total = static_cast<uint32_t>(len);
  c.off += ihl;
  l->l4_off = c.off;
  l->l4_len = total - ihl;
  if (frag_offset != 0) return Next::kDone;  // no upper-layer header in this fragment
  return Next::kUpper;
}

// Reads the RFC 2675 jumbo payload length from a hop-by-hop header, 0 if absent.
inline uint32_t jumbo_length(const uint8_t* hbh, uint32_t len) noexcept {
  for (uint32_t i = 2; i + 2 <= len;) {
    const uint8_t type = hbh[i];
    if (type == 0) {  // Pad1
      ++i;
      continue;
    }
    const uint8_t olen = hbh[i + 1];
    if (type == kIpv6OptJumbo && olen == 4 && i + 6 <= len) return load_be32(hbh + i + 2);
    i += 2u + olen;
  }
  return 0;
}

SEQWATCH_DECODE_HOT Next ipv6(Cursor& c) noexcept {
  if (!c.have(kIpv6Hdr)) return c.fail(DecodeStatus::kTruncatedIp);
  const uint8_t* h = c.at();
  if ((h[0] >> 4) != 6) return c.fail(DecodeStatus::kBadIpVersion);
  IpLayer* l = push_ip(c);
  if (l == nullptr) return Next::kDone;
  l->version = 6;
  l->ttl = h[7];
  const uint32_t start = c.off;
  uint32_t payload = load_be16(h + 4);
  uint8_t nh = h[6];
  bool jumbo_or_unknown = payload == 0;
  if (jumbo_or_unknown) payload = c.limit - c.off - kIpv6Hdr;  // refined below if a jumbo option says so
  c.off += kIpv6Hdr;
  // Walk the extension headers within the captured bytes first: the jumbo option (if any)
  // decides the real length, so bounding happens after the walk.
  uint32_t ext_bytes = 0;
  bool fragment_rest = false;
  for (unsigned n = 0;; ++n) {
    uint32_t len;
    if (nh == kNhHopByHop || nh == kNhRouting || nh == kNhDestOpts || nh == kNhMobility ||
        nh == kNhHip || nh == kNhShim6) {
      if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedIpv6Ext);
      len = (c.at()[1] + 1u) * 8u;
    } else if (nh == kNhFragment) {
      len = kIpv6FragHdr;
    } else if (nh == kNhAh) {
      if (!c.have(2)) return c.fail(DecodeStatus::kTruncatedIpv6Ext);
      len = (c.at()[1] + 2u) * 4u;
    } else {
      break;  // upper-layer protocol (or ESP / no next header)
    }
    if (n == kMaxIpv6Ext) return c.fail(DecodeStatus::kIpv6ExtTooDeep);
    if (!c.have(len)) return c.fail(DecodeStatus::kTruncatedIpv6Ext);
    const uint8_t* e = c.at();
    if (nh == kNhHopByHop && jumbo_or_unknown) {
      const uint32_t j = jumbo_length(e, len);
      if (j != 0) {
        payload = j;
        jumbo_or_unknown = false;
      }
    }
    if (nh == kNhFragment) {
      const uint16_t fo = load_be16(e + 2);
      // Offset 0 without "more fragments" is an atomic fragment (RFC 6946: a translator
      // or a host told to add the header): the whole packet, processed as if unfragmented.
      if ((fo & 0xFFF9) != 0) {
        l->flags |= kIpFragment;
        if ((fo & 0xFFF8) == 0) l->flags |= kIpFirstFragment;
        else fragment_rest = true;
      }
    }
    l->flags |= kIpHasOptions;
    nh = e[0];
    c.off += len;
    ext_bytes += len;
    // After a non-first fragment's header comes fragment data: the headers its next-header
    // field names are in the first fragment only (RFC 8200 section 4.5).
    if (fragment_rest) break;
  }
  if (jumbo_or_unknown) c.v.flags |= kFlagIpLenFromFrame;
  if (ext_bytes > payload) return c.fail(DecodeStatus::kBadIpv6Ext);
  if (l->flags & kIpFragment) c.v.flags |= kFlagFragment;
  else c.v.flags &= static_cast<uint16_t>(~kFlagFragment);
  uint64_t len = uint64_t{kIpv6Hdr} + payload;
  bound_ip(c, *l, start, len);
  if (len < uint64_t{kIpv6Hdr} + ext_bytes) return c.fail(DecodeStatus::kBadIpTotalLength);
  payload = static_cast<uint32_t>(len - kIpv6Hdr);
  l->proto = nh;
  l->l4_off = c.off;
  l->l4_len = payload - ext_bytes;
  if (fragment_rest) return Next::kDone;
  return Next::kUpper;
}

}  // namespace seqwatch::decode::detail
