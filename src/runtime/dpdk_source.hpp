// A DPDK ethdev RX queue as a PacketSource: a PCI NIC or any vdev (net_pcap,
// net_af_packet, net_ring, net_null). Mbufs are handed to the worker as PacketRefs and
// freed in bulk by release().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/packet_source.hpp"
#include "util/result.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace seqwatch::runtime {

struct PortConfig {
  std::string name;             // ethdev name, e.g. "net_pcap0"
  uint16_t rx_queues = 1;       // one PacketSource per queue
  bool rss = true;              // several queues: symmetric Toeplitz RSS over IP/TCP/UDP
  bool promiscuous = true;
  uint16_t rx_desc = 1024;      // power of two
  uint32_t mbufs = 8191;        // mempool size: 2^n - 1 is the mempool's sweet spot
  // Bytes one mbuf must hold (net_af_packet's framesz: the PMD refuses a ring frame larger
  // than an mbuf); 0 = DPDK's default data room (2048).
  uint32_t frame_bytes = 0;
  decode::LinkType link = decode::LinkType::kEthernet;
  // For finite inputs (a pcap vdev without infinite_rx): how many frames the port will
  // deliver in total, so the source knows when it is done; 0 = unbounded (live port).
  uint64_t expected_frames = 0;
  // A finite replay with one file per queue (net_pcap with several rx_pcap=): the frames
  // queue q will deliver, in place of expected_frames for the queues it names; a queue
  // given 0 frames (an empty file) is done at once.
  std::vector<uint64_t> queue_frames;
  // A finite input that stays silent this long before delivering expected_frames is
  // declared done and the shortfall counted as dropped.
  double stall_timeout_s = 5.0;
  // Unit of the port's RX timestamp dynfield in ns (net_pcap: microseconds = 1000).
  // Ports that do not timestamp get TSC time converted to wall time once per burst.
  uint32_t timestamp_unit_ns = 1;
  // Whether mbuf lengths are wire lengths (a NIC) or captured lengths whose original size
  // is lost (net_pcap replaying a snaplen-cut file): then PacketRef::wirelen is 0.
  bool wire_lengths = true;
  // Where packet times come from: the port's RX timestamp where it offers one (auto), only
  // the port's (hw: opening fails without one), or the TSC converted to wall time (tsc).
  enum class Timestamps : uint8_t { kAuto, kHw, kTsc } timestamps = Timestamps::kAuto;
};

struct PortStats {
  uint64_t ipackets = 0, ibytes = 0, imissed = 0, ierrors = 0, rx_nombuf = 0;
};

// The port itself, shared by its queue sources: stopped and closed with the last one.
struct PortHandle {
  uint16_t id = 0;
  rte_mempool* pool = nullptr;
  bool started = false;
  std::string rss_note;  // how RSS was set up (or why not), for the report
  ~PortHandle();
};

class DpdkPortSource final : public PacketSource {
 public:
  // Configures cfg.rx_queues RX queues (symmetric RSS when more than one) and one unused
  // TX queue, starts the port, enables promiscuous mode; one source per queue.
  static Result<std::vector<std::unique_ptr<DpdkPortSource>>> open_queues(const PortConfig& cfg);
  // One queue (offline replay through net_pcap).
  static Result<std::unique_ptr<DpdkPortSource>> open(const PortConfig& cfg);
  ~DpdkPortSource() override;

  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override;
  void release() noexcept override;
  bool done() const noexcept override { return done_; }
  decode::LinkType link_type() const noexcept override { return cfg_.link; }
  std::string describe() const override;
  uint64_t dropped() const noexcept override { return undelivered_ + multiseg_dropped_; }

  uint64_t now_ns() const noexcept override;
  PortStats port_stats() const;
  uint64_t received() const noexcept { return received_; }
  // Frames stamped with the host's clock (TSC) although the port has a timestamp field: the
  // device did not stamp them (net_pcap with infinite_rx=1 stamps none).
  uint64_t host_stamped() const noexcept { return host_stamped_; }
  uint16_t queue() const noexcept { return queue_; }
  const PortHandle& port() const noexcept { return *handle_; }
  void set_rss_note(std::string note) { handle_->rss_note = std::move(note); }

 private:
  DpdkPortSource() = default;
  PortConfig cfg_;
  std::shared_ptr<PortHandle> handle_;
  uint16_t port_ = 0;
  uint16_t queue_ = 0;
  bool done_ = false;
  int ts_offset_ = -1;            // rx timestamp dynfield, when the port provides one
  uint64_t ts_flag_ = 0;          // ol_flags bit saying the dynfield is valid
  uint64_t host_stamped_ = 0;     // frames without the device's stamp although it has the field
  // Packet time of the newest burst's last packet and the TSC when it arrived (now_ns;
  // read by the workers behind the rehash stage too: relaxed atomics, plain moves on x86).
  std::atomic<uint64_t> last_burst_ts_ns_{0};
  std::atomic<uint64_t> last_burst_tsc_{0};
  uint64_t wall0_ns_ = 0;         // wall clock at open, for TSC-derived timestamps
  uint64_t tsc0_ = 0;
  double ns_per_tsc_ = 0;
  uint64_t received_ = 0;
  uint64_t undelivered_ = 0;      // expected frames never delivered (stall timeout)
  uint64_t multiseg_dropped_ = 0; // chained mbufs longer than a linearisation slot
  uint64_t last_rx_tsc_ = 0;
  uint64_t stall_tsc_ = 0;
  std::array<rte_mbuf*, kBurstSize> burst_{};
  uint16_t burst_n_ = 0;
  std::vector<uint8_t> linear_;   // kBurstSize slots for chained (multi-segment) mbufs
};

}  // namespace seqwatch::runtime
