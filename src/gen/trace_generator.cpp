#include "gen/trace_generator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "gen/pcap_writer.hpp"
#include "util/units.hpp"

namespace seqwatch::gen {
namespace {


uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  return x ^ (x >> 33);
}

// Inner addresses. Client: 10.0.0.0/8 (IPv4) or 2001:db8:c::/48 (IPv6) indexed by the
// flow id, so (client address, client port) never repeats within a trace. Servers:
// 172.16.0.0/12 or 2001:db8:5::/48.
IpAddr client_addr(uint64_t id, bool v6) {
  IpAddr a;
  a.v6 = v6;
  if (v6) {
    const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x0c};
    std::memcpy(a.b.data(), pfx, 6);
    for (int i = 0; i < 8; ++i) a.b[8 + i] = static_cast<uint8_t>(id >> (56 - 8 * i));
    a.b[15] |= 0;  // the id itself; 0 is fine inside a /64
  } else {
    const uint32_t low = static_cast<uint32_t>((id + 1) & 0xFFFFFF);
    a.b[0] = 10;
    a.b[1] = static_cast<uint8_t>(low >> 16);
    a.b[2] = static_cast<uint8_t>(low >> 8);
    a.b[3] = static_cast<uint8_t>(low);
  }
  return a;
}

IpAddr server_addr(uint32_t server, bool v6) {
  IpAddr a;
  a.v6 = v6;
  const uint32_t n = server + 1;
  if (v6) {
    const uint8_t pfx[6] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05};
    std::memcpy(a.b.data(), pfx, 6);
    a.b[14] = static_cast<uint8_t>(n >> 8);
    a.b[15] = static_cast<uint8_t>(n);
  } else {
    a.b[0] = 172;
    a.b[1] = static_cast<uint8_t>(16 + ((n >> 16) & 0x0F));
    a.b[2] = static_cast<uint8_t>(n >> 8);
    a.b[3] = static_cast<uint8_t>(n);
  }
  return a;
}

// Outer tunnel endpoints: pair i is 198.18.x.y -> 198.19.x.y (RFC 2544 benchmarking
// range) or 2001:db8:ff:a::i -> 2001:db8:ff:b::i.
IpAddr outer_addr(uint32_t pair, bool v6, bool far_end) {
  IpAddr a;
  a.v6 = v6;
  if (v6) {
    const uint8_t pfx[8] = {0x20, 0x01, 0x0d, 0xb8, 0x00, 0xff, 0x00, static_cast<uint8_t>(far_end ? 0x0b : 0x0a)};
    std::memcpy(a.b.data(), pfx, 8);
    a.b[12] = static_cast<uint8_t>((pair + 1) >> 24);
    a.b[13] = static_cast<uint8_t>((pair + 1) >> 16);
    a.b[14] = static_cast<uint8_t>((pair + 1) >> 8);
    a.b[15] = static_cast<uint8_t>(pair + 1);
  } else {
    a.b[0] = 198;
    a.b[1] = far_end ? 19 : 18;
    a.b[2] = static_cast<uint8_t>((pair + 1) >> 8);
    a.b[3] = static_cast<uint8_t>(pair + 1);
  }
  return a;
}

std::string endpoint(const IpAddr& a, uint16_t port) {
  if (!a.v6) return fmt::format("{}.{}.{}.{}:{}", a.b[0], a.b[1], a.b[2], a.b[3], port);
  std::string s = "[";
  for (int i = 0; i < 16; i += 2) {
    if (i) s += ':';
    s += fmt::format("{:x}", (a.b[i] << 8) | a.b[i + 1]);
  }
  return s + fmt::format("]:{}", port);
}

}  // namespace

TraceGenerator::TraceGenerator(const GenConfig& cfg)
    : cfg_(cfg), planner_(cfg_), flows_(cfg.flows), frame_(kMaxFrame), pattern_(65536 + 256) {
  // 0x80..0xFF: never a TLS content type, an HTTP method or any other protocol's opening
  // bytes, so Wireshark's dissectors above TCP never try to reassemble the payload.
  for (size_t i = 0; i < pattern_.size(); ++i) pattern_[i] = static_cast<uint8_t>(0x80 | (i & 0x7F));
  const uint64_t t0 = static_cast<uint64_t>(cfg_.start_time_s * 1e9);
  if (cfg_.duration_s > 0) end_ns_ = t0 + static_cast<uint64_t>(cfg_.duration_s * 1e9);
  // Flows start spread over one mean per-flow gap, so the aggregate rate is reached at once.
  const double spread_ns = cfg_.flows / std::max(cfg_.rate_pps, 1.0) * 1e9;
  for (uint32_t slot = 0; slot < cfg_.flows; ++slot) {
    const uint64_t offset = static_cast<uint64_t>(spread_ns * (mix64(cfg_.seed ^ (slot * 0x9E37ull)) >> 11) * 0x1.0p-53);
    start_flow(slot, t0 + offset);
  }
}

FlowTruth* TraceGenerator::flow_truth(uint64_t id) {
  if (id >= truth_.flows.size()) return nullptr;
  return &truth_.flows[id];
}

void TraceGenerator::start_flow(uint32_t slot, uint64_t t_ns) {
  Flow& f = flows_[slot];
  const uint64_t id = next_id_++;
  planner_.start(f, id, t_ns);
  if (id < cfg_.per_flow_truth_max) {
    FlowTruth ft;
    ft.id = id;
    ft.ipv6 = f.v6;
    ft.client = endpoint(client_addr(id, f.v6), f.cport);
    ft.server = endpoint(server_addr(f.server, f.v6), f.sport);
    ft.outer_pair = static_cast<uint32_t>(id % cfg_.encap.outer_pairs);
    truth_.flows.push_back(std::move(ft));
  } else {
    truth_.flows_truncated = true;
  }
  planner_.plan(f);
  schedule(slot);
}

void TraceGenerator::schedule(uint32_t slot) {
  const Flow& f = flows_[slot];
  heap_.emplace(f.t_ns + f.head().delay_ns, slot);
}

// One router hop on a captured frame: the outermost IP header's TTL / hop limit one lower
// (IPv4: header checksum updated incrementally, RFC 1624). Ethernet with 0-2 VLAN tags.
static void decrement_outer_ttl(uint8_t* f, uint32_t len) {
  if (len < 14) return;
  uint32_t off = 14;
  uint16_t et = static_cast<uint16_t>(f[12] << 8 | f[13]);
  while ((et == 0x8100 || et == 0x88A8) && off + 4 <= len) {
    et = static_cast<uint16_t>(f[off + 2] << 8 | f[off + 3]);
    off += 4;
  }
  if (et == 0x0800 && off + 20 <= len && f[off + 8] > 1) {
    uint8_t* ip = f + off;
    const uint16_t old_word = static_cast<uint16_t>(ip[8] << 8 | ip[9]);
    --ip[8];
    const uint16_t new_word = static_cast<uint16_t>(ip[8] << 8 | ip[9]);
    uint32_t sum = static_cast<uint16_t>(~(ip[10] << 8 | ip[11])) + static_cast<uint16_t>(~old_word) + new_word;
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    const uint16_t c = static_cast<uint16_t>(~sum);
    ip[10] = static_cast<uint8_t>(c >> 8);
    ip[11] = static_cast<uint8_t>(c);
  } else if (et == 0x86DD && off + 40 <= len && f[off + 7] > 1) {
    --f[off + 7];
  }
}

void TraceGenerator::queue_span_copy(const Frame& f) {
  if (span_count_ == span_ring_.size()) {  // full: grow, oldest first
    std::vector<SpanCopy> grown(std::max<size_t>(16, span_ring_.size() * 2));
    for (size_t i = 0; i < span_count_; ++i) grown[i] = std::move(span_ring_[(span_head_ + i) % span_ring_.size()]);
    span_ring_ = std::move(grown);
    span_head_ = 0;
  }
  SpanCopy& c = span_ring_[(span_head_ + span_count_++) % span_ring_.size()];
  c.t_ns = f.ts_ns + static_cast<uint64_t>(cfg_.span_lag_us * 1000);
  c.flow_id = f.flow_id;
  c.caplen = f.caplen;
  c.wirelen = f.wirelen;
  c.bytes.assign(f.data, f.data + f.caplen);
  decrement_outer_ttl(c.bytes.data(), c.caplen);
}

bool TraceGenerator::emit_span_copy(Frame& out) {
  const SpanCopy& c = span_ring_[span_head_];
  span_head_ = (span_head_ + 1) % span_ring_.size();
  --span_count_;
  out.data = c.bytes.data();  // the slot is reused only after a later next()
  out.caplen = c.caplen;
  out.wirelen = c.wirelen;
  out.ts_ns = c.t_ns;
  out.flow_id = c.flow_id;
  out.tags = kTagSpanCopy;
  ++emitted_;
  ++truth_.total.frames;
  ++truth_.total.span_copies;
  if (FlowTruth* ft = flow_truth(c.flow_id)) {
    ++ft->c.frames;
    ++ft->c.span_copies;
  }
  truth_.last_ts = static_cast<double>(c.t_ns) / kNsPerSec;
  return true;
}

bool TraceGenerator::next(Frame& out) {
  if (cfg_.packets && emitted_ >= cfg_.packets) return false;
  if (span_count_ != 0) {  // a second capture due before the next original goes first
    const uint64_t due = span_ring_[span_head_].t_ns;
    const bool original_first = !heap_.empty() && heap_.top().first < due && !(end_ns_ && heap_.top().first > end_ns_);
    if (!original_first) {
      if (!(end_ns_ && due > end_ns_)) return emit_span_copy(out);
      span_count_ = 0;  // past the trace's end (so are those behind it)
    }
  }
  if (heap_.empty()) return false;
  const auto [t_ns, slot] = heap_.top();
  if (end_ns_ && t_ns > end_ns_) return false;
  heap_.pop();
  Flow& f = flows_[slot];
  const PlannedPacket p = f.head();
  f.pop();
  f.t_ns = t_ns;

  // RFC 7323 timestamps: a 1 kHz clock per host; TSecr echoes the peer's latest TSval
  // (0 in a SYN, which has no ACK).
  const uint32_t tsval = f.tsval_base[p.side] + static_cast<uint32_t>((t_ns - f.start_ns) / 1'000'000);
  const bool bare_syn = (p.flags & wire::kTcpSyn) && !(p.flags & wire::kTcpAck);
  const uint32_t tsecr = bare_syn ? 0 : f.tsval_last[1 - p.side];
  f.tsval_last[p.side] = tsval;
  const uint16_t ip_id = f.ip_id[p.side]++;

  size_t len;
  {
    const int side = p.side;
    const IpAddr client = client_addr(f.id, f.v6);
    const IpAddr server = server_addr(f.server, f.v6);
    TcpSpec t;
    t.src = side == 0 ? client : server;
    t.dst = side == 0 ? server : client;
    t.sport = side == 0 ? f.cport : f.sport;
    t.dport = side == 0 ? f.sport : f.cport;
    t.seq = p.seq;
    t.ack = p.ack;
    t.flags = p.flags;
    t.window = p.window;
    t.syn_options = (p.flags & wire::kTcpSyn) != 0;
    t.mss = static_cast<uint16_t>(std::min<uint32_t>(cfg_.mss, 65495));
    t.wscale = 7;
    t.timestamps = f.ts && !(p.flags & wire::kTcpRst);
    t.tsval = tsval;
    t.tsecr = tsecr;
    t.ip_id = ip_id;
    t.ttl = side == 0 ? 64 : 58;
    t.flow_label = static_cast<uint32_t>(mix64(f.id) & 0xFFFFF);
    if (p.len) {
      const uint32_t rel = p.seq - f.h[side].isn - 1;
      t.payload = pattern_.data() + (rel & 0x7F);
      t.payload_len = p.len;
    }
    OuterSpec o;
    o.encap = &cfg_.encap;
    if (cfg_.encap.tunnel != Tunnel::kNone) {
      const uint32_t pair = static_cast<uint32_t>(f.id % cfg_.encap.outer_pairs);
      const bool v6 = (pair + 0.5) / cfg_.encap.outer_pairs < cfg_.encap.outer_ipv6_share;
      o.src = outer_addr(pair, v6, side != 0);
      o.dst = outer_addr(pair, v6, side == 0);
      o.key = cfg_.encap.tunnel == Tunnel::kGre ? cfg_.encap.gre_key_base + pair : cfg_.encap.vni + pair;
      o.udp_sport = static_cast<uint16_t>(49152 + mix64(f.id * 2 + 1) % 16384);
      o.ip_id = ip_id;
    }
    len = encode_frame(frame_.data(), t, o);
  }

  out.data = frame_.data();
  out.wirelen = static_cast<uint32_t>(len);
  out.caplen = static_cast<uint32_t>(std::min<size_t>(len, cfg_.snaplen));
  out.ts_ns = t_ns;
  out.flow_id = f.id;
  out.tags = p.tags;
  ++emitted_;

  const bool first = truth_.total.frames == 0;
  truth_.total.tally(p.tags, p.side, p.len, p.flags, out.wirelen);
  if (p.flags == wire::kTcpSyn && !(p.tags & kTagSynRetry)) ++truth_.total.flows_started;
  if (FlowTruth* ft = flow_truth(f.id)) {
    ft->c.tally(p.tags, p.side, p.len, p.flags, out.wirelen);
    if (p.flags == wire::kTcpSyn && !(p.tags & kTagSynRetry)) ++ft->c.flows_started;
  }
  const double ts = static_cast<double>(t_ns) / kNsPerSec;
  if (first) truth_.first_ts = ts;
  truth_.last_ts = ts;
  // Which frames the SPAN captures twice: a hash of the seed and the frame's index among
  // the originals (the originals are the same bytes with or without --span-copies).
  if (cfg_.span_copies > 0 &&
      static_cast<double>(mix64(cfg_.seed ^ 0x5BA9C0DEull ^ (originals_ * 0x9E3779B97F4A7C15ull)) >> 11) * 0x1.0p-53 <
          cfg_.span_copies)
    queue_span_copy(out);
  ++originals_;

  if (f.qlen == 0) planner_.plan(f);
  if (f.qlen == 0) {
    start_flow(slot, t_ns + planner_.gap(f));
  } else {
    schedule(slot);
  }
  return true;
}

FrameStore generate_frames(const GenConfig& cfg, Truth* truth) {
  FrameStore store;
  TraceGenerator g(cfg);
  if (cfg.packets) {
    store.frames.reserve(cfg.packets);
    store.bytes.reserve(cfg.packets * 600);
  }
  Frame fr;
  while (g.next(fr)) {
    store.frames.push_back(FrameRef{store.bytes.size(), fr.caplen, fr.wirelen, fr.ts_ns});
    store.bytes.insert(store.bytes.end(), fr.data, fr.data + fr.caplen);
  }
  if (truth) *truth = g.truth();
  return store;
}

std::string write_pcap(const GenConfig& cfg, const std::string& path, Truth* truth) {
  if (std::string err = validate(cfg); !err.empty()) return err;
  PcapWriter w;
  if (std::string err = w.open(path, cfg.nanosecond, cfg.snaplen); !err.empty()) return err;
  TraceGenerator g(cfg);
  Frame fr;
  while (g.next(fr)) w.write(fr.data, fr.caplen, fr.wirelen, fr.ts_ns);
  if (truth) *truth = g.truth();
  return w.close();
}

}  // namespace seqwatch::gen
