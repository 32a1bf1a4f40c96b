#include "tcp/counter_carry.hpp"

#include <bit>

namespace seqwatch::tcp {

CounterCarry::CounterCarry(uint32_t slots) {
  const uint32_t n = std::bit_ceil(slots < kProbe ? kProbe : slots);
  table_ = std::make_unique<Slot[]>(n);
  mask_ = n - 1;
}

CounterCarry::Slot* CounterCarry::find(uint32_t slot, bool insert) noexcept {
  // Every slot of the window is looked at (a freed slot does not end the search).
  const uint32_t key = slot + 1;
  const uint32_t home = static_cast<uint32_t>((uint64_t{key} * 0x9E3779B97F4A7C15ull) >> 32) & mask_;
  Slot* empty = nullptr;
  for (unsigned i = 0; i < kProbe; ++i) {
    Slot& s = table_[(home + i) & mask_];
    if (s.key == key) return &s;
    if (s.key == 0 && empty == nullptr) empty = &s;
  }
  if (!insert || empty == nullptr) return nullptr;
  *empty = Slot{};
  empty->key = key;
  ++used_;
  return empty;
}

bool CounterCarry::carry(flow::FlowEntry& f, uint32_t slot) noexcept {
  f.status &= static_cast<uint8_t>(~flow::kFlowCarryDue);
  Slot* s = find(slot, true);
  if (s == nullptr) {
    f.status |= flow::kFlowSaturated;
    auto hold = [](uint32_t& v) { v = v > kHold32 ? kHold32 : v; };
    for (auto& c : f.count) {
      hold(c.segments);
      hold(c.retx_segs);
      hold(c.retx_bytes);
    }
    hold(f.cold.rtt_samples);
    return false;
  }
  f.status |= flow::kFlowCarried;
  for (int d = 0; d < 2; ++d) {
    const uint64_t bytes = f.count[d].data_bytes;
    const uint16_t pace_gap = f.count[d].pace_gap;  // analysis state, not a count
    f.count[d].data_bytes = 0;
    s->count[d].add(f.count[d]);
    f.count[d] = tcp::HalfCounters{};
    f.count[d].data_bytes = bytes;
    f.count[d].pace_gap = pace_gap;
  }
  TcpCold& c = f.cold;
  s->totals.midack_count += c.midack_count;
  s->totals.dsacks += c.dsacks;
  s->totals.tail_probes += c.tail_probes;
  c.midack_count = c.dsacks = 0;
  c.tail_probes = 0;
  // RTT: the analysis reads the mean (sum / samples); past 2^31 samples 2^20 stay, with
  // floor(sum x 2^20 / samples) as their sum, which keeps floor(sum / samples) exactly.
  if (c.rtt_samples >= (1u << 31)) {
    constexpr uint64_t kKeep = 1u << 20;
    const uint64_t n = c.rtt_samples;
    const uint64_t keep_sum = c.rtt_sum_us / n * kKeep + c.rtt_sum_us % n * kKeep / n;
    s->totals.rtt_samples += n - kKeep;
    s->totals.rtt_sum_us += c.rtt_sum_us - keep_sum;
    c.rtt_samples = static_cast<uint32_t>(kKeep);
    c.rtt_sum_us = keep_sum;
  }
  return true;
}

void CounterCarry::add_carried(uint32_t slot, event::FlowRecord& r) noexcept {
  if (const Slot* s = find(slot, false); s != nullptr) {
    r.count[0].add(s->count[0]);
    r.count[1].add(s->count[1]);
    r.totals.add(s->totals);
  }
}

void CounterCarry::settle(uint32_t slot, event::FlowRecord& r) noexcept {
  if (Slot* s = find(slot, false); s != nullptr) {
    r.count[0].add(s->count[0]);
    r.count[1].add(s->count[1]);
    r.totals.add(s->totals);
    s->key = 0;
    --used_;
  }
}

}  // namespace seqwatch::tcp
