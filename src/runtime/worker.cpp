#include "runtime/worker.hpp"

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "flow/flow_key.hpp"

namespace seqwatch::runtime {

Worker::Worker(PacketSource& source, const PayloadMatcher* matcher, tcp::TcpStage* tcp)
    : source_(source), matcher_(matcher), tcp_(tcp), link_(source.link_type()), mixed_links_(source.mixed_link_types()) {
  if (matcher_ != nullptr) {
    auto s = matcher_->make_scratch();
    if (s) scratch_ = std::move(s.value());
    else matcher_ = nullptr;  // reported by the caller, which checks scratch() after construction
  }
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
  while (!stop.load(std::memory_order_relaxed) && poll()) {
  }
}

bool Worker::poll() noexcept {
  const uint64_t t0 = __rdtsc();
  if (x_.lossless && tcp_ != nullptr) {
    // Worst case per burst: one verdict event and kMaxMatches payload events per packet;
    // flow records from the sweep (4 buckets x 8), evictions, expiries and restarts.
    // (Capped at half a ring, so a small configured ring cannot stall the worker for good.)
    constexpr uint32_t kEventRoom = kBurstSize * (1 + PayloadMatcher::Scratch::kMaxMatches);
    constexpr uint32_t kRecordRoom = 4 * kBurstSize + 32;
    const uint32_t event_room = std::min(kEventRoom, tcp_->events().capacity() / 2);
    const uint32_t record_room = std::min(kRecordRoom, tcp_->records().capacity() / 2);
    bool short_of_room = tcp_->events().free_slots() < event_room || tcp_->records().free_slots() < record_room;
    if (x_.evidence != nullptr) {
      // Evidence: a trigger per packet, each opening a slice (begin, K history packets, the
      // trigger packet, an end) plus a sample record.
      evidence::RecordRing& ring = x_.evidence->ring();
      const uint32_t want = std::min<uint32_t>(kBurstSize * (x_.evidence->config().pre_packets + 4u), ring.capacity() / 2);
      short_of_room |= ring.free_slots(want) < want;
    }
    if (short_of_room) {
      ++state_.backpressure;
      std::this_thread::yield();
      state_.idle_tsc += __rdtsc() - t0;
      return true;
    }
  }
  const uint16_t n = source_.rx_burst(pkts_.data(), burst_);
  if (n == 0) {
    source_.release();
    state_.idle_tsc += __rdtsc() - t0;
    if (source_.done()) return false;
    // A quiet live port still ages its flows, by wall time, every 1024 empty polls.
    if ((++state_.idle_polls & 1023) == 0 && tcp_ != nullptr) {
      if (const uint64_t now = source_.now_ns(); now != 0) tcp_->sweep(now);
    }
    // A finite input (a file, through the rehash stage's ring) is late, not quiet: leave the
    // core to the thread that feeds this worker when they share one (`analyze -w 2` on two
    // CPUs runs the rehash stage, two workers and the control thread). 20 us is ~100 frames
    // of the stage's output, far below a ring's room. A live port polls on.
    if (x_.lossless) std::this_thread::sleep_for(std::chrono::microseconds(20));
    return true;
  }
  ++state_.bursts;
  if (mixed_links_) [[unlikely]] {  // a pcapng file with interfaces of several link types
    link_ = source_.link_type();
    if (x_.evidence != nullptr) x_.evidence->set_link(link_);
  }
  process_burst(pkts_.data(), n);
  source_.release();
  state_.busy_tsc += __rdtsc() - t0;
  return true;
}

void Worker::sample(const PacketRef* pkts, uint16_t n) noexcept {
  // Only the packets the countdown lands on are touched (index countdown - 1, then every
  // kSampleEvery): the other 63 of 64 packets cost nothing here.
  uint32_t i = sample_countdown_ - 1;
  if (i >= n) {
    sample_countdown_ -= n;
    return;
  }
  for (; i < n; i += kSampleEvery) {
    const decode::PacketView& v = views_[i];
    if (v.ip_count == 0) continue;
    FlowSample s{};
    s.inner_cut = v.tunnel_inner_missing() ? 1 : 0;  // a tunnel cut before its inner IP header (snaplen)
    s.tunneled = v.tunnel_count != 0 || s.inner_cut != 0;
    s.outer_hash = flow::address_pair_hash(v, 0);
    // The inner flow's hash: the TCP stage's when it analysed the packet, else computed.
    bool keyed = tcp_ != nullptr && tcp_->result(static_cast<uint16_t>(i)).analysed;
    if (keyed) {
      s.inner_hash = tcp_->result(static_cast<uint16_t>(i)).hash;
    } else {
      flow::FlowKey key;
      flow::Dir dir;
      uint64_t h = 0;
      keyed = v.status == decode::DecodeStatus::kOk && flow::make_key(v, key, dir, true, &h);
      s.inner_hash = keyed ? h : flow::address_pair_hash(v, v.ip_count - 1u);
    }
    // Untunnelled, a NIC's RSS hashes the ports too: the outer flow is the flow.
    if (!s.tunneled && keyed) s.outer_hash = s.inner_hash;
    s.wirelen = evidence::wire_length(pkts[i], v);  // the IP length where the source lost the original
    s.worker = worker_id_;
    if (samples_->push(s)) ++state_.samples;
    else ++state_.samples_dropped;
  }
  sample_countdown_ = i - n + 1;
}

void Worker::set_extras(const WorkerExtras& x) noexcept {
  x_ = x;
  if (tcp_ != nullptr && x_.evidence != nullptr) tcp_->set_flow_end_hook(&Worker::on_flow_end, this);
}

uint32_t Worker::flow_end_room() noexcept {
  if (x_.evidence == nullptr) return UINT32_MAX;
  evidence::RecordRing& ring = x_.evidence->ring();
  const uint32_t per_flow = x_.evidence->config().pre_packets + 4u;
  const uint32_t free = ring.free_slots(ring.capacity());
  // An empty ring always takes one flow end (a ring smaller than one slice cannot stall).
  return free == ring.capacity() ? std::max(1u, free / per_flow) : free / per_flow;
}

void Worker::on_flow_end(void* ctx, const flow::FlowEntry& e, uint32_t slot, flow::RemoveReason why) noexcept {
  auto* w = static_cast<Worker*>(ctx);
  // A SYN still waiting when the input ends (end of file, SIGINT) was unanswered only if it
  // waited at least an initial RTO (1 s, RFC 6298) before the worker's newest packet, or was
  // re-sent (its sender timed out): a SYN sent just before the end had no time to be answered
  // (until 2026-12-02 every such SYN opened a one-packet syn_unanswered slice).
  // The end: input_end_ns().
  constexpr uint64_t kInitialRtoNs = 1000000000ull;
  bool unanswered = e.cold.stage == tcp::Stage::kSynSent && !tcp::handshake_done_unseen(e.cold, e.count[e.cold.initiator].segments, e.count[1 - e.cold.initiator].segments);
  if (unanswered && why == flow::RemoveReason::kFlush && e.cold.syn_count < 2)
    unanswered = w->input_end_ns() >= e.last_ts_ns + kInitialRtoNs;
  w->x_.evidence->flow_end(evidence::FlowRef{slot, e.id, 0, &e.key}, unanswered);
}

uint64_t Worker::input_end_ns() const noexcept {
  uint64_t end = state_.last_ts_ns;
  if (input_end_ns_ != nullptr) end = std::max(end, input_end_ns_->load(std::memory_order_relaxed));
  return std::max(end, source_.now_ns());
}

void Worker::payload_event(uint16_t i, const PacketRef& p, const PayloadMatcher::Scratch::Match& m) noexcept {
  const tcp::SegmentResult& r = tcp_->result(i);
  const decode::TcpInfo& t = views_[i].tcp;
  event::SegmentEvent e;
  e.key = tcp_->key(i);
  e.ts_ns = p.ts_ns;
  e.frame = p.frame;
  e.flow_id = r.flow_id;
  e.seq = t.seq;
  e.ack = t.ack;
  e.payload_len = t.payload_len;
  e.window = t.window;
  e.dir = r.dir;
  e.worker = tcp_->worker();  // as the segment events of the same worker
  e.tcp_flags = t.flags;
  e.kind = event::kPayloadMatch;
  e.rule_id = matcher_->rules()[m.rule].id;
  e.match_end = m.end;
  if (tcp_->events().push(e)) ++state_.payload_events;
  else ++state_.payload_events_dropped;
}

uint32_t Worker::scan_payload(uint16_t i, const PacketRef& p) noexcept {
  const decode::PacketView& v = views_[i];
  const decode::TcpInfo& tcp = v.tcp;
  // Scan the captured part of the payload (a cut frame yields what was kept).
  const uint32_t start = v.l4_off + tcp.hdr_len;
  if (start >= v.caplen) return 0;
  const uint32_t avail = v.caplen - start;
  const uint32_t len = tcp.payload_len < avail ? tcp.payload_len : avail;
  matcher_->scan(v.frame + start, len, *scratch_);
  ++state_.payload_scans;
  uint32_t trig = 0;
  const bool analysed = tcp_ != nullptr && tcp_->result(i).analysed;
  for (unsigned k = 0; k < scratch_->match_count(); ++k) {
    const auto& m = scratch_->match(k);
    if (x_.payload_events && analysed) payload_event(i, p, m);
    // A rule that a trigger names fires it whatever its action in the rules file (until
    // 2026-12-02 only `trigger` rules did: a trigger naming a `count` rule, as every
    // shipped rule is, never fired and said nothing).
    const PayloadRule& rule = matcher_->rules()[m.rule];
    if (x_.evidence != nullptr && x_.evidence->triggers().payload_rule(rule.id, rule.action == RuleAction::kTrigger))
      trig = evidence::kTrigPayload;
  }
  return trig;
}

uint32_t Worker::decoded_wire_length(const PacketRef& p) const noexcept {
  decode::PacketView v;
  decode::decode(p.data, p.caplen, link_, v);
  return evidence::wire_length(p, v);
}

void Worker::process_burst(const PacketRef* pkts, uint16_t n) noexcept {
  if (x_.capture_filter != nullptr) {  // BPF capture filter: drop early, count it
    // `len` (`greater`, `less`) is the frame's original length. A source that cannot tell it
    // (net_pcap, net_af_packet, a replay port: wirelen 0) may hand over frames a snaplen or
    // a PACKET_MMAP frame cut: their IP header says how long they were, as for the evidence
    // (evidence::wire_length), read only for a filter that tests the length.
    const bool reads_len = x_.capture_filter->reads_length();
    uint16_t k = 0;
    for (uint16_t i = 0; i < n; ++i) {
      uint32_t wire = pkts[i].wirelen;
      if (wire == 0) wire = reads_len ? decoded_wire_length(pkts[i]) : pkts[i].caplen;
      if (x_.capture_filter->match(pkts[i].data, pkts[i].caplen, wire)) kept_[k++] = pkts[i];
    }
    state_.filtered += n - k;
    if (k == 0) return;
    pkts = kept_.data();
    n = k;
  }
  for (uint16_t i = 0; i < n; ++i) frames_[i] = decode::FrameRef{pkts[i].data, pkts[i].caplen};
  decode::decode_burst(frames_.data(), n, link_, views_.data(), state_.decode);
  if (tcp_ != nullptr) tcp_->process_burst(views_.data(), pkts, n);

  if (samples_ != nullptr) sample(pkts, n);
  if (state_.first_ts_ns == 0) state_.first_ts_ns = pkts[0].ts_ns;
  state_.last_ts_ns = pkts[n - 1].ts_ns;

  TcpShape& t = state_.tcp;
  evidence::EvidenceCapture* ev = x_.evidence;
  if (ev != nullptr && tcp_ != nullptr) {
    // Evidence state of the whole burst first (staged, as the flow lookups): each packet's
    // flow slot and next history entry are random lines; their misses overlap this way.
    for (uint16_t i = 0; i < n; ++i) {
      const tcp::SegmentResult& r = tcp_->result(i);
      if (r.analysed) ev->prefetch(evidence::FlowRef{r.slot, r.flow_id, r.dir, nullptr});
    }
  }
  for (uint16_t i = 0; i < n; ++i) {
    const decode::PacketView& v = views_[i];
    if (!v.is_tcp() || v.status != decode::DecodeStatus::kOk) continue;  // counted by decode
    const decode::TcpInfo& tcp = v.tcp;
    ++t.segments;
    // As the decoder reads the headers (every source alike; the flows' byte counts take the
    // length on the wire: tcp::wire_payload_len).
    if (tcp.payload_len != 0) {
      ++t.data_segments;
      t.payload_bytes += tcp.payload_len;
    }
    const uint8_t syn_ack = tcp.flags & (decode::kTcpSyn | decode::kTcpAck);
    t.syn += syn_ack == decode::kTcpSyn;
    t.syn_ack += syn_ack == (decode::kTcpSyn | decode::kTcpAck);
    t.fin += (tcp.flags & decode::kTcpFin) != 0;
    t.rst += (tcp.flags & decode::kTcpRst) != 0;
    t.with_sack += (tcp.opts & decode::kOptSack) != 0;
    t.with_timestamps += (tcp.opts & decode::kOptTimestamp) != 0;
    t.options_cut += (v.flags & decode::kFlagTcpOptsCut) != 0;
    uint32_t extra = 0;
    if (matcher_ != nullptr && tcp.payload_len != 0) extra |= scan_payload(i, pkts[i]);
    if (ev == nullptr || tcp_ == nullptr) continue;
    const tcp::SegmentResult& r = tcp_->result(i);
    if (!x_.trigger_filters.empty()) {
      uint32_t hits = 0;
      // BPF's `len`: the original length, or where the source lost it (a cut af_packet
      // frame, a net_pcap replay) the outer IP header's, as evidence records carry it.
      const uint32_t wire = evidence::wire_length(pkts[i], v);
      for (size_t f = 0; f < x_.trigger_filters.size(); ++f)
        hits |= x_.trigger_filters[f]->match(pkts[i].data, pkts[i].caplen, wire) ? (1u << f) : 0u;
      extra |= ev->triggers().bpf(hits);
    }
    if (r.analysed) ev->observe(pkts[i], v, evidence::FlowRef{r.slot, r.flow_id, r.dir, &tcp_->key(i)}, r.verdict, extra);
  }
  if (ev != nullptr && ev->sampling()) {  // every packet of the link, TCP or not
    for (uint16_t i = 0; i < n; ++i) {
      const bool flow = tcp_ != nullptr && tcp_->result(i).analysed;
      ev->sample(pkts[i], views_[i], flow ? tcp_->result(i).hash : 0, flow);
    }
  }
}

}  // namespace seqwatch::runtime
