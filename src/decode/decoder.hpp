// Frame decoder: raw captured bytes + link type -> PacketView.
//
// Contract:
//  * reads only bytes in [frame, frame + caplen); any byte sequence is safe input;
//  * never allocates, throws or makes a syscall (hot path);
//  * returns the status stored in view.status: kOk, or the typed reason decoding stopped;
//  * the view keeps pointers into `frame`; it is valid while the frame is.
#pragma once

#include <array>
#include <cstdint>

#include "decode/packet_view.hpp"

namespace seqwatch::decode {

DecodeStatus decode(const uint8_t* frame, uint32_t caplen, LinkType link, PacketView& view) noexcept;

namespace detail {
// decode() without its straight-line path for Ethernet[/802.1Q]/IPv4/TCP: the general
// parser chain alone. Same contract and, for every input, the same view (the tests hold
// the two against each other); not for use outside tests.
DecodeStatus decode_general(const uint8_t* frame, uint32_t caplen, LinkType link, PacketView& view) noexcept;
}  // namespace detail

// Per-worker decode counters: one slot per DecodeStatus plus the shape of what was seen.
// Owned by one worker, never shared, so plain (non-atomic) increments.
struct alignas(64) DecodeCounters {
  uint64_t packets = 0;
  std::array<uint64_t, static_cast<size_t>(DecodeStatus::kCount)> status{};
  uint64_t non_ip = 0;      // decoded fine, but carries no IP (ARP, LLDP, ...)
  uint64_t tcp = 0;
  uint64_t udp = 0;
  uint64_t other_l4 = 0;
  uint64_t truncated = 0;   // kFlagTruncated
  uint64_t ip_len_clipped = 0;  // kFlagIpLenClipped: IP length longer than its carrier
  uint64_t fragments = 0;   // kFlagFragment
  uint64_t tunneled = 0;    // at least one tunnel layer
  uint64_t tunnel_inner_cut = 0;  // truncated in a tunnel header or before the IP header a tunnel carries
  std::array<uint64_t, static_cast<size_t>(TunnelType::kCount)> tunnels{};  // by outermost type

  uint64_t errors() const noexcept {
    uint64_t n = 0;
    for (size_t i = 1; i < status.size(); ++i) n += status[i];
    return n;
  }
  void add(const DecodeCounters& o) noexcept;
};

// Decodes a burst of frames into views[0..n) and updates the counters. Frames are
// prefetched kDecodePrefetchAhead packets ahead of the one being decoded.
struct FrameRef {
  const uint8_t* data;
  uint32_t caplen;
};
void decode_burst(const FrameRef* frames, uint32_t n, LinkType link, PacketView* views,
                  DecodeCounters& counters) noexcept;

// Counts one decoded view (decode_burst calls this for every frame).
void count_view(const PacketView& v, DecodeCounters& c) noexcept;

}  // namespace seqwatch::decode
