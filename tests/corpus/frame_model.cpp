#include "frame_model.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace seqwatch::corpus {

std::string to_string(const Addr& a) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (inet_ntop(a.version == 4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::optional<Addr> parse_addr(const std::string& text, uint8_t version) {
  Addr a;
  a.version = version;
  if (inet_pton(version == 4 ? AF_INET : AF_INET6, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

const char* field_name(Field f) {
  switch (f) {
    case Field::kIpLayers: return "ip.layers";
    case Field::kIpVersion: return "ip.version";
    case Field::kIpSrc: return "ip.src";
    case Field::kIpDst: return "ip.dst";
    case Field::kNext: return "ip.next";
    case Field::kTunnel: return "tunnel";
    case Field::kTunnelKey: return "tunnel.key";
    case Field::kTcpSport: return "tcp.srcport";
    case Field::kTcpDport: return "tcp.dstport";
    case Field::kTcpSeq: return "tcp.seq";
    case Field::kTcpAck: return "tcp.ack";
    case Field::kTcpFlags: return "tcp.flags";
    case Field::kTcpWindow: return "tcp.window";
    case Field::kTcpLen: return "tcp.len";
    case Field::kTcpHdrLen: return "tcp.hdr_len";
    case Field::kTcpMss: return "tcp.opt.mss";
    case Field::kTcpWscale: return "tcp.opt.wscale";
    case Field::kTcpTsval: return "tcp.opt.tsval";
    case Field::kTcpTsecr: return "tcp.opt.tsecr";
    case Field::kTcpSack: return "tcp.opt.sack";
    case Field::kUdpSport: return "udp.srcport";
    case Field::kUdpDport: return "udp.dstport";
    case Field::kVlan: return "vlan.ids";
    case Field::kInnerVlan: return "vlan.inner";
    case Field::kMplsLabel: return "mpls.label";
    case Field::kCount: break;
  }
  return "?";
}

void FieldCounts::add(const FieldCounts& o) {
  for (size_t f = 0; f < compared.size(); ++f) {
    for (size_t p = 0; p < 2; ++p) {
      compared[f][p] += o.compared[f][p];
      agreed[f][p] += o.agreed[f][p];
    }
  }
}

namespace {

std::string text(const std::optional<uint64_t>& v, bool hex = false) {
  if (!v) return "absent";
  if (hex) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%03llx", static_cast<unsigned long long>(*v));
    return buf;
  }
  return std::to_string(*v);
}

std::string text(const std::optional<Addr>& a) { return a ? to_string(*a) : "absent"; }

std::string vlan_text(const std::vector<uint16_t>& tags) {
  if (tags.empty()) return "none";
  std::string s;
  for (uint16_t t : tags) {
    if (!s.empty()) s += ',';
    s += std::to_string(t);
  }
  return s;
}

// Records one comparison; `sw_text`/`ts_text` are only built when the values differ.
class Comparer {
 public:
  Comparer(FieldCounts& counts, std::vector<Disagreement>& out) : counts_(counts), out_(out) {}

  template <class T, class Fmt>
  void check(Field f, int layer, const T& sw, const T& ts, Fmt fmt) {
    const size_t pos = layer > 0 ? 1 : 0;
    ++counts_.compared[static_cast<size_t>(f)][pos];
    if (sw == ts) {
      ++counts_.agreed[static_cast<size_t>(f)][pos];
      return;
    }
    out_.push_back(Disagreement{f, layer, fmt(sw), fmt(ts)});
  }
  // Optional numeric fields: compared when either side has a value.
  void num(Field f, int layer, const std::optional<uint64_t>& sw, const std::optional<uint64_t>& ts,
           bool hex = false) {
    if (!sw && !ts) return;
    check(f, layer, sw, ts, [hex](const std::optional<uint64_t>& v) { return text(v, hex); });
  }

 private:
  FieldCounts& counts_;
  std::vector<Disagreement>& out_;
};

void compare_tcp(Comparer& c, int i, const std::optional<TcpModel>& sw_opt, const std::optional<TcpModel>& ts_opt) {
  const TcpModel sw = sw_opt.value_or(TcpModel{});
  const TcpModel ts = ts_opt.value_or(TcpModel{});
  c.num(Field::kTcpSport, i, sw.sport, ts.sport);
  c.num(Field::kTcpDport, i, sw.dport, ts.dport);
  c.num(Field::kTcpSeq, i, sw.seq, ts.seq);
  c.num(Field::kTcpAck, i, sw.ack, ts.ack);
  c.num(Field::kTcpFlags, i, sw.flags, ts.flags, true);
  c.num(Field::kTcpWindow, i, sw.window, ts.window);
  c.num(Field::kTcpLen, i, sw.len, ts.len);
  c.num(Field::kTcpHdrLen, i, sw.hdr_len, ts.hdr_len);
  if (!sw.options_known || !ts.options_known) return;
  c.num(Field::kTcpMss, i, sw.mss, ts.mss);
  c.num(Field::kTcpWscale, i, sw.wscale, ts.wscale);
  c.num(Field::kTcpTsval, i, sw.tsval, ts.tsval);
  c.num(Field::kTcpTsecr, i, sw.tsecr, ts.tsecr);
  if (sw.sack || ts.sack) {
    c.check(Field::kTcpSack, i, sw.sack, ts.sack,
            [](const std::optional<std::string>& v) { return v.value_or("absent"); });
  }
}

}  // namespace

void compare(const FrameModel& sw, const FrameModel& ts, FieldCounts& counts, std::vector<Disagreement>& out) {
  Comparer c(counts, out);
  auto num_text = [](size_t n) { return std::to_string(n); };
  c.check(Field::kIpLayers, -1, sw.ip.size(), ts.ip.size(), num_text);
  c.check(Field::kVlan, -1, sw.vlan, ts.vlan, vlan_text);
  if (sw.ip.size() > 1 || ts.ip.size() > 1) {
    c.check(Field::kInnerVlan, 1, sw.inner_vlan, ts.inner_vlan,
            [](uint16_t v) { return v == 0 ? std::string("none") : std::to_string(v); });
  }
  c.num(Field::kMplsLabel, -1, sw.mpls_label, ts.mpls_label);
  const size_t n = sw.ip.size() < ts.ip.size() ? sw.ip.size() : ts.ip.size();
  for (size_t li = 0; li < n; ++li) {
    const int i = static_cast<int>(li);
    const IpModel& a = sw.ip[li];
    const IpModel& b = ts.ip[li];
    c.check(Field::kIpVersion, i, a.version, b.version, [](uint8_t v) { return std::to_string(v); });
    if (a.version != b.version) continue;  // addresses of different families say nothing more
    c.check(Field::kIpSrc, i, a.src, b.src, [](const std::optional<Addr>& v) { return text(v); });
    c.check(Field::kIpDst, i, a.dst, b.dst, [](const std::optional<Addr>& v) { return text(v); });
    c.check(Field::kNext, i, a.next, b.next, [](const std::string& s) { return s; });
    // The tunnel to the next layer, where both sides have that layer (and tshark's is not
    // a packet quoted by ICMP).
    if (li + 1 < n && !ts.ip[li + 1].quoted) {
      c.check(Field::kTunnel, i, a.tunnel, b.tunnel,
              [](const std::optional<std::string>& t) { return t.value_or("absent"); });
      if (a.tunnel == b.tunnel && b.tunnel_key_known) {
        c.num(Field::kTunnelKey, i, a.tunnel_key, b.tunnel_key, true);
      }
    }
    if (a.next != b.next) continue;
    if (a.tcp || b.tcp) compare_tcp(c, i, a.tcp, b.tcp);
    if (a.udp || b.udp) {
      const UdpModel su = a.udp.value_or(UdpModel{});
      const UdpModel tu = b.udp.value_or(UdpModel{});
      c.num(Field::kUdpSport, i, su.sport, tu.sport);
      c.num(Field::kUdpDport, i, su.dport, tu.dport);
    }
  }
}

std::string describe_layers(const FrameModel& m) {
  std::string s;
  for (const IpModel& l : m.ip) {
    if (!s.empty()) s += " / ";
    if (l.quoted) s += "[icmp-quoted] ";
    s += l.version == 4 ? "ip(" : "ipv6(";
    s += text(l.src) + ">" + text(l.dst) + ")";
    s += ":" + l.next;
  }
  if (s.empty()) s = "non-IP";
  return s;
}

}  // namespace seqwatch::corpus
