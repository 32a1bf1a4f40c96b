// The packet-source interface every input shares: a DPDK port queue (live NIC or vdev)
// and capture files. Workers see only bursts of PacketRef, so the path from a source to
// the outputs is the same code whatever the input.
//
// One virtual call per burst (never per packet). A burst's packets stay valid until the
// next rx_burst() or release() on the same source.
#pragma once

#include <cstdint>
#include <string>

#include "decode/packet_view.hpp"

namespace seqwatch {

struct PacketRef {
  const uint8_t* data;
  uint32_t caplen;   // bytes captured (what `data` holds)
  uint32_t wirelen;  // length on the wire; 0 when the source cannot tell (DPDK net_pcap)
  uint64_t ts_ns;    // capture time, ns since the Unix epoch (0 when unknown)
  uint64_t frame;    // 1-based position in the input (as tshark numbers frames)
};

// Burst size: DPDK's customary 32 (l2fwd/l3fwd's MAX_PKT_BURST): enough to amortise the
// per-burst call and prefetch pipeline, small enough to keep a burst's headers in L1.
inline constexpr uint16_t kBurstSize = 32;

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Fills up to `max` packets; returns 0 when the source has nothing now. done() tells
  // whether it ever will again (end of file, port stopped).
  virtual uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept = 0;
  // Gives back the last burst's buffers (DPDK mbufs); a no-op for file sources.
  virtual void release() noexcept {}
  virtual bool done() const noexcept = 0;
  // The link type of the frames of the latest burst. Every burst holds frames of one link
  // type; only a source whose mixed_link_types() is true (a pcapng file with interfaces of
  // different link types) ever changes it between bursts, so a consumer reads it again
  // after each rx_burst() of such a source.
  virtual decode::LinkType link_type() const noexcept = 0;
  virtual bool mixed_link_types() const noexcept { return false; }
  virtual std::string describe() const = 0;
  // Frames that could not be read into the burst (oversized, read errors): counted.
  virtual uint64_t dropped() const noexcept { return 0; }
  // A recorded input whose reading stopped before its end (a damaged or cut-short file):
  // why, in words; empty when it was read to the end (or is not a file).
  virtual const std::string& read_error() const noexcept {
    static const std::string none;
    return none;
  }
  // Wall-clock time for live sources (idle workers age their flows with it); 0 for
  // recorded inputs, whose flows age by packet time only.
  virtual uint64_t now_ns() const noexcept { return 0; }
  // on: asks the source to keep every frame's bytes valid past release(), until
  // drop_before() says they are done with (a mapped capture file can), so a stage may pass
  // PacketRefs on instead of copying frames; off: back to release(). Returns whether the
  // source now retains (false: it cannot, frames must be copied).
  virtual bool retain_frames(bool /*on*/) noexcept { return false; }
  // Retained frames: the position just after the last frame read (increasing; 0 when the
  // source does not retain), and the call that lets go of every frame before such a
  // position. Without retain_frames(), release() lets go of the burst's frames itself.
  virtual uint64_t read_mark() const noexcept { return 0; }
  virtual void drop_before(uint64_t /*mark*/) noexcept {}
};

}  // namespace seqwatch
