#include "evidence/capture.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/units.hpp"

namespace seqwatch::evidence {

namespace {
constexpr uint32_t kMaxSnap = 65535;
constexpr uint64_t kMaxHistoryBytes = uint64_t{1} << 36;  // HistEntry::prev counts 16-byte units in 32 bits

bool pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint32_t ring_snap(const CaptureConfig& c) { return std::max(c.trim.snap, c.sample.trim.snap); }

// Flow sampling decides on a remix of the symmetric flow hash, so the choice does not
// correlate with the bits the flow table or RSS used to place the flow.
uint64_t mix(uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
}  // namespace


size_t EvidenceCapture::memory_for(const CaptureConfig& c) noexcept {
  const size_t log = c.pre_packets != 0 ? c.history_bytes : 0;
  return size_t{c.flow_slots} * sizeof(FlowSlot) + log + size_t{c.pre_packets} * sizeof(uint64_t) +
         size_t{c.ring} * record_stride(ring_snap(c));
}

size_t EvidenceCapture::memory_bytes() const noexcept { return memory_for(cfg_); }

EvidenceCapture::EvidenceCapture(const CaptureConfig& cfg, const TriggerSet& triggers)
    : cfg_(cfg), triggers_(triggers), link_(static_cast<uint16_t>(cfg.link)), ring_(cfg.ring, record_stride(ring_snap(cfg))) {}

Result<std::unique_ptr<EvidenceCapture>> EvidenceCapture::create(const CaptureConfig& c, const TriggerSet& triggers) {
  if (!pow2(c.flow_slots)) return Error{"evidence flow_slots " + std::to_string(c.flow_slots) + " is not a power of two"};
  if (!pow2(c.ring)) return Error{"evidence ring " + std::to_string(c.ring) + " is not a power of two"};
  if (c.trim.snap == 0 || c.trim.snap > kMaxSnap || c.sample.trim.snap == 0 || c.sample.trim.snap > kMaxSnap)
    return Error{"evidence snap " + std::to_string(c.trim.snap) + "/" + std::to_string(c.sample.trim.snap) +
                 " must be between 1 and " + std::to_string(kMaxSnap) + " bytes"};
  if (c.ring < uint32_t{c.pre_packets} + 3)
    return Error{"evidence ring " + std::to_string(c.ring) + " cannot hold one slice start (K + 3 records)"};
  if (c.pre_packets != 0 &&
      (c.history_bytes == 0 || (c.history_bytes & (c.history_bytes - 1)) != 0 || c.history_bytes < 64 * entry_bytes(c.trim.snap) ||
       c.history_bytes > kMaxHistoryBytes))
    return Error{"evidence history_bytes " + std::to_string(c.history_bytes) +
                 " must be a power of two holding at least 64 packets of " + std::to_string(c.trim.snap) +
                 " bytes, at most " + std::to_string(kMaxHistoryBytes) + " bytes"};
  if (!(c.sample.flow_fraction >= 0.0 && c.sample.flow_fraction <= 1.0))
    return Error{"evidence sample flow_fraction " + std::to_string(c.sample.flow_fraction) + " must be in [0, 1]"};
  std::unique_ptr<EvidenceCapture> e(new EvidenceCapture(c, triggers));
  e->slot_mask_ = c.flow_slots - 1;
  e->slots_mem_ = util::map_lazy_array<uint8_t>(size_t{c.flow_slots} * sizeof(FlowSlot), true);
  if (!e->slots_mem_) return Error{"cannot allocate " + std::to_string(c.flow_slots) + " flow slots of " +
                                     std::to_string(sizeof(FlowSlot)) + " bytes (one per flow of the table)"};
  e->slots_ = reinterpret_cast<FlowSlot*>(e->slots_mem_.get());
  if (c.pre_packets != 0) {
    e->log_ = util::map_lazy_array<uint8_t>(c.history_bytes, true);
    if (!e->log_) return Error{"cannot allocate a history log of " + std::to_string(c.history_bytes) + " bytes"};
    e->log_mask_ = c.history_bytes - 1;
    e->walk_ = std::make_unique<uint64_t[]>(c.pre_packets);
  }
  e->global_interval_ns_ = uint64_t{c.budget.global_interval_ms} * kNsPerMs;
  e->global_left_ = c.budget.global_packets;
  e->sample_every_ = c.sample.every_n;
  e->flow_on_ = c.sample.flow_fraction > 0.0;
  e->flow_threshold_ = static_cast<uint64_t>(std::ldexp(c.sample.flow_fraction, 32));
  return e;
}

[[gnu::always_inline]] inline EvidenceCapture::FlowSlot& EvidenceCapture::slot_of(FlowRef f) noexcept {
  FlowSlot& s = slots_[f.slot & slot_mask_];
  if (s.flow_id != f.id) {
    if (s.flow_id != 0) {
      ++counters_.slots_taken;
      if (s.slice != 0) end_slice(s, EndReason::kFlowEnded, 0);
    }
    s = FlowSlot{};
    s.flow_id = f.id;
  }
  return s;
}

bool EvidenceCapture::global_take(uint64_t ts_ns, uint32_t n) noexcept {
  if (cfg_.budget.global_packets == 0) return true;
  if (ts_ns - global_window_start_ >= global_interval_ns_ || ts_ns < global_window_start_) {
    global_window_start_ = ts_ns;
    global_left_ = cfg_.budget.global_packets;
  }
  if (global_left_ < n) return false;
  global_left_ -= n;
  return true;
}

bool EvidenceCapture::push_packet(const FlowSlot& s, Role role, const HistEntry& h, const uint8_t* data,
                                  uint32_t triggers) noexcept {
  uint8_t* slot = ring_.reserve();
  if (slot == nullptr) {
    ++counters_.ring_full;
    return false;
  }
  auto* r = reinterpret_cast<RecordHeader*>(slot);
  *r = RecordHeader{};
  r->ts_ns = h.ts_ns;
  r->frame = h.frame;
  r->slice = s.slice;
  r->wirelen = h.wirelen;
  r->caplen = h.caplen;
  r->flow_id = s.flow_id;
  r->verdicts = h.verdicts;
  r->triggers = triggers;
  r->link = h.link;
  r->kind = RecordKind::kPacket;
  r->role = role;
  r->worker = cfg_.worker;
  r->dir = h.dir;
  copy_trimmed(slot + sizeof(RecordHeader), data, h.caplen);
  ring_.publish();
  ++counters_.emitted;
  return true;
}

void EvidenceCapture::end_slice(FlowSlot& s, EndReason why, uint64_t ts_ns) noexcept {
  if (uint8_t* slot = ring_.reserve()) {
    auto* r = reinterpret_cast<RecordHeader*>(slot);
    *r = RecordHeader{};
    r->ts_ns = ts_ns;
    r->slice = s.slice;
    r->flow_id = s.flow_id;
    r->link = link_;
    r->kind = RecordKind::kSliceEnd;
    r->worker = cfg_.worker;
    r->end_reason = why;
    ring_.publish();
  } else {
    ++counters_.ring_full;  // the control thread closes the slice at its file's rotation
  }
  s.slice = 0;
  s.post_left = 0;
}

static EvidenceCapture::HistEntry entry_of(const PacketRef& p, const decode::PacketView& v, uint32_t caplen,
                                           uint8_t dir, uint32_t verdicts, uint16_t link) {
  EvidenceCapture::HistEntry h{};
  h.ts_ns = p.ts_ns;
  h.frame = p.frame;
  h.prev = 0;
  h.wirelen = wire_length(p, v);
  h.verdicts = verdicts;
  h.caplen = caplen & 0xffffu;
  h.link = link & 0x7fffu;
  h.dir = dir & 1u;
  return h;
}


uint32_t EvidenceCapture::walk_history(const FlowSlot& s) noexcept {
  uint32_t m = 0;
  uint64_t cur = s.last;
  while (m < s.count && cur != 0) {
    const uint64_t pos = cur - 1;
    // Intact while no write since has reached it a lap later: every entry ends before the
    // position one log size after its start.
    if (log_head_ - pos > log_mask_ + 1) break;
    const HistEntry* h = entry_at(pos);
    walk_[m++] = pos;
    cur = h->prev != 0 ? cur - uint64_t{h->prev} * 16 : 0;  // (a chain never leaves its flow: slot resets cut it)
  }
  return m;
}

bool EvidenceCapture::open_slice(FlowSlot& s, const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                 uint32_t verdicts, uint32_t fired) noexcept {
  const BudgetConfig& b = cfg_.budget;
  const uint32_t history = s.count != 0 ? walk_history(s) : 0;
  const uint32_t start_packets = history + (p.data != nullptr ? 1u : 0u);
  if ((b.flow_slices != 0 && s.slices >= b.flow_slices) ||
      (b.flow_packets != 0 && s.emitted + start_packets > b.flow_packets)) {
    ++counters_.refused_flow_budget;
    return false;
  }
  // Begin + history + trigger packet (+ a possible immediate end) must fit: a slice never
  // starts without its history.
  if (ring_.free_slots(start_packets + 2) < start_packets + 2) {
    ++counters_.refused_ring;
    return false;
  }
  if (!global_take(p.ts_ns, start_packets)) {
    ++counters_.refused_global_budget;
    return false;
  }
  if (history < s.count) {  // the log lapped part of the flow's history before the trigger
    ++counters_.history_cut;
    counters_.history_cut_packets += s.count - history;
  }
  s.slice = (uint64_t{cfg_.worker} << 56) | ++next_slice_;
  ++s.slices;
  ++counters_.slices;
  uint8_t* slot = ring_.reserve();
  auto* r = reinterpret_cast<RecordHeader*>(slot);
  *r = RecordHeader{};
  r->ts_ns = p.ts_ns;
  r->frame = p.frame;
  r->slice = s.slice;
  r->flow_id = s.flow_id;
  r->verdicts = verdicts;
  r->triggers = fired;
  r->link = link_;
  r->kind = RecordKind::kSliceBegin;
  r->worker = cfg_.worker;
  r->dir = f.dir;
  r->caplen = 0;
  if (f.key != nullptr) std::memcpy(slot + sizeof(RecordHeader), f.key, sizeof(flow::FlowKey));
  else std::memset(slot + sizeof(RecordHeader), 0, sizeof(flow::FlowKey));
  ring_.publish();
  // History, oldest first.
  for (uint32_t i = history; i-- > 0;) {
    const HistEntry* h = entry_at(walk_[i]);
    push_packet(s, Role::kPre, *h, reinterpret_cast<const uint8_t*>(h) + sizeof(HistEntry), 0);
  }
  s.emitted += history;
  s.count = 0;
  s.last = 0;
  if (p.data != nullptr) {
    const uint32_t n = trimmed_length(v, p.caplen, cfg_.trim);
    push_packet(s, Role::kTrigger, entry_of(p, v, n, f.dir, verdicts, link_), p.data, fired);
    ++s.emitted;
  }
  s.post_left = post_for(fired);
  if (s.post_left == 0) end_slice(s, EndReason::kPostDone, p.ts_ns);
  return true;
}

void EvidenceCapture::observe_slow(const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                   const tcp::SegmentVerdict& sv, uint32_t extra) noexcept {
  FlowSlot& s = slot_of(f);  // a flow new to its slot takes it over
  if (s.slice == 0 && triggers_.quiet(s.trig, sv.bits, v.tcp.flags, f.dir, extra)) {
    store(s, p, v, f.dir, sv.bits);
    return;
  }
  observe_triggers(s, p, v, f, sv, extra);
}

void EvidenceCapture::observe_triggers(FlowSlot& s, const PacketRef& p, const decode::PacketView& v, FlowRef f,
                                       const tcp::SegmentVerdict& sv, uint32_t extra) noexcept {
  SegmentInput in;
  in.verdict = sv;
  in.ts_ns = p.ts_ns;
  in.window = v.tcp.window;
  in.tcp_flags = v.tcp.flags;
  in.dir = f.dir;
  in.extra = extra;
  const uint32_t fired = triggers_.evaluate(s.trig, in);
  if (fired != 0) {
    for (unsigned b = 0; b < kTriggerBits; ++b) counters_.triggers[b] += (fired >> b) & 1u;
  }

  if (s.slice != 0) {
    // Post-trigger: the packet belongs to the open slice.
    const BudgetConfig& b = cfg_.budget;
    if (b.flow_packets != 0 && s.emitted >= b.flow_packets) {
      ++counters_.cut_flow_budget;
      end_slice(s, EndReason::kFlowBudget, p.ts_ns);
    } else if (!global_take(p.ts_ns, 1)) {
      ++counters_.cut_global_budget;
      end_slice(s, EndReason::kGlobalBudget, p.ts_ns);
    } else {
      const uint32_t n = trimmed_length(v, p.caplen, cfg_.trim);
      push_packet(s, fired ? Role::kTrigger : Role::kPost, entry_of(p, v, n, f.dir, sv.bits, link_), p.data, fired);
      ++s.emitted;
      if (fired) {
        ++counters_.triggers_merged;
        s.post_left = std::max<uint32_t>(s.post_left, post_for(fired));  // a trigger extends, never shortens
      } else {
        --s.post_left;
      }
      if (s.post_left == 0) end_slice(s, EndReason::kPostDone, p.ts_ns);
      return;
    }
    // The slice was cut: this packet starts the next history.
  } else if (fired != 0 && open_slice(s, p, v, f, sv.bits, fired)) {
    return;  // the packet went out as the trigger packet
  }
  store(s, p, v, f.dir, sv.bits);
}

void EvidenceCapture::flow_end(FlowRef f, bool syn_unanswered) noexcept {
  FlowSlot& s = slots_[f.slot & slot_mask_];
  if (s.flow_id != f.id) return;  // the slot moved on to another flow already
  if (s.slice != 0) {
    end_slice(s, EndReason::kFlowEnded, 0);
  } else if (syn_unanswered && triggers_.syn_unanswered_at_end() && s.count != 0) {
    ++counters_.triggers[5];  // kTrigSynUnanswered
    PacketRef none{nullptr, 0, 0, 0, 0};
    // The slice's time: its last history packet's, when the log still holds it.
    if (log_head_ - (s.last - 1) <= log_mask_ + 1) none.ts_ns = entry_at(s.last - 1)->ts_ns;
    decode::PacketView v;
    open_slice(s, none, v, f, 0, kTrigSynUnanswered);
    if (s.slice != 0) end_slice(s, EndReason::kFlowEnded, none.ts_ns);
  }
  // Free: the next flow to take the slot resets it whole (slot_of). Only its first line is
  // written here, the one just read: a flow's end costs one line, not three.
  s.flow_id = 0;
  s.slice = 0;
}

void EvidenceCapture::sample(const PacketRef& p, const decode::PacketView& v, uint64_t flow_hash,
                             bool has_hash) noexcept {
  if (flow_on_) {
    if (!has_hash) {
      ++counters_.samples_no_flow;
      return;
    }
    if ((mix(flow_hash) >> 32) >= flow_threshold_) return;
  }
  if (sample_every_ != 0) {
    if (sample_countdown_ != 0) {
      --sample_countdown_;
      return;
    }
    sample_countdown_ = sample_every_ - 1;
  }
  uint8_t* slot = ring_.reserve();
  if (slot == nullptr) {
    ++counters_.samples_ring_full;
    return;
  }
  const uint32_t n = trimmed_length(v, p.caplen, cfg_.sample.trim);
  auto* r = reinterpret_cast<RecordHeader*>(slot);
  *r = RecordHeader{};
  r->ts_ns = p.ts_ns;
  r->frame = p.frame;
  r->wirelen = wire_length(p, v);
  r->caplen = n;
  r->link = link_;
  r->kind = RecordKind::kSample;
  r->worker = cfg_.worker;
  copy_trimmed(slot + sizeof(RecordHeader), p.data, n);
  ring_.publish();
  ++counters_.samples;
}

}  // namespace seqwatch::evidence
