#include "flow/flow_key.hpp"

#include <nmmintrin.h>

namespace seqwatch::flow {

bool make_key(const decode::PacketView& v, FlowKey& key, Dir& dir, bool use_vlans) noexcept {
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
  key = FlowKey{};
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
    c = std::memcmp(src.data(), dst.data(), 16);
  }
  const bool src_first = c < 0 || (c == 0 && sport <= dport);
  const uint8_t* a = src_first ? src.data() : dst.data();
  const uint8_t* b = src_first ? dst.data() : src.data();
  if (src.size() == 4) {
    std::memcpy(key.addr_a.data(), a, 4);
    std::memcpy(key.addr_b.data(), b, 4);
  } else {
    std::memcpy(key.addr_a.data(), a, 16);
    std::memcpy(key.addr_b.data(), b, 16);
  }
  key.port_a = src_first ? sport : dport;
  key.port_b = src_first ? dport : sport;
  dir = src_first ? Dir::kAtoB : Dir::kBtoA;
  key.family = ip.version;
  key.proto = ip.proto;
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
  key.context = ctx;
  return true;
}

uint64_t hash_key(const FlowKey& key) noexcept {
  // Two CRC32C lanes. CRC is affine in its start value: two lanes over the same words
  // differing only in the seed differ by a constant (hi == lo ^ C), i.e. 32 bits of hash,
  // not 64. The high lane therefore reads the six words in reverse order, a different
  // linear map of the key: the signature (high 32 bits) then tells apart keys that share
  // a bucket (low bits), and 64-bit collisions are as rare as 64 bits make them.
  uint64_t w[sizeof key / 8];
  static_assert(sizeof key % 8 == 0);
  std::memcpy(w, &key, sizeof key);
  uint64_t lo = 0x9E3779B9u, hi = 0x85EBCA6Bu;
  for (size_t i = 0; i < sizeof key / 8; ++i) {
    lo = _mm_crc32_u64(lo, w[i]);
    hi = _mm_crc32_u64(hi, w[sizeof key / 8 - 1 - i]);
  }
  return (hi << 32) | static_cast<uint32_t>(lo);
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
  if (v.status == decode::DecodeStatus::kOk && make_key(v, key, dir, use_vlans)) return hash_key(key);
  return v.ip_count != 0 ? address_pair_hash(v, v.ip_count - 1u) : 0;
}

}  // namespace seqwatch::flow
