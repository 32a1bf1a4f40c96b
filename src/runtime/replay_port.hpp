// seqwatch's own in-memory replay port: a capture file loaded once into mbufs and fed in a
// loop, by a feeder thread, into the RX rings of a net_ring ethdev (rte_eth_from_rings).
// The workers receive through the same DpdkPortSource / rte_eth_rx_burst path as from a
// NIC, at the cheapest receive cost DPDK has (a ring dequeue). What it adds over net_pcap's
// infinite_rx:
//  - shift_seq: every pass over the file shifts each TCP direction's sequence numbers, and
//    the peer's ACK and SACK edges, by that direction's span in the file, so a looped trace
//    reads as connections going on (and reopening), not as every segment retransmitted;
//  - rate_pps: paced delivery over all queues; a frame that finds its queue full is dropped
//    and counted as the port's imissed, as a NIC does, so the drop-free rate can be found.
//    With rate_pps 0 the feeder waits for room instead: no loss, the workers' maximum rate.
//  - queues: frames are spread over the RX queues by the symmetric flow hash (what the
//    software rehash stage uses), standing in for a NIC's symmetric RSS.
//  - timestamps: every frame carries its capture time in the RX timestamp field (as a NIC
//    with hardware timestamps), pass k shifted by k x the file's duration (plus one mean
//    frame gap), so the analysis sees the file's timing on every pass whatever the replay
//    speed; a port with `timestamps: tsc` ignores them and stamps the receive time.
//
// Each frame has one mbuf (an external buffer pointing into one block of frame bytes), so
// memory is the file's frame bytes plus ~200 bytes of EAL memory per frame. The feeder
// holds a reference on every mbuf and hands out a second one with each delivery; a worker's
// rte_pktmbuf_free drops it back to one, and the feeder re-sends a frame (rewriting its
// sequence numbers for the next pass) only once that happened.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "decode/packet_view.hpp"
#include "util/result.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace seqwatch::runtime {

struct ReplayConfig {
  std::string name;            // the ethdev is "net_ring_<name>"
  std::string file;            // pcap or pcapng
  uint16_t queues = 1;         // RX queues (one ring each)
  uint32_t ring_size = 4096;   // frames per queue ring, a power of two
  double rate_pps = 0;         // frames per second over all queues; 0 = back-pressure, no loss
  bool shift_seq = true;
  uint64_t passes = 0;         // 0 = until stopped
  bool key_vlans = true;       // the flow hash keys VLANs as the flow table does
};

class ReplayPort {
 public:
  // Loads the file, creates the rings and the ethdev. Errors name the file and the cause.
  static Result<std::unique_ptr<ReplayPort>> create(const ReplayConfig& cfg);
  ~ReplayPort();

  const std::string& ethdev() const noexcept { return ethdev_; }
  decode::LinkType link_type() const noexcept { return link_; }
  uint64_t frames() const noexcept { return frames_.size(); }
  uint64_t skipped() const noexcept { return skipped_; }    // frames the file had but could not be loaded (caplen > 65535)
  uint64_t shifted_flows() const noexcept { return flows_; } // TCP connections whose numbers move per pass
  std::vector<uint64_t> queue_frames() const;                // frames of one pass per queue

  // Starts the feeder; it runs until `stop` is set or stop() is called.
  void start(const std::atomic<bool>& stop);
  void stop();

  uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }        // delivered to a queue
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }  // found the queue full
  uint64_t passes() const noexcept { return passes_.load(std::memory_order_relaxed); }    // completed passes over the file
  uint64_t in_rings() const noexcept;  // delivered, not yet received by a worker

  // Frames dropped by the feeder of the replay port with this ethdev id; 0 for any other
  // port. The port statistics add it to imissed.
  static uint64_t missed(uint16_t port_id) noexcept;

 private:
  struct Frame {
    rte_mbuf* m;
    uint8_t* data;            // the frame's bytes (the mbuf's external buffer)
    uint32_t seq0, ack0;      // as in the file
    uint32_t dseq, dack;      // added per pass: this direction's span, the peer's span
    uint64_t ts0;             // capture time in the file, ns
    uint32_t sack_first;      // index of the first SACK edge in edges_
    uint16_t tcp_off;         // 0 = nothing to shift (not TCP, or shifting off)
    uint8_t sack_n;           // SACK edges (2 per block)
    uint8_t ack_set;          // the ACK flag is set: the ACK field is shifted
    uint16_t queue;
    uint16_t csum0;           // the TCP checksum as in the file (updated per pass, RFC 1624)
  };
  struct Edge {
    uint32_t off;             // byte offset of the edge in the frame
    uint32_t v0;              // its value in the file
  };

  ReplayPort() = default;
  void feed(const std::atomic<bool>& stop) noexcept;
  void rewrite(const Frame& f, uint64_t pass) noexcept;
  bool flush(uint16_t q, const std::atomic<bool>& stop) noexcept;
  void abandon() noexcept;  // pending frames never delivered: back to the feeder's one reference

  ReplayConfig cfg_;
  std::string ethdev_;
  uint16_t port_id_ = 0;
  decode::LinkType link_ = decode::LinkType::kEthernet;
  std::vector<uint8_t> bytes_;  // every frame's bytes, back to back
  std::vector<Frame> frames_;
  std::vector<Edge> edges_;
  std::vector<rte_ring*> rings_;
  rte_mempool* pool_ = nullptr;
  void* shinfo_ = nullptr;      // rte_mbuf_ext_shared_info shared by all frames
  int ts_field_ = -1;           // the mbuf RX timestamp dynfield
  uint64_t period_ns_ = 0;      // how much later each pass's times are
  uint64_t skipped_ = 0;
  uint64_t flows_ = 0;
  std::vector<std::vector<rte_mbuf*>> pending_;  // per queue, the burst being built
  std::atomic<bool> halt_{false};
  std::atomic<uint64_t> sent_{0}, dropped_{0}, passes_{0};
  std::thread feeder_;
};

}  // namespace seqwatch::runtime
