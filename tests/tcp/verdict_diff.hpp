// Per-frame comparison of seqwatch's verdicts with tshark's tcp.analysis.* flags, and the
// allow-list that sets reviewed disagreements apart.
//
// Each frame is compared on the 15 Wireshark flags (kFlags) and, when both sides flag a
// duplicate ACK, on its number in the run and on the frame it duplicates (two value
// checks, counted like flags: an unequal value is one false positive and one false
// negative). tshark is the reference: seqwatch yes / tshark no is a false positive.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "seqwatch_verdicts.hpp"
#include "tshark_verdicts.hpp"

namespace seqwatch::tcpdiff {

// Checks: the 15 flags of kFlags, then the two duplicate-ACK value checks.
inline constexpr size_t kCheckDupNum = kFlagCount;
inline constexpr size_t kCheckDupFrame = kFlagCount + 1;
inline constexpr size_t kCheckCount = kFlagCount + 2;
std::string_view check_name(size_t check);

struct CheckCounts {
  uint64_t tp = 0, fp = 0, fn = 0;
  void add(const CheckCounts& o) { tp += o.tp, fp += o.fp, fn += o.fn; }
};
using Counts = std::array<CheckCounts, kCheckCount>;

struct Disagreement {
  uint32_t frame = 0;
  size_t check = 0;
  bool seqwatch = false;  // seqwatch sets the flag (value checks: false)
  bool tshark = false;
  std::string detail;     // value checks: "seqwatch=N tshark=M"
};

// One reviewed allow-list entry. `file` is a path relative to the corpus directory or an
// fnmatch(3) glob over it ('*' also crosses '/'); `frames` empty means every frame; `checks`
// holds check names (kFlags names, "duplicate_ack_num", "duplicate_ack_frame") or "all".
struct AllowEntry {
  std::string_view file;
  std::vector<uint32_t> frames;
  std::vector<std::string_view> checks;
  std::string_view reason;
};

bool allow_matches(const AllowEntry& e, const std::string& rel_file, uint32_t frame, size_t check);

// General causes of disagreement that hold in any capture, found from the frames themselves
// (an allow-list entry names one file's). Each is a documented difference
// (docs/tcp-analysis.md, section 12's table) after which tshark's reading of the rest of the
// connection cannot be the reference: a rule covers the disagreements in the tshark
// conversation (tcp.stream) from the frame that shows the cause on.
enum class Rule : uint8_t {
  // tshark's port-reuse rule runs on a TCP header quoted in an ICMP error (sections 1 and 3):
  // a quote whose sequence number differs from the connection's start (a middlebox rewrote
  // it, or the quote is of an older packet) opens a new tshark conversation flagged
  // reused_ports, and tshark judges the connection's next segments with fresh state (a
  // re-sent SYN is then no retransmission). A quote is no segment of the flow: seqwatch
  // neither restarts the flow nor flags it.
  kIcmpQuoteOpenedStream,
  // A SYN/ACK with another ISN than the side's first (tshark: reused_ports on a SYN/ACK):
  // tshark keeps the side's old sequence state, seqwatch restarts the side's space when it
  // has sent no data ("A SYN/ACK with a new ISN").
  kSynAckNewIsn,
  // One tshark conversation holds frames with different VLAN ids (tags of id 0 aside):
  // tshark's key has no VLAN, seqwatch's has ("VLANs are in the flow key").
  kVlansMerged,
  // tshark dissected a TCP header but did not get to its analysis (no tcp.len: an exception
  // first, e.g. options cut by the snaplen, a FabricPath trailer taken for part of the IP
  // packet) while seqwatch analysed the segment ("TCP options cut by the snaplen").
  kTsharkSkippedSegment,
  // tshark analysed a TCP header that seqwatch's decoder did not deliver (a header length
  // below 20, a header cut short): tshark's state moved on it, seqwatch's did not ("Headers
  // shorter than 20 bytes").
  kSeqwatchSkippedSegment,
};
inline constexpr Rule kRules[] = {Rule::kIcmpQuoteOpenedStream, Rule::kSynAckNewIsn, Rule::kVlansMerged,
                                  Rule::kTsharkSkippedSegment, Rule::kSeqwatchSkippedSegment};
std::string_view rule_name(Rule r);

// Compares frames [1, min(ts, sw)]. Disagreements an allow-list entry matches go to
// `allowed` (with the entry's index), those a Rule explains to `by_rule`; both are left out
// of `counts`. The others are counted as false positives / negatives and listed in
// `unexplained`.
struct FileDiff {
  Counts counts{};
  std::vector<Disagreement> unexplained;
  std::vector<std::pair<Disagreement, size_t>> allowed;
  std::vector<std::pair<Disagreement, Rule>> by_rule;
  std::vector<uint32_t> multi_tcp_frames;  // frames with several TCP layers or an ICMP-quoted one
  // Frames tshark dissected as TCP that seqwatch's decoder did not deliver as a TCP segment
  // (a decode error, or no TCP found): seqwatch never analysed them, so every later verdict
  // of their connection may differ.
  std::vector<uint32_t> tcp_not_analysed;
};
FileDiff compare_file(const std::string& rel_file, const std::vector<TsharkFrame>& ts,
                      const std::vector<SeqwatchFrame>& sw, const std::vector<AllowEntry>& allow);

// Precision and recall of one check; a check with no positives on either side passes.
struct Score {
  double precision = 1.0, recall = 1.0;
  bool precision_defined = true, recall_defined = true;
};
Score score(const CheckCounts& c);
bool passes(const CheckCounts& c, double threshold);

// Names of every tcp::Verdict bit set in `bits`, '|'-separated ("-" for none).
std::string verdict_names(uint32_t bits);

}  // namespace seqwatch::tcpdiff
