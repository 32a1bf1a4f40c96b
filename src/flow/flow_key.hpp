// Symmetric flow keys: both directions of a connection produce the same key.
//
// The key is the innermost IP 5-tuple in canonical order (the lower (address, port)
// endpoint first) plus a 64-bit context that keeps overlapping address spaces apart:
// the outer VLAN stack (first and last tag), the VLAN of a tunnel's inner Ethernet frame,
// and, for a keyed outermost tunnel, its type and 23 bits of its key (GRE key, VNI,
// ERSPAN session); GTP-U (TEIDs differ per direction) and keyless tunnels add nothing (one address space). Wireshark
// leaves VLANs out of its conversation key; seqwatch keeps them (docs/flow-table.md).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <nmmintrin.h>
#include <smmintrin.h>  // SSE4.1 (x86-64-v2, the build's baseline)

#include "decode/packet_view.hpp"

namespace seqwatch::flow {

struct FlowKey {
  std::array<uint8_t, 16> addr_a{};  // IPv4 uses the first 4 bytes, the rest stay 0
  std::array<uint8_t, 16> addr_b{};
  uint64_t context = 0;
  uint16_t port_a = 0;
  uint16_t port_b = 0;
  uint8_t family = 0;  // 4 or 6
  uint8_t proto = 0;   // IP protocol (6 = TCP)
  uint16_t reserved = 0;

  // 48 bytes compared inline as three 16-byte vectors (no libc memcmp call on the lookup
  // path); the struct has no padding, so the bytes are exactly the fields.
  bool operator==(const FlowKey& o) const noexcept {
    const auto* a = reinterpret_cast<const __m128i*>(this);
    const auto* b = reinterpret_cast<const __m128i*>(&o);
    const __m128i d = _mm_or_si128(_mm_or_si128(_mm_xor_si128(_mm_loadu_si128(a), _mm_loadu_si128(b)),
                                                _mm_xor_si128(_mm_loadu_si128(a + 1), _mm_loadu_si128(b + 1))),
                                   _mm_xor_si128(_mm_loadu_si128(a + 2), _mm_loadu_si128(b + 2)));
    return _mm_testz_si128(d, d) != 0;
  }
};
static_assert(sizeof(FlowKey) == 48, "FlowKey is part of the flow entry's first cache line");
static_assert(std::has_unique_object_representations_v<FlowKey>, "FlowKey == compares raw words: no padding");

// Which side of the canonical key a packet travels from: kAtoB when its source is
// endpoint a.
enum class Dir : uint8_t { kAtoB = 0, kBtoA = 1 };

namespace detail {
// hash_key() over the key's six 8-byte words in order. Two CRC32C lanes. CRC is affine in
// its start value: two lanes over the same words differing only in the seed differ by a
// constant (hi == lo ^ C), i.e. 32 bits of hash, not 64. The high lane therefore reads the
// six words in reverse order, a different linear map of the key: the signature (high 32
// bits) then tells apart keys that share a bucket (low bits), and 64-bit collisions are as
// rare as 64 bits make them.
inline uint64_t hash_words(const uint64_t (&w)[6]) noexcept {
  uint64_t lo = 0x9E3779B9u, hi = 0x85EBCA6Bu;
  for (size_t i = 0; i < 6; ++i) {
    lo = _mm_crc32_u64(lo, w[i]);
    hi = _mm_crc32_u64(hi, w[5 - i]);
  }
  return (hi << 32) | static_cast<uint32_t>(lo);
}

}  // namespace detail

// Builds the key of a decoded TCP/UDP packet. Returns false when the view has no IP
// layer or no ports (the caller counts it). With use_vlans false, VLAN tags are left out
// of the key: for SPAN ports that tag one direction and not the other (asymmetric
// tagging), which would otherwise split every connection into two one-way flows.
// With `hash` given, *hash = hash_key(key), computed from the words as they are made (no
// reading back of the key just written). Inline (it runs for every packet, in the TCP
// stage's first pass over a burst): out of line it cost ~32 instructions a packet in calls,
// saved registers and the key's arguments (docs/performance.md).
inline bool make_key(const decode::PacketView& v, FlowKey& key, Dir& dir, bool use_vlans = true,
                     uint64_t* hash = nullptr) noexcept {
  if (v.ip_count == 0) return false;
  uint16_t sport, dport;
  if (v.l4 == decode::L4Type::kTcp) {
    sport = v.tcp.sport;
    dport = v.tcp.dport;
  } else if (v.l4 == decode::L4Type::kUdp) {
    sport = v.udp.sport;
    dport = v.udp.dport;
  } else {
    return false;
  }
  const decode::IpLayer& ip = v.inner_ip();
  const auto src = v.src_addr(ip), dst = v.dst_addr(ip);
  // Fixed-size copies and compares per family (4 or 16 bytes): inlined loads instead of
  // libc memcmp/memcpy calls with a run-time length. The order is the same as a memcmp
  // of the address bytes (big-endian compare), so the canonical key is unchanged.
  int c;
  if (src.size() == 4) {
    uint32_t s4, d4;
    std::memcpy(&s4, src.data(), 4);
    std::memcpy(&d4, dst.data(), 4);
    s4 = __builtin_bswap32(s4);
    d4 = __builtin_bswap32(d4);
    c = s4 < d4 ? -1 : (s4 > d4 ? 1 : 0);
  } else {
    // Two big-endian 64-bit halves: memcmp's order without the libc call (and the register
    // spills around it).
    uint64_t s_hi, s_lo, d_hi, d_lo;
    std::memcpy(&s_hi, src.data(), 8);
    std::memcpy(&s_lo, src.data() + 8, 8);
    std::memcpy(&d_hi, dst.data(), 8);
    std::memcpy(&d_lo, dst.data() + 8, 8);
    s_hi = __builtin_bswap64(s_hi);
    s_lo = __builtin_bswap64(s_lo);
    d_hi = __builtin_bswap64(d_hi);
    d_lo = __builtin_bswap64(d_lo);
    if (s_hi != d_hi) c = s_hi < d_hi ? -1 : 1;
    else c = s_lo < d_lo ? -1 : (s_lo > d_lo ? 1 : 0);
  }
  const bool src_first = c < 0 || (c == 0 && sport <= dport);
  const uint8_t* a = src_first ? src.data() : dst.data();
  const uint8_t* b = src_first ? dst.data() : src.data();
  // The key's six 8-byte words are made in registers, hashed from there (`hash`) and
  // stored once: hashing a key written field by field over a zeroed struct read it back
  // with loads that span several narrower stores still in flight, which the CPU cannot
  // forward from them (worth ~1 ns per packet in bench_tcp).
  uint64_t a0 = 0, a1 = 0, b0 = 0, b1 = 0;
  if (src.size() == 4) {
    uint32_t a4, b4;
    std::memcpy(&a4, a, 4);
    std::memcpy(&b4, b, 4);
    a0 = a4;
    b0 = b4;
  } else {
    std::memcpy(&a0, a, 8);
    std::memcpy(&a1, a + 8, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&b1, b + 8, 8);
  }
  const uint16_t port_a = src_first ? sport : dport;
  const uint16_t port_b = src_first ? dport : sport;
  dir = src_first ? Dir::kAtoB : Dir::kBtoA;
  // port_a, port_b, family, proto, reserved: their bytes in FlowKey's order (little-endian).
  static_assert(offsetof(FlowKey, port_a) == 40 && offsetof(FlowKey, port_b) == 42 && offsetof(FlowKey, family) == 44 &&
                offsetof(FlowKey, proto) == 45 && offsetof(FlowKey, context) == 32 && offsetof(FlowKey, addr_b) == 16);
  static_assert(std::endian::native == std::endian::little);
  const uint64_t tail = uint64_t{port_a} | uint64_t{port_b} << 16 | uint64_t{ip.version} << 32 | uint64_t{ip.proto} << 40;
  uint64_t ctx = 0;
  if (use_vlans) {
    if (v.vlan_count != 0) [[unlikely]] {
      // VLAN id 0 is no VLAN: an 802.1Q tag that carries only a priority (802.1p; IP
      // phones, Windows QoS, often on one direction only). Such tags are left out, so a
      // priority-tagged direction stays with its untagged peer.
      uint64_t first = 0, last = 0;
      bool tagged = false;
      for (unsigned i = 0; i < v.vlan_count; ++i) {
        if (v.vlan[i] == 0) continue;
        if (!tagged) first = v.vlan[i];
        last = v.vlan[i];
        tagged = true;
      }
      // Bit 63 tells "untagged" from a stack whose ids are all 0 beyond the first and last.
      ctx |= first | (last << 12) | (static_cast<uint64_t>(tagged) << 63);
    }
    ctx |= static_cast<uint64_t>(v.inner_vlan) << 24;
  }
  // Keyed tunnels (VXLAN/Geneve VNI, GRE key, ERSPAN session) name an address space:
  // their identity is part of the key. Keyless ones (IP-in-IP, plain GRE, Teredo) do not:
  // a connection whose packets take the tunnel and a direct path alike stays one flow
  // (zeek's tunnel-direct-bypass.pcap). GTP-U TEIDs are chosen by each receiving end, so
  // the two directions of one connection carry different TEIDs: not part of the key.
  if (v.tunnel_count != 0 && v.tunnel[0].has_key && v.tunnel[0].type != decode::TunnelType::kGtpU) {
    ctx |= static_cast<uint64_t>(v.tunnel[0].type) << 36;
    ctx |= static_cast<uint64_t>(v.tunnel[0].key & 0x7FFFFF) << 40;
  }
  const uint64_t w[6] = {a0, a1, b0, b1, ctx, tail};
  static_assert(sizeof w == sizeof key);
  std::memcpy(&key, w, sizeof w);
  if (hash != nullptr) *hash = detail::hash_words(w);
  return true;
}



// 64-bit hash of a key (CRC32C of the key words, two lanes).
uint64_t hash_key(const FlowKey& key) noexcept;

// Symmetric 64-bit hash of the source/destination addresses of IP layer `layer` (0 =
// outermost): what a NIC's RSS sees of a tunnel (GRE, IPIP carry no ports). 0 when the
// view has no such layer or its addresses were not captured.
uint64_t address_pair_hash(const decode::PacketView& v, unsigned layer) noexcept;

// The symmetric hash packets are spread over workers by (the software rehash stage, the
// replay port's queues): the flow key's hash, or without ports (fragments, ICMP, errors
// above IP) the innermost address pair; 0 without an IP layer.
uint64_t spread_hash(const decode::PacketView& v, bool use_vlans) noexcept;

// The index in [0, n) a spread hash lands on. The flow table indexes buckets with the low
// bits and signatures with the high 32; bits 32..63 scaled to n keep the choice
// independent of both.
inline uint32_t spread_index(uint64_t h, uint32_t n) noexcept { return static_cast<uint32_t>(((h >> 32) * n) >> 32); }

}  // namespace seqwatch::flow
