// Shared parsing state for the per-protocol decoders (internal to src/decode/).
//
// The decoder is a small state machine: each protocol parser reads its header at
// `off`, records what it found in the view, advances `off` and names the next protocol.
// Three ends bound a parser:
//  * `cap_end`: where the captured bytes of the packet end (caplen; for NFLOG the end of
//    the payload TLV, which holds the packet cut to the logging rule's copy range);
//  * `bound`: the end the enclosing length fields allow (PPPoE payload length, every outer
//    IP total length, a tunnel's UDP length). It may lie beyond `cap_end` when the capture
//    was cut; a header claiming more than `bound` is malformed, one claiming more than
//    `cap_end` was only cut short;
//  * `limit` = min(cap_end, bound): the end of the bytes a parser may read, so a tunnel
//    never reads its outer packet's padding.
#pragma once

#include <cstdint>

#include "decode/bytes.hpp"
#include "decode/packet_view.hpp"

namespace seqwatch::decode::detail {

enum class Next : uint8_t {
  kDone,
  kEther,      // Ethernet II header (outer, or carried by a tunnel)
  kEthertype,  // dispatch on `ethertype` (VLAN tags, MPLS, PPPoE, IP)
  kIpv4,
  kIpv6,
  kIpAny,      // IP version from the first nibble (raw link types, MPLS, GTP)
  kMpls,
  kPpp,        // PPP protocol field (PPPoE, PPTP GRE)
  kUpper,      // upper-layer dispatch on the innermost IP layer's protocol
};

// Ethertypes seqwatch follows.
inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint16_t kEthVlan = 0x8100;
inline constexpr uint16_t kEthQinQ = 0x88A8;
inline constexpr uint16_t kEthQinQOld1 = 0x9100;
inline constexpr uint16_t kEthQinQOld2 = 0x9200;
inline constexpr uint16_t kEthMpls = 0x8847;
inline constexpr uint16_t kEthMplsMcast = 0x8848;
inline constexpr uint16_t kEthPppoeSession = 0x8864;
inline constexpr uint16_t kEthTeb = 0x6558;     // transparent Ethernet bridging (GRE, Geneve)
inline constexpr uint16_t kEthErspan2 = 0x88BE; // ERSPAN type I/II
inline constexpr uint16_t kEthErspan3 = 0x22EB; // ERSPAN type III
inline constexpr uint16_t kEthPpp = 0x880B;     // PPP in enhanced GRE (PPTP)
inline constexpr uint16_t kEthCmd = 0x8909;     // Cisco MetaData (TrustSec inline SGT tag)
inline constexpr uint16_t kEthFabricPath = 0x8903;  // Cisco FabricPath (its core links)
inline constexpr uint16_t kEthAvsp = 0xD28B;    // Arista vendor header (timestamps on tap/mirror ports)

inline constexpr uint64_t kNoBound = ~uint64_t{0};

// The parsers every common frame passes through (Ethernet, IPv4/IPv6, TCP, the dispatch
// between them) are forced inline, so the whole chain is one function and the cursor
// lives in registers; the rarer ones (tunnels, MPLS, PPP, link types) stay out of line.
// The sanitizer build (-O1, tools/run-tests.sh) checks behaviour, not speed; GCC cannot
// force the recursive dispatch (upper() after a tunnel) inline at -O1, so there it is a hint.
#if defined(SEQWATCH_SANITIZED)
#define SEQWATCH_DECODE_HOT inline
#else
#define SEQWATCH_DECODE_HOT [[gnu::always_inline]] inline
#endif

struct Cursor {
  const uint8_t* p;
  uint32_t off;
  uint32_t limit;
  uint32_t cap_end;
  uint64_t bound;
  PacketView& v;
  bool inner_l2 = false;  // the next Ethernet header was carried by a tunnel
  uint16_t ethertype = 0; // for Next::kEthertype

  bool have(uint32_t n) const noexcept { return limit - off >= n; }  // off <= limit always
  const uint8_t* at() const noexcept { return p + off; }
  // The header just parsed says its packet ends at `end`: nothing inside may go further.
  void enclose(uint64_t end) noexcept {
    if (end < bound) bound = end;
    if (end < limit) limit = static_cast<uint32_t>(end);
  }
  Next fail(DecodeStatus s) noexcept {
    v.status = s;
    return Next::kDone;
  }
};

}  // namespace seqwatch::decode::detail
