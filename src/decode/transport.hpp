// TCP (header and the options that matter for sequence analysis) and UDP.
// Internal to src/decode/; included only by decoder.cpp.
#pragma once

#include "decode/cursor.hpp"

namespace seqwatch::decode::detail {

inline constexpr uint32_t kTcpHdr = 20;
inline constexpr uint32_t kUdpHdr = 8;

// TCP option kinds (IANA "TCP Option Kind Numbers").
inline constexpr uint8_t kOptKindEol = 0;
inline constexpr uint8_t kOptKindNop = 1;
inline constexpr uint8_t kOptKindMss = 2;
inline constexpr uint8_t kOptKindWscale = 3;
inline constexpr uint8_t kOptKindSackPerm = 4;
inline constexpr uint8_t kOptKindSack = 5;
inline constexpr uint8_t kOptKindTimestamp = 8;
inline constexpr uint8_t kOptKindMptcp = 30;
inline constexpr uint8_t kOptKindTfo = 34;

// Parses the options in [o, o + len), of which the first `avail` bytes were captured
// (avail < len when a snaplen cut the header). A length byte < 2 or running past the
// header ends the walk and flags the packet (the fixed header stays valid); an option
// running past the captured bytes ends the walk quietly: the options before it were
// captured whole and count (a SYN cut inside its options still gives its MSS). A known
// option with an unexpected length is ignored, as RFC 9293 section 3.1 asks receivers to do.
SEQWATCH_DECODE_HOT void tcp_options(const uint8_t* o, uint32_t len, uint32_t avail, TcpInfo& t, PacketView& v) noexcept {
  uint32_t i = 0;
  // Linux, the BSDs and Windows start the options of every established-state segment with
  // NOP NOP TS (RFC 7323 appendix A): one compare decodes what the walk below would.
  if (avail >= 12 && load_be32(o) == 0x0101080Au) {
    t.tsval = load_be32(o + 4);
    t.tsecr = load_be32(o + 8);
    t.opts |= kOptTimestamp;
    i = 12;
  }
  while (i < avail) {
    const uint8_t kind = o[i];
    if (kind == kOptKindEol) break;
    if (kind == kOptKindNop) {
      ++i;
      continue;
    }
    if (i + 1 >= len) {  // no room for a length byte in the header
      v.flags |= kFlagTcpOptBad;
      break;
    }
    if (i + 1 >= avail) break;  // the length byte was cut
    if (o[i + 1] < 2 || i + o[i + 1] > len) {
      v.flags |= kFlagTcpOptBad;
      break;
    }
    if (i + o[i + 1] > avail) break;  // cut inside this option
    const uint8_t olen = o[i + 1];
    const uint8_t* val = o + i + 2;
    switch (kind) {
      case kOptKindMss:
        if (olen == 4) {
          t.mss = load_be16(val);
          t.opts |= kOptMss;
        }
        break;
      case kOptKindWscale:
        if (olen == 3) {
          t.wscale = val[0];
          t.opts |= kOptWscale;
        }
        break;
      case kOptKindSackPerm:
        if (olen == 2) t.opts |= kOptSackPerm;
        break;
      case kOptKindSack:
        if (olen >= 10 && (olen - 2) % 8 == 0) {
          const unsigned n = (olen - 2u) / 8u;
          t.sack_count = static_cast<uint8_t>(n < kMaxSackBlocks ? n : kMaxSackBlocks);
          for (unsigned b = 0; b < t.sack_count; ++b) {
            t.sack[b].left = load_be32(val + 8 * b);
            t.sack[b].right = load_be32(val + 8 * b + 4);
          }
          t.opts |= kOptSack;
        }
        break;
      case kOptKindTimestamp:
        if (olen == 10) {
          t.tsval = load_be32(val);
          t.tsecr = load_be32(val + 4);
          t.opts |= kOptTimestamp;
        }
        break;
      case kOptKindMptcp:
        t.opts |= kOptMptcp;
        break;
      case kOptKindTfo:
        t.opts |= kOptTfo;
        break;
      default:
        break;
    }
    i += olen;
  }
}

// The fixed 20-byte header at `h`; every TcpInfo field but the SACK blocks (sack_count
// says how many of those are valid) is written, options and payload length zeroed.
SEQWATCH_DECODE_HOT void tcp_fixed(const uint8_t* h, TcpInfo& t) noexcept {
  t.seq = load_be32(h + 4);
  t.ack = load_be32(h + 8);
  t.payload_len = 0;
  t.tsval = 0;
  t.tsecr = 0;
  t.sport = load_be16(h);
  t.dport = load_be16(h + 2);
  t.window = load_be16(h + 14);
  t.mss = 0;
  t.urgent = load_be16(h + 18);
  t.checksum = load_be16(h + 16);
  t.hdr_len = static_cast<uint8_t>((h[12] >> 4) * 4u);
  t.flags = h[13];
  t.ae = h[12] & 0x01;
  t.opts = 0;
  t.wscale = 0;
  t.sack_count = 0;
}

// The IPv4 identification that tells one transmission from another (the copy check,
// docs/tcp-analysis.md section 16): the carrying header's; for IPv6 inside an IPv4 tunnel
// the innermost IPv4 header's (every encapsulated packet gets its own); 0 when there is none.
inline uint16_t identity_ip_id(const Cursor& c, const IpLayer& l) noexcept {
  if (l.version == 4) return load_be16(c.p + l.off + 4);
  for (unsigned i = c.v.ip_count; i-- > 0;)
    if (c.v.ip[i].version == 4) return load_be16(c.p + c.v.ip[i].off + 4);
  return 0;
}

// `l` is the IP layer carrying the segment; its l4_len is the segment length per the
// IP header, which gives the payload length even when the capture was cut.
SEQWATCH_DECODE_HOT Next tcp(Cursor& c, const IpLayer& l) noexcept {
  PacketView& v = c.v;
  if (!c.have(kTcpHdr)) return c.fail(DecodeStatus::kTruncatedTcp);
  const uint8_t* h = c.at();
  TcpInfo& t = v.tcp;
  tcp_fixed(h, t);
  t.ip_id = identity_ip_id(c, l);
  v.l4 = L4Type::kTcp;
  v.l4_off = c.off;
  if (t.hdr_len < kTcpHdr || t.hdr_len > l.l4_len) return c.fail(DecodeStatus::kBadTcpHeaderLength);
  t.payload_len = l.l4_len - t.hdr_len;
  if (!c.have(t.hdr_len)) {
    // Fixed header fits, the options were cut: keep those captured whole.
    v.flags |= kFlagTruncated | kFlagTcpOptsCut;
    tcp_options(h + kTcpHdr, t.hdr_len - kTcpHdr, c.limit - c.off - kTcpHdr, t, v);
    return Next::kDone;
  }
  if (t.hdr_len > kTcpHdr) tcp_options(h + kTcpHdr, t.hdr_len - kTcpHdr, t.hdr_len - kTcpHdr, t, v);
  return Next::kDone;
}

// The payload of a first IP fragment (offset 0, more to come) is the start of a longer
// packet: a tunnel header in it is followed (as Wireshark does without reassembly), and
// the packet it carries ends where the fragment's bytes end, cut short as by a snaplen
// (flagged truncated, lengths taken from its headers), not malformed. `end`: where the
// enclosing length field (UDP) says the whole datagram ends; kNoBound when none does.
inline void fragment_payload(Cursor& c, uint64_t end) noexcept {
  c.cap_end = c.limit;
  c.bound = end;
}

// Returns true when the UDP header was valid and the payload may be a tunnel.
inline bool udp(Cursor& c, const IpLayer& l) noexcept {
  PacketView& v = c.v;
  if (!c.have(kUdpHdr)) {
    c.fail(DecodeStatus::kTruncatedUdp);
    return false;
  }
  const uint8_t* h = c.at();
  v.l4 = L4Type::kUdp;
  v.l4_off = c.off;
  v.udp.sport = load_be16(h);
  v.udp.dport = load_be16(h + 2);
  v.udp.length = load_be16(h + 4);
  uint32_t len = v.udp.length;
  if (len == 0 && l.version == 6) len = l.l4_len;  // RFC 2675 jumbogram
  // A first fragment holds the start of a longer datagram: its UDP length counts the bytes
  // of the later fragments too.
  const bool fragment = l.flags & kIpFragment;
  if (len < kUdpHdr || (len > l.l4_len && !fragment)) {
    c.fail(DecodeStatus::kBadUdpLength);
    return false;
  }
  c.off += kUdpHdr;
  if (fragment) fragment_payload(c, uint64_t{v.l4_off} + len);
  else c.enclose(uint64_t{v.l4_off} + len);  // a tunnel inside ends with the UDP datagram
  return true;
}

}  // namespace seqwatch::decode::detail
