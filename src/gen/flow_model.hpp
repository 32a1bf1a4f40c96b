// The per-flow TCP model: a small state machine that plans the next few packets of one
// connection (handshake, request/response bursts with delayed ACKs, impairment episodes,
// teardown), as both end hosts would send them and as a sensor between them would see
// them. Only per-flow state is kept (about 400 bytes a flow); nothing grows with time.
//
// The sender and the receiver are modelled the way RFC 9293 / RFC 5681 describe them:
// the receiver ACKs every second in-order segment, immediately on an out-of-order,
// old or hole-filling segment; the sender fast-retransmits on the third duplicate ACK
// (RFC 5681 §3.2) and otherwise retransmits after a timeout (RFC 6298, 200 ms floor).
#pragma once

#include <cstdint>

#include "gen/gen_config.hpp"

namespace seqwatch::gen {

// splitmix64: tiny, fast, and good enough for traffic shapes; one per flow so a flow's
// packets depend only on (seed, flow id), never on how flows interleave.
struct Rng {
  uint64_t s = 0;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
};

struct PlannedPacket {
  uint64_t delay_ns;  // after the flow's previous packet
  uint32_t seq, ack, len, tags;
  uint16_t window;    // raw window field
  uint8_t flags;
  uint8_t side;       // 0: client -> server, 1: server -> client
};

// One end host: its sending state and its receiving state for the peer's data.
struct Host {
  uint32_t isn = 0, snd_una = 0, snd_nxt = 0;
  uint32_t rcv_nxt = 0, ooo_start = 0, ooo_end = 0;  // one out-of-order range at most
  uint32_t last_ack = 0, last_win = 0;               // its previous segment's ACK and scaled window
  uint16_t win_raw = 0;
  uint8_t unacked = 0, dupacks = 0;
  uint8_t mid_left = 0;                              // partial ACKs still to give
  bool ooo = false, fast_done = false, zero = false, sent_any = false;
  bool mid_arm = false, unseen_pending = false;
};

enum class Phase : uint8_t { kStart, kSynRetry, kData, kTeardown, kDone };

struct Flow {
  static constexpr unsigned kQueue = 6;  // the longest step (reorder) plans 4 packets

  uint64_t id = 0;
  uint64_t t_ns = 0;        // time of the flow's last emitted packet
  uint64_t start_ns = 0;
  Rng rng;
  Host h[2];
  Phase phase = Phase::kStart;
  uint8_t burst_side = 0;
  uint8_t cooldown = 0;
  uint8_t syn_retries_left = 0, syn_retries_sent = 0;
  uint8_t zwp_left = 0, zwp_sent = 0;
  bool v6 = false, ts = false, mid_episode = false;
  uint16_t exchanges_left = 0;
  uint32_t burst_left = 0;
  uint32_t rtt_ns = 0;
  uint16_t cport = 0, sport = 0;
  uint32_t server = 0;
  uint32_t tsval_base[2] = {0, 0};
  uint32_t tsval_last[2] = {0, 0};
  uint16_t ip_id[2] = {0, 0};
  PlannedPacket q[kQueue];
  uint8_t qhead = 0, qlen = 0;

  const PlannedPacket& head() const { return q[qhead]; }
  void pop() {
    qhead = static_cast<uint8_t>((qhead + 1) % kQueue);
    --qlen;
  }
};

class FlowPlanner {
 public:
  explicit FlowPlanner(const GenConfig& cfg);
  // Initialises f as a fresh connection with this id starting at t_ns.
  void start(Flow& f, uint64_t id, uint64_t t_ns) const;
  // Plans until the flow has a packet queued or is done.
  void plan(Flow& f) const;
  uint64_t gap(Flow& f) const;  // a normal per-flow inter-packet gap

 private:
  void step(Flow& f) const;
  void step_handshake(Flow& f) const;
  void step_data(Flow& f) const;
  void step_teardown(Flow& f) const;
  void send_new(Flow& f) const;
  void retransmit(Flow& f, bool fast) const;
  void next_burst(Flow& f) const;
  void receive(Flow& f, int sender, uint32_t seq, uint32_t len, uint64_t ack_delay, bool suppress_ack) const;
  void ack_now(Flow& f, int receiver, uint64_t delay, uint32_t tags) const;
  void on_ack(Flow& f, int sender, uint32_t ack) const;
  void push(Flow& f, int side, uint32_t seq, uint32_t ack, uint32_t len, uint8_t flags, uint16_t win,
            uint32_t tags, uint64_t delay) const;
  bool clean(const Flow& f) const;
  uint64_t tight(Flow& f) const;
  uint64_t rto(const Flow& f) const;
  uint32_t message_size(Flow& f, bool request) const;

  const GenConfig& cfg_;
  double gap_mean_ns_;
};

}  // namespace seqwatch::gen
