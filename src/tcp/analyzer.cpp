#include "tcp/analyzer.hpp"

namespace seqwatch::tcp {

namespace {

using decode::kTcpAck;
using decode::kTcpFin;
using decode::kTcpRst;
using decode::kTcpSyn;

// Sequence-space comparisons modulo 2^32 (RFC 9293 section 3.4).
inline bool seq_lt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) > 0; }
inline bool seq_ge(uint32_t a, uint32_t b) noexcept { return static_cast<int32_t>(a - b) >= 0; }

inline constexpr int8_t kMaxWscale = 14;
// How far back (in segments) an ACK may land inside an inferred full-sized flight.
inline constexpr uint32_t kFlightSegments = 256;  // RFC 7323 section 2.3: larger shifts are treated as 14

// The window a direction advertised, scaled as Wireshark scales it: SYN windows never,
// others by the negotiated shift when one is known.
inline uint32_t scaled(uint16_t raw, const HalfState& h, bool from_syn) noexcept {
  if (from_syn || h.wscale < 0) return raw;
  return uint32_t{raw} << h.wscale;
}
inline uint32_t last_window(const HalfState& h) noexcept {
  return scaled(h.window, h, (h.flags & kWindowFromSyn) != 0);
}

template <class T>
inline void sat_inc(T& v, uint32_t by = 1) noexcept {
  const uint64_t n = static_cast<uint64_t>(v) + by;
  v = n > static_cast<T>(~T{0}) ? static_cast<T>(~T{0}) : static_cast<T>(n);
}

}  // namespace

void start_flow(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns) noexcept {
  f.cold.first_ts_ns = ts_ns;
  const bool synack = (t.flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck);
  // The client is the SYN's sender, a SYN/ACK's receiver, otherwise whoever spoke first.
  f.cold.initiator = static_cast<uint8_t>(synack ? 1 - static_cast<int>(dir) : static_cast<int>(dir));
}

Action analyze_segment(flow::FlowEntry& f, flow::Dir dir, const decode::TcpInfo& t, uint64_t ts_ns, uint32_t frame,
                       SegmentVerdict& out) noexcept {
  const int d = static_cast<int>(dir), r = 1 - d;
  HalfState& fwd = f.half[d];
  HalfState& rev = f.half[r];
  HalfCounters& cnt = f.count[d];
  TcpCold& cold = f.cold;
  const uint32_t now = static_cast<uint32_t>(ts_ns / 1000);
  const uint8_t fl = t.flags;
  const bool syn = fl & kTcpSyn, fin = fl & kTcpFin, rst = fl & kTcpRst, has_ack = fl & kTcpAck;
  const bool sfr = fl & (kTcpSyn | kTcpFin | kTcpRst);
  const uint32_t seglen = t.payload_len;
  uint32_t bits = 0;

  // A new connection on a used 4-tuple: a SYN whose ISN differs from the one this
  // direction started with (Wireshark's reused-ports rule).
  if (syn && !has_ack && (fwd.flags & kBaseSet) && t.seq != fwd.base_seq) return Action::kRestart;

  if ((syn && (fin || rst)) || (fl & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) == 0) bits |= kBadFlags;

  // Relative sequence numbers: the SYN is 0; without a SYN the first segment is 1; an ACK
  // seen before the peer's first segment fixes the peer's base the same way.
  if (syn) {
    fwd.base_seq = t.seq;
    fwd.flags |= kBaseSet | kSynSeen;
  } else if (!(fwd.flags & kBaseSet)) {
    fwd.base_seq = t.seq - 1;
    fwd.flags |= kBaseSet;
  }
  if (has_ack && !(rev.flags & kBaseSet)) {
    rev.base_seq = t.ack - 1;
    rev.flags |= kBaseSet;
  }
  const uint32_t seq = t.seq - fwd.base_seq;
  const uint32_t ack = has_ack ? t.ack - rev.base_seq : 0;

  // Handshake options: window scaling applies only when both SYNs offered it.
  if (syn) {
    fwd.wscale = (t.opts & decode::kOptWscale) ? static_cast<int8_t>(t.wscale > kMaxWscale ? kMaxWscale : t.wscale)
                                               : kWscaleNone;
    if (has_ack && (fwd.wscale == kWscaleNone || rev.wscale == kWscaleNone)) {
      if (fwd.wscale != rev.wscale && rev.wscale != kWscaleUnknown) bits |= kWscaleMissing;
      fwd.wscale = kWscaleNone;
      if (rev.wscale != kWscaleUnknown) rev.wscale = kWscaleNone;
    }
    if (t.opts & decode::kOptSackPerm) fwd.flags |= kSackPerm;
    if (t.opts & decode::kOptTimestamp) fwd.flags |= kTimestamps;
    if (t.opts & decode::kOptMss) cold.mss[d] = t.mss;
  }

  const uint32_t win = scaled(t.window, fwd, syn);
  const uint32_t prev_win = last_window(fwd);
  const uint32_t rev_win = last_window(rev);
  const bool same_ack_state = seq == fwd.nextseq && ack == fwd.lastack && !sfr;

  // --- Wireshark's checks, in Wireshark's order (docs/tcp-analysis.md, rules 1-12) ---
  if (seglen == 1 && seq == fwd.nextseq && rev_win == 0) {
    bits |= kZeroWindowProbe;
    goto finished_fwd;
  }
  if (t.window == 0 && !sfr) bits |= kZeroWindow;
  if (fwd.nextseq != 0 && seq_gt(seq, fwd.nextseq) && !rst) {
    bits |= kLostSegment;
    const uint32_t missing = seq - fwd.nextseq;
    fwd.gap_start = fwd.nextseq;
    fwd.gap_len = static_cast<uint16_t>(missing > 0xFFFF ? 0xFFFF : missing);
  }
  if (seglen <= 1 && !sfr && seq == fwd.nextseq - 1) bits |= kKeepAlive;
  if (seglen == 0 && win != 0 && win != prev_win && same_ack_state) bits |= kWindowUpdate;
  if (seglen > 0 && !sfr && seq + seglen == rev.lastack + rev_win) bits |= kWindowFull;
  if (seglen == 0 && win != 0 && win == prev_win && same_ack_state && (rev.lastseg & kLastKeepAlive)) {
    bits |= kKeepAliveAck;
    goto finished_fwd;
  }
  if (seglen == 0 && win == 0 && win == prev_win && same_ack_state && (rev.lastseg & kLastZeroWindowProbe)) {
    bits |= kZeroWindowProbeAck;
    goto finished_fwd;
  }
  if (seglen == 0 && win != 0 && win == prev_win && same_ack_state) {
    if (fwd.dupacknum != UINT16_MAX) ++fwd.dupacknum;
    bits |= kDuplicateAck;
    out.dupack_num = fwd.dupacknum;
    out.dupack_frame = fwd.lastnondupack;
  }
finished_fwd:
  if (!(bits & kDuplicateAck)) {
    fwd.lastnondupack = frame;
    fwd.dupacknum = 0;
  }
  if (rev.maxseqtobeacked != 0 && seq_gt(ack, rev.maxseqtobeacked) && has_ack) {
    bits |= kAckLostSegment;
    rev.maxseqtobeacked = rev.nextseq;
  }
  if ((seglen > 0 || syn || fin) && fwd.nextseq != 0 && seq_lt(seq, fwd.nextseq) && !(bits & kKeepAlive)) {
    if (rev.dupacknum >= 2 && rev.lastack == seq && now - rev.lastack_time_us < kFastRetxWindowUs) {
      bits |= kRetransmission | kFastRetransmission;
    } else {
      const uint32_t ooo_threshold = cold.first_rtt_us != 0 ? cold.first_rtt_us : kOooDefaultUs;
      if (now - fwd.nextseq_time_us < ooo_threshold && fwd.nextseq != seq + seglen) {
        bits |= kOutOfOrder;
      } else if (seglen > 0 && rev.lastack != 0 && seq_le(seq + seglen, rev.lastack)) {
        bits |= kRetransmission | kSpuriousRetransmission;
      } else {
        bits |= kRetransmission;
      }
    }
  }

  // --- state updates (Wireshark's, then seqwatch's) ---
  if (!(bits & kZeroWindowProbe)) {
    const uint32_t nextseq = seq + seglen + ((syn || fin) ? 1u : 0u);
    if (seq_gt(nextseq, fwd.nextseq) || fwd.nextseq == 0) {
      fwd.nextseq = nextseq;
      fwd.nextseq_time_us = now;
    }
    if (seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked == 0) fwd.maxseqtobeacked = fwd.nextseq;
  }
  fwd.window = t.window;
  fwd.flags = static_cast<uint8_t>((fwd.flags & ~kWindowFromSyn) | kWindowSet | (syn ? kWindowFromSyn : 0));
  fwd.lastack = ack;
  fwd.lastack_time_us = now;
  fwd.lastseg = static_cast<uint8_t>((fwd.lastseg & kLastGrid) | ((bits & kKeepAlive) ? kLastKeepAlive : 0) |
                                     ((bits & kZeroWindowProbe) ? kLastZeroWindowProbe : 0));

  // ACK inside a segment (a middlebox acknowledging part of a segment): the ACK number
  // falls strictly inside the peer's latest data segment or, when that segment continued a
  // run of equally sized ones (a full-sized flight), off the grid of segment boundaries
  // the run implies, at most kFlightSegments segments back.
  if (has_ack && !syn && !rst && rev.seg_len != 0) {
    const uint32_t len = rev.seg_len;
    uint32_t offset = 0;
    if (seq_gt(ack, rev.seg_seq) && seq_lt(ack, rev.seg_seq + len)) {
      offset = ack - rev.seg_seq;
    } else if ((rev.lastseg & kLastGrid) && seq_lt(ack, rev.seg_seq)) {
      const uint32_t back = rev.seg_seq - ack;
      if (back <= kFlightSegments * len && back % len != 0) offset = len - back % len;
    }
    if (offset != 0) {
      bits |= kAckInSegment;
      out.midack_offset = static_cast<uint16_t>(offset);
      sat_inc(cold.midack_count);
      cold.midack_last_off = out.midack_offset;
    }
  }

  // Where a re-sent segment was lost, relative to the sensor: filling a gap the sensor
  // recorded means the original never passed here (upstream, or dropped by the sensor);
  // re-sending bytes that did pass means the loss was downstream. Gap fills that tshark
  // calls out-of-order stay out of the retransmission counters (reordering is possible);
  // out-of-order re-sends of seen bytes are retransmissions (at a sender's capture point
  // every one of them is: docs/tcp-analysis.md, kernel truth).
  bool counts_as_retx = bits & kRetransmission;
  if (bits & (kRetransmission | kOutOfOrder)) {
    const bool fills_gap = fwd.gap_len != 0 && seq_ge(seq, fwd.gap_start) && seq_lt(seq, fwd.gap_start + fwd.gap_len);
    if (fills_gap) {
      bits |= kLossUpstream;
      if (seq == fwd.gap_start) {
        const uint32_t used = seglen < fwd.gap_len ? seglen : fwd.gap_len;
        fwd.gap_start += used;
        fwd.gap_len = static_cast<uint16_t>(fwd.gap_len - used);
      }
    } else {
      if (seglen > 0 || syn || fin) counts_as_retx = true;
      if (!(bits & kSpuriousRetransmission)) bits |= kLossDownstream;  // spurious: nothing was lost
    }
  }

  // RTT: one timed segment per direction, never across a retransmission (Karn).
  if (has_ack && rev.rtt_end != 0 && seq_ge(ack, rev.rtt_end)) {
    const uint32_t sample = now - rev.rtt_time_us;
    if (cold.rtt_samples == 0 || sample < cold.rtt_min_us) cold.rtt_min_us = sample;
    if (sample > cold.rtt_max_us) cold.rtt_max_us = sample;
    cold.rtt_sum_us += sample;
    ++cold.rtt_samples;
    rev.rtt_end = 0;
  }
  if (bits & (kRetransmission | kOutOfOrder)) {
    fwd.rtt_end = 0;
  } else if (seglen > 0 && fwd.rtt_end == 0) {
    fwd.rtt_end = seq + seglen;
    fwd.rtt_time_us = now;
  }

  // Zero-window time advertised by this side.
  if (!sfr) {
    if (t.window == 0) {
      if (fwd.zw_start_us == 0) fwd.zw_start_us = now | 1;
    } else if (fwd.zw_start_us != 0) {
      fwd.zw_total_ms += (now - fwd.zw_start_us) / 1000;
      fwd.zw_start_us = 0;
    }
  }

  // Counters.
  ++cnt.segments;
  if (seglen > 0) {
    cnt.data_bytes += seglen;
    const uint16_t len16 = static_cast<uint16_t>(seglen > 0xFFFF ? 0xFFFF : seglen);
    const bool grid = fwd.seg_len == len16 && seq == fwd.seg_seq + fwd.seg_len;
    fwd.lastseg = static_cast<uint8_t>((fwd.lastseg & ~kLastGrid) | (grid ? kLastGrid : 0));
    fwd.seg_seq = seq;
    fwd.seg_len = len16;
  }
  if (counts_as_retx) {
    ++cnt.retx_segs;
    sat_inc(cnt.retx_bytes, seglen);
    if (bits & kFastRetransmission) sat_inc(cnt.fast_retx);
    if (bits & kSpuriousRetransmission) sat_inc(cnt.spurious_retx);
    if (!(bits & (kFastRetransmission | kSpuriousRetransmission)) && rev.dupacknum == 0) sat_inc(cnt.rto_retx);
  }
  if (bits & kLostSegment) sat_inc(cnt.lost_segments);
  if (bits & kDuplicateAck) {
    ++cnt.dup_acks;
    if (fwd.dupacknum > fwd.max_dup_run) fwd.max_dup_run = static_cast<uint8_t>(fwd.dupacknum > 255 ? 255 : fwd.dupacknum);
  }

  // Handshake and connection stage.
  if (syn && !has_ack) {
    sat_inc(cold.syn_count);
    if (cold.syn_count > 1) {
      bits |= kSynRetransmission;
      out.attempt = cold.syn_count;
    }
    if (cold.stage == Stage::kNone) cold.stage = Stage::kSynSent;
    cold.syn_time_us = now;
  } else if (syn) {
    sat_inc(cold.synack_count);
    if (cold.synack_count > 1) {
      bits |= kSynAckRetransmission;
      out.attempt = cold.synack_count;
    } else {
      if (cold.syn_count != 0) cold.hs_rtt_syn_us = now - cold.syn_time_us;
      cold.synack_time_us = now;
    }
    if (cold.stage == Stage::kNone || cold.stage == Stage::kSynSent) cold.stage = Stage::kSynReceived;
    cold.syn_time_us = now;  // Wireshark's "most recent SYN" includes the SYN/ACK
  } else if (has_ack) {
    if (cold.first_rtt_us == 0 && cold.syn_time_us != 0) cold.first_rtt_us = (now - cold.syn_time_us) | 1;
    if (cold.stage == Stage::kSynReceived && d == cold.initiator) {
      cold.stage = Stage::kEstablished;
      cold.hs_rtt_ack_us = now - cold.synack_time_us;
    }
  }
  if (fin) {
    fwd.flags |= kFinSeen;
    if (rev.flags & kFinSeen) {
      if (cold.stage != Stage::kReset) cold.stage = Stage::kClosed;
      f.status |= flow::kFlowClosed;
    } else if (cold.stage != Stage::kReset) {
      cold.stage = Stage::kClosing;
    }
  }
  if (rst) {
    if (cold.stage == Stage::kSynSent && (rev.flags & kSynSeen) && d != cold.initiator) bits |= kSynRefused;
    else if (cold.stage == Stage::kEstablished || cold.stage == Stage::kNone || cold.stage == Stage::kClosing)
      bits |= kRstMidstream;
    fwd.flags |= kRstSeen;
    if (cold.rst_from == 0xFF) cold.rst_from = static_cast<uint8_t>(d);
    cold.stage = Stage::kReset;
    f.status |= flow::kFlowClosed;
  }

  out.bits |= bits;
  return Action::kNone;
}

std::string_view verdict_name(unsigned bit) noexcept {
  switch (1u << bit) {
    case kRetransmission: return "retransmission";
    case kFastRetransmission: return "fast_retransmission";
    case kSpuriousRetransmission: return "spurious_retransmission";
    case kOutOfOrder: return "out_of_order";
    case kLostSegment: return "lost_segment";
    case kAckLostSegment: return "ack_lost_segment";
    case kDuplicateAck: return "duplicate_ack";
    case kZeroWindow: return "zero_window";
    case kZeroWindowProbe: return "zero_window_probe";
    case kZeroWindowProbeAck: return "zero_window_probe_ack";
    case kWindowFull: return "window_full";
    case kWindowUpdate: return "window_update";
    case kKeepAlive: return "keep_alive";
    case kKeepAliveAck: return "keep_alive_ack";
    case kReusedPorts: return "reused_ports";
    case kAckInSegment: return "ack_in_segment";
    case kSynRetransmission: return "syn_retransmission";
    case kSynAckRetransmission: return "synack_retransmission";
    case kSynRefused: return "syn_refused";
    case kRstMidstream: return "rst_midstream";
    case kBadFlags: return "bad_flags";
    case kWscaleMissing: return "window_scaling_missing";
    case kLossUpstream: return "loss_upstream";
    case kLossDownstream: return "loss_downstream";
    default: return "unknown";
  }
}

}  // namespace seqwatch::tcp
