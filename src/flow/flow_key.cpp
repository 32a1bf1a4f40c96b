#include "flow/flow_key.hpp"

#include <nmmintrin.h>

#include <bit>
#include <cstddef>

namespace seqwatch::flow {

namespace {

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

}  // namespace

bool make_key(const decode::PacketView& v, FlowKey& key, Dir& dir, bool use_vlans, uint64_t* hash) noexcept {
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
  if (hash != nullptr) *hash = hash_words(w);
  return true;
}

uint64_t hash_key(const FlowKey& key) noexcept {
  uint64_t w[sizeof key / 8];
  static_assert(sizeof key == sizeof w);
  std::memcpy(w, &key, sizeof key);
  return hash_words(w);
}

uint64_t address_pair_hash(const decode::PacketView& v, unsigned layer) noexcept {
  if (layer >= v.ip_count) return 0;
  const decode::IpLayer& ip = v.ip[layer];
  const uint32_t alen = ip.version == 6 ? 16 : 4;
  const uint32_t src_off = ip.off + (ip.version == 6 ? 8 : 12);
  if (src_off + 2 * alen > v.caplen) return 0;
  uint64_t a = 0, b = 0;
  for (uint32_t k = 0; k < alen; ++k) {
    a = a * 131 + v.frame[src_off + k];
    b = b * 131 + v.frame[src_off + alen + k];
  }
  return ((a ^ b) + 1) * 0x9E3779B97F4A7C15ull;  // xor: symmetric in (src, dst)
}

uint64_t spread_hash(const decode::PacketView& v, bool use_vlans) noexcept {
  FlowKey key;
  Dir dir;
  uint64_t h;
  if (v.status == decode::DecodeStatus::kOk && make_key(v, key, dir, use_vlans, &h)) return h;
  return v.ip_count != 0 ? address_pair_hash(v, v.ip_count - 1u) : 0;
}

}  // namespace seqwatch::flow
