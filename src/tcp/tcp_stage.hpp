// The worker's TCP stage: flow-table lookup and sequence analysis for a decoded burst.
// Segments with verdicts become SegmentEvents, ended flows become FlowRecords; both go
// into single-producer rings the control thread drains. A full ring drops the record and
// counts it (never blocks the worker).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "decode/packet_view.hpp"
#include "event/records.hpp"
#include "flow/flow_table.hpp"
#include "source/packet_source.hpp"
#include "tcp/analyzer.hpp"
#include "tcp/counter_carry.hpp"
#include "util/result.hpp"
#include "util/spsc_ring.hpp"

namespace seqwatch::tcp {

// The TCP payload length a segment had on the wire. The decoder takes it from the IP
// length; two frames say otherwise: one shorter on the wire than its IP length says carries
// only what was on the wire (Wireshark's reported length; zeek reassembly.pcap), and one
// whose IP length is 0 (a TSO / BIG TCP aggregate captured on the sending host: the decoder
// takes the length from the captured bytes) ran to its end on the wire when the snaplen cut
// it. A source that cannot tell the wire length (wirelen 0) leaves the decoder's. The
// summary's per-segment tcp counts (Worker) stay the decoder's, the same from every source.
inline uint32_t wire_payload_len(const decode::PacketView& v, const PacketRef& p) noexcept {
  const uint64_t ip_end = v.ip[0].end();
  if (p.wirelen != 0 && ip_end > p.wirelen) [[unlikely]] {
    const uint64_t short_by = ip_end - p.wirelen;
    return v.tcp.payload_len > short_by ? static_cast<uint32_t>(v.tcp.payload_len - short_by) : 0u;
  }
  if ((v.flags & decode::kFlagIpLenFromFrame) && p.wirelen > p.caplen) [[unlikely]]
    return v.tcp.payload_len + (p.wirelen - p.caplen);
  return v.tcp.payload_len;
}

struct TcpStageConfig {
  flow::FlowTableConfig table;
  uint32_t event_ring = 1u << 16;   // power of two
  uint32_t record_ring = 1u << 14;  // power of two
  uint8_t worker = 0;
  bool key_vlans = true;  // VLAN ids in the flow key (off for asymmetrically tagged SPAN ports)
  // Exact copies (docs/tcp-analysis.md section 16): a segment identical to one of its flow
  // and direction seen at most this long before (same sequence and ACK numbers, flags,
  // window, length, TCP checksum, TSval and IPv4 identification) is a copy made by the
  // mirror/SPAN or the network, not a segment the sender sent again: it gets the verdict
  // duplicate_packet and is not analysed. 0 = off (every copy is analysed, as tshark does).
  // (Identity evidence decides within the window; an equal TSval the sender has moved on
  // from makes a copy at any age, past the window too.)
  uint32_t copy_window_us = 100000;
  // Fingerprints of recent segments per worker (8 bytes each), a power of two: a copy
  // arriving more than about this many of the worker's segments after its original may be
  // missed (analysed as before).
  uint32_t copy_slots = 1u << 16;
  // Slots of the counter carry table (tcp/counter_carry.hpp): long flows whose 16/32-bit
  // counters passed half their range; 0 = table capacity / 256, at least 256.
  uint32_t carry_slots = 0;
  // Active timeout (NetFlow/IPFIX's): a flow that sends in a later period of this length
  // (packet time, periods aligned to multiples of it since the epoch) than its previous
  // packet gets an `active` record first: its counters so far, cumulative, the flow goes
  // on. Long flows then show up while they last, not only when they end. 0 = off.
  uint64_t active_timeout_ns = 0;
};

struct alignas(64) TcpStageCounters {
  uint64_t segments = 0;        // TCP segments analysed
  uint64_t skipped = 0;         // TCP packets not analysed: decode error (already counted by decode)
  uint64_t events = 0;
  uint64_t events_dropped = 0;  // event ring full
  uint64_t records = 0;
  uint64_t records_dropped = 0; // record ring full (final and active records)
  uint64_t active_records = 0;  // active-timeout records of flows that go on
  uint64_t restarts = 0;        // reused ports: a flow ended and a new one began on its 4-tuple
  uint64_t copies = 0;          // exact copies of a recent segment (duplicate_packet): not analysed
  // Segments equal to one seen past the copy window, one routed hop further on, with no
  // other identity evidence (IPv6 or IPv4 ID 0, no timestamps): analysed as re-sends.
  uint64_t late_hop_matches = 0;
  // Segments equal to one seen past the copy window, IPv4 ID (or TSval a tick later) included,
  // on the same path (the same TTL parity): analysed as re-sends.
  uint64_t late_id_matches = 0;
  uint64_t carries = 0;         // a long flow's counters moved into the carry table
  uint64_t saturated_flows = 0; // flows whose counters saturated (carry table full): records are lower bounds
  uint64_t super_segment_flows = 0;  // ended flows that carried segments longer than the receiver's MSS (TSO/GSO/GRO)
  std::array<uint64_t, kVerdictBits> verdicts{};
};

// What the stage did with each packet of the last burst (for the stages after it on the
// worker: evidence capture, sampling). Valid until the next process_burst().
struct SegmentResult {
  uint8_t analysed = 0;   // a TCP segment that went through the flow table and analysis
  uint8_t dir = 0;        // flow::Dir of the sender
  uint32_t slot = 0;      // the flow's entry index in the table (stable while the flow lives)
  uint32_t flow_id = 0;
  uint64_t hash = 0;      // symmetric flow hash
  SegmentVerdict verdict;
};

// Called on the worker when a flow ends (before its record is queued).
using FlowEndHook = void (*)(void* ctx, const flow::FlowEntry& e, uint32_t slot, flow::RemoveReason why);

class TcpStage {
 public:
  static Result<std::unique_ptr<TcpStage>> create(const TcpStageConfig& cfg);

  // Analyses the TCP segments of a decoded burst (views[i] decoded from pkts[i]).
  void process_burst(const decode::PacketView* views, const PacketRef* pkts, uint16_t n) noexcept;
  // Ages flows by packet time (call once per burst, and on idle polls with wall time).
  void sweep(uint64_t now_ns) noexcept;
  // Ends flows (end of input, shutdown): each gets a flow record. Ends only as many as
  // the record ring has room for, and at most `max` (the room of other rings the flow-end
  // hook writes to); returns true once every flow has ended. Call again after draining the
  // rings: `while (!stage.flush()) drain();`. `end_ns`: the input's end in packet time (see
  // FlowTable::flush); 0 = every flow ends as end of input.
  bool flush(uint32_t max = UINT32_MAX, uint64_t end_ns = 0) noexcept;

  SpscRing<event::SegmentEvent>& events() noexcept { return events_; }
  SpscRing<event::FlowRecord>& records() noexcept { return records_; }
  uint8_t worker() const noexcept { return cfg_.worker; }
  const TcpStageCounters& counters() const noexcept { return counters_; }
  const flow::FlowTable& table() const noexcept { return *table_; }
  const CounterCarry& carry() const noexcept { return *carry_; }
  const SegmentResult& result(uint16_t i) const noexcept { return results_[i]; }
  const flow::FlowKey& key(uint16_t i) const noexcept { return keys_[i]; }  // with result(i).analysed
  void set_flow_end_hook(FlowEndHook hook, void* ctx) noexcept {
    flow_end_ = hook;
    flow_end_ctx_ = ctx;
  }

 private:
  explicit TcpStage(const TcpStageConfig& cfg);
  void emit_record(const flow::FlowEntry& e, flow::RemoveReason why) noexcept;
  // The record's fields from the entry (carried counts not included).
  void fill_record(const flow::FlowEntry& e, flow::RemoveReason why, event::FlowRecord& r) const noexcept;
  [[gnu::noinline]] void emit_active(const flow::FlowEntry& e) noexcept;
  [[gnu::noinline]] void new_period(uint64_t ts_ns) noexcept;
  [[gnu::noinline]] void carry_counters(flow::FlowEntry& f) noexcept;
  bool is_copy(const decode::TcpInfo& t, uint64_t hash, flow::Dir dir, unsigned ttl_low,
               const flow::FlowEntry& f, uint64_t ts_ns) noexcept;
  // is_copy()'s fingerprint words, and its first CRC lane (which picks the bucket).
  struct CopyWords {
    uint64_t w1, w2, w3, w4;
  };
  static CopyWords copy_words(const decode::TcpInfo& t, uint64_t hash, flow::Dir dir) noexcept;
  static uint64_t copy_lane(const CopyWords& c) noexcept;
  // Stage 2 of process_burst for keyed segment k: its flow's entry lines and its copy-check
  // bucket (a random line of a 512 KiB table: out of L2 beside 100k flows' entries; from
  // the decoder's length, which a cut segment changes: rare, and then only that prefetch is
  // of no use). always_inline: GCC 12 takes an out-of-line function (a lambda too) that
  // only prefetches for pure and deletes its calls.
  [[gnu::always_inline]] void prefetch_lookup(const decode::PacketView& v, uint16_t k) const noexcept {
    table_->prefetch_entry(hashes_[k]);
    if (copy_buckets_) __builtin_prefetch(&copy_buckets_[copy_lane(copy_words(v.tcp, hashes_[k], dirs_[k])) & copy_mask_]);
  }

  // Fingerprints of recent segments, 4-way set-associative: each entry holds a 36-bit
  // check over the fields (bits 28-63), whether the peer had already sent a segment in the
  // microsecond the segment was seen (bit 27: with microsecond timestamps, whether the
  // peer's latest segment came before or after it), whether its copy one routed hop further
  // on was seen (bit 26), the low 2 bits of the TTL sum it was seen with (bits 24-25) and
  // the time it was seen (µs, low 24 bits: 16.7 s, far above the longest window, 1 s);
  // 0 = empty. Newest first: a new fingerprint pushes the oldest out.
  static constexpr unsigned kCopyWays = 4;  // is_copy() reads and shifts the four by hand
  static constexpr unsigned kCopyTtlBit = 24;
  static constexpr unsigned kCopyPairBit = 26;
  static constexpr unsigned kCopyPeerTieBit = 27;
  static constexpr unsigned kCopyCheckShift = kCopyPeerTieBit + 1;
  static constexpr uint32_t kCopyTimeMask = (1u << kCopyTtlBit) - 1;
  // Ages on that 24-bit clock; one less than kCopyStepBackUs below zero (a time that stepped
  // back) is 0, as tcp::elapsed_us reads the 32-bit one.
  static constexpr uint32_t kCopyStepBackUs = 100'000;
  static uint32_t copy_age(uint32_t now, uint32_t then) noexcept {
    const uint32_t d = (now - then) & kCopyTimeMask;
    return d > kCopyTimeMask - kCopyStepBackUs ? 0u : d;
  }
  struct alignas(32) CopyBucket {
    uint64_t e[kCopyWays] = {};
  };

  TcpStageConfig cfg_;
  std::unique_ptr<flow::FlowTable> table_;
  std::unique_ptr<CounterCarry> carry_;
  // The active-timeout period of the latest packet: [period_start_, + period_len_); off:
  // 0 and UINT64_MAX (no packet time leaves it, no flow's time lies before it).
  uint64_t period_start_ = 0;
  uint64_t period_len_ = UINT64_MAX;
  SpscRing<event::SegmentEvent> events_;
  SpscRing<event::FlowRecord> records_;
  TcpStageCounters counters_;
  std::unique_ptr<CopyBucket[]> copy_buckets_;
  uint32_t copy_mask_ = 0;
  // Burst scratch: keys, directions and hashes of the burst's TCP segments.
  std::array<flow::FlowKey, kBurstSize> keys_{};
  std::array<uint64_t, kBurstSize> hashes_{};
  std::array<flow::Dir, kBurstSize> dirs_{};
  std::array<uint8_t, kBurstSize> has_key_{};
  std::array<SegmentResult, kBurstSize> results_{};
  FlowEndHook flow_end_ = nullptr;
  void* flow_end_ctx_ = nullptr;
};

}  // namespace seqwatch::tcp
