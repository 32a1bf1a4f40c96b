#include "tcp/tcp_stage.hpp"

#include <nmmintrin.h>  // SSE4.2: crc32; SSE4.1 / SSSE3 for the bucket compare and shift

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>

namespace seqwatch::tcp {

namespace {
// Stage 2 looks this many keyed packets ahead of the analysis: the entry's five lines are
// prefetched while ~kEntryAhead packets are analysed (~45 ns each in L1), which covers a
// DRAM miss plus a page walk (~150-250 ns) without flooding the core's ~24 outstanding
// L1 misses (5 lines per entry).
constexpr unsigned kEntryAhead = 4;

// What tells a copy from a real re-send (docs/tcp-analysis.md section 16): an IPv4
// identification (a sender numbers every packet it sends, re-sends included), or a TSval
// equal to the original's at least kTsTickUs later (a timestamp clock ticks at least every
// 10 ms: RFC 7323 allows 1 ms to 1 s, every current stack uses 1 ms). Without either
// (IPv6 or IPv4 ID 0, without timestamps or sooner than a tick) a segment is taken for a
// copy only within kWeakCopyWindowUs of the original and only if the peer sent nothing in
// between (a re-send that fast answers the peer: duplicate ACKs, SACKs, a partial ACK).
// Also evidence, at any age, even past the window: an equal TSval while the sender's latest
// analysed segment carried another one (TcpCold::tsval_low): its clock has moved on since
// the original, and anything it sends now carries a newer TSval, so equal bytes are a copy.
// For a SYN, an equal nonzero TSval at least kTsTickUs later with the other TTL parity is
// evidence at any age too (its re-send comes a timeout later with a newer TSval).
// And, within the window: a TTL parity other than the original's (the sum of the
// frame's outermost and innermost TTL / hop limit, odd or even: ttl_low below). A
// sender's re-send leaves on the path its original took, with the same TTLs; a frame one
// routed hop further on is the same transmission seen a second time (a SPAN session with
// ports on both sides of a router), up to the router's queueing delay later (30 ms in the
// kernel runs' tbf queue: IPv6 without timestamps has no other evidence). Only a re-send
// on a path that changed length by an odd number of hops at that very loss, or one that
// the first capture point missed, can be taken for a copy (an earlier version trusted
// it for 10 ms only). And once a transmission's copy one hop further on was seen, the same
// bytes with the original's very TTLs are a second transmission.
constexpr uint32_t kTsTickUs = 10000;
constexpr uint32_t kWeakCopyWindowUs = 1000;

// The low 2 bits of the sum of a frame's outermost and innermost TTL / hop limit (one
// header counted once): a routed hop lowers one of them by one (a tunnel's outer header, or
// the packet inside a mirror's encapsulation), so one hop further on has the other parity
// and two hops further on the same parity but not the same 2 bits. Headers between them
// are left out (two lines fewer per segment; tunnels in tunnels are rare).
inline unsigned ttl_low(const decode::PacketView& v) noexcept {
  const unsigned inner = v.ip_count > 1 ? v.inner_ip().ttl : 0u;
  return (v.ip[0].ttl + inner) & 3u;
}
}  // namespace

TcpStage::TcpStage(const TcpStageConfig& cfg)
    : cfg_(cfg), events_(cfg.event_ring), records_(cfg.record_ring) {}

Result<std::unique_ptr<TcpStage>> TcpStage::create(const TcpStageConfig& cfg) {
  auto pow2 = [](uint32_t v) { return v != 0 && (v & (v - 1)) == 0; };
  if (!pow2(cfg.event_ring)) return Error{"event_ring " + std::to_string(cfg.event_ring) + " is not a power of two"};
  if (!pow2(cfg.record_ring)) return Error{"record_ring " + std::to_string(cfg.record_ring) + " is not a power of two"};
  auto table = flow::FlowTable::create(cfg.table);
  if (!table) return table.error();
  if (!pow2(cfg.copy_slots) || cfg.copy_slots < kCopyWays || cfg.copy_slots > (1u << 24))
    return Error{"copy_slots " + std::to_string(cfg.copy_slots) + " is not a power of two from 4 to 2^24"};
  if (cfg.copy_window_us > 1000000) return Error{"copy_window_us " + std::to_string(cfg.copy_window_us) + " exceeds 1 s"};
  std::unique_ptr<TcpStage> s(new TcpStage(cfg));
  s->table_ = std::move(table.value());
  if (cfg.active_timeout_ns != 0) s->period_len_ = cfg.active_timeout_ns;
  s->carry_ = std::make_unique<CounterCarry>(cfg.carry_slots != 0 ? cfg.carry_slots
                                                                    : std::max<uint32_t>(256, cfg.table.capacity / 256));
  if (cfg.copy_window_us != 0) {
    s->copy_buckets_ = std::make_unique<CopyBucket[]>(cfg.copy_slots / kCopyWays);
    s->copy_mask_ = cfg.copy_slots / kCopyWays - 1;
  }
  return s;
}

void TcpStage::carry_counters(flow::FlowEntry& f) noexcept {
  const bool was_saturated = f.status & flow::kFlowSaturated;
  if (carry_->carry(f, table_->index_of(&f))) ++counters_.carries;
  else if (!was_saturated) ++counters_.saturated_flows;
}

void TcpStage::fill_record(const flow::FlowEntry& e, flow::RemoveReason why, event::FlowRecord& r) const noexcept {
  r.key = e.key;
  r.last_ts_ns = e.last_ts_ns;
  r.flow_id = e.id;
  r.worker = cfg_.worker;
  r.reason = why;
  r.max_dup_run[0] = e.max_dup_run[0];
  r.max_dup_run[1] = e.max_dup_run[1];
  r.half[0] = e.half[0];
  r.half[1] = e.half[1];
  r.count[0].add(e.count[0]);
  r.count[1].add(e.count[1]);
  r.totals.add(e.cold);
  r.saturated = e.status & flow::kFlowSaturated;
  r.rst_after_fin = e.status & flow::kFlowRstAfterFin;
  r.synack_after_ack = e.status & flow::kFlowSynAckAfterAck;
  r.cold = e.cold;
}

void TcpStage::emit_record(const flow::FlowEntry& e, flow::RemoveReason why) noexcept {
  const uint32_t slot = table_->index_of(&e);
  if (flow_end_ != nullptr) flow_end_(flow_end_ctx_, e, slot, why);
  event::FlowRecord r;
  fill_record(e, why, r);
  if (e.status & flow::kFlowCarried) carry_->settle(slot, r);  // adds the carried counts, frees the slot
  if (records_.push(r)) ++counters_.records;
  else ++counters_.records_dropped;
  if (e.cold.super_segments) ++counters_.super_segment_flows;
}

void TcpStage::new_period(uint64_t ts_ns) noexcept {
  if (cfg_.active_timeout_ns == 0) return;  // off: only a packet time of 2^64 - 1 ns comes here
  period_start_ = ts_ns - ts_ns % period_len_;
}

void TcpStage::emit_active(const flow::FlowEntry& e) noexcept {
  event::FlowRecord r;
  fill_record(e, flow::RemoveReason::kActive, r);
  if (e.status & flow::kFlowCarried) carry_->add_carried(table_->index_of(&e), r);
  if (records_.push(r)) ++counters_.active_records;
  else ++counters_.records_dropped;
}

[[gnu::always_inline]] inline TcpStage::CopyWords TcpStage::copy_words(const decode::TcpInfo& t, uint64_t hash,
                                                                       flow::Dir dir) noexcept {
  static_assert(offsetof(decode::TcpInfo, ack) == offsetof(decode::TcpInfo, seq) + 4 &&
                offsetof(decode::TcpInfo, tsval) == offsetof(decode::TcpInfo, payload_len) + 4 &&
                offsetof(decode::TcpInfo, checksum) == offsetof(decode::TcpInfo, window) + 6 &&
                offsetof(decode::TcpInfo, flags) == offsetof(decode::TcpInfo, ip_id) + 3 &&
                sizeof(decode::SackBlock) == 8);
  CopyWords c;
  uint64_t sack0;
  uint32_t id_word;
  std::memcpy(&c.w1, &t.seq, 8);
  std::memcpy(&c.w2, &t.payload_len, 8);
  std::memcpy(&c.w3, &t.window, 8);
  std::memcpy(&id_word, &t.ip_id, 4);
  std::memcpy(&sack0, &t.sack[0], 8);  // valid only when sack_count says so
  c.w4 = id_word ^ (t.sack_count != 0 ? sack0 : 0);
  c.w1 ^= hash ^ static_cast<uint64_t>(dir);
  return c;
}

[[gnu::always_inline]] inline uint64_t TcpStage::copy_lane(const CopyWords& c) noexcept {
  uint64_t a = _mm_crc32_u64(0, c.w1);
  a = _mm_crc32_u64(a, c.w2);
  a = _mm_crc32_u64(a, c.w3);
  return _mm_crc32_u64(a, c.w4);
}

// The segment's fingerprint: its flow (the symmetric hash, VLAN and tunnel context
// included), direction, and every header field a sender changes when it sends a segment
// again (IPv4 identification, TCP checksum, TSval) or that the peer's progress changes
// (ACK, window). A mirror's copy has them all equal; the TTL and the link layer may
// differ (a routed hop between the two mirrored ports), so they are left out of it; the
// low 2 bits of the TTL sum are kept beside it as evidence (`ttl_low`, 0..3).
[[gnu::always_inline]] inline bool TcpStage::is_copy(const decode::TcpInfo& t, uint64_t hash, flow::Dir dir,
                                                    unsigned ttl_low, const flow::FlowEntry& f,
                                                    uint64_t ts_ns) noexcept {
  // The fields, read as they lie in TcpInfo (copy_words checks the layout): seq and ACK; payload
  // length and TSval; window, MSS, urgent pointer and checksum; IPv4 ID, header length and
  // flags, with the first SACK block (the newest, RFC 2018) folded in: it tells apart the
  // duplicate ACKs of one receiver, which the TCP checksum may not (a capture taken before
  // checksum offload holds only the pseudo-header's sum, equal for equal lengths; seen in
  // IPv6 kernel runs). Two CRC32C lanes over them (one instruction per word), the second reading the
  // words in reverse order (CRC is affine in its start value, so a second seed alone
  // would only add a constant): the first picks the bucket, the second and 4 more bits of
  // the first (above any bucket index) are the 36-bit check. A different segment still in
  // the bucket passes for the same one with probability 4 x 2^-36 per segment (then the
  // evidence below decides, as for a true match: the "clock moved on" evidence at any age).
  const CopyWords cw = copy_words(t, hash, dir);
  const uint64_t a = copy_lane(cw);
  uint64_t b = _mm_crc32_u64(0, cw.w4);
  b = _mm_crc32_u64(b, cw.w3);
  b = _mm_crc32_u64(b, cw.w2);
  b = _mm_crc32_u64(b, cw.w1);
  uint64_t* bucket = copy_buckets_[a & copy_mask_].e;
  uint64_t check = b << 4 | (a >> 28);  // 36 bits
  check |= uint64_t{check == 0};       // never 0 (0 = an empty entry)
  const uint32_t now_us = static_cast<uint32_t>(ts_ns / 1000);
  const uint32_t now = now_us & kCopyTimeMask;
  const HalfState& peer = f.half[1 - static_cast<int>(dir)];
  const bool peer_now = (peer.flags & kWindowSet) && ((now_us - peer.lastack_time_us) & kCopyTimeMask) == 0;
  const uint64_t entry =
      check << kCopyCheckShift | uint64_t{peer_now} << kCopyPeerTieBit | uint64_t{ttl_low} << kCopyTtlBit | now;
  // The four entries' checks against this one, two at a time (SSE4.1).
  const __m128i lo = _mm_load_si128(reinterpret_cast<const __m128i*>(bucket));      // e0 e1
  const __m128i hi = _mm_load_si128(reinterpret_cast<const __m128i*>(bucket + 2));  // e2 e3
  const __m128i want = _mm_set1_epi64x(static_cast<long long>(check));
  const __m128i eq = _mm_or_si128(_mm_cmpeq_epi64(_mm_srli_epi64(lo, kCopyCheckShift), want),
                                  _mm_cmpeq_epi64(_mm_srli_epi64(hi, kCopyCheckShift), want));
  if (!_mm_testz_si128(eq, eq)) [[unlikely]] {
    unsigned k = 0;
    while ((bucket[k] >> kCopyCheckShift) != check) ++k;
    // A copy stamped a little before its original (a capture merged from several interfaces
    // or queues): an age within kCopyStepBackUs below zero is none, not 16.7 s.
    const uint32_t age = copy_age(now, static_cast<uint32_t>(bucket[k]));
    const unsigned seen_ttl = (bucket[k] >> kCopyTtlBit) & 3u;
    const bool other_hop = ((seen_ttl ^ ttl_low) & 1u) != 0;
    bool copy;
    const bool ts = (t.opts & decode::kOptTimestamp) != 0;
    if (ts && f.cold.tsval_low_of(static_cast<unsigned>(dir)) != (t.tsval & 7u)) {
      // The sender's clock moved on since the original: whatever it sends now carries a
      // newer TSval, so this is the original seen again, however late (a router holding it
      // for neighbour resolution, a deep queue): no window, no age (which wraps) needed.
      copy = true;
    } else if (t.ip_id != 0 || (ts && age >= kTsTickUs)) {
      // Two pieces of identity evidence make a copy at any age: an equal IPv4 ID (or an
      // equal nonzero TSval a tick or more later) AND one routed hop further on (the other
      // TTL parity). A sender's re-send carries a new ID and a newer TSval; a frame one hop
      // on with the old ones is the same transmission, however long the router queued it
      // (a deep queue between two mirrored ports; a router holding SYNs for neighbour
      // resolution, seconds). The "moved on" evidence above misses one such copy in 8 (3
      // bits). Either piece alone holds for the window only: IDs come round (and some
      // stacks keep one), and a tool re-sending a prebuilt segment keeps its TSval, but
      // not its path.
      copy = age <= cfg_.copy_window_us ||
             (other_hop && (t.ip_id != 0 || (ts && t.tsval != 0 && age >= kTsTickUs)));
      // Past the window on the same path: a mirror's copy that late, or a sender that keeps
      // one IPv4 ID (a coarse TSval clock). Analysed as a re-send, counted for the report
      // (one hop on, only TSval 0 is left: the TTL parity alone, as below).
      if (!copy) ++(other_hop ? counters_.late_hop_matches : counters_.late_id_matches);
    } else if (other_hop) {
      // The TTL parity alone (IPv6 or IPv4 ID 0, no timestamps): the window. Past it, a
      // router between two mirrored ports queued it longer (or the path changed): counted,
      // so the report can say so (tcp.copy_window_ms goes up to 1 s).
      copy = age <= cfg_.copy_window_us;
      counters_.late_hop_matches += !copy;
    } else if (((bucket[k] >> kCopyPairBit) & 1) && seen_ttl == ttl_low) {
      // Its copy one routed hop further on was seen: both capture points have shown that
      // transmission, so the same bytes again with the original's very TTLs (modulo 4: not
      // two hops on, a third capture point) are the sender's own second transmission (two
      // equal ACKs for two equal SYN/ACKs, sent within a millisecond, without IPv4 ID or a
      // newer TSval; seen in IPv6 SPAN kernel runs).
      copy = false;
    } else {
      // No identity evidence: within kWeakCopyWindowUs, and the peer silent since the
      // original. Never a RST: a closed port answers every segment still in flight with the
      // same RST (ID 0, seq = their common ACK), sent by no socket, so no counter tells them apart.
      const uint32_t peer_age = copy_age(now, peer.lastack_time_us);
      // The peer's latest segment in the original's microsecond: after the original unless
      // the peer had already sent in that microsecond when the original was seen (then the
      // order is unknown, and the peer is taken as silent). A receiver's duplicate ACKs
      // without SACK or an IP ID, sent within a microsecond of the data that caused them,
      // are otherwise the same bytes twice (seen in an IPv6 kernel run without SACK).
      const bool tie_before = (bucket[k] >> kCopyPeerTieBit) & 1u;
      const bool peer_silent = !(peer.flags & kWindowSet) || peer_age > age || (peer_age == age && tie_before);
      copy = !(t.flags & decode::kTcpRst) && age <= std::min(cfg_.copy_window_us, kWeakCopyWindowUs) && peer_silent;
    }
    if (copy) {
      if (other_hop) bucket[k] |= uint64_t{1} << kCopyPairBit;
      return true;
    }
    bucket[k] = entry;  // analysed again: the original from now on
    return false;
  }
  // The bucket is kept newest first: the new fingerprint goes in front, the oldest drops out.
  const __m128i fresh = _mm_cvtsi64_si128(static_cast<long long>(entry));
  _mm_store_si128(reinterpret_cast<__m128i*>(bucket), _mm_unpacklo_epi64(fresh, lo));            // new e0
  _mm_store_si128(reinterpret_cast<__m128i*>(bucket + 2), _mm_alignr_epi8(hi, lo, 8));          // e1 e2
  return false;
}

void TcpStage::process_burst(const decode::PacketView* views, const PacketRef* pkts, uint16_t n) noexcept {
  // Stage 1: keys and hashes for the whole burst, home buckets prefetched.
  std::array<uint16_t, kBurstSize> todo;  // the burst's keyed segments, in arrival order
  unsigned m = 0;
  for (uint16_t i = 0; i < n; ++i) {
    const decode::PacketView& v = views[i];
    has_key_[i] = 0;
    results_[i].analysed = 0;
    if (!v.is_tcp()) continue;
    // Decode errors are counted by decode; IP fragments carry no whole segment (tshark
    // analyses TCP only after IP reassembly, which seqwatch does not do).
    if (v.status != decode::DecodeStatus::kOk || (v.flags & decode::kFlagFragment)) {
      ++counters_.skipped;
      continue;
    }
    if (!flow::make_key(v, keys_[i], dirs_[i], cfg_.key_vlans, &hashes_[i])) continue;
    table_->prefetch_bucket(hashes_[i]);
    has_key_[i] = 1;
    todo[m++] = i;
  }
  auto on_remove = [this](const flow::FlowEntry& e, flow::RemoveReason why) { emit_record(e, why); };
  // Stage 2 (signature compare, entry prefetch) runs kEntryAhead segments ahead of
  // stage 3 (lookup + analysis, in arrival order: a flow's segments must be analysed in
  // order). Prefetching is read-only: an earlier packet of the burst may still insert or
  // evict, which only makes a prefetch useless, never wrong.
  const unsigned lead = m < kEntryAhead ? m : kEntryAhead;
  for (unsigned j = 0; j < lead; ++j) prefetch_lookup(views[todo[j]], todo[j]);
  decode::TcpInfo cut;  // a segment shortened to its wire length (below)
  for (unsigned j = 0; j < m; ++j) {
    if (j + kEntryAhead < m) prefetch_lookup(views[todo[j + kEntryAhead]], todo[j + kEntryAhead]);
    const uint16_t i = todo[j];
    // The segment's length on the wire (wire_payload_len): copied only where it differs
    // from the decoder's (TcpInfo with its SACK blocks is ~70 bytes).
    const decode::TcpInfo* tp = &views[i].tcp;
    if (const uint32_t wire = wire_payload_len(views[i], pkts[i]); wire != tp->payload_len) [[unlikely]] {
      cut = *tp;
      cut.payload_len = wire;
      tp = &cut;
    }
    const decode::TcpInfo& t = *tp;
    const uint64_t ts = pkts[i].ts_ns;
    const uint32_t frame = static_cast<uint32_t>(pkts[i].frame);
    bool created = false;
    flow::FlowEntry* f = table_->find_or_insert(keys_[i], hashes_[i], ts, created, on_remove);
    if (created) start_flow(*f, dirs_[i], t, ts);
    // Active timeout: the flow's previous packet lies in an earlier period (never when off).
    if (ts - period_start_ >= period_len_) [[unlikely]] new_period(ts);
    if (f->last_ts_ns < period_start_ && !created) [[unlikely]] emit_active(*f);
    if (ts > f->last_ts_ns) f->last_ts_ns = ts;
    SegmentVerdict verdict;
    if (copy_buckets_ && is_copy(t, hashes_[i], dirs_[i], ttl_low(views[i]), *f, ts) && !created) [[unlikely]] {
      // A copy of a segment already analysed: reported, not analysed again.
      verdict.bits = kDuplicatePacket;
      ++counters_.copies;
    } else {
      if (analyze_segment(*f, dirs_[i], t, ts, frame, verdict) == Action::kRestart) [[unlikely]] {
        // Reused ports: the old connection ends here; the SYN opens a new flow.
        table_->remove(f, flow::RemoveReason::kClosed, on_remove);
        f = table_->find_or_insert(keys_[i], hashes_[i], ts, created, on_remove);
        start_flow(*f, dirs_[i], t, ts);
        verdict = SegmentVerdict{};
        verdict.bits = kReusedPorts;
        analyze_segment(*f, dirs_[i], t, ts, frame, verdict);
        ++counters_.restarts;
      }
      if (f->status & flow::kFlowCarryDue) [[unlikely]] carry_counters(*f);
      // Read only by is_copy(): kept only while the copy check is on.
      if (copy_buckets_ && (t.opts & decode::kOptTimestamp)) f->cold.note_tsval(static_cast<unsigned>(dirs_[i]), t.tsval);
    }
    // Both directions have sent: the flow ranks behind one-way (half-open) flows when the
    // table has to evict (SYN floods do not push established flows out).
    if (!(f->status & flow::kFlowTwoWay) && (f->half[1 - static_cast<int>(dirs_[i])].flags & kWindowSet))
      table_->mark_two_way(f);
    counters_.segments += verdict.bits != kDuplicatePacket;
    SegmentResult& res = results_[i];
    res.analysed = 1;
    res.dir = static_cast<uint8_t>(dirs_[i]);
    res.slot = table_->index_of(f);
    res.flow_id = f->id;
    res.hash = hashes_[i];
    res.verdict = verdict;
    if (verdict.bits == 0) continue;
    for (uint32_t bits = verdict.bits & ((1u << kVerdictBits) - 1); bits != 0; bits &= bits - 1) ++counters_.verdicts[std::countr_zero(bits)];
    event::SegmentEvent e;
    e.key = f->key;
    e.ts_ns = ts;
    e.frame = pkts[i].frame;
    e.verdict = verdict;
    e.flow_id = f->id;
    e.seq = t.seq;
    e.ack = t.ack;
    e.payload_len = t.payload_len;
    e.window = t.window;
    e.dir = static_cast<uint8_t>(dirs_[i]);
    e.worker = cfg_.worker;
    e.tcp_flags = t.flags;
    if (events_.push(e)) ++counters_.events;
    else ++counters_.events_dropped;
  }
  if (n != 0) sweep(pkts[n - 1].ts_ns);
}

void TcpStage::sweep(uint64_t now_ns) noexcept {
  table_->sweep(now_ns, [this](const flow::FlowEntry& e, flow::RemoveReason why) { emit_record(e, why); });
}

bool TcpStage::flush(uint32_t max, uint64_t end_ns) noexcept {
  const uint32_t room = std::min(records_.free_slots(), max);
  return table_->flush([this](const flow::FlowEntry& e, flow::RemoveReason why) { emit_record(e, why); }, room, end_ns);
}

}  // namespace seqwatch::tcp
