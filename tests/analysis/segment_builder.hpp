// Hand-made TCP conversations for analyzer tests: a Conversation feeds segments of one
// flow (client c or server s) with explicit times into TcpStage and collects the events
// and flow records it emits.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "decode/packet_view.hpp"
#include "event/records.hpp"
#include "source/packet_source.hpp"
#include "tcp/tcp_stage.hpp"

namespace seqwatch::testing {

// The flag bytes the tests' segments carry, and the conversations' sequence numbers.
inline constexpr uint8_t A = decode::kTcpAck, S = decode::kTcpSyn, F = decode::kTcpFin, R = decode::kTcpRst,
                         P = decode::kTcpPsh, U = decode::kTcpUrg;
inline constexpr uint32_t CI = 1000, SI = 5000;      // client and server ISNs
inline constexpr uint32_t C1 = CI + 1, S1 = SI + 1;  // first data byte of each side

struct Seg {
  bool from_client = true;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = decode::kTcpAck;
  uint32_t len = 0;
  uint16_t window = 1000;
  uint64_t t_us = 0;  // packet time, microseconds
  int8_t wscale = -1; // SYN option, -1 = absent
  uint16_t mss = 0;
  std::vector<decode::SackBlock> sack;
  uint32_t tsval = 0, tsecr = 0;  // timestamps option when either is non-zero
  int32_t ip_id = -1;  // IPv4 identification; -1 = a per-packet counter, as a sending stack sets it
  uint8_t ttl = 64;    // IPv4 TTL (63: the same packet one routed hop further on)
  bool sack_perm = false;  // SACK-permitted option (a SYN's)
};

class Conversation {
 public:
  explicit Conversation(uint32_t client_ip = 0x0A000001, uint32_t server_ip = 0x0A000002, uint16_t cport = 40000,
                        uint16_t sport = 80, uint16_t vlan = 0, uint32_t copy_window_us = tcp::TcpStageConfig{}.copy_window_us)
      : cip_(client_ip), sip_(server_ip), cport_(cport), sport_(sport), vlan_(vlan) {
    cfg_.table.capacity = 1024;
    cfg_.copy_window_us = copy_window_us;
    stage_ = std::move(tcp::TcpStage::create(cfg_).value());
  }
  // Rebuilds the stage with an active timeout (before the first segment).
  void set_active_timeout_ns(uint64_t ns) {
    cfg_.active_timeout_ns = ns;
    stage_ = std::move(tcp::TcpStage::create(cfg_).value());
  }

  // Feeds one segment; returns its verdict bits (0 = none). Frame numbers count from 1.
  uint32_t send(const Seg& s) { return send_on(cport_, s); }
  // The same, on the flow whose client port is `cport` (another flow in the same table).
  uint32_t send_on(uint16_t cport, const Seg& s) {
    ++frame_;
    uint8_t* f = frames_.emplace_back(std::make_unique<uint8_t[]>(40)).get();
    const uint32_t src = s.from_client ? cip_ : sip_, dst = s.from_client ? sip_ : cip_;
    for (int i = 0; i < 4; ++i) {
      f[12 + i] = static_cast<uint8_t>(src >> (24 - 8 * i));
      f[16 + i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
    }
    const uint16_t id = s.ip_id >= 0 ? static_cast<uint16_t>(s.ip_id) : static_cast<uint16_t>(frame_);
    f[4] = static_cast<uint8_t>(id >> 8);
    f[5] = static_cast<uint8_t>(id);
    f[8] = s.ttl;
    decode::PacketView v;
    v.frame = f;
    v.caplen = 40;
    v.ip_count = 1;
    v.ip[0].version = 4;
    v.ip[0].proto = 6;
    v.ip[0].ttl = s.ttl;
    if (vlan_ != 0) {
      v.vlan_count = 1;
      v.vlan[0] = vlan_;
    }
    v.l4 = decode::L4Type::kTcp;
    v.l4_off = 20;  // bytes 20..39: the TCP header (zeros; the stage reads its checksum)
    decode::TcpInfo& t = v.tcp;
    t.sport = s.from_client ? cport : sport_;
    t.dport = s.from_client ? sport_ : cport;
    t.seq = s.seq;
    t.ack = s.ack;
    t.flags = s.flags;
    t.payload_len = s.len;
    t.window = s.window;
    t.hdr_len = 20;
    t.ip_id = id;  // as the decoder reads it from f[4..5]
    if (s.wscale >= 0) {
      t.opts |= decode::kOptWscale;
      t.wscale = static_cast<uint8_t>(s.wscale);
    }
    if (s.mss) {
      t.opts |= decode::kOptMss;
      t.mss = s.mss;
    }
    for (const auto& b : s.sack) t.sack[t.sack_count++] = b;
    if (t.sack_count) t.opts |= decode::kOptSack;
    if (s.sack_perm) t.opts |= decode::kOptSackPerm;
    if (s.tsval != 0 || s.tsecr != 0) {
      t.opts |= decode::kOptTimestamp;
      t.tsval = s.tsval;
      t.tsecr = s.tsecr;
    }
    PacketRef p{f, 40, 40, s.t_us * 1000 + time_base_ns_, frame_};
    stage_->process_burst(&v, &p, 1);
    uint32_t bits = 0;
    stage_->events().drain([&](const event::SegmentEvent& e) {
      bits |= e.verdict.bits;
      events_[e.frame] = e;
    });
    stage_->records().drain([&](const event::FlowRecord& r) { records_.push_back(r); });
    return bits;
  }
  void finish() {
    stage_->flush();
    stage_->records().drain([&](const event::FlowRecord& r) { records_.push_back(r); });
  }
  const event::SegmentEvent& event(uint64_t frame) { return events_.at(frame); }
  bool has_event(uint64_t frame) const { return events_.count(frame) != 0; }
  const std::vector<event::FlowRecord>& records() const { return records_; }
  tcp::TcpStage& stage() { return *stage_; }
  uint64_t frames() const { return frame_; }
  // Packet times are t_us after this instant (default: a date in 2023; 0 = the epoch).
  void set_time_base_ns(uint64_t ns) { time_base_ns_ = ns; }

  // The usual three-way handshake: client ISN ci, server ISN si, at times t, t+rtt, t+2rtt.
  // With sack_perm both SYNs carry SACK-permitted (SACK negotiated).
  void handshake(uint32_t ci, uint32_t si, uint64_t t = 0, uint64_t rtt_us = 10000, int8_t wscale = 7,
                 bool sack_perm = false) {
    handshake_on(cport_, ci, si, t, rtt_us, wscale, sack_perm);
  }
  void handshake_on(uint16_t cport, uint32_t ci, uint32_t si, uint64_t t = 0, uint64_t rtt_us = 10000,
                    int8_t wscale = 7, bool sack_perm = false) {
    Seg syn{true, ci, 0, decode::kTcpSyn, 0, 64240, t, wscale, 1460};
    Seg synack{false, si, ci + 1, decode::kTcpSyn | decode::kTcpAck, 0, 65160, t + rtt_us / 2, wscale, 1460};
    syn.sack_perm = synack.sack_perm = sack_perm;
    send_on(cport, syn);
    send_on(cport, synack);
    send_on(cport, {true, ci + 1, si + 1, decode::kTcpAck, 0, 502, t + rtt_us});
  }

 private:
  uint32_t cip_, sip_;
  uint16_t cport_, sport_, vlan_;
  tcp::TcpStageConfig cfg_;
  std::unique_ptr<tcp::TcpStage> stage_;
  std::vector<std::unique_ptr<uint8_t[]>> frames_;
  std::map<uint64_t, event::SegmentEvent> events_;
  std::vector<event::FlowRecord> records_;
  uint64_t frame_ = 0;
  uint64_t time_base_ns_ = 1700000000000000000ull;
};

}  // namespace seqwatch::testing
