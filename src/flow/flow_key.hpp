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
#include <cstdint>
#include <cstring>
#include <type_traits>

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

// Builds the key of a decoded TCP/UDP packet. Returns false when the view has no IP
// layer or no ports (the caller counts it). With use_vlans false, VLAN tags are left out
// of the key: for SPAN ports that tag one direction and not the other (asymmetric
// tagging), which would otherwise split every connection into two one-way flows.
// With `hash` given, *hash = hash_key(key), computed from the words as they are made (no
// reading back of the key just written).
bool make_key(const decode::PacketView& v, FlowKey& key, Dir& dir, bool use_vlans = true,
              uint64_t* hash = nullptr) noexcept;

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
