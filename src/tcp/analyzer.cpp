#include "tcp/analyzer.hpp"

namespace seqwatch::tcp {

namespace {

using decode::kTcpAck;
using decode::kTcpFin;
using decode::kTcpRst;
using decode::kTcpSyn;

// Sequence-space comparisons modulo 2^32 (RFC 9293 section 3.4), written exactly as
// Wireshark's: gt/ge look at b - a. At the antipode (a - b == 2^31) both lt(a, b) and
// gt(a, b) hold, as in tshark (docs/tcp-analysis.md, "Sequence space").
inline bool seq_lt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(b - a) < 0; }
inline bool seq_ge(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(b - a) <= 0; }

inline constexpr int8_t kMaxWscale = 14;  // RFC 7323 section 2.3: larger shifts are treated as 14
// How far back (in segments) an ACK may land inside an inferred full-sized flight.
inline constexpr uint32_t kFlightSegments = 256;

// A direction's window as Wireshark holds it: the raw field, or 0xFFFFFFFF before any.
inline uint32_t window_of(const HalfState& h) noexcept {
  return (h.flags & kWindowSet) ? h.window : 0xFFFFFFFFu;
}

template <class T>
inline void sat_inc(T& v, uint32_t by = 1) noexcept {
  const uint64_t n = static_cast<uint64_t>(v) + by;
  v = n > static_cast<T>(~T{0}) ? static_cast<T>(~T{0}) : static_cast<T>(n);
}

// The flow record's counters never wrap: they saturate, and once one passes half its range
// the flow is marked (kFlowCarryDue) for the TCP stage to carry the counts into its 64-bit
// side table right after this segment (tcp/counter_carry.hpp), which zeroes them here.
template <class T>
inline void count_up(uint8_t& status, T& v, uint32_t by = 1) noexcept {
  sat_inc(v, by);
  if (v >= static_cast<T>(T{1} << (sizeof(T) * 8 - 1))) status |= flow::kFlowCarryDue;
}
// Every segment: no saturation test (the stage holds an uncarried count below 2^32 - 2^16).
inline void count_segment(uint8_t& status, HalfCounters& cnt) noexcept {
  if (++cnt.segments >= (1u << 31)) [[unlikely]] status |= flow::kFlowCarryDue;
}

// Every segment of a side: the time since its previous one (HalfCounters::pace_gap).
inline void note_pace_gap(HalfCounters& cnt, uint32_t now, uint32_t prev_sent_us) noexcept {
  cnt.pace_gap = static_cast<uint16_t>((cnt.pace_gap & kShortTimerSeen) | pace_gap_code(elapsed_us(now, prev_sent_us)));
}

// A segment of `seglen` payload bytes from side d: longer than the MSS its receiver
// advertised (when known), it is a TSO/GSO/GRO aggregate of several wire segments.
inline void note_super_segment(TcpCold& cold, int d, uint32_t seglen) noexcept {
  const uint32_t mss = cold.mss[1 - d];
  if (seglen > mss && mss != 0) cold.super_segments = 1;
}

// The boundary grid of new data (for ACK-inside-a-segment), updated by a new data
// segment (seglen 1..0xFFFF, not a SYN, seq at or past nextseq) before nextseq moves on.
inline void extend_grid(HalfState& fwd, uint32_t seq, uint32_t seglen) noexcept {
  const uint16_t len16 = static_cast<uint16_t>(seglen);
  const bool contiguous = fwd.run_len != 0 && seq == fwd.nextseq && !(fwd.lastseg & kLastRunTail);
  if (contiguous && len16 == fwd.run_len) {
    // The run goes on. Keep run_start within 2^30 of it: the grid is computed modulo
    // 2^32, which is not a multiple of run_len, and the serial test against run_start
    // flips after 2^31 (docs/tcp-analysis.md, "Sequence space"). The new anchor is on the
    // grid and below every ACK the flight test accepts.
    if (seq - fwd.run_start >= (1u << 30)) fwd.run_start = seq - kFlightSegments * fwd.run_len;
  } else if (contiguous && len16 < fwd.run_len) {
    fwd.lastseg |= kLastRunTail;  // a short last segment: the grid still holds below it
  } else {
    fwd.run_start = seq;
    fwd.run_len = len16;
    fwd.lastseg &= static_cast<uint8_t>(~kLastRunTail);
  }
}

// ACK inside a segment (a middlebox acknowledging part of a segment), for an ACK that is
// not on a SYN or RST: a peer ACK below the peer's nextseq, within kFlightSegments
// segments, off the boundary grid of the peer's latest run of equally sized segments.
// Not when those segments are longer than the MSS the ACK's sender advertised (`own_mss`,
// 0 = unknown): TSO/GSO/GRO aggregates captured on a host, which the receiver got as
// several wire segments and acknowledges per segment (the flow's super_segments).
inline void ack_in_segment(const HalfState& rev, TcpCold& cold, uint8_t& status, uint32_t ack, uint32_t own_mss,
                           uint32_t& bits, SegmentVerdict& out) noexcept {
  if (rev.run_len != 0 && seq_gt(ack, rev.run_start) && seq_lt(ack, rev.nextseq) &&
      rev.nextseq - ack <= kFlightSegments * rev.run_len && (own_mss == 0 || rev.run_len <= own_mss)) {
    const uint32_t into = (ack - rev.run_start) % rev.run_len;
    if (into != 0) {
      bits |= kAckInSegment;
      out.midack_offset = static_cast<uint16_t>(into);
      count_up(status, cold.midack_count);
      cold.midack_last_off = out.midack_offset;
    }
  }
}

// RTT: an ACK at or past the peer's timed segment ends its measurement (one timed segment
// per direction, never across a retransmission: Karn).
inline void rtt_sample(HalfState& rev, TcpCold& cold, uint8_t& status, uint32_t ack, uint32_t now) noexcept {
  if (rev.rtt_end != 0 && seq_ge(ack, rev.rtt_end)) {
    const uint32_t sample = elapsed_us(now, rev.rtt_time_us);
    if (cold.rtt_samples == 0 || sample < cold.rtt_min_us) cold.rtt_min_us = sample;
    if (sample > cold.rtt_max_us) cold.rtt_max_us = sample;
    cold.rtt_sum_us += sample;
    count_up(status, cold.rtt_samples);
    rev.rtt_end = 0;
  }
}

// P5-P6 for a non-SYN ACK: the first RTT after a SYN (the out-of-order threshold), and
// this side's window is scaled from now on.
inline void first_ack(HalfState& fwd, TcpCold& cold, uint32_t now) noexcept {
  if ((cold.flags & kColdMruSyn) && cold.first_rtt_us == 0) cold.first_rtt_us = now - cold.syn_time_us;
  fwd.flags &= static_cast<uint8_t>(~kFirstAck);
}

// A non-SYN ACK from the initiator after the SYN/ACK completes the handshake.
inline void handshake_ack(TcpCold& cold, int d, uint32_t now) noexcept {
  if (cold.stage == Stage::kSynReceived && d == cold.initiator) {
    cold.stage = Stage::kEstablished;
    // A simultaneous open has no SYN/ACK -> ACK round trip of one side to measure.
    if (!cold.simultaneous_open()) cold.hs_rtt_ack_us = elapsed_us(now, cold.synack_time_us);
  }
}

// The flow's RTT for the timer rules ("Counters" in analyze_segment): the larger of its mean
// measured RTT and half its largest (the mean lags behind a queue that builds up), else its
// handshake RTT.
inline uint32_t timer_rtt(const TcpCold& cold) noexcept {
  uint32_t rtt = cold.hs_rtt_syn_us + cold.hs_rtt_ack_us;
  if (cold.rtt_samples != 0) {
    rtt = static_cast<uint32_t>(cold.rtt_sum_us / cold.rtt_samples);
    if (cold.rtt_max_us / 2 > rtt) rtt = cold.rtt_max_us / 2;
  }
  return rtt;
}

// FlowEntry::retx_last, bit 2 + d: direction d's latest segment was a duplicate ACK or
// carried SACK blocks, loss evidence that can clock a re-send from the other side.
inline constexpr uint8_t kRetxLastClocks = 4;
// FlowEntry::retx_last, bit 6 + d: direction d's latest segment was counted a timeout;
// bit 4 + d: the one before it was.
inline constexpr uint8_t kRetxPrevTimeout = 16;
inline constexpr uint8_t kRetxLastTimeout = 64;
// The retx_last bits of direction d after a segment of it (bit 6 + d moves to bit 4 + d).
inline uint8_t shift_retx_last(uint8_t last, unsigned d, bool resend, bool clocks, bool timeout) noexcept {
  const uint8_t prev = (last >> d) & kRetxLastTimeout ? static_cast<uint8_t>(kRetxPrevTimeout << d) : uint8_t{0};
  return static_cast<uint8_t>((last & ~((1u | kRetxLastClocks | kRetxPrevTimeout | kRetxLastTimeout) << d)) | prev |
                              (resend ? 1u << d : 0u) | (clocks ? kRetxLastClocks << d : 0u) |
                              (timeout ? kRetxLastTimeout << d : 0u));
}

// A sender answers a segment within this long (plus twice its side's share of the RTT, as
// the sensor sees it): a re-send sooner than that after the peer's latest segment may be
// clocked by it. Kernel runs: a sender beside the sensor answers in 2-5 µs; timeouts came
// 0.5 to 17 ms after the latest duplicate ACK.
inline constexpr uint32_t kRenoAnswerUs = 200;

// A sender that paces (Linux: internal pacing or fq, at 1.2-2 x cwnd / SRTT) holds even a
// fast retransmission until its next pacing slot, one pacing interval after its previous
// segment: the answer to a duplicate ACK can then come milliseconds after it (kernel run,
// no SACK, 10 Mbit/s shared by 6 streams: two head re-sends 0.6 and 2 ms after the 38th and
// 7th duplicate ACK, each exactly 5.43 / 19.06 ms after the sender's previous segment, as
// every segment before them; its TcpExtTCPTimeouts did not count them). A timer fires
// at no particular point of that rhythm. So a re-send is such a held answer when loss
// evidence of the peer arrived after the sender's previous segment and the re-send keeps
// the sender's latest interval (the gap before its previous segment) to within
// kPaceSlotUs; intervals shorter than kRenoAnswerUs need no such test, and none as long as
// the minimum RTO is a pacing interval.
inline constexpr uint32_t kPaceSlotUs = 64;

// How long the peer's ACK must have stalled before a head re-send can be the sender's
// timeout: the minimum RTO (or one RTT); or, once that sender's timer was seen firing
// sooner (HalfCounters kShortTimerSeen), kShortRtoUs (or two RTTs).
inline uint64_t timeout_quiet(uint32_t rtt, bool short_timer) noexcept {
  if (short_timer) return std::max<uint64_t>(kShortRtoUs, 2 * uint64_t{rtt});
  return std::max<uint64_t>(kMinRtoUs, rtt);
}
inline bool paced_answer(const HalfState& rev, bool peer_clocks, uint32_t now, uint32_t prev_sent_us,
                         uint32_t prev_gap_us) noexcept {
  const uint32_t gap = elapsed_us(now, prev_sent_us);
  if (!peer_clocks || elapsed_us(now, rev.lastack_time_us) >= gap) return false;
  if (prev_gap_us < kRenoAnswerUs || prev_gap_us >= kMinRtoUs) return false;
  const uint32_t diff = gap > prev_gap_us ? gap - prev_gap_us : prev_gap_us - gap;
  return diff <= kPaceSlotUs;
}

// In loss recovery, a partial ACK (the peer's ACK moves, but not past everything sent) lets
// the sender re-send the next hole at once, unless it paces: then the re-send waits for its
// pacing slot, which follows the sender's own rhythm, not the ACK (kernel run, no SACK,
// default RTO, 10 Mbit/s shared by 6 streams: after a 200 ms timeout, partial ACKs answered
// 18-31 ms later, every re-send 41.94-41.99 ms after the sender's previous one, the first
// after an interval of 21.0 ms: twice it; its TcpExtTCPTimeouts counted none of them). A
// short timer fires at no particular point of that rhythm. So a re-send is such a paced
// answer when the ACK moved after the sender's previous segment (the ACK clock ticks in
// 1.024 ms: an advance within a tick of it is not taken) and the re-send comes one or two
// of the sender's latest intervals after that segment, to within kPaceSlotUs. Read only
// for timers shorter than the minimum RTO (kernel run with a 10 ms minimum RTO and no SACK:
// a timeout 79 ms after the sender's previous re-send, whose interval was 21.8 ms).
inline bool paced_after_advance(uint64_t stalled_us, uint32_t gap_us, uint32_t prev_gap_us) noexcept {
  if (stalled_us + 1024 >= gap_us) return false;
  if (prev_gap_us < kRenoAnswerUs || prev_gap_us >= kMinRtoUs) return false;
  const auto near = [gap_us](uint32_t slot) { return (gap_us > slot ? gap_us - slot : slot - gap_us) <= kPaceSlotUs; };
  return near(prev_gap_us) || near(2 * prev_gap_us);
}

// A head re-send that Wireshark's rule calls a fast retransmission (two duplicate ACKs, the
// last within 20 ms) but that a sender without SACK sent on its timer: both SYNs seen, SACK
// not negotiated, the oldest unacknowledged segment re-sent while the peer's ACK has stalled
// for the minimum RTO (or one RTT), not right after a segment of the peer. Such a sender
// re-sends the head when the duplicate ACKs reach its threshold (3; Linux raises it to the
// reordering it sees, up to 300, so the run's length does not decide) and then only when
// the ACK moves (NewReno) or its timer fires; in the loss state after a timeout duplicate
// ACKs trigger nothing. A re-send on the threshold answers a duplicate ACK at once; the
// sender's side of the RTT, as the sensor sees it (the client's: SYN/ACK to ACK; the
// server's: SYN to SYN/ACK), bounds how late that answer passes the sensor. Kernel runs
// without SACK: docs/tcp-analysis.md section 14.
inline bool reno_late_head_resend(const HalfState& fwd, const HalfState& rev, const TcpCold& cold, int d,
                                  uint32_t seq, uint32_t now, bool short_timer) noexcept {
  const uint8_t both = fwd.flags & rev.flags;
  if (!(both & kSynSeen) || (both & kSackPerm)) return false;
  if (seq != rev.lastack) return false;
  const uint32_t rtt = timer_rtt(cold);
  uint32_t side = d == cold.initiator ? cold.hs_rtt_ack_us : cold.hs_rtt_syn_us;
  if (side == 0) side = rtt;
  const uint32_t since_peer = elapsed_us(now, rev.lastack_time_us);
  if (since_peer < kRenoAnswerUs + 2 * uint64_t{side}) return false;
  return since_ack_advance(rev, now, since_peer) >= timeout_quiet(rtt, short_timer);
}

// Without SACK a sender re-sends the head once on its duplicate-ACK threshold, and then,
// while the peer's ACK stays put, only on its timer (in the loss state after a timeout
// duplicate ACKs trigger nothing; NewReno re-sends the next hole when the ACK moves). So a
// head re-send whose side's previous segment was a re-send too, with the peer's ACK not
// moved since that segment (the ack clock's tick allowed) and at least a short timer's
// time after it, re-sends the head a second time: a timer's, under the short floor
// (timeout_quiet(rtt, true)); below the minimum RTO it shows the sender's timer is short.
// Kernel run with net.ipv4.tcp_rto_min_us=20000 and no SACK: 44 of the kernel's 64
// timeouts counted before, 60 with this; no count changed on 48 kernel captures at the
// default minimum RTO.
inline bool reno_head_again(const HalfState& fwd, const HalfState& rev, bool prev_resend, uint32_t seq,
                            uint32_t seglen, uint32_t now, uint32_t prev_sent_us, uint32_t rtt) noexcept {
  const uint8_t both = fwd.flags & rev.flags;
  if (!prev_resend || seglen == 0 || !(both & kSynSeen) || (both & kSackPerm) || rev.lastack == 0 || seq != rev.lastack)
    return false;
  const uint32_t gap = elapsed_us(now, prev_sent_us);
  const uint32_t since_peer = elapsed_us(now, rev.lastack_time_us);
  const uint64_t stalled = since_ack_advance(rev, now, since_peer);
  // The peer's latest segment came after the side's previous one, was no duplicate ACK, and
  // the ACK last moved with it (to within the clock's tick): the ACK moved after that
  // segment, however close to it (the tick alone cannot tell), so this is the next hole, not
  // the same head again (SPAN run, no SACK, default RTO: a partial ACK 6 µs after a re-send,
  // the next hole re-sent 20.9 ms later in the sender's pacing slot, read as a short timer).
  if (since_peer < gap && rev.dupacknum == 0 && stalled <= uint64_t{since_peer} + 1024) return false;
  return gap >= timeout_quiet(rtt, true) && stalled + 1024 >= gap;
}

// A6, window_full: a data segment that fills the peer's advertised window exactly (the
// only comparison that scales the window; the caller checked rev.wscale is known).
inline bool fills_window(const HalfState& rev, uint32_t rev_win, uint32_t seq, uint32_t seglen) noexcept {
  const int shift = (rev.flags & kFirstAck) || rev.wscale == kWscaleNone ? 0 : rev.wscale;
  return seq + seglen == rev.lastack + static_cast<uint32_t>(rev_win << shift);
}

// The common segment, handled without the full rule walk: an ACK (no SYN, FIN or RST) of
// a flow whose both directions have sent, at this side's nextseq, with no zero window on
// either side, that is neither a duplicate ACK nor a window update (a pure ACK moves the
// ACK field), ACKs nothing unseen, repeats nothing the peer acknowledged, carries no SACK
// blocks or window-scale option, and arrives while no timestamp check is pending (the
// first ACK after a handshake qualifies). For such a segment only window_full and
// ack_in_segment can fire; fast_segment() tests them and makes every state change
// analyze_segment_rules() would make, in the same order. This test reads, never writes.
// tests/analysis/fast_path_test.cpp
// holds the two paths to identical verdicts and identical flow state, packet by packet,
// over the corpus and generated traces.
inline bool fast_eligible(const flow::FlowEntry& f, int d, const decode::TcpInfo& t) noexcept {
  const HalfState& fwd = f.half[d];
  const HalfState& rev = f.half[1 - d];
  const uint32_t seq = t.seq, ack = t.ack, seglen = t.payload_len;
  constexpr uint8_t kSent = kBaseSet | kWindowSet;
  if ((t.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) != kTcpAck) return false;
  if (seq != fwd.nextseq || seq == 0) return false;
  if ((fwd.flags & kSent) != kSent || (rev.flags & kSent) != kSent) return false;
  if (t.window == 0 || fwd.window == 0 || rev.window == 0) return false;
  if (seglen == 0 ? ack == fwd.lastack : seglen > 0xFFFF || (rev.lastack != 0 && seq_le(seq + seglen, rev.lastack)))
    return false;
  if (rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked)) return false;
  if (rev.retx_tsval != 0 || (t.opts & decode::kOptWscale) || ((t.opts & decode::kOptSack) && t.sack_count != 0))
    return false;
  return true;
}

// fast_eligible() said yes: every change analyze_segment_rules() would make, in its order.
inline void fast_segment(flow::FlowEntry& f, int d, const decode::TcpInfo& t, uint32_t now,
                         uint32_t frame, SegmentVerdict& out) noexcept {
  HalfState& fwd = f.half[d];
  HalfState& rev = f.half[1 - d];
  TcpCold& cold = f.cold;
  const uint32_t seq = t.seq, ack = t.ack, seglen = t.payload_len;
  const uint32_t prev_sent_us = fwd.lastack_time_us;
  uint32_t bits = 0;
  if (seglen > 0 && rev.wscale != kWscaleUnknown && fills_window(rev, rev.window, seq, seglen)) bits |= kWindowFull;
  if (ack != fwd.lastack) {
    fwd.lastnondupack = frame;
    fwd.dupacknum = 0;
    if (seq_gt(ack, fwd.lastack) || fwd.lastack == 0) fwd.ack_adv = ack_clock(now);
  }
  if (seglen > 0) {
    extend_grid(fwd, seq, seglen);
    fwd.nextseq = seq + seglen;
    fwd.nextseq_time_us = now;
  }
  if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) fwd.maxseqtobeacked = fwd.nextseq;
  fwd.window = t.window;
  fwd.lastack = ack;
  fwd.lastack_time_us = now;
  fwd.lastseg &= kLastRunTail;
  first_ack(fwd, cold, now);
  handshake_ack(cold, d, now);
  ack_in_segment(rev, cold, f.status, ack, cold.mss[d], bits, out);
  rtt_sample(rev, cold, f.status, ack, now);
  if (seglen > 0 && fwd.rtt_end == 0) {
    fwd.rtt_end = seq + seglen;
    fwd.rtt_time_us = now;
  }
  HalfCounters& cnt = f.count[d];
  count_segment(f.status, cnt);
  note_pace_gap(cnt, now, prev_sent_us);
  cnt.data_bytes += seglen;
  note_super_segment(cold, d, seglen);
  // Nothing to move or clear in the common case (no recent re-send or loss evidence): no store.
  if (f.retx_last & ((1u | kRetxLastClocks | kRetxPrevTimeout | kRetxLastTimeout) << d)) [[unlikely]]
    f.retx_last = shift_retx_last(f.retx_last, d, false, false, false);
  out.bits |= bits;
}

// A connection's first segment, a SYN (no ACK, FIN or RST) on a flow nothing has been
// seen of: the rules reduce to setting up this side (ISN, nextseq, options, SYN time),
// counting the attempt and the stage; no verdict can fire except window_scaling_missing,
// which needs the peer's SYN and so cannot either. Same state changes as
// analyze_segment_rules() (tests/analysis/fast_path_test.cpp holds them equal).
inline bool first_syn_eligible(const flow::FlowEntry& f, const decode::TcpInfo& t) noexcept {
  return (t.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) == kTcpSyn && (f.half[0].flags | f.half[1].flags) == 0 &&
         f.cold.syn_count == 0 && f.cold.stage == Stage::kNone;
}

// P5 for a SYN without ACK: Wireshark's ts_mru_syn, the time the initial RTT is measured
// from. A zero time means "none" there: a SYN stamped exactly at the epoch (hand-made
// captures) gives no initial RTT and the out-of-order threshold stays 3 ms; matched.
inline void note_syn_time(TcpCold& cold, uint32_t now, uint64_t ts_ns) noexcept {
  cold.syn_time_us = now;
  if (ts_ns != 0) {
    cold.flags |= kColdMruSyn;
  } else {
    cold.flags &= static_cast<decltype(cold.flags)>(~kColdMruSyn);
  }
}

inline void first_syn(flow::FlowEntry& f, int d, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame) noexcept {
  const uint32_t now = static_cast<uint32_t>(ts_ns / 1000);
  HalfState& fwd = f.half[d];
  HalfState& rev = f.half[1 - d];
  TcpCold& cold = f.cold;
  const uint32_t seq = t.seq, seglen = t.payload_len;
  fwd.base_seq = seq;
  fwd.flags = kBaseSet | kSynSeen | kWindowSet | kFirstAck;
  if (t.ack != 0) fwd.lastnondupack = frame;  // the ACK field moved from "unset"
  fwd.nextseq = seq + seglen + 1;
  fwd.nextseq_time_us = now;
  fwd.maxseqtobeacked = fwd.nextseq;
  fwd.window = t.window;
  fwd.lastack = t.ack;
  note_pace_gap(f.count[d], now, fwd.lastack_time_us);
  fwd.lastack_time_us = now;
  note_syn_time(cold, now, ts_ns);
  if (t.opts & decode::kOptWscale) fwd.wscale = static_cast<int8_t>(t.wscale > kMaxWscale ? kMaxWscale : t.wscale);
  if (fwd.wscale == kWscaleUnknown) {
    fwd.wscale = kWscaleNone;
    rev.wscale = kWscaleNone;
  }
  if (t.opts & decode::kOptSackPerm) fwd.flags |= kSackPerm;
  if (t.opts & decode::kOptTimestamp) fwd.flags |= kTimestamps;
  if (t.opts & decode::kOptMss) cold.mss[d] = t.mss;
  if (seglen > 0) {
    fwd.rtt_end = seq + seglen;
    fwd.rtt_time_us = now;
  }
  HalfCounters& cnt = f.count[d];
  count_segment(f.status, cnt);
  cnt.data_bytes += seglen;
  cold.syn_count = 1;
  cold.stage = Stage::kSynSent;
}
}  // namespace

void start_flow(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns) noexcept {
  f.cold.first_ts_ns = ts_ns;
  const bool synack = (t.flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
  // The client is the SYN's sender, a SYN/ACK's receiver, otherwise whoever spoke first.
  f.cold.initiator = static_cast<uint8_t>(synack ? 1 - static_cast<int>(dir) : static_cast<int>(dir));
}

bool analyze_segment_fast(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame,
                          SegmentVerdict& out) noexcept {
  if (fast_eligible(f, static_cast<int>(dir), t)) {
    fast_segment(f, static_cast<int>(dir), t, static_cast<uint32_t>(ts_ns / 1000), frame, out);
    return true;
  }
  if (first_syn_eligible(f, t)) {
    first_syn(f, static_cast<int>(dir), t, ts_ns, frame);
    return true;
  }
  return false;
}

Action analyze_segment(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame,
                       SegmentVerdict& out) noexcept {
  if (fast_eligible(f, static_cast<int>(dir), t)) {
    fast_segment(f, static_cast<int>(dir), t, static_cast<uint32_t>(ts_ns / 1000), frame, out);
    return Action::kNone;
  }
  if (first_syn_eligible(f, t)) {
    first_syn(f, static_cast<int>(dir), t, ts_ns, frame);
    return Action::kNone;
  }
  return analyze_segment_rules(f, dir, t, ts_ns, frame, out);
}

// Forgets everything a side's sequence numbers were measured against (nextseq, the highest
// ACKable sequence, the open gap, the segment grid, the RTT timer, the Eifel check), as if
// the side had not sent yet; its window, options and counters stay.
// A segment this far from where a side's latest ISN put it (either way) is in another
// sequence space (an earlier SYN/ACK's).
inline constexpr uint32_t kIsnSpaceApart = 65536;

inline void restart_sequence_space(HalfState& h) noexcept {
  h.nextseq = h.maxseqtobeacked = 0;
  h.gap_len = 0;
  h.run_len = 0;
  h.rtt_end = h.retx_tsval = 0;
  h.lastseg = 0;
}

// Out of line: inlined into analyze_segment, its register saves would be paid by the
// short path too.
[[gnu::noinline]] Action analyze_segment_rules(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t,
                                               uint64_t ts_ns, uint32_t frame, SegmentVerdict& out) noexcept {
  const int d = static_cast<int>(dir), r = 1 - d;
  HalfState& fwd = f.half[d];
  HalfState& rev = f.half[r];
  HalfCounters& cnt = f.count[d];
  TcpCold& cold = f.cold;
  const uint32_t now = static_cast<uint32_t>(ts_ns / 1000);
  const uint32_t prev_sent_us = fwd.lastack_time_us;  // this side's previous segment (updated below)
  const uint32_t prev_ack = fwd.lastack;              // this side's ACK before this segment (updated below)
  const uint8_t fl = t.flags;
  const bool syn = fl & kTcpSyn, fin = fl & kTcpFin, rst = fl & kTcpRst, has_ack = fl & kTcpAck;
  const bool no_sfr = !(fl & (kTcpSyn | kTcpFin | kTcpRst));
  const uint32_t seglen = t.payload_len;
  const uint32_t seq = t.seq, ack = t.ack;  // raw header values, as Wireshark analyses them
  const uint32_t win = t.window;            // raw window field (only window_full scales)
  uint32_t bits = 0;

  // P2: a SYN with another ISN on a used 4-tuple is a new connection; the same ISN again
  // (a SYN retransmission) rewinds nextseq to what the peer may still ACK.
  if (syn && !has_ack && (fwd.flags & kBaseSet)) {
    if (seq != fwd.base_seq) return Action::kRestart;
    fwd.nextseq = fwd.maxseqtobeacked;
  }
  if (syn && has_ack && (fwd.flags & kBaseSet) && seq != fwd.base_seq) {
    fwd.base_seq = seq;  // a SYN/ACK with a new ISN: flagged, same connection
    bits |= kReusedPorts;
    // A side that has sent no data yet (only a stray ACK or RST: a middlebox answering the
    // SYN, an earlier SYN/ACK of another responder) starts its sequence space afresh at the
    // new ISN: its data is new, not re-sent (Wireshark 4.0 keeps the old space and calls
    // every later segment a retransmission; docs/tcp-analysis.md). With data sent, the
    // state is kept, as Wireshark does.
    if (cnt.data_bytes == 0) restart_sequence_space(fwd);
  }
  // The other way round: a side that answered with two ISNs and has sent no data yet, whose
  // segment comes exactly where the peer's ACK points and not where the latest ISN put it.
  // The peer acknowledged the space it accepted (a client that got a second SYN/ACK with
  // another ISN answers it with a challenge ACK for the first, RFC 5961), and this side
  // sends in that space: it starts afresh there, and its data is new (nDPI's KakaoTalk
  // captures: a stray second SYN/ACK, then every data segment of the server read as a
  // retransmission). A side that has sent no data has its nextseq one or two past its ISN
  // (a FIN); a segment 64 KiB or more away from it, exactly at the peer's ACK, is in the other
  // space (a FIN or RST re-sent at the peer's ACK is not: those are excluded).
  if (no_sfr && cnt.data_bytes == 0 && (fwd.flags & kSynSeen) && fwd.nextseq != 0 && rev.lastack != 0 &&
      seq == rev.lastack && seq - fwd.nextseq + kIsnSpaceApart > 2 * kIsnSpaceApart) {
    restart_sequence_space(fwd);  // base_seq stays the latest ISN, as tshark's does (reused_ports)
  }
  // Impossible flags: SYN with FIN or RST, FIN without ACK (FIN/Xmas scans), or none of
  // SYN/FIN/RST/ACK (null scans). Wireshark's analysis runs on them unchanged; seqwatch's
  // own connection bookkeeping (handshake, stage, close, options) ignores them.
  const bool bad = (syn && (fin || rst)) || (fin && !has_ack) || (fl & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) == 0;
  if (bad) bits |= kBadFlags;
  // P3: base sequence numbers.
  if (!(fwd.flags & kBaseSet)) {
    fwd.base_seq = syn ? seq : seq - 1;
    fwd.flags |= kBaseSet;
  } else if (!(fwd.flags & (kWindowSet | kSynSeen)) && !syn && seq_gt(seq, fwd.base_seq + 1)) {
    // This side's first segment, its base taken from the peer's ACK (the flow was picked up
    // mid-stream): the bytes between that ACK and this segment were sent before the sensor
    // saw the flow. Re-based here, base_seq + 1 is the first byte the sensor saw sent (for
    // the loss location below; only SYN handling reads the base otherwise, and no SYN of
    // this side can carry a sequence number inside data already flowing).
    fwd.base_seq = seq - 1;
  }
  if (has_ack && !(rev.flags & kBaseSet)) {
    rev.base_seq = ack - 1;
    rev.flags |= kBaseSet;
  }
  if (syn && !bad) fwd.flags |= kSynSeen;

  const uint32_t fwd_win = window_of(fwd);
  const uint32_t rev_win = window_of(rev);
  const bool same = seglen == 0 && win == fwd_win && seq == fwd.nextseq && ack == fwd.lastack && no_sfr;

  // --- Wireshark 4.0's checks, in its order (docs/tcp-analysis.md, A1-A11) ---
  if (seglen == 1 && seq == fwd.nextseq && rev_win == 0) {  // A1
    bits |= kZeroWindowProbe;
    goto finished_fwd;
  }
  if (win == 0 && no_sfr) bits |= kZeroWindow;  // A2
  if (fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && !rst) {  // A3
    bits |= kLostSegment;
    if (fwd.gap_len != 0 && seq - fwd.gap_start <= kGapMax) {
      // An older gap is still open (several holes in one window, as a sensor after a
      // lossy link sees them): one range from its start over the new one, so that the
      // older hole's filler still counts as lost upstream.
      fwd.gap_len = gap_code(fwd.gap_start, seq);
    } else {
      fwd.gap_start = fwd.nextseq;
      fwd.gap_len = gap_code(fwd.nextseq, seq);
    }
  }
  if (seglen <= 1 && seq == fwd.nextseq - 1 && no_sfr) bits |= kKeepAlive;  // A4
  if (seglen == 0 && win != 0 && win != fwd_win && seq == fwd.nextseq && ack == fwd.lastack && no_sfr)
    bits |= kWindowUpdate;  // A5
  if (seglen > 0 && rev.wscale != kWscaleUnknown && no_sfr && fills_window(rev, rev_win, seq, seglen))  // A6
    bits |= kWindowFull;
  if (same && win != 0 && (rev.lastseg & kLastKeepAlive)) {  // A7
    bits |= kKeepAliveAck;
    goto finished_fwd;
  }
  if (same && win == 0 && (rev.lastseg & kLastZeroWindowProbe)) {  // A8
    bits |= kZeroWindowProbeAck;
    goto finished_fwd;
  }
  if (same && win != 0) {  // A9
    if (fwd.dupacknum == kDupAckStalled) fwd.dupacknum = 1;
    else if (fwd.dupacknum < kDupAckStalled - 1) ++fwd.dupacknum;
    bits |= kDuplicateAck;
    out.dupack_num = fwd.dupacknum;
    out.dupack_frame = fwd.lastnondupack;
  }
finished_fwd:
  if (ack != fwd.lastack) {
    fwd.lastnondupack = frame;
    fwd.dupacknum = 0;
  }
  if (rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked) && has_ack) {  // A10
    if (seq_lt(rev.maxseqtobeacked, rev.nextseq)) {
      rev.maxseqtobeacked = rev.nextseq;
      bits |= kAckLostSegment;
    } else {
      if (rev.dupacknum == 0) bits |= kAckLostSegment;
      rev.dupacknum = kDupAckStalled;  // one report per stalled loss
    }
  }
  if (seglen > 0 || syn || fin) {  // A11
    bool not_advanced = fwd.nextseq != 0 && seq_lt(seq, fwd.nextseq);
    if (bits & kKeepAlive) goto done;
    if (seglen > 1 && seq == fwd.nextseq - 1) not_advanced = false;
    if (seglen > 0 && rev.lastack != 0 && seq_le(seq + seglen, rev.lastack)) {
      bits |= kRetransmission | kSpuriousRetransmission;
      goto done;
    }
    if (not_advanced && rev.dupacknum >= 2 && rev.lastack == seq && now - rev.lastack_time_us < kFastRetxWindowUs) {
      bits |= kRetransmission | kFastRetransmission;
      goto done;
    }
    const uint32_t ooo_threshold = cold.first_rtt_us != 0 ? cold.first_rtt_us : kOooDefaultUs;
    if (not_advanced && now - fwd.nextseq_time_us < ooo_threshold &&
        fwd.nextseq != seq + seglen + ((syn || fin) ? 1u : 0u)) {
      bits |= kOutOfOrder;
      goto done;
    }
    if (not_advanced) bits |= kRetransmission;
  }
done:
  // The boundary grid of new data (for ACK-inside-a-segment), before nextseq moves on.
  if (seglen > 0xFFFF && !syn) {
    fwd.run_len = 0;  // a super-segment (GRO/BIG TCP) longer than run_len can hold: no grid
  } else if (seglen > 0 && !syn && (fwd.nextseq == 0 || seq_ge(seq, fwd.nextseq))) {
    extend_grid(fwd, seq, seglen);
  }
  // Spurious retransmissions confirmed by the receiver (seqwatch's own, after the verdicts
  // above and before this side's lastack moves on; docs/tcp-analysis.md, "D-SACK and
  // timestamps").
  if (has_ack && !syn && !rst) {
    // D-SACK (RFC 2883), tested as the Linux sender tests it: the first SACK block lies
    // below the cumulative ACK, or inside the second block.
    if ((t.opts & decode::kOptSack) && t.sack_count != 0) {
      const decode::SackBlock& b0 = t.sack[0];
      const bool below = seq_lt(b0.left, ack);
      const bool inside = t.sack_count > 1 && !seq_gt(b0.right, t.sack[1].right) && !seq_lt(b0.left, t.sack[1].left);
      if (below || inside) {
        bits |= kDsack;
        count_up(f.status, cold.dsacks);
      }
    }
    // Eifel detection (RFC 3522): the first ACK that moves past the peer's pending
    // retransmission echoes the TSval of whichever copy arrived first; older than the
    // retransmission's own TSval means the original got through.
    if (rev.retx_tsval != 0 && (fwd.lastack == 0 || seq_gt(ack, fwd.lastack))) {
      if ((t.opts & decode::kOptTimestamp) && seq_lt(t.tsecr, rev.retx_tsval)) bits |= kSpuriousByTimestamp;
      rev.retx_tsval = 0;
    }
  }
  // A retransmission of the oldest segment the peer has not acknowledged (fast or
  // timeout retransmission) opens an Eifel check, unless one is pending: RFC 3522 compares
  // with the FIRST retransmission.
  if ((bits & kRetransmission) && !(bits & kSpuriousRetransmission) && seglen > 0 && seq == rev.lastack &&
      (t.opts & decode::kOptTimestamp) && t.tsval != 0 && fwd.retx_tsval == 0)
    fwd.retx_tsval = t.tsval;

  // U2-U5: Wireshark's state updates.
  if (!(bits & kZeroWindowProbe)) {
    const uint32_t end = seq + seglen + ((syn || fin) ? 1u : 0u);
    if (seq_gt(end, fwd.nextseq) || fwd.nextseq == 0) {
      fwd.nextseq = end;
      fwd.nextseq_time_us = now;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) fwd.maxseqtobeacked = fwd.nextseq;
  }
  // Zero-window time: the window stays 0 from this side's previous segment to this one. Not
  // after a RST of this side: a RST's window field advertises nothing (Linux sends 0), and a
  // server that resets each late segment after its FIN sent RSTs 1 ms apart that summed up to
  // a zero window of 6-15 ms on 2-4 connections of every kernel run, and a report blaming the
  // server's application for it (Wireshark's zero_window, too, leaves SYN, FIN and RST out).
  if ((fwd.flags & (kWindowSet | kRstSeen)) == kWindowSet && fwd.window == 0)
    fwd.zw_total_ms += elapsed_us(now, fwd.lastack_time_us) / 1000;
  fwd.window = t.window;
  fwd.flags |= kWindowSet;
  // The ACK moved forward (or off "unset"): the same test as fast_segment()'s.
  if (has_ack && ack != fwd.lastack && (seq_gt(ack, fwd.lastack) || fwd.lastack == 0)) fwd.ack_adv = ack_clock(now);
  fwd.lastack = ack;
  fwd.lastack_time_us = now;
  const uint32_t prev_gap_us = pace_gap_us(cnt.pace_gap);  // read by the counters below
  note_pace_gap(cnt, now, prev_sent_us);
  fwd.lastseg = static_cast<uint8_t>((fwd.lastseg & kLastRunTail) | ((bits & kKeepAlive) ? kLastKeepAlive : 0) |
                                     ((bits & kZeroWindowProbe) ? kLastZeroWindowProbe : 0));
  // P5-P9: first RTT (the out-of-order threshold) and window scaling.
  if (syn) {
    if (!has_ack) note_syn_time(cold, now, ts_ns);
    fwd.flags |= kFirstAck;
  } else if (has_ack) {
    first_ack(fwd, cold, now);
  }
  if (t.opts & decode::kOptWscale) {
    fwd.wscale = static_cast<int8_t>(t.wscale > kMaxWscale ? kMaxWscale : t.wscale);
  } else if (syn && !has_ack && fwd.wscale >= 0) {
    // A SYN re-sent without the option its first attempt had (FreeBSD and macOS drop options
    // after repeated SYN timeouts): the handshake that takes effect is the latest SYN's, so an
    // answer without the option is no window_scaling_missing (both sides unscaled either way).
    fwd.wscale = kWscaleUnknown;
  }
  if (syn) {
    if (fwd.wscale == kWscaleUnknown) {
      if (rev.wscale >= 0 && !bad) bits |= kWscaleMissing;
      fwd.wscale = kWscaleNone;
      rev.wscale = kWscaleNone;
    } else if (has_ack && rev.wscale == kWscaleNone) {
      if (fwd.wscale >= 0 && !bad) bits |= kWscaleMissing;
      fwd.wscale = kWscaleNone;
    }
    if (!bad) {
      if (t.opts & decode::kOptSackPerm) fwd.flags |= kSackPerm;
      if (t.opts & decode::kOptTimestamp) fwd.flags |= kTimestamps;
      if (t.opts & decode::kOptMss) cold.mss[d] = t.mss;
    }
  }

  // ACK inside a segment.
  if (has_ack && !syn && !rst) ack_in_segment(rev, cold, f.status, ack, cold.mss[d], bits, out);

  // Where a re-sent segment was lost, relative to the sensor: filling a gap the sensor
  // recorded means the original never passed here (upstream, or dropped by the sensor);
  // re-sending bytes that did pass means the loss was downstream. Gap fills that tshark
  // calls out-of-order stay out of the retransmission counters (reordering is possible);
  // out-of-order re-sends of seen bytes are retransmissions (at a sender's capture point
  // every one of them is: docs/tcp-analysis.md, kernel truth).
  bool counts_as_retx = bits & kRetransmission;
  // Wireshark's keep-alive rule (A4) looks at seq = nextseq - 1 only. A one-byte segment
  // there whose byte the peer has NOT acknowledged is the last one-byte message re-sent (a
  // tail-loss probe or timeout: an application's one-byte messages, e.g. iperf3's control
  // channel), which the sender's kernel counts in TcpRetransSegs; a keep-alive re-sends a
  // byte already acknowledged (seq = SND.UNA - 1), and only once the connection has been
  // idle for the keep-alive time since that ACK (at least 1 s: Linux's TCP_KEEPIDLE floor;
  // no timer runs while data is in flight). So a one-byte "keep-alive" less than that after
  // the side sent the byte as new data re-sends it: its ACK passed the sensor but was lost
  // past it (found in a kernel run: iperf3's control byte re-sent 5.8 ms later, its ACK
  // dropped by a congested router; TcpRetransSegs counted it). Not the time since either
  // side's latest segment: Windows peers send keep-alives 13 ms after answering the other
  // side's (smb3_multichannel.pcap). With the peer never heard (a one-sided capture) only
  // the time tells. The verdict stays Wireshark's.
  if ((bits & kKeepAlive) && seglen == 1 &&
      ((rev.lastack != 0 && seq_ge(seq, rev.lastack)) || elapsed_us(now, fwd.nextseq_time_us) < kKeepAliveIdleUs))
    counts_as_retx = true;
  // A simultaneous open's first SYN/ACK of a side re-uses the sequence number of that side's
  // own SYN (Wireshark: a retransmission, and the verdict stays) but is its one answer to the
  // other side's SYN: nothing was lost, and the sender does not count it as a re-send
  // (Linux's tcp_send_synack transmits it, TcpRetransSegs stays). Its own repeats are.
  const bool synack_answer = syn && has_ack && cold.simultaneous_open() &&
                             (d == cold.initiator ? cold.initiator_synacks() == 0 : cold.synack_count == 0);
  if (synack_answer) counts_as_retx = false;
  if ((bits & (kRetransmission | kOutOfOrder)) && !synack_answer) {
    const uint32_t gap = gap_bytes(fwd.gap_start, fwd.gap_len);  // 0: no open gap
    const bool fills_gap = gap != 0 && seq_ge(seq, fwd.gap_start) && seq_lt(seq, fwd.gap_start + gap);
    // A flow picked up mid-stream (no SYN of this side): a segment starting before the first
    // byte the sensor saw this side send re-sends bytes sent before the capture. Whether
    // they passed the sensor is unknown: no loss location, and a gap fill's rule applies
    // (counted when tshark calls it a retransmission, not when out-of-order). Only while
    // the sequence cannot have wrapped past the base (under 2 GiB sent).
    const bool before_first = !(fwd.flags & kSynSeen) && seq_le(seq, fwd.base_seq) &&
                              fwd.base_seq - seq < kGapMax && cnt.data_bytes < (uint64_t{1} << 31);
    if (!before_first && fills_gap) {
      // A spurious filler: the receiver got the original the sensor missed; nothing was lost.
      if (!(bits & kSpuriousRetransmission)) bits |= kLossUpstream;
      if (seq == fwd.gap_start) {
        const uint32_t end = fwd.gap_start + gap;
        fwd.gap_start += seglen < gap ? seglen : gap;
        fwd.gap_len = gap_code(fwd.gap_start, end);
      }
    } else if (!before_first) {  // bytes that passed the sensor
      if (seglen > 0 || syn || fin) counts_as_retx = true;
      if (!(bits & kSpuriousRetransmission)) bits |= kLossDownstream;  // spurious: nothing was lost
    }
  }

  // RTT: one timed segment per direction, never across a retransmission (Karn).
  if (has_ack) rtt_sample(rev, cold, f.status, ack, now);
  if ((bits & (kRetransmission | kOutOfOrder)) || counts_as_retx) {  // a re-sent keep-alive byte too
    fwd.rtt_end = 0;
  } else if (seglen > 0 && fwd.rtt_end == 0) {
    fwd.rtt_end = seq + seglen;
    fwd.rtt_time_us = now;
  }


  // Counters.
  count_segment(f.status, cnt);
  if (seglen > 0) {
    cnt.data_bytes += seglen;
    note_super_segment(cold, d, seglen);
  }
  if (counts_as_retx) {
    // A retransmission the sender's timer sent: counted in rto_retx, and the segment says so.
    const auto count_timeout = [&] {
      count_up(f.status, cnt.rto_retx);
      bits |= kTimeoutRetransmission;
    };
    count_up(f.status, cnt.retx_segs);
    count_up(f.status, cnt.retx_bytes, seglen);
    if (bits & kSpuriousRetransmission) count_up(f.status, cnt.spurious_retx);
    const uint32_t rtt = timer_rtt(cold);
    const bool again = reno_head_again(fwd, rev, f.retx_last & (1u << d), seq, seglen, now, prev_sent_us, rtt);
    if (bits & kFastRetransmission) {
      // The verdict stays Wireshark's; the counters follow the sender.
      const bool peer_clocks = f.retx_last & (kRetxLastClocks << r);
      if (reno_late_head_resend(fwd, rev, cold, d, seq, now, (cnt.pace_gap & kShortTimerSeen) || again) &&
          !paced_answer(rev, peer_clocks, now, prev_sent_us, prev_gap_us)) {
        count_timeout();
        if (again && since_ack_advance(rev, now, elapsed_us(now, rev.lastack_time_us)) < timeout_quiet(rtt, false))
          cnt.pace_gap |= kShortTimerSeen;
      } else {
        count_up(f.status, cnt.fast_retx);
      }
    }
    if (!(bits & (kFastRetransmission | kSpuriousRetransmission))) {
      // Neither fast nor spurious: sent by a timer (a timeout, or a tail-loss probe) or
      // clocked out by an ACK (loss recovery after partial ACKs or SACKs, the slow-start
      // re-sends after a timeout, paced a millisecond or two apart). A timer fires only
      // after silence:
      // - a timeout: the oldest segment the peer has not acknowledged, re-sent when the
      //   peer's ACK has not moved for the minimum RTO (Linux, macOS: 200 ms; Windows
      //   300 ms) or one RTT, whichever is longer (duplicate ACKs do not restart the timer),
      //   not right after a segment of the peer (within half an RTT or kClockedUs: such a
      //   re-send is clocked by that segment, e.g. a SACK that marks it lost), with no new
      //   data sent for one RTT (a copy of a segment just sent, after a long pause of the
      //   peer, is no timeout); or, before the peer was heard (a SYN), no new data for one RTT;
      // - a tail-loss probe (RFC 8985 section 7): the last segment sent, re-sent with no
      //   duplicate ACKs, after a probe timeout (Linux: 2 x SRTT + 2 ticks, at least ~8 ms
      //   at HZ=250) with neither side sending, sooner than any timeout.
      const bool peer_seen = rev.flags & kWindowSet;
      const uint32_t since_peer = elapsed_us(now, rev.lastack_time_us);
      const uint32_t probe_quiet = rtt > kProbeFloorUs ? rtt : kProbeFloorUs;
      const uint32_t since_tail = elapsed_us(now, fwd.nextseq_time_us);
      const bool tail = (seglen > 0 || fin) && seq + seglen + (fin ? 1u : 0u) == fwd.nextseq;  // a bare FIN too
      const bool recovering = f.retx_last & (1u << d);  // no probe during recovery (RFC 8985 7.2: open state only)
      // A lone segment (head and tail at once): Linux's probe timeout is 2 x SRTT + rto_min,
      // capped at the RTO, so its probe comes at or just past 200 ms (only with SACK:
      // tcp_is_sack), measured from the later of its sending and the ACK advance that left
      // it alone (both timers restart there). Found in a kernel run: the 1-byte last message
      // of iperf3's control connection lost, its probe 204.5 ms later read as a timeout.
      const bool lone = tail && peer_seen && seq == rev.lastack && (fwd.flags & kSackPerm) && (rev.flags & kSackPerm);
      const uint64_t since_lone = lone ? std::min<uint64_t>(since_tail, since_ack_advance(rev, now, since_peer)) : 0;
      const bool lone_probe =
          lone && since_lone >= kMinRtoUs && since_lone < kMinRtoUs + 2 * uint64_t{rtt} + 2 * kClockedUs;
      // Both SYNs seen without SACK negotiated: no probe. RACK-TLP needs SACK (RFC 8985;
      // Linux schedules no probe on a connection without it): such a tail re-send is judged
      // as any other below (kernel run, no SACK, 10 ms minimum RTO: a timeout of the tail
      // counted as a probe where the kernel sent none).
      const bool no_sack = (fwd.flags & rev.flags & kSynSeen) && !(fwd.flags & rev.flags & kSackPerm);
      if (tail && !recovering && !no_sack && rev.dupacknum == 0 && (since_tail < kMinRtoUs || lone_probe) &&
          since_tail >= probe_quiet &&
          elapsed_us(now, prev_sent_us) >= probe_quiet && (!peer_seen || since_peer >= probe_quiet)) {
        bits |= kTailLossProbe;
        count_up(f.status, cold.tail_probes);
      } else if (since_tail >= probe_quiet) {
        // Only loss evidence clocks a re-send: a duplicate ACK or SACK blocks (a FIN, a window
        // update or data of the peer that acknowledge nothing new do not).
        const uint32_t clocked = rtt / 2 > kClockedUs ? rtt / 2 : kClockedUs;
        const bool head = rev.lastack == 0 || seq == rev.lastack;  // the oldest unacknowledged segment
        const bool peer_clocks = f.retx_last & (kRetxLastClocks << (1 - d));
        const bool unclocked = since_peer >= clocked || !peer_clocks;
        const uint64_t stalled = since_ack_advance(rev, now, since_peer);
        // A timer shorter than the minimum RTO (a lowered rto_min, data-centre tuning) is
        // recognised where nothing else can have sent the re-send: the peer sent no loss
        // evidence since its ACK last moved (no duplicate ACK; its latest segment carries no
        // SACK blocks), so only a timer re-sends the head. Once seen, the sender's shorter
        // timer also applies without SACK, where duplicate ACKs keep arriving while it runs
        // (with SACK, RACK's reordering timer re-sends on SACK evidence after such waits).
        // Only a re-send from the open state (the side's previous segment was new data) shows
        // the timer so: in recovery after a timeout each partial ACK lets the next hole out, and
        // a pacing sender holds it for a slot whose rhythm changes with its rate (kernel run,
        // no SACK, default RTO: three re-sends 44-60 ms after partial ACKs, read as a short
        // timer, made 54 timeouts of the kernel's 51). In recovery the head re-sent twice with
        // the ACK still put (`again`) still shows it.
        const bool no_evidence = rev.dupacknum == 0 && !peer_clocks;
        // Nor new data right after a timeout: the first ACK that moves after a timeout's
        // re-send lets F-RTO (RFC 5682; Linux's default) send new data before the next hole,
        // and a pacing sender re-sends that hole a pacing slot later, an interval the new
        // segment did not show (kernel run, no SACK, BBR, two busy loops beside it: a stream
        // re-sending a hole every 56.87 ms after a timeout and one new segment 0.69 ms after
        // it; read as a short timer from the open state, 57 timeouts for the kernel's 53,
        // every extra one off the sender's timer tick). After a re-send that was no timeout,
        // new data and then the head re-sent with no loss evidence is a short timer still
        // (kernel run, 10 ms minimum RTO, no SACK: a fast retransmission, a new segment,
        // then the timer 56 ms after a partial ACK).
        const bool recent_resend = recovering || (f.retx_last & (kRetxPrevTimeout << d));
        const bool advance_clocked =
            recovering && no_evidence && paced_after_advance(stalled, elapsed_us(now, prev_sent_us), prev_gap_us);
        bool short_timer = (cnt.pace_gap & kShortTimerSeen) && !advance_clocked;
        if (head && peer_seen && ((no_evidence && !recent_resend) || (again && unclocked)) && !advance_clocked &&
            stalled >= timeout_quiet(rtt, true) && stalled < timeout_quiet(rtt, false)) {
          cnt.pace_gap |= kShortTimerSeen;
          short_timer = true;
        }
        // The peer never heard (no segment of it yet): a SYN's re-sends are its timer's; so is
        // a re-send after the sender fell silent for a minimum RTO (a dead peer, or a one-sided
        // capture: asymmetric routing, a SPAN session of one direction, where its ACKs never
        // pass the sensor). A re-send amid the sender's own traffic there is recovery clocked
        // by ACKs the sensor cannot see: neither fast nor timeout (it stays in retx_segments).
        const bool unheard_timer = !peer_seen && (syn || elapsed_us(now, prev_sent_us) >= kMinRtoUs);
        if (unheard_timer || (peer_seen && head && unclocked && stalled >= timeout_quiet(rtt, short_timer && no_sack)) ||
            (peer_seen && head && no_evidence && stalled >= timeout_quiet(rtt, short_timer)))
          count_timeout();
      }
    }
  }
  {
    const bool clocks = (bits & kDuplicateAck) || (has_ack && (t.opts & decode::kOptSack) && t.sack_count != 0);
    f.retx_last = shift_retx_last(f.retx_last, d, counts_as_retx, clocks, bits & kTimeoutRetransmission);
  }
  if (bits & kLostSegment) count_up(f.status, cnt.lost_segments);
  if (bits & kDuplicateAck) {
    count_up(f.status, cnt.dup_acks);
    if (fwd.dupacknum > f.max_dup_run[d]) f.max_dup_run[d] = static_cast<uint8_t>(fwd.dupacknum > 255 ? 255 : fwd.dupacknum);
  }

  // Handshake and connection stage (not from impossible flags: a SYN+FIN+RST is neither
  // a connection attempt nor a reset, and must not close the flow).
  if (bad) {
    // nothing
  } else if (syn && !has_ack) {
    // The other side's own SYN after the initiator's: a simultaneous open (RFC 9293 3.5),
    // each side's attempts counted apart (its first SYN is no retransmission of the other's).
    // The first SYN of a handshake names the client, whoever spoke first (a RST, or a
    // segment of the peer picked up mid-stream, may come before it).
    if (cold.syn_count == 0 && cold.synack_count == 0) cold.initiator = static_cast<uint8_t>(d);
    unsigned attempt;
    if (d == cold.initiator || cold.syn_count == 0) {
      sat_inc(cold.syn_count);
      attempt = cold.syn_count;
    } else {
      attempt = cold.count_peer_syn();
    }
    if (attempt > 1) {
      bits |= kSynRetransmission;
      out.attempt = attempt;
    }
    if (cold.stage == Stage::kNone) cold.stage = Stage::kSynSent;
    // The client's SYN again after the connection was reset or closed: with the same ISN
    // (another ISN is a new flow, reused_ports) it opens the connection again (a RST the
    // client never got, forged or dropped past the sensor; a SYN re-sent after a refusal).
    // The end state and who reset it are then the new attempt's, and the flow is open again
    // (not left to expire on the closed flows' linger).
    if ((cold.stage == Stage::kReset || cold.stage == Stage::kClosed) && d == cold.initiator) {
      cold.stage = Stage::kSynSent;
      cold.clear_rst();
      fwd.flags &= static_cast<uint8_t>(~(kFinSeen | kRstSeen));
      rev.flags &= static_cast<uint8_t>(~(kFinSeen | kRstSeen));
      f.status &= static_cast<uint8_t>(~(flow::kFlowClosed | flow::kFlowRstAfterFin));
    }
  } else if (syn) {
    // A SYN/ACK from the initiator: its answer to the other side's SYN in a simultaneous open.
    const bool own = d == cold.initiator && cold.simultaneous_open();
    unsigned attempt;
    if (own) {
      attempt = cold.count_initiator_synack();
    } else {
      sat_inc(cold.synack_count);
      attempt = cold.synack_count;
    }
    if (attempt > 1) {
      bits |= kSynAckRetransmission;
      out.attempt = attempt;
      // The client's ACK of an earlier SYN/ACK passed here (the handshake is established)
      // and the server sends its SYN/ACK again: the ACK never made a connection on the
      // server: its accept queue was full (Linux drops the ACK and re-sends the SYN/ACK on
      // its timer), or the ACK was lost between the sensor and the server.
      if (!own && cold.stage == Stage::kEstablished && d != cold.initiator) {
        bits |= kSynAckAfterAck;
        f.status |= flow::kFlowSynAckAfterAck;
      }
    } else if (!own && !cold.simultaneous_open()) {
      if (cold.syn_count != 0) cold.hs_rtt_syn_us = elapsed_us(now, cold.syn_time_us);
      cold.synack_time_us = now;
    }
    if (cold.stage == Stage::kNone || cold.stage == Stage::kSynSent) cold.stage = Stage::kSynReceived;
  } else if (has_ack) {
    handshake_ack(cold, d, now);
  }
  if (fin && !bad) {
    fwd.flags |= kFinSeen;
    if (rev.flags & kFinSeen) {
      if (cold.stage != Stage::kReset) cold.stage = Stage::kClosed;
      f.status |= flow::kFlowClosed;
    } else if (cold.stage != Stage::kReset) {
      cold.stage = Stage::kClosing;
    }
  }
  if (rst && !bad) {
    if (cold.stage == Stage::kSynSent && (rev.flags & kSynSeen) && d != cold.initiator) bits |= kSynRefused;
    else if (cold.stage == Stage::kEstablished || cold.stage == Stage::kNone || cold.stage == Stage::kClosing)
      bits |= kRstMidstream;
    // This side closed (its FIN) and now resets data the peer sent that it never
    // acknowledged, while the peer has not closed: data that crossed the FIN (seen before or
    // after it, depending on where the sensor sits). A RST after a FIN with everything
    // acknowledged is an abortive close, not this.
    if ((fwd.flags & kFinSeen) && !(rev.flags & (kFinSeen | kRstSeen)) && rev.nextseq != 0 &&
        seq_gt(rev.nextseq, prev_ack))
      bits |= kRstAfterFin;
    fwd.flags |= kRstSeen;
    if (cold.rst_from() == 0xFF) {
      cold.set_rst_from(static_cast<uint8_t>(d));
      if (bits & kRstAfterFin) f.status |= flow::kFlowRstAfterFin;
    }
    cold.stage = Stage::kReset;
    f.status |= flow::kFlowClosed;
  }

  out.bits |= bits;
  return Action::kNone;
}

std::string_view verdict_name(unsigned bit) noexcept { return bit < kVerdictBits && !kVerdictNames[bit].empty() ? kVerdictNames[bit] : "unknown"; }

}  // namespace seqwatch::tcp
