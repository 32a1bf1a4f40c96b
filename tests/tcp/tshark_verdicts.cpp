#include "tshark_verdicts.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

namespace seqwatch::tcpdiff {
namespace {

// Column layout: frame.number, kFlags..., duplicate_ack_num, duplicate_ack_frame, tcp.stream,
// tcp.flags, tcp.len, vlan.id, frame.protocols.
constexpr size_t kColNumber = 0;
constexpr size_t kColFirstFlag = 1;
constexpr size_t kColDupNum = kColFirstFlag + kFlagCount;
constexpr size_t kColDupFrame = kColDupNum + 1;
constexpr size_t kColStream = kColDupFrame + 1;
constexpr size_t kColTcpFlags = kColStream + 1;
constexpr size_t kColTcpLen = kColTcpFlags + 1;
constexpr size_t kColVlan = kColTcpLen + 1;
constexpr size_t kColProtocols = kColVlan + 1;
constexpr size_t kColCount = kColProtocols + 1;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

bool parse_u32(std::string_view s, uint32_t& v) {
  // Decimal, or hexadecimal with 0x (tcp.flags prints "0x0012").
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2), base = 16;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  return ec == std::errc() && end == s.data() + s.size();
}

// All comma-separated occurrences of a numeric column; false if one does not parse.
bool parse_list(std::string_view col, std::vector<uint32_t>& out) {
  out.clear();
  if (col.empty()) return true;
  for (std::string_view item : split(col, ',')) {
    uint32_t v = 0;
    if (!parse_u32(item, v)) return false;
    out.push_back(v);
  }
  return true;
}

}  // namespace

std::vector<std::string_view> tshark_fields() {
  std::vector<std::string_view> f;
  f.push_back("frame.number");
  for (const FlagDef& d : kFlags) f.push_back(d.field);
  f.push_back("tcp.analysis.duplicate_ack_num");
  f.push_back("tcp.analysis.duplicate_ack_frame");
  f.push_back("tcp.stream");
  f.push_back("tcp.flags");
  f.push_back("tcp.len");
  f.push_back("vlan.id");
  f.push_back("frame.protocols");
  return f;
}

std::string tshark_command(const std::string& capture_path) {
  // Default preferences on purpose: the comparison is against what a user's tshark 4.0
  // reports (sequence analysis on, relative sequence numbers, reassembly on). The VNC
  // dissector alone is left out: on suricata-verify's 06-vnc-Password-3.3.pcap it costs
  // over a minute of CPU (the rest of the corpus needs about as much in all), and the TCP
  // analysis runs before any payload dissector, so the flags are the same without it
  // (checked on that file: identical tcp.analysis.flags output).
  std::string cmd = "tshark -n -r " + test::shell_quote(capture_path) +
                    " --disable-protocol vnc -T fields -E occurrence=a -E separator=/t -E aggregator=, -E quote=n";
  for (std::string_view f : tshark_fields()) {
    cmd += " -e ";
    cmd += f;
  }
  return cmd;
}

std::optional<TsharkFrame> parse_tshark_line(std::string_view line, std::string& error) {
  const std::vector<std::string_view> cols = split(line, '\t');
  if (cols.size() != kColCount) {
    error = "expected " + std::to_string(kColCount) + " tab-separated columns, got " + std::to_string(cols.size());
    return std::nullopt;
  }
  TsharkFrame f;
  if (!parse_u32(cols[kColNumber], f.number) || f.number == 0) {
    error = "frame.number '" + std::string(cols[kColNumber]) + "' is not a frame number";
    return std::nullopt;
  }
  for (size_t i = 0; i < kFlagCount; ++i) {
    // FT_NONE: present iff the column holds any occurrence ("1", "1,1", ...).
    if (!cols[kColFirstFlag + i].empty()) f.bits |= kFlags[i].bit;
  }
  if (!parse_list(cols[kColDupNum], f.dupack_num)) {
    error = "duplicate_ack_num '" + std::string(cols[kColDupNum]) + "' is not a list of numbers";
    return std::nullopt;
  }
  if (!parse_list(cols[kColDupFrame], f.dupack_frame)) {
    error = "duplicate_ack_frame '" + std::string(cols[kColDupFrame]) + "' is not a list of numbers";
    return std::nullopt;
  }
  if (!parse_list(cols[kColStream], f.streams)) {
    error = "tcp.stream '" + std::string(cols[kColStream]) + "' is not a list of numbers";
    return std::nullopt;
  }
  for (const auto& [col, list, name] : {std::tuple{kColTcpFlags, &f.tcp_flags, "tcp.flags"},
                                        std::tuple{kColTcpLen, &f.tcp_len, "tcp.len"},
                                        std::tuple{kColVlan, &f.vlan_ids, "vlan.id"}}) {
    if (!parse_list(cols[col], *list)) {
      error = std::string(name) + " '" + std::string(cols[col]) + "' is not a list of numbers";
      return std::nullopt;
    }
  }
  f.protocols = std::string(cols[kColProtocols]);
  bool quoted = false;  // after an ICMP/ICMPv6 header: what follows is the quoted packet
  for (std::string_view p : split(f.protocols, ':')) {
    if (p == "icmp" || p == "icmpv6") quoted = true;
    if (p == "tcp") {
      ++f.tcp_layers;
      f.quoted_tcp_layers += quoted;
    }
  }
  return f;
}

TsharkRun run_tshark(const std::string& capture_path) {
  TsharkRun run = test::run_tshark_fields<TsharkRun>(
      tshark_command(capture_path), [](std::string_view line, std::string& why) { return parse_tshark_line(line, why); },
      capture_path);
  if (run.frames.empty() && run.exit_status != 0 && run.error.empty())
    run.error = "tshark exited " + std::to_string(run.exit_status) + ": " + run.stderr_text;
  return run;
}


}  // namespace seqwatch::tcpdiff
