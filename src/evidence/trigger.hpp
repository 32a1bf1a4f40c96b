// Triggers: the conditions that turn a flow's pre-trigger history into an evidence slice.
//
// TriggerConfig is a plain struct (the config library fills it); TriggerSet::compile checks
// it once at start and keeps only what the per-packet test needs. Per segment the worker
// hands TriggerSet the analysis verdict (tcp::SegmentVerdict), the TCP flags/window, and
// the payload/BPF trigger bits it computed itself; stateful triggers (retransmission
// storm, zero window duration) keep their state in the flow's FlowTriggerState, which
// lives in the evidence history slot of the flow (no allocation, no lookup of its own).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decode/packet_view.hpp"
#include "tcp/verdict.hpp"
#include "util/result.hpp"

namespace seqwatch::evidence {

enum TriggerKind : uint32_t {
  kTrigRetxStorm = 1u << 0,      // N retransmissions within T ms on the flow
  kTrigDupAckRun = 1u << 1,      // a duplicate-ACK run reaches N
  kTrigAckInSegment = 1u << 2,   // an ACK lands inside a segment of the other side
  kTrigZeroWindow = 1u << 3,     // one side advertises a zero window for longer than T ms
  kTrigRst = 1u << 4,            // any RST segment
  kTrigSynUnanswered = 1u << 5,  // SYN sent N times, or the flow ended with no SYN/ACK
  kTrigPayload = 1u << 6,        // a Hyperscan payload rule with the trigger action matched
  kTrigBpf = 1u << 7,            // a trigger BPF expression matched
  kTrigVerdict = 1u << 8,        // a segment got one of the chosen analysis verdicts (tcp::Verdict bits)
};
inline constexpr unsigned kTriggerBits = 9;

std::string_view trigger_name(unsigned bit) noexcept;
// "dup_ack_run,rst" for a bit set; "none" for 0.
std::string trigger_names(uint32_t bits);
// The same, appended to `out`.
void append_trigger_names(std::string& out, uint32_t bits);

// Longest retransmission storm tracked exactly (timestamps kept per flow).
inline constexpr uint32_t kMaxStormCount = 16;
// Most payload rule ids a TriggerSet can name (beyond that: payload_any).
inline constexpr size_t kMaxPayloadRules = 64;
// Most BPF trigger filters (bit i of the mask = filter i).
inline constexpr unsigned kMaxBpfTriggers = 32;

// Plain input; 0 / nullopt / false = that trigger is off.
struct TriggerConfig {
  uint32_t retx_storm_count = 0;          // N (2..kMaxStormCount)
  uint32_t retx_storm_window_ms = 0;      // T
  uint16_t dup_ack_run = 0;               // N >= 1
  bool ack_in_segment = false;
  std::optional<uint32_t> zero_window_ms; // T (0 = any zero window)
  bool rst = false;
  uint8_t syn_attempts = 0;               // fire when a SYN is sent for the N-th time (N >= 2)
  bool syn_unanswered_at_end = false;     // fire when a flow ends with SYNs but no SYN/ACK
  bool payload_any = false;               // any rule whose action is `trigger`
  std::vector<uint32_t> payload_rules;    // or only these rule ids
  uint32_t bpf_mask = 0;                  // which trigger BPF filters count (bit i = filter i)
  uint32_t verdict_mask = 0;              // fire on a segment with any of these tcp::Verdict bits
};

// Per-flow trigger state (part of the flow's history slot).
struct FlowTriggerState {
  uint64_t zw_start_ns[2] = {0, 0};   // per direction: first zero-window segment of the episode
  uint8_t zw_fired[2] = {0, 0};       // the episode already fired
  uint8_t storm_count = 0;            // retransmissions in the ring below
  uint8_t storm_pos = 0;
  uint32_t reserved = 0;
  std::array<uint64_t, kMaxStormCount> storm_ts{};  // latest retransmission times (ns)
};

// What the worker knows about one segment.
struct SegmentInput {
  tcp::SegmentVerdict verdict;
  uint64_t ts_ns = 0;
  uint16_t window = 0;      // raw window field
  uint8_t tcp_flags = 0;    // decode::TcpFlag bits
  uint8_t dir = 0;          // flow::Dir of the sender
  uint32_t extra = 0;       // kTrigPayload / kTrigBpf computed by the worker
};

class TriggerSet {
 public:
  static Result<TriggerSet> compile(const TriggerConfig& cfg);
  TriggerSet() = default;

  // TriggerKind bits that fire on this segment (updates the flow's state). No allocation.
  uint32_t evaluate(FlowTriggerState& st, const SegmentInput& in) const noexcept;
  // Does a payload match of rule `id` count as a trigger? (worker side: sets kTrigPayload)
  // A rule named by a trigger fires it whatever its action in the rules file; payload_any
  // takes the rules whose action is `trigger` (`trigger_action`).
  bool payload_rule(uint32_t id, bool trigger_action) const noexcept;
  // kTrigBpf when a BPF filter in `hits` (bit i = filter i matched) is a trigger.
  uint32_t bpf(uint32_t hits) const noexcept { return (hits & bpf_mask_) ? uint32_t{kTrigBpf} : 0u; }
  bool syn_unanswered_at_end() const noexcept { return syn_at_end_; }
  uint32_t enabled() const noexcept { return enabled_; }
  bool any() const noexcept { return enabled_ != 0; }
  // True when evaluate() would return 0 and change nothing: no verdict, flag or worker bit
  // that a trigger looks at, and no zero-window episode open in this direction. The
  // worker's common case (evidence/capture.cpp, observe) skips evaluate() on it.
  bool quiet(const FlowTriggerState& st, uint32_t verdicts, uint8_t tcp_flags, uint8_t dir,
             uint32_t extra) const noexcept {
    constexpr uint32_t kLooked = tcp::kRetransmission | tcp::kDuplicateAck | tcp::kAckInSegment |
                                 tcp::kSynRetransmission | tcp::kZeroWindow;
    const unsigned d = dir & 1u;
    return (verdicts & (kLooked | verdict_mask_)) == 0 && (extra & (kTrigPayload | kTrigBpf)) == 0 && !(tcp_flags & decode::kTcpRst) &&
           (st.zw_start_ns[d] | st.zw_fired[d]) == 0;
  }

 private:
  uint32_t enabled_ = 0;          // TriggerKind bits configured
  uint32_t storm_n_ = 0;
  uint64_t storm_window_ns_ = 0;
  uint16_t dup_run_ = 0;
  uint8_t syn_attempts_ = 0;
  bool syn_at_end_ = false;
  bool payload_any_ = false;
  uint64_t zw_ns_ = 0;
  uint32_t bpf_mask_ = 0;
  uint32_t verdict_mask_ = 0;
  uint32_t payload_count_ = 0;
  std::array<uint32_t, kMaxPayloadRules> payload_ids_{};  // sorted
};

}  // namespace seqwatch::evidence
