// The worker side of evidence capture: per-flow pre-trigger history, triggers, slices,
// budgets and sampling. One EvidenceCapture per worker, owned by that worker only.
//
// Memory (allocated once by create(), never grown; memory_bytes() reports it):
//   flow_slots x sizeof(FlowSlot)                 per-flow trigger and slice state
// + history_bytes                                 the history log (all flows of the worker)
// + ring x record_stride(max(snap, sample snap))  the hand-off ring
// A flow's state lives in slot (FlowRef::slot & (flow_slots-1)); the slot is tagged with
// the flow id, so a different flow landing on a slot takes it over (counted: slots_taken).
//
// History: every stored packet is appended, trimmed, to one log per worker (sequential
// writes: no random cache line per packet), linked to the same flow's previous entry. A
// trigger walks the flow's chain back to its last K packets; entries the log has already
// overwritten (it wrapped since) are missing from the slice (counted: history_cut).
//
// Per packet (observe): the trigger test, then either the packet joins the open slice
// (post-trigger) or is appended, trimmed, to the history log. A trigger opens a
// slice: kSliceBegin, the history oldest first (Role::kPre), the trigger packet
// (Role::kTrigger), then the next M packets of the flow (Role::kPost) and kSliceEnd.
// A trigger while a slice is open extends it to M packets after the new trigger
// (counted: triggers_merged). No allocation, no locks, no syscalls; every refusal is
// counted. See docs/evidence.md.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "decode/packet_view.hpp"
#include "evidence/record.hpp"
#include "flow/flow_key.hpp"
#include "evidence/trigger.hpp"
#include "source/packet_source.hpp"
#include "tcp/verdict.hpp"
#include "util/lazy_mapping.hpp"
#include "util/result.hpp"

namespace seqwatch::evidence {

enum class TrimMode : uint8_t {
  kHeaders,  // up to the end of the innermost TCP header (UDP: its 8 bytes), at most `snap`
  kBytes,    // the first `snap` bytes
};

struct TrimConfig {
  TrimMode mode = TrimMode::kHeaders;
  uint32_t snap = 128;  // bytes kept at most (1..65535)
};

struct BudgetConfig {
  uint32_t flow_slices = 4;         // slices per flow (0 = unlimited)
  uint32_t flow_packets = 1024;     // evidence packets per flow (0 = unlimited)
  uint32_t global_packets = 20000;  // evidence packets per worker per interval (0 = unlimited)
  uint32_t global_interval_ms = 1000;
};

struct SampleConfig {
  uint32_t every_n = 0;        // keep 1 packet in N (0 = off; with flow_fraction: 1 in N of the kept flows)
  double flow_fraction = 0.0;  // keep this fraction of flows, both directions (0 = off, 1 = all)
  TrimConfig trim;
};

struct CaptureConfig {
  uint32_t flow_slots = 1u << 15;  // per-flow trigger/slice state, power of two (size it like the flow table)
  uint64_t history_bytes = 8u << 20;  // the history log, power of two (<= 2^36); holds the latest packets of all flows
  uint16_t pre_packets = 8;        // K: history per flow
  uint16_t post_packets = 16;      // M: packets after the trigger packet
  // M for slices a trigger kind starts (evidence.triggers[].post_packets), where
  // post_override has its bit; a packet firing several kinds gets the largest M.
  uint32_t post_override = 0;
  std::array<uint16_t, kTriggerBits> post_by_trigger{};
  TrimConfig trim;
  BudgetConfig budget;
  SampleConfig sample;
  uint32_t ring = 1u << 14;        // records, power of two
  uint8_t worker = 0;
  decode::LinkType link = decode::LinkType::kEthernet;
};

struct alignas(64) CaptureCounters {
  uint64_t packets = 0;              // packets observed
  uint64_t stored = 0;               // appended to the history log
  uint64_t slots_taken = 0;          // a flow took over a slot holding another flow's trigger state
  uint64_t history_cut = 0;          // slices that began with part of their history overwritten (the log wrapped)
  uint64_t history_cut_packets = 0;  // history packets those slices lacked
  std::array<uint64_t, kTriggerBits> triggers{};  // per TriggerKind bit, fired
  uint64_t slices = 0;               // slices opened
  uint64_t triggers_merged = 0;      // triggers inside an open slice (extended it)
  uint64_t refused_flow_budget = 0;  // triggers refused: the flow used its slices/packets
  uint64_t refused_global_budget = 0;// triggers refused: the worker's budget for the interval is spent
  uint64_t refused_ring = 0;         // triggers refused: no room in the ring for begin + history
  uint64_t emitted = 0;              // evidence packets handed to the ring
  uint64_t ring_full = 0;            // records lost: ring full (post packets, slice ends)
  uint64_t cut_flow_budget = 0;      // slices ended early by the per-flow packet budget
  uint64_t cut_global_budget = 0;    // slices ended early by the global budget
  uint64_t samples = 0;              // sampled packets handed to the ring
  uint64_t samples_ring_full = 0;
  uint64_t samples_no_flow = 0;      // flow sampling on, packet has no flow hash: not sampled
};

// Identifies a flow to the history: slot (masked to flow_slots) and its id (the tag).
struct FlowRef {
  uint32_t slot = 0;  // e.g. the flow id, or the flow table entry index
  uint32_t id = 0;    // FlowEntry::id (non-zero)
  uint8_t dir = 0;    // flow::Dir of this packet's sender
  const flow::FlowKey* key = nullptr;  // copied into kSliceBegin (the index names the flow)
};

// Bytes of a frame kept under `t` (never more than caplen).
[[gnu::always_inline]] inline uint32_t trimmed_length(const decode::PacketView& v, uint32_t caplen,
                                                      const TrimConfig& t) noexcept {
  constexpr uint32_t kUdpHeader = 8;
  constexpr uint32_t kMinTcpHeader = 20;
  uint32_t n = std::min(caplen, t.snap);
  if (t.mode != TrimMode::kHeaders) return n;
  uint32_t end = n;
  if (v.is_tcp()) {
    end = v.l4_off + std::max<uint32_t>(v.tcp.hdr_len, kMinTcpHeader);
  } else if (v.l4 == decode::L4Type::kUdp) {
    end = v.l4_off + kUdpHeader;
  } else if (v.is_ip()) {
    end = v.inner_ip().l4_off;
  }
  return std::min(n, end);
}

// The frame's length on the wire for an evidence record (the pcap's original length). The
// source's when it knows it; otherwise (a net_pcap replay of a snaplen-cut file, a
// net_af_packet frame cut at its ring slot: PacketRef::wirelen 0) at least what the outer IP
// header says, so that Wireshark reads the record as a cut frame, not as a short packet
// whose IP length lies.
[[gnu::always_inline]] inline uint32_t wire_length(const PacketRef& p, const decode::PacketView& v) noexcept {
  if (p.wirelen != 0) return p.wirelen;
  if (!v.is_ip()) return p.caplen;
  const uint64_t end = v.ip[0].end();
  return end > p.caplen && end <= UINT32_MAX ? static_cast<uint32_t>(end) : p.caplen;
}

// The evidence copy of a frame's first n bytes (history entries, ring records): 16-byte
// moves, the last one ending exactly at n (it may overlap the one before; nothing is read
// or written past n), so trimmed headers (54-130 bytes) cost 4-9 vector moves instead of a
// libc call. Short or long copies: memcpy.
[[gnu::always_inline]] inline void copy_trimmed(uint8_t* dst, const uint8_t* src, uint32_t n) noexcept {
#if defined(__SSE2__)
  constexpr uint32_t kInlineMax = 256;
  if (n >= 32 && n <= kInlineMax) [[likely]] {
    auto move16 = [](uint8_t* d, const uint8_t* s) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
    };
    move16(dst, src);
    move16(dst + 16, src + 16);
    for (uint32_t i = 32; i + 16 < n; i += 16) move16(dst + i, src + i);
    move16(dst + n - 16, src + n - 16);
    return;
  }
#endif
  std::memcpy(dst, src, n);
}

class EvidenceCapture {
 public:
  // A history log entry's header (32 bytes, written field by field on every stored
  // packet); the trimmed bytes follow, the entry rounded up to 16 bytes.
  struct HistEntry {
    uint64_t ts_ns;
    uint64_t frame;
    uint32_t prev;        // 16-byte units back to the same flow's previous entry; 0 = none
    uint32_t wirelen;
    uint32_t verdicts;
    uint32_t caplen : 16; // trimmed bytes (snap <= 65535)
    uint32_t link : 15;   // decode::LinkType of the frame (pcap link-type numbers < 32768)
    uint32_t dir : 1;
  };
  static_assert(sizeof(HistEntry) == 32);
  // Bytes an entry of `n` trimmed bytes takes in the log.
  static constexpr uint64_t entry_bytes(uint32_t n) noexcept { return sizeof(HistEntry) + (uint64_t{n} + 15) / 16 * 16; }

  struct alignas(64) FlowSlot {
    uint32_t flow_id = 0;   // owner; 0 = free
    uint16_t count = 0;     // packets in the flow's history chain not yet emitted (<= K)
    uint16_t reserved16 = 0;
    uint32_t post_left = 0; // post-trigger packets still to emit (slice open when slice != 0)
    uint32_t emitted = 0;   // evidence packets emitted for this flow
    uint64_t slice = 0;     // open slice id; 0 = none
    uint64_t last = 0;      // log position + 1 of the flow's latest history entry; 0 = none
    uint32_t slices = 0;    // slices opened on this flow
    uint32_t reserved = 0;
    FlowTriggerState trig;
  };

  static Result<std::unique_ptr<EvidenceCapture>> create(const CaptureConfig& cfg, const TriggerSet& triggers);

  // Optional, once per analysed packet of a burst before the burst's observe() calls
  // (STYLE.md 3, staged lookups): starts loading the flow's slot line, so the misses of a
  // whole burst overlap instead of stalling one packet at a time (the history log is
  // written sequentially and needs none). Changes nothing. always_inline: GCC 12 judges an
  // out-of-line function that only prefetches to be pure and deletes the calls.
  [[gnu::always_inline]] void prefetch(FlowRef f) const noexcept { __builtin_prefetch(&slots_[f.slot & slot_mask_]); }

  // One segment of flow `f` (after the TCP analysis gave it `sv`). `extra` carries
  // kTrigPayload / kTrigBpf computed by the worker (TriggerSet::payload_rule / bpf).
  // Inline: the common case (the flow owns its slot, no slice open, no trigger can fire on
  // the packet: TriggerSet::quiet) appends the packet to the history log and returns;
  // everything else goes out of line (observe_slow).
  [[gnu::always_inline]] void observe(const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                      const tcp::SegmentVerdict& sv, uint32_t extra = 0) noexcept {
    ++counters_.packets;
    FlowSlot& s = slots_[f.slot & slot_mask_];
    if (s.flow_id == f.id && s.slice == 0 && triggers_.quiet(s.trig, sv.bits, v.tcp.flags, f.dir, extra)) [[likely]] {
      store(s, p, v, f.dir, sv.bits);
      return;
    }
    observe_slow(p, v, f, sv, extra);
  }
  // The flow ended (flow record emitted): closes its open slice; with syn_unanswered
  // (handshake never answered) and that trigger on, its history is emitted as a slice.
  void flow_end(FlowRef f, bool syn_unanswered) noexcept;
  // Sampling for the sample file. flow_hash: flow::hash_key of the packet's flow (both
  // directions hash alike); has_hash false for packets without a flow.
  void sample(const PacketRef& p, const decode::PacketView& v, uint64_t flow_hash, bool has_hash) noexcept;
  bool sampling() const noexcept { return sample_every_ != 0 || flow_on_; }

  // The link type of the frames observed from now on (CaptureConfig::link at start): a
  // source whose bursts change link type (a pcapng file with mixed interfaces) sets it per
  // burst. Every record carries its frame's link type; history entries keep their own.
  void set_link(decode::LinkType link) noexcept { link_ = static_cast<uint16_t>(link); }

  RecordRing& ring() noexcept { return ring_; }
  const CaptureCounters& counters() const noexcept { return counters_; }
  const TriggerSet& triggers() const noexcept { return triggers_; }
  const CaptureConfig& config() const noexcept { return cfg_; }
  size_t memory_bytes() const noexcept;
  // The bytes create() will allocate for `cfg` (the formula in docs/evidence.md).
  static size_t memory_for(const CaptureConfig& cfg) noexcept;

 private:
  EvidenceCapture(const CaptureConfig& cfg, const TriggerSet& triggers);
  FlowSlot& slot_of(FlowRef f) noexcept;
  // The log entry at position `pos` (entries never straddle the end of the log).
  HistEntry* entry_at(uint64_t pos) noexcept { return reinterpret_cast<HistEntry*>(log_.get() + (pos & log_mask_)); }
  // Collects flow `s`'s unemitted history, newest first, into walk_: follows the chain while
  // the entries are intact (not overwritten since: the log has not lapped them) and still the
  // flow's own. Returns how many (fewer than s.count: the log cut the chain).
  uint32_t walk_history(const FlowSlot& s) noexcept;
  bool global_take(uint64_t ts_ns, uint32_t n) noexcept;
  bool open_slice(FlowSlot& s, const PacketRef& p, const decode::PacketView& v, FlowRef f, uint32_t verdicts,
                  uint32_t fired) noexcept;
  bool push_packet(const FlowSlot& s, Role role, const HistEntry& h, const uint8_t* data, uint32_t triggers) noexcept;
  void end_slice(FlowSlot& s, EndReason why, uint64_t ts_ns) noexcept;
  // M for a slice started (or extended) by the trigger kinds `fired`.
  uint32_t post_for(uint32_t fired) const noexcept {
    if ((fired & cfg_.post_override) == 0) return cfg_.post_packets;
    uint32_t m = (fired & ~cfg_.post_override) ? cfg_.post_packets : 0;
    for (unsigned b = 0; b < kTriggerBits; ++b)
      if ((fired & cfg_.post_override) >> b & 1u) m = std::max<uint32_t>(m, cfg_.post_by_trigger[b]);
    return m;
  }
  // Appends the packet, trimmed, to the log, linked to the flow's previous entry.
  [[gnu::always_inline]] void store(FlowSlot& s, const PacketRef& p, const decode::PacketView& v, uint8_t dir,
                                    uint32_t verdicts) noexcept {
    if (cfg_.pre_packets == 0) return;
    const uint32_t n = trimmed_length(v, p.caplen, cfg_.trim);
    const uint64_t need = entry_bytes(n);
    uint64_t pos = log_head_;
    if ((pos & log_mask_) + need > log_mask_ + 1) pos = (pos | log_mask_) + 1;  // no room before the end: next lap
    HistEntry* h = entry_at(pos);
    // Written in place, field by field (every byte of the header is set). The link to the
    // flow's previous entry is a distance; one a whole log back is gone anyway (0: none).
    const uint64_t back = pos + 1 - s.last;
    h->ts_ns = p.ts_ns;
    h->frame = p.frame;
    h->prev = s.last != 0 && back <= log_mask_ ? static_cast<uint32_t>(back >> 4) : 0;
    h->wirelen = wire_length(p, v);
    h->verdicts = verdicts;
    h->caplen = n & 0xffffu;
    h->link = link_ & 0x7fffu;
    h->dir = dir & 1u;
    copy_trimmed(reinterpret_cast<uint8_t*>(h) + sizeof(HistEntry), p.data, n);
    log_head_ = pos + need;
    s.last = pos + 1;
    if (s.count < cfg_.pre_packets) ++s.count;
    ++counters_.stored;
  }
  // observe() beyond its common case: a flow new to its slot, triggers evaluated, slices
  // opened, extended, cut. Out of line, so the inlined common case saves no registers for it.
  [[gnu::noinline]] void observe_slow(const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                      const tcp::SegmentVerdict& sv, uint32_t extra) noexcept;
  [[gnu::noinline]] void observe_triggers(FlowSlot& s, const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                          const tcp::SegmentVerdict& sv, uint32_t extra) noexcept;

  CaptureConfig cfg_;
  TriggerSet triggers_;
  uint16_t link_ = 0;  // of the current frames (set_link)
  uint32_t slot_mask_ = 0;
  // Flow slots live in a lazily zeroed mapping too (one per flow-table entry: 192 MB at 1M
  // flows, touched only where flows are): all-zero bytes are FlowSlot's default state
  // (FlowSlot is an aggregate, so the mapping holds its objects; tests check FlowSlot{} is
  // all zeros).
  // The flow slots' and the history log's memory: lazily zeroed mappings
  // (util/lazy_mapping.hpp) instead of zero-filled heap arrays: a worker touches only the
  // slots of the flows it sees and the part of the log it has written; zero-filling up front
  // cost ~0.1 s of system time and 150 MB of RSS per worker even on a 10k-packet capture
  // (docs/performance.md, "Evidence and BPF filter").
  util::LazyArray<uint8_t> slots_mem_;
  FlowSlot* slots_ = nullptr;
  util::LazyArray<uint8_t> log_;  // the history log
  uint64_t log_mask_ = 0;
  uint64_t log_head_ = 0;                     // position of the next entry (grows forever)
  std::unique_ptr<uint64_t[]> walk_;          // K positions: a slice's history, newest first
  RecordRing ring_;
  CaptureCounters counters_;
  uint64_t next_slice_ = 0;
  uint64_t global_window_start_ = 0;
  uint32_t global_left_ = 0;
  uint64_t global_interval_ns_ = 0;
  uint32_t sample_every_ = 0;
  uint32_t sample_countdown_ = 0;
  bool flow_on_ = false;         // flow sampling configured
  uint64_t flow_threshold_ = 0;  // keep a flow when mix(hash) >> 32 < threshold (2^32 = all)
};

}  // namespace seqwatch::evidence
