#include "verdict_diff.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "tcp/verdict.hpp"

namespace seqwatch::tcpdiff {

std::string_view check_name(size_t check) {
  if (check < kFlagCount) return kFlags[check].name;
  if (check == kCheckDupNum) return "duplicate_ack_num";
  if (check == kCheckDupFrame) return "duplicate_ack_frame";
  return "?";
}

std::string_view rule_name(Rule r) {
  switch (r) {
    case Rule::kIcmpQuoteOpenedStream: return "tshark conversation opened by an ICMP-quoted header";
    case Rule::kSynAckNewIsn: return "SYN/ACK with a new ISN: tshark keeps the old sequence space";
    case Rule::kVlansMerged: return "tshark merges frames of different VLANs into one conversation";
    case Rule::kTsharkSkippedSegment: return "a segment tshark did not analyse (exception before its analysis)";
    case Rule::kSeqwatchSkippedSegment: return "a segment seqwatch did not analyse (decode error)";
  }
  return "?";
}

bool allow_matches(const AllowEntry& e, const std::string& rel_file, uint32_t frame, size_t check) {
  if (fnmatch(std::string(e.file).c_str(), rel_file.c_str(), 0) != 0) return false;
  if (!e.frames.empty() && std::find(e.frames.begin(), e.frames.end(), frame) == e.frames.end()) return false;
  for (std::string_view c : e.checks) {
    if (c == "all" || c == check_name(check)) return true;
  }
  return false;
}

namespace {

// Allow-list entries first (a file's reviewed cause), then the frame's Rule, if any.
void record(FileDiff& out, const std::string& rel_file, const std::vector<AllowEntry>& allow, Disagreement d,
            std::optional<Rule> rule) {
  for (size_t i = 0; i < allow.size(); ++i) {
    if (allow_matches(allow[i], rel_file, d.frame, d.check)) {
      out.allowed.emplace_back(std::move(d), i);
      return;
    }
  }
  if (rule) {
    out.by_rule.emplace_back(std::move(d), *rule);
    return;
  }
  CheckCounts& c = out.counts[d.check];
  if (d.check >= kFlagCount) {
    ++c.fp, ++c.fn;  // a wrong value: neither side's value is confirmed
  } else if (d.seqwatch) {
    ++c.fp;
  } else {
    ++c.fn;
  }
  out.unexplained.push_back(std::move(d));
}

// Value check: seqwatch's value must be one of tshark's occurrences (a frame with two TCP
// layers lists one per analysed layer).
void value_check(FileDiff& out, const std::string& rel_file, const std::vector<AllowEntry>& allow, uint32_t frame,
                 size_t check, uint32_t sw, const std::vector<uint32_t>& ts, std::optional<Rule> rule) {
  if (std::find(ts.begin(), ts.end(), sw) != ts.end()) {
    ++out.counts[check].tp;
    return;
  }
  std::string ts_text;
  for (uint32_t v : ts) {
    if (!ts_text.empty()) ts_text += ',';
    ts_text += std::to_string(v);
  }
  Disagreement d{frame, check, false, false,
                 "seqwatch=" + std::to_string(sw) + " tshark=" + (ts_text.empty() ? "-" : ts_text)};
  record(out, rel_file, allow, std::move(d), rule);
}

}  // namespace

FileDiff compare_file(const std::string& rel_file, const std::vector<TsharkFrame>& ts,
                      const std::vector<SeqwatchFrame>& sw, const std::vector<AllowEntry>& allow) {
  FileDiff out;
  const size_t n = std::min(ts.size(), sw.size());
  // The rules (verdict_diff.hpp): per tshark conversation, the first frame a cause shows in.
  struct From {
    uint32_t frame;
    Rule rule;
  };
  std::unordered_map<uint32_t, From> from;
  auto mark = [&](const TsharkFrame& t, uint32_t frame, Rule rule) {
    for (uint32_t st : t.streams) {
      auto [it, fresh] = from.try_emplace(st, From{frame, rule});
      if (!fresh && frame < it->second.frame) it->second = From{frame, rule};
    }
  };
  std::unordered_map<uint32_t, std::vector<uint32_t>> stream_vlans;  // the first frame's, ids 0 left out
  for (size_t i = 0; i < n; ++i) {
    const TsharkFrame& t = ts[i];
    const uint32_t frame = static_cast<uint32_t>(i + 1);
    if (t.tcp_layers != 0 && t.tcp_layers == t.quoted_tcp_layers && (t.bits & tcp::kReusedPorts))
      mark(t, frame, Rule::kIcmpQuoteOpenedStream);
    if (t.tcp_layers != 1 || t.quoted_tcp_layers != 0 || t.streams.size() != 1) continue;  // one plain TCP layer
    if (t.tcp_flags.size() == 1 && (t.tcp_flags[0] & 0x12) == 0x12 && (t.bits & tcp::kReusedPorts))
      mark(t, frame, Rule::kSynAckNewIsn);
    if (t.tcp_len.empty() && sw[i].tcp) mark(t, frame, Rule::kTsharkSkippedSegment);
    if (!sw[i].tcp) mark(t, frame, Rule::kSeqwatchSkippedSegment);
    std::vector<uint32_t> vlans;
    for (uint32_t id : t.vlan_ids)
      if (id != 0) vlans.push_back(id);
    auto [it, fresh] = stream_vlans.try_emplace(t.streams[0], vlans);
    if (!fresh && it->second != vlans) mark(t, 1, Rule::kVlansMerged);  // the whole conversation
  }
  for (size_t i = 0; i < n; ++i) {
    const TsharkFrame& t = ts[i];
    const SeqwatchFrame& s = sw[i];
    const uint32_t frame = static_cast<uint32_t>(i + 1);
    std::optional<Rule> rule;
    for (uint32_t st : t.streams)
      if (auto it = from.find(st); it != from.end() && frame >= it->second.frame) rule = it->second.rule;
    if (t.tcp_layers > 1 || t.quoted_tcp_layers > 0) out.multi_tcp_frames.push_back(frame);
    // seqwatch stops at an ICMP error (the quoted header is not a segment of the flow).
    if (t.tcp_layers > t.quoted_tcp_layers && !s.tcp) out.tcp_not_analysed.push_back(frame);
    for (size_t k = 0; k < kFlagCount; ++k) {
      const bool in_sw = (s.bits & kFlags[k].bit) != 0;
      const bool in_ts = (t.bits & kFlags[k].bit) != 0;
      if (in_sw && in_ts) ++out.counts[k].tp;
      else if (in_sw != in_ts) record(out, rel_file, allow, Disagreement{frame, k, in_sw, in_ts, {}}, rule);
    }
    if ((s.bits & t.bits & tcp::kDuplicateAck) != 0) {
      value_check(out, rel_file, allow, frame, kCheckDupNum, s.dupack_num, t.dupack_num, rule);
      value_check(out, rel_file, allow, frame, kCheckDupFrame, s.dupack_frame, t.dupack_frame, rule);
    }
  }
  return out;
}

Score score(const CheckCounts& c) {
  Score s;
  s.precision_defined = c.tp + c.fp != 0;
  s.recall_defined = c.tp + c.fn != 0;
  if (s.precision_defined) s.precision = static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fp);
  if (s.recall_defined) s.recall = static_cast<double>(c.tp) / static_cast<double>(c.tp + c.fn);
  return s;
}

bool passes(const CheckCounts& c, double threshold) {
  // Undefined precision (seqwatch never says yes) fails through recall when tshark does,
  // undefined recall (tshark never says yes) through precision when seqwatch does.
  const Score s = score(c);
  return (!s.precision_defined || s.precision >= threshold) && (!s.recall_defined || s.recall >= threshold);
}

std::string verdict_names(uint32_t bits) {
  std::string out;
  for (unsigned b = 0; b < 32; ++b) {
    if (!(bits & (1u << b))) continue;
    if (!out.empty()) out += '|';
    out += tcp::verdict_name(b);
  }
  return out.empty() ? "-" : out;
}

}  // namespace seqwatch::tcpdiff
