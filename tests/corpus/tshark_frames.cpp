#include "tshark_frames.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace seqwatch::corpus {
namespace {

// The columns requested from tshark, in output order.
enum Col : size_t {
  kNumber, kProtocols, kFrameLen, kCapLen,
  kIpSrc, kIpDst, kIpv6Src, kIpv6Dst,
  kTcpSport, kTcpDport, kTcpSeq, kTcpAck, kTcpFlags, kTcpWindow, kTcpLen, kTcpHdrLen,
  kTcpMss, kTcpWscale, kTcpTsval, kTcpTsecr, kTcpSackLe, kTcpSackRe,
  kUdpSport, kUdpDport,
  kVlanId, kQinqId, kMplsLabel,
  kGreKey, kGreCallId, kErspanSpan, kVxlanVni, kGeneveVni, kGtpTeid,
  kMalformed,
  kColCount
};

constexpr std::array<const char*, kColCount> kFields = {
    "frame.number", "frame.protocols", "frame.len", "frame.cap_len",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags",
    "tcp.window_size_value", "tcp.len", "tcp.hdr_len",
    "tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr", "tcp.options.sack_le", "tcp.options.sack_re",
    "udp.srcport", "udp.dstport",
    "vlan.id", "ieee8021ad.id", "mpls.label",
    "gre.key", "gre.key.call_id", "erspan.spanid", "vxlan.vni", "geneve.vni", "gtp.teid",
    "_ws.malformed",
};

// tshark.flags is 12 bits in 4.0 (3 reserved, AE/NS, the 8 classic flags); seqwatch keeps
// the classic flags and AE, so the reserved bits are left out of the comparison.
constexpr uint64_t kTcpFlagsCompared = 0x1FF;
// A SACK option holds at most 4 blocks in 40 option bytes (decode::kMaxSackBlocks).
constexpr size_t kMaxSackCompared = 4;

using test::split;  // tests/support/tshark.hpp

// The k-th occurrence of a field, or nullopt when the frame has fewer.
std::optional<std::string> nth(const std::vector<std::string>& values, size_t k) {
  if (k >= values.size() || values[k].empty()) return std::nullopt;
  return values[k];
}

// base 0: tshark prints some fields in hex ("0x00000028"), most in decimal.
std::optional<uint64_t> nth_num(const std::vector<std::string>& values, size_t k, int base = 0) {
  const auto s = nth(values, k);
  if (!s) return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s->c_str(), &end, base);
  if (end == s->c_str() || *end != '\0') return std::nullopt;
  return v;
}

// Maps a tshark protocol name found right above an IP layer to IpModel::next.
std::string next_name(const std::string& token) {
  if (token == "tcp" || token == "udp" || token == "icmp" || token == "icmpv6" || token == "gre" ||
      token == "ip" || token == "ipv6")
    return token;
  if (token == "data") return "-";  // undissected bytes: a non-first fragment
  return "other";
}

// SACK blocks as "left-right,..." (seqwatch keeps at most decode::kMaxSackBlocks).
std::optional<std::string> sack_blocks(const std::vector<std::string>& le, const std::vector<std::string>& re) {
  if (le.empty()) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < le.size() && i < kMaxSackCompared; ++i) {
    if (!out.empty()) out += ',';
    out += le[i] + "-" + (i < re.size() ? re[i] : std::string("?"));
  }
  return out;
}

// A protocol name between two IP layers, with its occurrence index in the frame (the k-th
// "gre" owns the k-th gre.key, when every GRE header of the frame has one).
struct GapToken {
  std::string name;
  size_t index;
};

bool has(const std::vector<GapToken>& gap, const char* name, size_t* index = nullptr) {
  for (const GapToken& t : gap) {
    if (t.name == name) {
      if (index != nullptr) *index = t.index;
      return true;
    }
  }
  return false;
}

// The tunnel family the protocols between two IP layers make, in the vocabulary of
// IpModel::tunnel; nullopt when the next layer is an ICMP quote rather than a tunnel.
std::optional<std::string> tunnel_family(const std::vector<GapToken>& gap) {
  for (const char* t : {"vxlan", "geneve", "gtp", "teredo", "ayiya", "erspan", "l2tp"}) {
    if (has(gap, t)) return std::string(t);
  }
  for (size_t i = 0; i < gap.size(); ++i) {
    if (gap[i].name != "gre") continue;
    if (i > 0 && gap[i - 1].name == "udp") return std::string("gre-udp");
    if (i + 1 < gap.size() && gap[i + 1].name == "ppp") return std::string("pptp");
    return std::string("gre");
  }
  if (has(gap, "icmp") || has(gap, "icmpv6")) return std::nullopt;
  if (gap.empty()) return std::string("ip");
  std::string other = "other:";
  for (const GapToken& t : gap) other += t.name + ".";
  return other;
}

// The k-th value of a field that only some headers of its protocol carry: attributable
// when all `total` headers carry it (or none does).
struct Attributed {
  std::optional<uint64_t> value;
  bool known = true;
};
Attributed attribute(const std::vector<std::string>& values, size_t k, size_t total) {
  if (values.empty()) return {};
  if (values.size() != total) return {std::nullopt, false};
  return {nth_num(values, k), true};
}

}  // namespace

const std::vector<std::string>& tshark_field_names() {
  static const std::vector<std::string> names(kFields.begin(), kFields.end());
  return names;
}


std::optional<FrameModel> parse_tshark_line(const std::string& line, std::string& error) {
  const std::vector<std::string> cols = split(line, '\t');
  if (cols.size() != kColCount) {
    error = "expected " + std::to_string(kColCount) + " tab-separated columns, got " + std::to_string(cols.size());
    return std::nullopt;
  }
  std::array<std::vector<std::string>, kColCount> v;
  for (size_t i = 0; i < kColCount; ++i) v[i] = cols[i].empty() ? std::vector<std::string>{} : split(cols[i], ',');

  FrameModel m;
  const auto number = nth_num(v[kNumber], 0);
  if (!number) {
    error = "no frame.number";
    return std::nullopt;
  }
  m.number = static_cast<uint32_t>(*number);
  m.protocols = cols[kProtocols];
  m.frame_len = static_cast<uint32_t>(nth_num(v[kFrameLen], 0).value_or(0));
  m.cap_len = static_cast<uint32_t>(nth_num(v[kCapLen], 0).value_or(0));
  m.malformed = !cols[kMalformed].empty();

  size_t n_ip4 = 0, n_ip6 = 0, n_tcp = 0, n_udp = 0, n_vlan = 0, n_qinq = 0;
  size_t tcp_headers = 0;
  for (const std::string& tok : split(m.protocols, ':')) tcp_headers += tok == "tcp";
  std::map<std::string, size_t> n_tunnel;  // occurrences so far of each tunnel protocol
  std::vector<std::vector<GapToken>> gaps;   // per IP layer: protocols up to the next one
  bool in_quote = false;  // after an ICMP/ICMPv6 header: what follows is the quoted packet
  bool mpls = false;
  int open = -1;          // IP layer whose upper-layer protocol is not known yet
  for (const std::string& tok : split(m.protocols, ':')) {
    if (tok == "mpls") mpls = true;
    if (!gaps.empty() && tok != "ip" && tok != "ipv6" && tok.rfind("ipv6.", 0) != 0) {
      gaps.back().push_back(GapToken{tok, n_tunnel[tok]++});
    }
    if (tok == "ip" || tok == "ipv6") {
      gaps.emplace_back();
      if (open >= 0) m.ip[static_cast<size_t>(open)].next = tok;  // IP directly in IP
      IpModel l;
      l.quoted = in_quote;
      if (tok == "ip") {
        l.version = 4;
        if (auto s = nth(v[kIpSrc], n_ip4)) l.src = parse_addr(*s, 4);
        if (auto s = nth(v[kIpDst], n_ip4)) l.dst = parse_addr(*s, 4);
        ++n_ip4;
      } else {
        l.version = 6;
        if (auto s = nth(v[kIpv6Src], n_ip6)) l.src = parse_addr(*s, 6);
        if (auto s = nth(v[kIpv6Dst], n_ip6)) l.dst = parse_addr(*s, 6);
        ++n_ip6;
      }
      m.ip.push_back(l);
      open = static_cast<int>(m.ip.size() - 1);
      continue;
    }
    if (tok.rfind("ipv6.", 0) == 0) continue;  // IPv6 extension header: still inside the IP layer
    if (tok == "vlan" || tok == "ieee8021ad") {
      const auto id = tok == "vlan" ? nth_num(v[kVlanId], n_vlan++) : nth_num(v[kQinqId], n_qinq++);
      const uint16_t vid = static_cast<uint16_t>(id.value_or(0));
      if (m.ip.empty()) m.vlan.push_back(vid);
      else m.inner_vlan = vid;
      continue;
    }
    if (tok == "tcp") {
      TcpModel t;
      const size_t k = n_tcp++;
      t.sport = nth_num(v[kTcpSport], k);
      t.dport = nth_num(v[kTcpDport], k);
      t.seq = nth_num(v[kTcpSeq], k);
      t.ack = nth_num(v[kTcpAck], k);
      t.flags = nth_num(v[kTcpFlags], k, 16);
      if (t.flags) *t.flags &= kTcpFlagsCompared;
      t.window = nth_num(v[kTcpWindow], k);
      t.len = nth_num(v[kTcpLen], k);
      t.hdr_len = nth_num(v[kTcpHdrLen], k);
      // Option fields carry no layer index: attributed when the frame has one TCP header.
      // seqwatch keeps the last valid instance of each option, so the last value counts.
      t.options_known = tcp_headers == 1;
      if (t.options_known) {
        auto last = [&](Col col) { return v[col].empty() ? std::nullopt : nth_num(v[col], v[col].size() - 1); };
        t.mss = last(kTcpMss);
        t.wscale = last(kTcpWscale);
        t.tsval = last(kTcpTsval);
        t.tsecr = last(kTcpTsecr);
        t.sack = sack_blocks(v[kTcpSackLe], v[kTcpSackRe]);
      }
      if (open >= 0) {
        m.ip[static_cast<size_t>(open)].next = "tcp";
        m.ip[static_cast<size_t>(open)].tcp = t;
      }
      open = -1;
      continue;
    }
    if (tok == "udp") {
      UdpModel u;
      const size_t k = n_udp++;
      u.sport = nth_num(v[kUdpSport], k);
      u.dport = nth_num(v[kUdpDport], k);
      if (open >= 0) {
        m.ip[static_cast<size_t>(open)].next = "udp";
        m.ip[static_cast<size_t>(open)].udp = u;
      }
      open = -1;
      continue;
    }
    if (open >= 0) {
      m.ip[static_cast<size_t>(open)].next = next_name(tok);
      open = -1;
    }
    if (tok == "icmp" || tok == "icmpv6") in_quote = true;
  }
  // seqwatch keeps the bottom-of-stack label of the last MPLS stack it crossed.
  if (mpls && !v[kMplsLabel].empty()) m.mpls_label = nth_num(v[kMplsLabel], v[kMplsLabel].size() - 1);

  // Tunnels and their keys, between consecutive layers.
  const size_t n_gre = n_tunnel["gre"];
  for (size_t i = 0; i + 1 < m.ip.size(); ++i) {
    IpModel& l = m.ip[i];
    const std::vector<GapToken>& gap = gaps[i];
    l.tunnel = tunnel_family(gap);
    if (!l.tunnel) continue;
    size_t k = 0;
    Attributed key;
    if (*l.tunnel == "vxlan" && has(gap, "vxlan", &k)) key = attribute(v[kVxlanVni], k, n_tunnel["vxlan"]);
    else if (*l.tunnel == "geneve" && has(gap, "geneve", &k)) key = attribute(v[kGeneveVni], k, n_tunnel["geneve"]);
    else if (*l.tunnel == "gtp" && has(gap, "gtp", &k)) key = attribute(v[kGtpTeid], k, n_tunnel["gtp"]);
    else if (*l.tunnel == "pptp" && has(gap, "gre", &k)) key = attribute(v[kGreCallId], k, n_gre);
    else if (*l.tunnel == "erspan" && has(gap, "erspan", &k) && !v[kErspanSpan].empty())
      key = attribute(v[kErspanSpan], k, n_tunnel["erspan"]);  // type II/III: the session id
    else if (has(gap, "gre", &k)) key = attribute(v[kGreKey], k, n_gre);
    l.tunnel_key = key.value;
    l.tunnel_key_known = key.known;
  }
  return m;
}

TsharkRun run_tshark(const std::string& capture_path) {
  std::string cmd = "tshark -n -r " + test::shell_quote(capture_path) +
                    " -o ip.defragment:FALSE -o ipv6.defragment:FALSE"
                    " -o tcp.desegment_tcp_streams:FALSE -o tcp.analyze_sequence_numbers:FALSE"
                    " -o tcp.relative_sequence_numbers:FALSE"
                    " -T fields -E separator=/t -E occurrence=a -E aggregator=, -E quote=n";
  for (const char* f : kFields) cmd += std::string(" -e ") + f;
  return test::run_tshark_fields<TsharkRun>(cmd, [](std::string_view line, std::string& why) {
    return parse_tshark_line(std::string(line), why);
  }, capture_path);
}

}  // namespace seqwatch::corpus
