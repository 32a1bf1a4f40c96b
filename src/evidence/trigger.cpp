#include "evidence/trigger.hpp"

#include <algorithm>

#include "decode/packet_view.hpp"
#include "util/units.hpp"

namespace seqwatch::evidence {

namespace {
constexpr std::array<std::string_view, kTriggerBits> kNames = {
    "retransmission_storm", "dup_ack_run", "ack_in_segment", "zero_window",
    "rst", "syn_unanswered", "payload", "bpf", "verdict",
};
}  // namespace

std::string_view trigger_name(unsigned bit) noexcept { return bit < kTriggerBits ? kNames[bit] : "unknown"; }

void append_trigger_names(std::string& out, uint32_t bits) {
  bool any = false;
  for (unsigned b = 0; b < kTriggerBits; ++b) {
    if (!(bits >> b & 1u)) continue;
    if (any) out += ',';
    out += kNames[b];
    any = true;
  }
  if (!any) out += "none";
}

std::string trigger_names(uint32_t bits) {
  std::string out;
  append_trigger_names(out, bits);
  return out;
}

Result<TriggerSet> TriggerSet::compile(const TriggerConfig& c) {
  TriggerSet t;
  if (c.retx_storm_count != 0 || c.retx_storm_window_ms != 0) {
    if (c.retx_storm_count < 2 || c.retx_storm_count > kMaxStormCount)
      return Error{"trigger retransmission storm: count " + std::to_string(c.retx_storm_count) +
                   " must be between 2 and " + std::to_string(kMaxStormCount)};
    if (c.retx_storm_window_ms == 0)
      return Error{"trigger retransmission storm: window_ms must be > 0 (N retransmissions within T ms)"};
    t.enabled_ |= kTrigRetxStorm;
    t.storm_n_ = c.retx_storm_count;
    t.storm_window_ns_ = uint64_t{c.retx_storm_window_ms} * kNsPerMs;
  }
  if (c.dup_ack_run != 0) {
    t.enabled_ |= kTrigDupAckRun;
    t.dup_run_ = c.dup_ack_run;
  }
  if (c.ack_in_segment) t.enabled_ |= kTrigAckInSegment;
  if (c.zero_window_ms) {
    t.enabled_ |= kTrigZeroWindow;
    t.zw_ns_ = uint64_t{*c.zero_window_ms} * kNsPerMs;
  }
  if (c.rst) t.enabled_ |= kTrigRst;
  if (c.syn_attempts == 1)
    return Error{"trigger syn_unanswered: syn_attempts must be >= 2 (the first SYN is attempt 1), or 0 for off"};
  if (c.syn_attempts != 0 || c.syn_unanswered_at_end) {
    t.enabled_ |= kTrigSynUnanswered;
    t.syn_attempts_ = c.syn_attempts;
    t.syn_at_end_ = c.syn_unanswered_at_end;
  }
  if (c.payload_rules.size() > kMaxPayloadRules)
    return Error{"trigger payload: " + std::to_string(c.payload_rules.size()) + " rule ids given, at most " +
                 std::to_string(kMaxPayloadRules) + " (use payload_any for all trigger rules)"};
  if (c.payload_any || !c.payload_rules.empty()) {
    t.enabled_ |= kTrigPayload;
    t.payload_any_ = c.payload_any;
    t.payload_count_ = static_cast<uint32_t>(c.payload_rules.size());
    std::copy(c.payload_rules.begin(), c.payload_rules.end(), t.payload_ids_.begin());
    std::sort(t.payload_ids_.begin(), t.payload_ids_.begin() + t.payload_count_);
  }
  if (c.bpf_mask != 0) {
    t.enabled_ |= kTrigBpf;
    t.bpf_mask_ = c.bpf_mask;
  }
  if (c.verdict_mask >> tcp::kVerdictBits != 0)
    return Error{"trigger verdict: mask names a verdict bit beyond the " + std::to_string(tcp::kVerdictBits) + " defined"};
  if (c.verdict_mask != 0) {
    t.enabled_ |= kTrigVerdict;
    t.verdict_mask_ = c.verdict_mask;
  }
  return t;
}

bool TriggerSet::payload_rule(uint32_t id, bool trigger_action) const noexcept {
  if (!(enabled_ & kTrigPayload)) return false;
  if (payload_any_ && trigger_action) return true;
  return std::binary_search(payload_ids_.begin(), payload_ids_.begin() + payload_count_, id);
}

uint32_t TriggerSet::evaluate(FlowTriggerState& st, const SegmentInput& in) const noexcept {
  const uint32_t v = in.verdict.bits;
  uint32_t fired = in.extra & (kTrigPayload | kTrigBpf);
  if ((v & tcp::kAckInSegment)) fired |= kTrigAckInSegment;
  if (v & verdict_mask_) fired |= kTrigVerdict;
  if (in.tcp_flags & decode::kTcpRst) fired |= kTrigRst;
  if ((v & tcp::kDuplicateAck) && in.verdict.dupack_num == dup_run_) fired |= kTrigDupAckRun;
  if ((v & tcp::kSynRetransmission) && syn_attempts_ != 0 && in.verdict.attempt == syn_attempts_)
    fired |= kTrigSynUnanswered;

  if ((enabled_ & kTrigRetxStorm) && (v & tcp::kRetransmission)) {
    // Ring of the latest storm_n_ retransmission times: the storm is N of them within T.
    st.storm_ts[st.storm_pos] = in.ts_ns;
    st.storm_pos = static_cast<uint8_t>((st.storm_pos + 1) % storm_n_);
    if (st.storm_count < storm_n_) ++st.storm_count;
    if (st.storm_count == storm_n_) {
      const uint64_t oldest = st.storm_ts[st.storm_pos];  // the slot written storm_n_ ago
      if (in.ts_ns <= oldest || in.ts_ns - oldest <= storm_window_ns_) {  // a step back in time: no time
        fired |= kTrigRetxStorm;
        st.storm_count = 0;  // the next storm needs N new retransmissions
      }
    }
  }
  if (enabled_ & kTrigZeroWindow) {
    const unsigned d = in.dir & 1u;
    if (v & tcp::kZeroWindow) {
      if (st.zw_start_ns[d] == 0) st.zw_start_ns[d] = in.ts_ns ? in.ts_ns : 1;
      if (!st.zw_fired[d] && in.ts_ns >= st.zw_start_ns[d] && in.ts_ns - st.zw_start_ns[d] >= zw_ns_) {
        fired |= kTrigZeroWindow;
        st.zw_fired[d] = 1;
      }
    } else if (in.window != 0 && !(in.tcp_flags & (decode::kTcpRst | decode::kTcpSyn))) {
      st.zw_start_ns[d] = 0;  // the window opened: the episode is over
      st.zw_fired[d] = 0;
    }
  }
  return fired & enabled_;
}

}  // namespace seqwatch::evidence
