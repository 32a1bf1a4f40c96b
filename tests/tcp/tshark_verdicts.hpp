// tshark as the reference for TCP sequence analysis: one `tshark -T fields` run per capture
// file reports, per frame, which of Wireshark's tcp.analysis.* flags it carries.
//
// Columns, in order: frame.number, the 15 flags of kFlags (the Wireshark group of
// tcp::Verdict, bit order), tcp.analysis.duplicate_ack_num, tcp.analysis.duplicate_ack_frame,
// tcp.stream, tcp.flags, tcp.len, vlan.id, frame.protocols. Every field is printed with all its occurrences (-E occurrence=a,
// comma-aggregated): FT_NONE flags print "1" per occurrence, and some appear twice per TCP
// layer (duplicate_ack: the flag item and its expert item share the name). A frame with
// more than one TCP layer (TCP quoted inside an ICMP error, TCP in a tunnel whose outer
// header is also TCP) can therefore carry the values of several layers; tcp_layers says
// how many "tcp" frame.protocols lists so the comparison can note such frames.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tcp/verdict.hpp"

#include "support/tshark.hpp"

namespace seqwatch::tcpdiff {

// One Wireshark flag: its tshark field and the seqwatch verdict bit with the same meaning.
struct FlagDef {
  std::string_view field;  // tshark field name
  std::string_view name;   // short name (field without "tcp.analysis.")
  uint32_t bit;            // tcp::Verdict
};

inline constexpr size_t kFlagCount = 15;
inline constexpr std::array<FlagDef, kFlagCount> kFlags = {{
    {"tcp.analysis.retransmission", "retransmission", tcp::kRetransmission},
    {"tcp.analysis.fast_retransmission", "fast_retransmission", tcp::kFastRetransmission},
    {"tcp.analysis.spurious_retransmission", "spurious_retransmission", tcp::kSpuriousRetransmission},
    {"tcp.analysis.out_of_order", "out_of_order", tcp::kOutOfOrder},
    {"tcp.analysis.lost_segment", "lost_segment", tcp::kLostSegment},
    {"tcp.analysis.ack_lost_segment", "ack_lost_segment", tcp::kAckLostSegment},
    {"tcp.analysis.duplicate_ack", "duplicate_ack", tcp::kDuplicateAck},
    {"tcp.analysis.zero_window", "zero_window", tcp::kZeroWindow},
    {"tcp.analysis.zero_window_probe", "zero_window_probe", tcp::kZeroWindowProbe},
    {"tcp.analysis.zero_window_probe_ack", "zero_window_probe_ack", tcp::kZeroWindowProbeAck},
    {"tcp.analysis.window_full", "window_full", tcp::kWindowFull},
    {"tcp.analysis.window_update", "window_update", tcp::kWindowUpdate},
    {"tcp.analysis.keep_alive", "keep_alive", tcp::kKeepAlive},
    {"tcp.analysis.keep_alive_ack", "keep_alive_ack", tcp::kKeepAliveAck},
    {"tcp.analysis.reused_ports", "reused_ports", tcp::kReusedPorts},
}};

// The Wireshark group of verdict bits (everything kFlags covers).
inline constexpr uint32_t kWiresharkBits = [] {
  uint32_t m = 0;
  for (const FlagDef& f : kFlags) m |= f.bit;
  return m;
}();

// What tshark says about one frame.
struct TsharkFrame {
  uint32_t number = 0;
  uint32_t bits = 0;                   // tcp::Verdict bits of the flags present (any occurrence)
  std::vector<uint32_t> dupack_num;    // every occurrence of tcp.analysis.duplicate_ack_num
  std::vector<uint32_t> dupack_frame;  // every occurrence of tcp.analysis.duplicate_ack_frame
  std::vector<uint32_t> streams;       // tcp.stream of each TCP layer (tshark's conversation)
  std::vector<uint32_t> tcp_flags;     // tcp.flags of each TCP layer
  std::vector<uint32_t> tcp_len;       // tcp.len of each layer tshark got that far in (none: an
                                       // exception in its dissection before the analysis)
  std::vector<uint32_t> vlan_ids;      // every 802.1Q tag, outermost first
  unsigned tcp_layers = 0;             // "tcp" entries in frame.protocols
  unsigned quoted_tcp_layers = 0;      // those inside an ICMP/ICMPv6 error (never sequence-analysed)
  std::string protocols;
};

// The fields requested, in column order (frame.number first, frame.protocols last).
std::vector<std::string_view> tshark_fields();
// The shell command that runs tshark on `capture_path` (stderr not redirected).
std::string tshark_command(const std::string& capture_path);

// One output line -> TsharkFrame; nullopt and `error` set when the line does not have
// the expected columns or a number does not parse.
std::optional<TsharkFrame> parse_tshark_line(std::string_view line, std::string& error);

struct TsharkRun {
  std::vector<TsharkFrame> frames;  // frames[i].number == i + 1
  int exit_status = 0;              // tshark's exit code (2 for a file cut short mid-packet)
  std::string stderr_text;          // without tshark's "Running as user root" notice
  std::string error;                // tshark could not run, or its output did not parse
};
TsharkRun run_tshark(const std::string& capture_path);

using seqwatch::test::tshark_version;            // tests/support/tshark.hpp
using seqwatch::test::tshark_version_is_pinned;

}  // namespace seqwatch::tcpdiff
