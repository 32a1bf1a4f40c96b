// FrameRing: a single-producer / single-consumer byte ring that carries whole frames from
// the software rehash stage to one worker. The producer copies each frame (a 24-byte
// header, then the captured bytes, 8-byte aligned) and publishes a burst at a time; the
// consumer reads frames in place and frees them in bulk after its burst, exactly like a
// PacketSource's rx_burst()/release(). Memory is allocated once; nothing blocks: a full
// ring refuses the frame and the caller decides (wait offline, count the drop live).
//
// By reference: when every input keeps its frames valid until told otherwise (a mapped
// capture file, PacketSource::retain_frames()), the ring carries the header and the frame's
// address (32 bytes) instead of a copy of its bytes; the consumer gets the source's own
// pointer, and the stage lets the source drop frames once every ring has consumed() them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "source/packet_source.hpp"

namespace seqwatch::runtime {

class FrameRing {
 public:
  // `bytes` is rounded up to a power of two; frames larger than a quarter of it are
  // refused (push_oversize counts them). `by_reference`: see above.
  explicit FrameRing(size_t bytes, bool by_reference = false);

  // --- producer ---
  bool push(const PacketRef& p) noexcept;
  void publish() noexcept { head_.store(head_local_, std::memory_order_release); }
  // No more frames will come (after the final publish).
  void close() noexcept {
    publish();
    closed_.store(true, std::memory_order_release);
  }
  size_t max_frame() const noexcept { return by_ref_ ? SIZE_MAX : (mask_ + 1) / 4 - sizeof(Hdr); }
  // Ring positions: every frame published before produced() is free once consumed() has
  // reached it (the consumer has release()d it).
  uint64_t produced() const noexcept { return head_local_; }
  uint64_t consumed() const noexcept { return tail_.load(std::memory_order_acquire); }
  bool by_reference() const noexcept { return by_ref_; }

  // --- consumer ---
  uint16_t pop_burst(PacketRef* out, uint16_t max) noexcept;
  // Frees the frames of the last pop_burst().
  void release() noexcept { tail_.store(read_pos_, std::memory_order_release); }
  bool finished() const noexcept {
    return closed_.load(std::memory_order_acquire) && read_pos_ == head_.load(std::memory_order_acquire);
  }

 private:
  struct Hdr {
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_ns;
    uint64_t frame;
  };
  static_assert(sizeof(Hdr) == 24);
  static constexpr uint32_t kWrapMarker = 0xFFFFFFFFu;
  static size_t align8(size_t n) noexcept { return (n + 7) & ~size_t{7}; }
  // Bytes a frame takes in the ring: header, then its bytes or its address.
  size_t slot(uint32_t caplen) const noexcept {
    return by_ref_ ? sizeof(Hdr) + sizeof(const uint8_t*) : align8(sizeof(Hdr) + caplen);
  }

  size_t mask_;
  bool by_ref_;
  std::unique_ptr<uint8_t[]> buf_;
  // Producer line.
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t head_local_ = 0;
  uint64_t cached_tail_ = 0;
  // Consumer line.
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t read_pos_ = 0;
  alignas(64) std::atomic<bool> closed_{false};
};

inline FrameRing::FrameRing(size_t bytes, bool by_reference) : by_ref_(by_reference) {
  size_t cap = 4096;
  while (cap < bytes) cap <<= 1;
  mask_ = cap - 1;
  buf_.reset(new uint8_t[cap]);
}

inline bool FrameRing::push(const PacketRef& p) noexcept {
  const size_t need = slot(p.caplen);
  if (need > (mask_ + 1) / 4) return false;
  uint64_t pos = head_local_;
  const size_t off = pos & mask_;
  const size_t to_end = mask_ + 1 - off;
  const size_t total = to_end < need ? to_end + need : need;
  if (pos + total - cached_tail_ > mask_ + 1) {
    cached_tail_ = tail_.load(std::memory_order_acquire);
    if (pos + total - cached_tail_ > mask_ + 1) return false;
  }
  uint8_t* base = buf_.get();
  if (to_end < need) {  // too little room before the end: mark the rest skipped, wrap
    std::memcpy(base + off, &kWrapMarker, sizeof kWrapMarker);
    pos += to_end;
  }
  const size_t o = pos & mask_;
  const Hdr h{p.caplen, p.wirelen, p.ts_ns, p.frame};
  std::memcpy(base + o, &h, sizeof h);
  if (by_ref_) std::memcpy(base + o + sizeof h, &p.data, sizeof p.data);
  else std::memcpy(base + o + sizeof h, p.data, p.caplen);
  head_local_ = pos + need;
  return true;
}

inline uint16_t FrameRing::pop_burst(PacketRef* out, uint16_t max) noexcept {
  const uint64_t head = head_.load(std::memory_order_acquire);
  const uint8_t* base = buf_.get();
  uint64_t pos = read_pos_;
  uint16_t n = 0;
  while (n < max && pos < head) {
    const size_t off = pos & mask_;
    uint32_t caplen;
    std::memcpy(&caplen, base + off, sizeof caplen);
    if (caplen == kWrapMarker) {
      pos += mask_ + 1 - off;
      continue;
    }
    Hdr h;
    std::memcpy(&h, base + off, sizeof h);
    const uint8_t* data = base + off + sizeof h;
    if (by_ref_) std::memcpy(&data, base + off + sizeof h, sizeof data);
    out[n++] = PacketRef{data, h.caplen, h.wirelen, h.ts_ns, h.frame};
    pos += slot(h.caplen);
  }
  read_pos_ = pos;
  return n;
}

// A worker's view of its FrameRing: the same PacketSource interface a port queue has.
class FrameRingSource final : public PacketSource {
 public:
  FrameRingSource(FrameRing& ring, decode::LinkType link, std::string what,
                  std::vector<const PacketSource*> clocks = {})
      : ring_(ring), link_(link), what_(std::move(what)), clocks_(std::move(clocks)) {}
  // The packet clock of the ports behind the rehash stage (the latest of them), so a
  // quiet live port ages the flows of the workers behind the stage too.
  uint64_t now_ns() const noexcept override {
    uint64_t now = 0;
    for (const PacketSource* c : clocks_) now = std::max(now, c->now_ns());
    return now;
  }
  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override { return ring_.pop_burst(out, max); }
  void release() noexcept override { ring_.release(); }
  bool done() const noexcept override { return ring_.finished(); }
  decode::LinkType link_type() const noexcept override { return link_; }
  std::string describe() const override { return what_; }

 private:
  FrameRing& ring_;
  decode::LinkType link_;
  std::string what_;
  std::vector<const PacketSource*> clocks_;
};

}  // namespace seqwatch::runtime
