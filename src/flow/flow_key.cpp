#include "flow/flow_key.hpp"

namespace seqwatch::flow {

uint64_t hash_key(const FlowKey& key) noexcept {
  uint64_t w[sizeof key / 8];
  static_assert(sizeof key == sizeof w);
  std::memcpy(w, &key, sizeof key);
  return detail::hash_words(w);
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
