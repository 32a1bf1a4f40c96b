// Shared helpers for the decoder unit tests: decode a frame from an exactly-sized heap
// copy (so AddressSanitizer sees any read past caplen) and check the invariants every
// PacketView must satisfy whatever the input.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "decode/packet_view.hpp"
#include "support/frame_builder.hpp"

namespace seqwatch::test {

using decode::DecodeStatus;
using decode::LinkType;
using decode::PacketView;

// Every link type decode() supports, for tests that try a frame under each of them.
inline constexpr std::array<LinkType, 9> kAllLinkTypes{
    LinkType::kNull,  LinkType::kEthernet, LinkType::kRaw,   LinkType::kLoop,      LinkType::kLinuxSll,
    LinkType::kIpv4,  LinkType::kIpv6,     LinkType::kNflog, LinkType::kLinuxSll2,
};

// Returns "" when `v` (decoded from buf[0..len)) satisfies the invariants any input must
// give, or a description of the first one violated. These hold for arbitrary bytes.
inline std::string invariant_violation(const PacketView& v, const uint8_t* buf, uint32_t len) {
  using namespace decode;
  auto fail = [](const std::string& what) { return what; };
  if (v.frame != buf || v.caplen != len) return fail("view.frame/caplen do not describe the input");
  if (v.status >= DecodeStatus::kCount) return fail("status >= kCount");
  if (v.ip_count > kMaxIpLayers) return fail("ip_count > kMaxIpLayers");
  if (v.tunnel_count > v.ip_count) return fail("tunnel_count > ip_count");
  if (v.vlan_count > kMaxVlan) return fail("vlan_count > kMaxVlan");
  if (v.ip_count > 0 && v.tunnel_count + 1u < v.ip_count) return fail("an inner IP layer without a tunnel before it");
  for (unsigned i = 0; i < v.ip_count; ++i) {
    const IpLayer& l = v.ip[i];
    if (l.version != 4 && l.version != 6) return fail("ip[" + std::to_string(i) + "].version not 4 or 6");
    const uint32_t hdr = l.version == 4 ? 20 : 40;
    if (l.off > len || len - l.off < hdr) return fail("ip[" + std::to_string(i) + "] fixed header beyond caplen");
    if (l.l4_off > len) return fail("ip[" + std::to_string(i) + "].l4_off beyond caplen");
    const auto src = v.src_addr(l);
    const auto dst = v.dst_addr(l);
    if (src.data() < buf || src.data() + src.size() > buf + len) return fail("src_addr beyond caplen");
    if (dst.data() < buf || dst.data() + dst.size() > buf + len) return fail("dst_addr beyond caplen");
    if (i > 0 && l.off <= v.ip[i - 1].off) return fail("ip layers not in frame order");
  }
  for (unsigned i = 0; i < v.tunnel_count; ++i) {
    const TunnelLayer& t = v.tunnel[i];
    if (t.off > len) return fail("tunnel[" + std::to_string(i) + "].off beyond caplen");
    if (t.type == TunnelType::kNone || t.type >= TunnelType::kCount) return fail("tunnel type out of range");
    if (t.outer_ip != i) return fail("tunnel[i].outer_ip != i");
    if (t.off <= v.ip[i].off) return fail("tunnel[i] not after ip[i]");
    if (i + 1 < v.ip_count && t.off > v.ip[i + 1].off) return fail("tunnel[i] after ip[i+1]");
  }
  if (v.l4_off > len) return fail("l4_off beyond caplen");
  if (v.l4 == L4Type::kTcp) {
    if (v.ip_count == 0) return fail("TCP without IP");
    if (len - v.l4_off < 20) return fail("TCP fixed header beyond caplen");
    if (v.status == DecodeStatus::kOk) {
      if (v.tcp.hdr_len < 20 || v.tcp.hdr_len > 60 || v.tcp.hdr_len % 4 != 0) return fail("tcp.hdr_len out of 20..60");
      if (!(v.flags & kFlagTcpOptsCut) && len - v.l4_off < v.tcp.hdr_len) return fail("TCP options beyond caplen without kFlagTcpOptsCut");
      if (v.tcp.sack_count > kMaxSackBlocks) return fail("sack_count > kMaxSackBlocks");
    }
  }
  if (v.l4 == L4Type::kUdp) {
    if (v.ip_count == 0) return fail("UDP without IP");
    if (len - v.l4_off < 8) return fail("UDP header beyond caplen");
  }
  return "";
}

// A decoded frame together with the exactly-sized buffer its view points into.
struct Decoded {
  std::unique_ptr<uint8_t[]> buf;
  uint32_t len = 0;
  PacketView v;
  DecodeStatus status = DecodeStatus::kOk;
};

// Decodes the first `caplen` bytes of `f` (all of it by default) from a heap copy of
// exactly that size, and checks the view's invariants.
inline Decoded decode_frame(const Bytes& f, LinkType link, size_t caplen = SIZE_MAX) {
  Decoded d;
  d.len = static_cast<uint32_t>(std::min(caplen, f.size()));
  d.buf.reset(new uint8_t[d.len]);
  if (d.len != 0) std::memcpy(d.buf.get(), f.data(), d.len);
  d.status = decode::decode(d.buf.get(), d.len, link, d.v);
  EXPECT_EQ(d.status, d.v.status);
  const std::string bad = invariant_violation(d.v, d.buf.get(), d.len);
  EXPECT_EQ(bad, "") << "link " << decode::link_type_name(link) << ", caplen " << d.len;
  return d;
}

inline Bytes bytes_of(std::span<const uint8_t> s) { return Bytes(s.begin(), s.end()); }
template <size_t N>
inline Bytes bytes_of(const std::array<uint8_t, N>& a) {
  return Bytes(a.begin(), a.end());
}

// The first view field that carries meaning and differs between two views ("" when none):
// a fresh and a reused view, or the straight-line and the general decode path.
inline std::string view_difference(const PacketView& a, const PacketView& b) {
  if (a.status != b.status) return "status";
  if (a.l4 != b.l4 || a.flags != b.flags || a.ethertype != b.ethertype) return "l4/flags/ethertype";
  if (a.vlan_count != b.vlan_count || a.mpls_count != b.mpls_count || a.ip_count != b.ip_count ||
      a.tunnel_count != b.tunnel_count || a.inner_vlan != b.inner_vlan || a.mpls_label != b.mpls_label ||
      a.l4_off != b.l4_off)
    return "counts/offsets";
  for (unsigned i = 0; i < a.vlan_count; ++i) {
    if (a.vlan[i] != b.vlan[i]) return "vlan";
  }
  for (unsigned i = 0; i < a.ip_count; ++i) {
    const auto& x = a.ip[i];
    const auto& y = b.ip[i];
    if (x.off != y.off || x.l4_off != y.l4_off || x.l4_len != y.l4_len || x.version != y.version ||
        x.proto != y.proto || x.flags != y.flags || x.ttl != y.ttl)
      return "ip[" + std::to_string(i) + "]";
  }
  for (unsigned i = 0; i < a.tunnel_count; ++i) {
    const auto& x = a.tunnel[i];
    const auto& y = b.tunnel[i];
    if (x.type != y.type || x.off != y.off || x.has_key != y.has_key || x.has_seq != y.has_seq ||
        (x.has_key && x.key != y.key) || (x.has_seq && x.seq != y.seq))
      return "tunnel[" + std::to_string(i) + "]";
  }
  if (a.l4 == decode::L4Type::kTcp) {
    const auto& x = a.tcp;
    const auto& y = b.tcp;
    if (x.seq != y.seq || x.ack != y.ack || x.payload_len != y.payload_len || x.sport != y.sport ||
        x.dport != y.dport || x.window != y.window || x.hdr_len != y.hdr_len || x.flags != y.flags || x.ae != y.ae ||
        x.opts != y.opts || x.sack_count != y.sack_count || x.urgent != y.urgent || x.checksum != y.checksum ||
        x.ip_id != y.ip_id)
      return "tcp";
    if ((x.opts & decode::kOptMss) && x.mss != y.mss) return "tcp.mss";
    if ((x.opts & decode::kOptWscale) && x.wscale != y.wscale) return "tcp.wscale";
    if ((x.opts & decode::kOptTimestamp) && (x.tsval != y.tsval || x.tsecr != y.tsecr)) return "tcp.ts";
    for (unsigned i = 0; i < x.sack_count && i < decode::kMaxSackBlocks; ++i) {
      if (x.sack[i].left != y.sack[i].left || x.sack[i].right != y.sack[i].right) return "tcp.sack";
    }
  }
  if (a.l4 == decode::L4Type::kUdp &&
      (a.udp.sport != b.udp.sport || a.udp.dport != b.udp.dport || a.udp.length != b.udp.length))
    return "udp";
  return "";
}

}  // namespace seqwatch::test

namespace seqwatch::decode {
// Readable names in gtest failure messages.
inline void PrintTo(DecodeStatus s, std::ostream* os) { *os << decode_status_name(s); }
inline void PrintTo(TunnelType t, std::ostream* os) { *os << tunnel_type_name(t); }
inline void PrintTo(L4Type t, std::ostream* os) {
  static constexpr const char* kNames[] = {"none", "tcp", "udp", "icmp", "icmpv6", "other"};
  const auto i = static_cast<unsigned>(t);
  *os << (i < 6 ? kNames[i] : "?");
}
}  // namespace seqwatch::decode
