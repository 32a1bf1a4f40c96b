// Per-flow TCP analysis state: one HalfState per direction (the sequence-tracking
// variables Wireshark keeps per direction, plus counters) and a cold line for
// handshake, RTT and window findings. See docs/tcp-analysis.md for what each field
// means and when it changes.
//
// Sequence and ACK numbers are the raw header values, as in Wireshark's analysis,
// including its convention that 0 means "not seen yet" for nextseq, maxseqtobeacked and
// lastack (base_seq only decides whether a SYN starts a new connection).
#pragma once

#include <cstdint>

namespace seqwatch::tcp {

// HalfState::flags
enum HalfFlag : uint8_t {
  kBaseSet = 1u << 0,      // base_seq valid
  kSynSeen = 1u << 1,      // a SYN was sent in this direction (base_seq = its seq)
  kFinSeen = 1u << 2,
  kRstSeen = 1u << 3,
  kSackPerm = 1u << 4,     // SACK-permitted in this side's SYN
  kTimestamps = 1u << 5,   // timestamps option in this side's SYN
  kWindowSet = 1u << 6,    // window valid (a segment was seen in this direction; unset = 0xFFFFFFFF)
  kFirstAck = 1u << 7,     // the latest SYN was not yet followed by a plain ACK (window not scaled)
};

// Wireshark's dupacknum marker after an "ACKed unseen segment" on a stalled direction:
// counts as a run of >= 2, and the next duplicate ACK restarts the run at 1.
inline constexpr uint16_t kDupAckStalled = 0xFFFF;

// HalfState::lastseg: verdicts of this direction's previous segment that the other
// direction's next segment refers to.
enum LastSeg : uint8_t {
  kLastKeepAlive = 1u << 0,
  kLastZeroWindowProbe = 1u << 1,
  kLastRunTail = 1u << 2,  // the run of equal segments ended with a shorter one (see run_start)
};

// Window scale states before a shift is known (Wireshark's -1 / -2).
inline constexpr int8_t kWscaleUnknown = -1;  // no SYN seen in this direction
inline constexpr int8_t kWscaleNone = -2;     // SYN seen without the option, or the peer lacked it

// The tracking state of one direction of a TCP connection ("this side sends").
struct HalfState {
  uint32_t base_seq = 0;         // ISN (SYN) or first seq - 1; a SYN with another ISN is a new connection
  uint32_t nextseq = 0;          // highest seq + len (+1 for SYN/FIN) sent so far; 0 = unset
  uint32_t maxseqtobeacked = 0;  // highest in-order nextseq the peer may ACK; 0 = unset
  uint32_t lastack = 0;          // ACK field of this side's latest segment; 0 = unset
  uint32_t lastack_time_us = 0;  // time of this side's latest segment (µs, low 32 bits: differences only)
  uint32_t nextseq_time_us = 0;  // packet time nextseq last advanced
  uint32_t lastnondupack = 0;    // frame of the last segment that was not a duplicate ACK
  uint16_t window = 0;           // raw window field of the latest segment (valid with kWindowSet)
  uint16_t dupacknum = 0;        // current duplicate-ACK run (saturating below kDupAckStalled)
  int8_t wscale : 5 = kWscaleUnknown;  // shift 0..14, or kWscaleUnknown / kWscaleNone
  uint8_t lastseg : 3 = 0;       // LastSeg bits
  uint8_t flags = 0;             // HalfFlag bits
  // Packet time this side's ACK last moved forward (ack_clock(): 1.024 ms units, low 16
  // bits, so it wraps every 67 s; since_ack_advance() unwraps it): a sender's
  // retransmission timer restarts when its peer's ACK advances, and a timeout comes a
  // minimum RTO after that, however many duplicate ACKs arrived in between.
  uint16_t ack_adv = 0;
  // The latest run of contiguous equally sized new data segments (its first seq and the
  // common length; a shorter last segment may end it): segment boundaries lie on the grid
  // run_start + k * run_len, so a peer ACK below nextseq that is off the grid lands
  // inside a segment. run_len 0 = no data yet.
  uint32_t run_start = 0;
  uint16_t run_len = 0;
  // The open gaps ("previous segment not captured"): bytes the sensor never saw, one range
  // from the oldest unfilled hole over every later one (up to kGapMax: holes spread over a
  // large window stay in one range). A later segment filling it was lost upstream of the
  // sensor (or by the sensor); one re-sending bytes seen before was lost downstream.
  // gap_len holds the range coded by gap_code() (read it with gap_bytes()); 0 = no open gap.
  uint16_t gap_len = 0;
  uint32_t gap_start = 0;
  // One RTT measurement in flight (Karn: never timed across a retransmission): the
  // relative end of a new data segment and when it was sent; rtt_end 0 = none.
  uint32_t rtt_end = 0;
  uint32_t rtt_time_us = 0;
  // Timestamp-based spurious retransmission detection (Eifel, RFC 3522): the TSval of the
  // first retransmission of the oldest unacknowledged segment, until the peer's next ACK
  // that moves past it shows whether the original (older TSecr) or the retransmission
  // arrived first. 0 = none pending.
  uint32_t retx_tsval = 0;
  // Time this side kept advertising a zero window (ms).
  uint32_t zw_total_ms = 0;
};
static_assert(sizeof(HalfState) == 64, "one cache line per direction");

// HalfState::gap_len, the open gap range [gap_start, end): below 32 KiB its exact length;
// longer, the top bit set and the END in 256-byte units, absolute in sequence space (its
// low 15 bits), rounded down. An absolute end does not drift as fills move gap_start on;
// rounding down only leaves out the last < 256 bytes of the newest hole, where no re-sent
// segment of a full-sized hole starts. The range spans at most kGapMax.
inline constexpr uint32_t kGapMax = (uint32_t{0x7FFF} << 8) - 256;  // ~8 MiB
inline uint32_t gap_bytes(uint32_t start, uint16_t g) noexcept {
  if (!(g & 0x8000)) return g;
  const uint32_t su = start >> 8;
  const uint32_t end = (su + ((g - su) & 0x7FFFu)) << 8;
  const uint32_t len = end - start;
  return len <= kGapMax + 256 ? len : 0;  // an end at or before the start: nothing left
}
inline uint16_t gap_code(uint32_t start, uint32_t end) noexcept {
  uint32_t len = end - start;
  if (len < 0x8000) return static_cast<uint16_t>(len);
  if (len > kGapMax) end = start + kGapMax;
  return static_cast<uint16_t>(0x8000 | ((end >> 8) & 0x7FFF));
}

// The clock of HalfState::ack_adv: packet time in 1.024 ms units, low 16 bits.
inline uint16_t ack_clock(uint32_t now_us) noexcept { return static_cast<uint16_t>(now_us >> 10); }

// Microseconds from `then` to `now` on the 32-bit packet clock. A capture whose time steps
// back (merged from several interfaces or RX queues, stamped partly by a NIC and partly by the
// host) can put `now` a little before a time stored earlier: such a difference counts as no
// time instead of wrapping to 71 minutes of silence (a timeout, an RTT, a zero window of 71
// minutes). Steps back of up to kStepBackUs are recognised; a real difference is read right up
// to 71 minutes less that (idle timeouts are at most an hour by default).
inline constexpr uint32_t kStepBackUs = 10'000'000;
inline uint32_t elapsed_us(uint32_t now, uint32_t then) noexcept {
  const uint32_t d = now - then;
  return d > ~kStepBackUs ? 0u : d;
}

// Microseconds since this side's ACK last advanced, given the time since its latest segment
// (never more: the advance came with one of its segments). ack_adv holds 67 s of clock;
// whole wraps are added back until the result is at least since_segment_us (exact while
// this side sent only duplicate ACKs for under 67 s). A side that never acknowledged
// anything: the time since its latest segment.
// A time that steps back (see elapsed_us) is no time here too: an ack_clock difference in the
// top ~10 s of its 67 s range is one.
inline uint64_t since_ack_advance(const HalfState& h, uint32_t now_us, uint32_t since_segment_us) noexcept {
  if (h.lastack == 0) return since_segment_us;
  const uint16_t raw = static_cast<uint16_t>(ack_clock(now_us) - h.ack_adv);
  if (raw > 0xFFFFu - (kStepBackUs >> 10)) return since_segment_us;
  uint64_t d = static_cast<uint64_t>(raw) << 10;
  while (d + 1024 < since_segment_us) d += uint64_t{1} << 26;
  return d;
}

// Per-direction counters for the flow record. `segments` counts every segment sent (pure
// ACKs, SYN and FIN included, retransmissions included), as a sender's kernel counts
// TcpOutSegs + TcpRetransSegs; retransmission rate = retx_segs / segments.
struct HalfCounters {
  uint32_t segments = 0;         // all segments, retransmissions included
  uint32_t retx_segs = 0;        // retransmissions (fast and spurious included)
  uint64_t data_bytes = 0;
  uint32_t retx_bytes = 0;       // saturating
  uint16_t fast_retx = 0;        // saturating
  uint16_t spurious_retx = 0;    // saturating
  uint16_t dup_acks = 0;         // saturating
  // Not a counter: the time between this side's two latest segments, in kPaceGapUnitUs
  // (low 15 bits, saturating at 0x7FFF, ~262 ms), so a re-send in the sender's pacing slot
  // can be told from one its timer sent (analyzer: paced_answer); and its top bit,
  // kShortTimerSeen: this side's retransmission timer was seen firing sooner than the
  // 200 ms minimum RTO (a lowered rto_min). The counter carry keeps both.
  uint16_t pace_gap = 0;
  uint16_t lost_segments = 0;    // gaps: "previous segment not captured" (saturating)
  uint16_t rto_retx = 0;         // timeout retransmissions (docs/tcp-analysis.md section 14; saturating)
};
static_assert(sizeof(HalfCounters) == 32);

// HalfCounters::pace_gap: its unit, the time it codes (0x7FFF: that long or longer) and
// the flag in its top bit.
inline constexpr uint32_t kPaceGapUnitUs = 8;
inline constexpr uint16_t kPaceGapMax = 0x7FFF;
inline constexpr uint16_t kShortTimerSeen = 0x8000;
inline uint16_t pace_gap_code(uint32_t gap_us) noexcept {
  return static_cast<uint16_t>(gap_us / kPaceGapUnitUs < kPaceGapMax ? gap_us / kPaceGapUnitUs : kPaceGapMax);
}
inline uint32_t pace_gap_us(uint16_t pace_gap) noexcept { return static_cast<uint32_t>(pace_gap & kPaceGapMax) * kPaceGapUnitUs; }

// TcpCold::flags
enum ColdFlag : uint8_t {
  kColdMruSyn = 1u << 0,    // syn_time_us valid
  kColdRst = 1u << 1,       // a RST was seen; kColdRstFromB says who sent the first
  kColdRstFromB = 1u << 2,
  // Bits 3-5: SYNs of a simultaneous open's second side (saturating at 7); bits 6-7: SYN/ACKs
  // of the initiator (saturating at 3). TcpCold::count_peer_syn(), count_initiator_synack().
};

// Connection stage (TcpCold::stage).
enum class Stage : uint8_t { kNone, kSynSent, kSynReceived, kEstablished, kClosing, kClosed, kReset };

// Rarely touched per-flow state.
struct TcpCold {
  uint64_t first_ts_ns = 0;
  uint64_t rtt_sum_us = 0;
  uint32_t rtt_min_us = 0;
  uint32_t rtt_max_us = 0;
  uint32_t rtt_samples = 0;
  uint32_t syn_time_us = 0;      // most recent SYN without ACK (Wireshark's ts_mru_syn; valid with kColdMruSyn)
  uint32_t first_rtt_us = 0;     // that SYN -> the next non-SYN ACK: Wireshark's ts_first_rtt (0 = unset)
  uint32_t hs_rtt_syn_us = 0;    // SYN -> SYN/ACK
  uint32_t hs_rtt_ack_us = 0;    // SYN/ACK -> ACK
  uint32_t synack_time_us = 0;
  uint16_t midack_count = 0;     // ACKs landing inside a segment of the other side (saturating)
  uint16_t midack_last_off = 0;  // offset of the last one into its segment
  uint16_t dsacks = 0;           // ACKs carrying a D-SACK, either direction (saturating)
  uint16_t mss[2] = {0, 0};      // per direction (index = flow::Dir)
  uint8_t syn_count = 0;         // SYNs seen (attempts), saturating
  uint8_t synack_count = 0;
  Stage stage = Stage::kNone;
  uint8_t initiator : 1 = 0;     // Dir of the first SYN (or of the first packet)
  // Low 3 bits of the TSval of each direction's latest analysed segment with the timestamps
  // option (3 bits per flow::Dir): when they differ from a fingerprint-equal segment's, the
  // sender's clock has moved on since the original, so those bytes cannot be a re-send (the
  // copy check, docs/tcp-analysis.md section 16).
  uint8_t tsval_low_a : 3 = 0;  // flow::Dir::kAtoB
  uint8_t tsval_low_b : 3 = 0;  // flow::Dir::kBtoA
  // A segment with more payload than its receiver's advertised MSS was seen (either side):
  // a TSO/GSO aggregate captured on the sending host, or a GRO one on the receiving host.
  // The flow's segment counts are then captured frames, not wire segments.
  uint8_t super_segments : 1 = 0;
  uint8_t tail_probes = 0;       // tail-loss probes, either direction (saturating at 255)
  uint8_t flags = 0;             // ColdFlag bits

  uint32_t tsval_low_of(unsigned dir) const noexcept { return dir != 0 ? tsval_low_b : tsval_low_a; }
  void note_tsval(unsigned dir, uint32_t tsval) noexcept {
    if (dir != 0) tsval_low_b = tsval & 7u;
    else tsval_low_a = tsval & 7u;
  }

  // Simultaneous open (RFC 9293 section 3.5): both sides send a SYN, then both a SYN/ACK. The
  // initiator's SYNs count in syn_count, the other side's SYN/ACKs in synack_count; these
  // count the other two kinds, so each side's own repeats are its retransmissions.
  unsigned peer_syns() const noexcept { return (flags >> 3) & 7u; }
  unsigned initiator_synacks() const noexcept { return flags >> 6; }
  bool simultaneous_open() const noexcept { return peer_syns() != 0; }
  unsigned count_peer_syn() noexcept {
    const unsigned n = peer_syns() + (peer_syns() < 7 ? 1u : 0u);
    flags = static_cast<uint8_t>((flags & ~(7u << 3)) | n << 3);
    return n;
  }
  unsigned count_initiator_synack() noexcept {
    const unsigned n = initiator_synacks() + (initiator_synacks() < 3 ? 1u : 0u);
    flags = static_cast<uint8_t>((flags & ~(3u << 6)) | n << 6);
    return n;
  }

  // Dir that sent the first RST, 0xFF = none.
  uint8_t rst_from() const noexcept { return (flags & kColdRst) ? ((flags & kColdRstFromB) ? 1 : 0) : 0xFF; }
  void set_rst_from(uint8_t dir) noexcept { flags |= kColdRst | (dir != 0 ? kColdRstFromB : 0); }
  void clear_rst() noexcept { flags &= static_cast<uint8_t>(~(kColdRst | kColdRstFromB)); }
};
static_assert(sizeof(TcpCold) <= 64);

// The handshake still open (Stage::kSynSent or kSynReceived) although it was completed where
// the sensor did not see it: the initiator sent more than its SYNs (it acknowledged a SYN/ACK,
// sent data), or the responder more than its SYN/ACKs (data: only an established side sends
// it). A one-sided capture (asymmetric routing, a SPAN session of one direction), or an ACK
// the capture missed: no unanswered SYN, no incomplete handshake. Segment counts are the
// whole flow's, SYNs and SYN/ACKs included.
inline bool handshake_done_unseen(const TcpCold& c, uint64_t initiator_segments, uint64_t responder_segments) noexcept {
  if (c.stage == Stage::kSynSent) return c.syn_count < 255 && initiator_segments > c.syn_count;
  if (c.stage == Stage::kSynReceived) return c.synack_count < 255 && responder_segments > c.synack_count;
  return false;
}

}  // namespace seqwatch::tcp
