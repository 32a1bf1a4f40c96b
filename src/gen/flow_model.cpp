#include "gen/flow_model.hpp"

#include <algorithm>
#include <cmath>

#include "gen/truth.hpp"
#include "gen/wire.hpp"

namespace seqwatch::gen {
namespace {

using namespace wire;

// Segments after an impairment before the next may start: keeps episodes apart so each
// one is analysed on its own (a duplicate ACK run of one never feeds another).
constexpr uint8_t kCooldownSegments = 4;
// RFC 6298 §2.4 rounds RTO up to 1 s; Linux uses a 200 ms floor, which we take.
constexpr uint64_t kRtoFloorNs = 200'000'000;
constexpr uint64_t kSynRtoNs = 1'000'000'000;       // RFC 6298 §2.1 initial RTO
constexpr uint64_t kZwpFirstNs = 200'000'000;       // first persist timer
constexpr uint32_t kMidsegAckOffset = 512;          // the load balancer's partial ACK
constexpr uint16_t kSynWindow = 64240, kSynAckWindow = 65160;
constexpr uint16_t kClientWindow = 502, kServerWindow = 509;  // << 7 = 64256 / 65152
constexpr uint8_t kWscale = 7;
constexpr uint64_t kTightMaxNs = 20'000;  // back-to-back spacing: well below any RTT and 20 ms

inline bool seq_lt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }
inline bool seq_le(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) <= 0; }
inline bool seq_gt(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
inline uint32_t seq_max(uint32_t a, uint32_t b) { return seq_gt(a, b) ? a : b; }
inline uint32_t seq_min(uint32_t a, uint32_t b) { return seq_lt(a, b) ? a : b; }

double log_uniform(Rng& r, double lo, double hi) { return lo * std::pow(hi / lo, r.uniform()); }

}  // namespace

FlowPlanner::FlowPlanner(const GenConfig& cfg)
    : cfg_(cfg), gap_mean_ns_(cfg.flows / std::max(cfg.rate_pps, 1.0) * 1e9) {}

uint64_t FlowPlanner::gap(Flow& f) const {
  const double g = -gap_mean_ns_ * std::log(1.0 - f.rng.uniform());
  return std::max<uint64_t>(100, static_cast<uint64_t>(g));
}

uint64_t FlowPlanner::tight(Flow& f) const {
  const uint64_t span = std::min<uint64_t>(kTightMaxNs, f.rtt_ns / 8);
  return 1000 + f.rng.below(span);
}

uint64_t FlowPlanner::rto(const Flow& f) const { return std::max<uint64_t>(kRtoFloorNs, 3ull * f.rtt_ns); }

void FlowPlanner::start(Flow& f, uint64_t id, uint64_t t_ns) const {
  f = Flow{};
  f.id = id;
  f.t_ns = t_ns;
  f.start_ns = t_ns;
  f.rng.s = cfg_.seed * 0x9E3779B97F4A7C15ull ^ (id + 1) * 0xD1B54A32D192ED03ull;
  (void)f.rng.next();
  f.v6 = f.rng.uniform() < cfg_.ipv6_share;
  f.ts = cfg_.tcp_timestamps;
  const double rtt_ms = cfg_.rtt_min_ms + (cfg_.rtt_max_ms - cfg_.rtt_min_ms) * f.rng.uniform();
  f.rtt_ns = static_cast<uint32_t>(rtt_ms * 1e6);
  f.server = static_cast<uint32_t>(f.rng.below(cfg_.servers));
  const uint64_t u = f.rng.below(10);
  f.sport = u < 7 ? 443 : (u < 9 ? 80 : 8080);
  // (client address, client port) is unique per flow id (see TraceGenerator::addresses).
  f.cport = static_cast<uint16_t>(1024 + ((id >> 24) + (id * 2654435761ull >> 7)) % 60000);
  // ISNs stay below 2^31 so no flow wraps its sequence space (Wireshark treats a
  // next-sequence of 0 as "unknown").
  f.h[0].isn = static_cast<uint32_t>(1 + f.rng.below(0x7FFFFFFF));
  f.h[1].isn = static_cast<uint32_t>(1 + f.rng.below(0x7FFFFFFF));
  f.h[0].win_raw = kClientWindow;
  f.h[1].win_raw = kServerWindow;
  for (int s = 0; s < 2; ++s) {
    f.h[s].snd_una = f.h[s].snd_nxt = f.h[s].isn + 1;
    f.tsval_base[s] = static_cast<uint32_t>(f.rng.next());
  }
  f.h[0].rcv_nxt = f.h[1].isn + 1;
  f.h[1].rcv_nxt = f.h[0].isn + 1;
  // 1 + geometric with the configured mean.
  const double p = 1.0 / std::max(1.0, cfg_.exchanges);
  unsigned n = 1;
  while (n < 1000 && f.rng.uniform() > p) ++n;
  f.exchanges_left = static_cast<uint16_t>(n);
}

void FlowPlanner::plan(Flow& f) const {
  while (f.qlen == 0 && f.phase != Phase::kDone) step(f);
}

void FlowPlanner::step(Flow& f) const {
  switch (f.phase) {
    case Phase::kStart: step_handshake(f); break;
    case Phase::kSynRetry:
      if (f.syn_retries_left == 0) {
        f.phase = Phase::kDone;
        break;
      }
      push(f, 0, f.h[0].isn, 0, 0, kTcpSyn, kSynWindow, kTagSynRetry, kSynRtoNs << f.syn_retries_sent);
      ++f.syn_retries_sent;
      --f.syn_retries_left;
      break;
    case Phase::kData: step_data(f); break;
    case Phase::kTeardown: step_teardown(f); break;
    case Phase::kDone: break;
  }
}

void FlowPlanner::push(Flow& f, int side, uint32_t seq, uint32_t ack, uint32_t len, uint8_t flags, uint16_t win,
                       uint32_t tags, uint64_t delay) const {
  Host& h = f.h[side];
  // The window as Wireshark compares it: scaled, except in a SYN (RFC 7323 §2.2).
  const uint32_t eff_win = (flags & kTcpSyn) ? win : uint32_t{win} << kWscale;
  // A pure ACK repeating this side's previous ACK number is, in Wireshark 4.0's terms, a
  // duplicate ACK when the window is unchanged and non-zero, a window update when it
  // changed to a non-zero value (e.g. the first ACK after a SYN/ACK whose unscaled window
  // differs from the scaled one), and neither when the window is zero.
  if (len == 0 && flags == kTcpAck && win != 0 && h.sent_any && ack == h.last_ack &&
      !(tags & (kTagZwpAck | kTagWindowUpdate)))
    tags |= eff_win == h.last_win ? kTagDupAck : kTagWindowUpdate;
  if (len > 0 && !(tags & kTagZwp)) tags |= kTagDataSegment;
  if (len > 0 && h.unseen_pending && !(tags & (kTagFastRetx | kTagRtoRetx | kTagDupSegment))) {
    tags |= kTagLostSegment | kTagUpstreamLoss;
    h.unseen_pending = false;
  }
  h.sent_any = true;
  h.last_ack = ack;
  h.last_win = eff_win;
  const unsigned slot = (f.qhead + f.qlen) % Flow::kQueue;
  f.q[slot] = PlannedPacket{delay, seq, ack, len, tags, win, flags, static_cast<uint8_t>(side)};
  ++f.qlen;
}

void FlowPlanner::step_handshake(Flow& f) const {
  push(f, 0, f.h[0].isn, 0, 0, kTcpSyn, kSynWindow, 0, 0);
  if (cfg_.syn_only) {
    f.phase = Phase::kDone;
    return;
  }
  const double u = f.rng.uniform();
  if (u < cfg_.imp.syn_unanswered) {
    f.syn_retries_left = static_cast<uint8_t>(std::min(cfg_.imp.syn_retries, 8u));
    f.phase = Phase::kSynRetry;
    return;
  }
  if (u < cfg_.imp.syn_unanswered + cfg_.imp.syn_rst) {
    // RFC 9293 §3.10.7.1: a SYN to a closed port gets <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>.
    push(f, 1, 0, f.h[0].isn + 1, 0, kTcpRst | kTcpAck, 0, kTagRefusedSyn, f.rtt_ns / 2);
    f.phase = Phase::kDone;
    return;
  }
  push(f, 1, f.h[1].isn, f.h[0].isn + 1, 0, kTcpSyn | kTcpAck, kSynAckWindow, 0, f.rtt_ns / 2);
  push(f, 0, f.h[0].snd_nxt, f.h[1].snd_nxt, 0, kTcpAck, f.h[0].win_raw, 0, f.rtt_ns - f.rtt_ns / 2);
  f.phase = Phase::kData;
  f.burst_side = 0;
  f.burst_left = message_size(f, true);
}

uint32_t FlowPlanner::message_size(Flow& f, bool request) const {
  double size;
  const double u = f.rng.uniform();
  if (request) {
    size = u < 0.6 ? log_uniform(f.rng, 64, 512) : (u < 0.9 ? log_uniform(f.rng, 512, 1400)
                                                            : log_uniform(f.rng, 2048, 65536));
  } else if (u < cfg_.bulk_share) {
    size = log_uniform(f.rng, 8192, 262144);
  } else {
    size = f.rng.uniform() < 0.5 ? log_uniform(f.rng, 100, 1000) : log_uniform(f.rng, 1000, 8192);
  }
  uint32_t n = std::max<uint32_t>(2, static_cast<uint32_t>(size));
  // No 1-byte segments: Wireshark reads a 1-byte segment one below the next sequence
  // number as a keep-alive, which would hide a retransmission of it.
  if (n % cfg_.mss == 1) ++n;
  return n;
}

bool FlowPlanner::clean(const Flow& f) const {
  const Host& s = f.h[f.burst_side];
  const Host& r = f.h[1 - f.burst_side];
  return f.cooldown == 0 && !r.ooo && r.rcv_nxt == s.snd_nxt && r.mid_left == 0 && !r.mid_arm &&
         !f.mid_episode && !r.zero && s.dupacks == 0 && !s.unseen_pending;
}

void FlowPlanner::on_ack(Flow& f, int sender, uint32_t ack) const {
  Host& s = f.h[sender];
  if (seq_gt(ack, s.snd_una)) {
    s.snd_una = ack;
    s.dupacks = 0;
    s.fast_done = false;
  } else if (ack == s.snd_una && s.snd_una != s.snd_nxt && s.dupacks < 255) {
    ++s.dupacks;  // RFC 5681 §2: outstanding data, no new ACK
  }
}

void FlowPlanner::ack_now(Flow& f, int receiver, uint64_t delay, uint32_t tags) const {
  Host& r = f.h[receiver];
  const uint16_t win = r.zero ? 0 : r.win_raw;
  if (win == 0) tags |= kTagZeroWindow;
  push(f, receiver, r.snd_nxt, r.rcv_nxt, 0, kTcpAck, win, tags, delay);
  r.unacked = 0;
  on_ack(f, 1 - receiver, r.rcv_nxt);
}

void FlowPlanner::receive(Flow& f, int sender, uint32_t seq, uint32_t len, uint64_t ack_delay,
                          bool suppress_ack) const {
  Host& r = f.h[1 - sender];
  const uint32_t end = seq + len;
  bool ack = false;
  uint32_t tags = 0;
  if (seq == r.rcv_nxt) {
    if (r.mid_arm || (r.mid_left > 0 && len >= kMidsegAckOffset + 2)) {
      // The load balancer acknowledges only the first 512 bytes and holds the rest.
      if (r.mid_arm) {
        r.mid_arm = false;
      } else {
        --r.mid_left;
      }
      r.rcv_nxt = seq + kMidsegAckOffset;
      r.ooo_end = r.ooo ? seq_max(r.ooo_end, end) : end;
      r.ooo_start = r.rcv_nxt;
      r.ooo = true;
      ack = true;
      tags = kTagMidsegAck;
    } else {
      r.mid_left = 0;
      r.rcv_nxt = end;
      if (r.ooo && seq_le(r.ooo_start, r.rcv_nxt)) {
        r.rcv_nxt = seq_max(r.rcv_nxt, r.ooo_end);
        r.ooo = false;
        f.mid_episode = false;
        ack = true;  // RFC 5681 §4.2: ACK at once when a hole is filled
      } else if (++r.unacked >= 2) {
        ack = true;  // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: every second full segment
      }
    }
  } else if (seq_gt(seq, r.rcv_nxt)) {
    r.ooo_start = r.ooo ? seq_min(r.ooo_start, seq) : seq;
    r.ooo_end = r.ooo ? seq_max(r.ooo_end, end) : end;
    r.ooo = true;
    ack = true;  // out of order: immediate (duplicate) ACK
  } else {
    if (seq_gt(end, r.rcv_nxt)) r.rcv_nxt = end;
    if (r.ooo && seq_le(r.ooo_start, r.rcv_nxt)) {
      r.rcv_nxt = seq_max(r.rcv_nxt, r.ooo_end);
      r.ooo = false;
    }
    ack = true;  // old data: immediate ACK
  }
  if (ack && !suppress_ack) ack_now(f, 1 - sender, ack_delay, tags);
}

void FlowPlanner::retransmit(Flow& f, bool fast) const {
  const int S = f.burst_side;
  Host& s = f.h[S];
  const uint32_t len = std::min(cfg_.mss, s.snd_nxt - s.snd_una);
  uint32_t tags = fast ? kTagFastRetx : kTagRtoRetx;
  if (f.mid_episode) tags |= kTagRetxMidseg;
  const uint64_t delay = fast ? tight(f) : rto(f);
  if (fast) s.fast_done = true;
  push(f, S, s.snd_una, f.h[S].rcv_nxt, len, kTcpAck | kTcpPsh, s.win_raw, tags, delay);
  receive(f, S, s.snd_una, len, tight(f), false);
}

void FlowPlanner::send_new(Flow& f) const {
  const int S = f.burst_side;
  Host& s = f.h[S];
  Host& r = f.h[1 - S];
  const Impairments& imp = cfg_.imp;
  const uint32_t len = std::min(cfg_.mss, f.burst_left);
  const uint32_t after = f.burst_left - len;  // new bytes left after this segment
  const uint32_t seq = s.snd_nxt;
  const uint8_t flags = static_cast<uint8_t>(kTcpAck | (after == 0 ? kTcpPsh : 0));

  enum class Kind { kNone, kDown, kUp, kReorder, kDup, kMid, kZero } kind = Kind::kNone;
  if (clean(f) && len >= 2) {
    double u = f.rng.uniform();
    // Losses in bursts: only inside the first loss_burst_len_s of each period.
    const bool lossy = imp.loss_burst_period_s <= 0 ||
                       std::fmod(static_cast<double>(f.t_ns) / 1e9 - cfg_.start_time_s, imp.loss_burst_period_s) <
                           imp.loss_burst_len_s;
    struct Choice { double p; Kind k; bool ok; };
    const Choice choices[] = {
        {lossy ? imp.loss_downstream : 0.0, Kind::kDown, true},
        {lossy ? imp.loss_upstream : 0.0, Kind::kUp, after >= 2},
        {imp.reorder, Kind::kReorder, after >= 2},
        {imp.duplicate, Kind::kDup, true},
        {imp.midseg_ack, Kind::kMid, len >= 2 * kMidsegAckOffset},
        {imp.zero_window, Kind::kZero, after >= 2},
    };
    for (const Choice& c : choices) {
      if (u < c.p) {
        if (c.ok) kind = c.k;
        break;
      }
      u -= c.p;
    }
  }
  if (kind != Kind::kNone) {
    f.cooldown = kCooldownSegments;
  } else if (f.cooldown > 0) {
    --f.cooldown;
  }

  const uint32_t ack = s.rcv_nxt;
  switch (kind) {
    case Kind::kNone:
      push(f, S, seq, ack, len, flags, s.win_raw, 0, gap(f));
      s.snd_nxt += len;
      f.burst_left = after;
      receive(f, S, seq, len, gap(f), false);
      break;
    case Kind::kUp:
      // Never captured: only the sender's state moves; the next captured segment shows the hole.
      s.snd_nxt += len;
      f.burst_left = after;
      s.unseen_pending = true;
      break;
    case Kind::kDown:
      push(f, S, seq, ack, len, flags, s.win_raw, kTagDownstreamLoss, gap(f));
      s.snd_nxt += len;
      f.burst_left = after;
      break;
    case Kind::kReorder: {
      const uint32_t len2 = std::min(cfg_.mss, after);
      const uint8_t flags2 = static_cast<uint8_t>(kTcpAck | (after == len2 ? kTcpPsh : 0));
      s.snd_nxt += len + len2;
      f.burst_left = after - len2;
      push(f, S, seq + len, ack, len2, flags2, s.win_raw, kTagLostSegment | kTagReorderEarly, gap(f));
      receive(f, S, seq + len, len2, tight(f), false);
      push(f, S, seq, ack, len, kTcpAck, s.win_raw, kTagOutOfOrder, tight(f));
      receive(f, S, seq, len, tight(f), false);
      break;
    }
    case Kind::kDup:
      push(f, S, seq, ack, len, flags, s.win_raw, 0, gap(f));
      push(f, S, seq, ack, len, flags, s.win_raw, kTagDupSegment, tight(f));
      s.snd_nxt += len;
      f.burst_left = after;
      receive(f, S, seq, len, 0, true);
      receive(f, S, seq, len, tight(f), false);
      break;
    case Kind::kMid:
      push(f, S, seq, ack, len, flags, s.win_raw, 0, gap(f));
      s.snd_nxt += len;
      f.burst_left = after;
      r.mid_arm = true;
      r.mid_left = static_cast<uint8_t>(std::min(imp.midseg_rounds, 200u) > 0 ? std::min(imp.midseg_rounds, 200u) - 1 : 0);
      f.mid_episode = true;
      receive(f, S, seq, len, gap(f), false);
      break;
    case Kind::kZero:
      push(f, S, seq, ack, len, flags, s.win_raw, 0, gap(f));
      s.snd_nxt += len;
      f.burst_left = after;
      receive(f, S, seq, len, 0, true);
      r.zero = true;
      f.zwp_left = static_cast<uint8_t>(std::min(imp.zwp_probes, 16u));
      f.zwp_sent = 0;
      ack_now(f, 1 - S, tight(f), 0);
      break;
  }
}

void FlowPlanner::step_data(Flow& f) const {
  const int S = f.burst_side;
  const int R = 1 - S;
  Host& s = f.h[S];
  Host& r = f.h[R];
  if (r.zero) {
    if (f.zwp_left > 0) {
      // A 1-byte probe at the next sequence number (RFC 9293 §3.8.6.1); not accepted.
      const uint64_t delay = kZwpFirstNs << std::min<unsigned>(f.zwp_sent, 6);
      push(f, S, s.snd_nxt, s.rcv_nxt, 1, kTcpAck, s.win_raw, kTagZwp, delay);
      push(f, R, r.snd_nxt, r.rcv_nxt, 0, kTcpAck, 0, kTagZwpAck | kTagZeroWindow, tight(f));
      --f.zwp_left;
      ++f.zwp_sent;
      return;
    }
    r.zero = false;
    push(f, R, r.snd_nxt, r.rcv_nxt, 0, kTcpAck, r.win_raw, kTagWindowUpdate, gap(f));
    return;
  }
  if (s.snd_una != s.snd_nxt && s.dupacks >= 3 && !s.fast_done) {
    retransmit(f, true);
    return;
  }
  if (f.burst_left > 0) {
    send_new(f);
    return;
  }
  if (r.rcv_nxt != s.snd_nxt) {
    retransmit(f, false);
    return;
  }
  if (r.unacked > 0) {
    ack_now(f, R, gap(f), 0);  // delayed-ACK timer
    return;
  }
  next_burst(f);
}

void FlowPlanner::next_burst(Flow& f) const {
  if (f.burst_side == 0) {
    f.burst_side = 1;
    f.burst_left = message_size(f, false);
    --f.exchanges_left;
    return;
  }
  if (f.exchanges_left > 0) {
    f.burst_side = 0;
    f.burst_left = message_size(f, true);
    return;
  }
  f.phase = Phase::kTeardown;
}

void FlowPlanner::step_teardown(Flow& f) const {
  const int c = static_cast<int>(f.rng.below(2));  // the side that closes
  const int o = 1 - c;
  Host& hc = f.h[c];
  Host& ho = f.h[o];
  if (f.rng.uniform() < cfg_.imp.rst_close) {
    push(f, c, hc.snd_nxt, hc.rcv_nxt, 0, kTcpRst | kTcpAck, 0, 0, gap(f));
    f.phase = Phase::kDone;
    return;
  }
  push(f, c, hc.snd_nxt, hc.rcv_nxt, 0, kTcpFin | kTcpAck, hc.win_raw, 0, gap(f));
  hc.snd_nxt += 1;
  ho.rcv_nxt += 1;
  push(f, o, ho.snd_nxt, ho.rcv_nxt, 0, kTcpFin | kTcpAck, ho.win_raw, 0, f.rtt_ns / 2);
  ho.snd_nxt += 1;
  hc.rcv_nxt += 1;
  push(f, c, hc.snd_nxt, hc.rcv_nxt, 0, kTcpAck, hc.win_raw, 0, f.rtt_ns / 2);
  f.phase = Phase::kDone;
}

}  // namespace seqwatch::gen
