#include "allow_list.hpp"

#include "decode/packet_view.hpp"

namespace seqwatch::corpus {
namespace {

bool is_icmp(const std::string& next) { return next == "icmp" || next == "icmpv6"; }

// tshark dissects the packet quoted inside an ICMP/ICMPv6 error (destination unreachable,
// time exceeded, packet too big) as more IP/TCP/UDP layers; for seqwatch the ICMP message
// is the end of the packet. Accepted: the frame-level layer count, when seqwatch stopped
// exactly at the ICMP layer and every extra tshark layer is a quoted one.
bool icmp_error_quote(const FrameContext& ctx, const Disagreement& d) {
  if (d.field != Field::kIpLayers) return false;
  const size_t n = ctx.sw.ip.size();
  if (n == 0 || ctx.ts.ip.size() <= n || !is_icmp(ctx.sw.ip[n - 1].next)) return false;
  if (ctx.ts.ip[n - 1].quoted || !is_icmp(ctx.ts.ip[n - 1].next)) return false;
  for (size_t i = n; i < ctx.ts.ip.size(); ++i) {
    if (!ctx.ts.ip[i].quoted) return false;
  }
  return true;
}

// The IP total length claims more bytes than the frame holds, although the capture did not
// cut the frame (frame.len == frame.cap_len): the bytes went missing before the capture
// was written. seqwatch takes the payload length from the IP header, as for any cut frame,
// and flags the frame truncated; tshark counts the bytes present. In the corpus (zeek's
// reassembly.pcap) the receiver's ACKs cover the IP header's length: seqwatch's is the
// sequence-space truth.
//
// The same holds for a packet carried by a tunnel inside a first IP fragment (offset 0,
// more fragments to come; a VXLAN datagram larger than the underlay MTU): the fragment
// ends before the carried packet does. seqwatch follows the tunnel and keeps the carried
// IP header's length; tshark counts the bytes the fragment holds (IPv4) or leaves the
// TCP length out (IPv6: "payload length exceeds framing length").
bool ip_longer_than_frame(const FrameContext& ctx, const Disagreement& d) {
  if (d.field != Field::kTcpLen) return false;
  const size_t i = static_cast<size_t>(d.layer);
  if (d.layer < 0 || i >= ctx.sw.ip.size() || i >= ctx.ts.ip.size()) return false;
  if (!(ctx.sw.flags & decode::kFlagTruncated)) return false;
  const auto& sw = ctx.sw.ip[i].tcp;
  const auto& ts = ctx.ts.ip[i].tcp;
  if (!sw || !sw->len || !ts) return false;
  bool in_fragment = false;  // an outer layer is a first fragment of a longer packet
  for (size_t k = 0; k < i; ++k) in_fragment |= ctx.sw.ip[k].fragment;
  if (in_fragment) return !ts->len || *sw->len > *ts->len;
  return ctx.ts.frame_len == ctx.ts.cap_len && ts->len && *sw->len > *ts->len;
}

// The TCP header is cut inside its 20 fixed bytes (a snaplen of 40, a first IP fragment
// ending early): tshark names TCP as the layer's next protocol for the ports it could read;
// seqwatch reads no header of it (truncated_tcp) and names nothing. Neither can analyse the
// segment. Accepted: the innermost layer's next protocol.
bool tcp_header_cut(const FrameContext& ctx, const Disagreement& d) {
  if (d.field != Field::kNext || ctx.sw.status != "truncated_tcp") return false;
  const size_t i = static_cast<size_t>(d.layer);
  if (d.layer < 0 || i + 1 != ctx.sw.ip.size() || i >= ctx.ts.ip.size()) return false;
  return ctx.sw.ip[i].next == "-" && ctx.ts.ip[i].next == "tcp" && !ctx.ts.ip[i].quoted;
}

const std::vector<AllowRule> kRules = {
    {"icmp-error-quote", "tshark decodes the packet quoted in an ICMP error as further layers; seqwatch stops at ICMP",
     icmp_error_quote},
    {"ip-longer-than-frame",
     "IP length exceeds an uncut frame, or the first fragment carrying it: seqwatch keeps the IP header's segment "
     "length, tshark counts the bytes present",
     ip_longer_than_frame},
    {"tcp-header-cut",
     "the TCP header is cut inside its fixed 20 bytes: tshark names TCP for its ports, seqwatch reads no header",
     tcp_header_cut, /*in_corpus=*/false},  // nDPI 4.2's simson.pcap (snaplen 40), ip_fragmented_garbage.pcap
};

}  // namespace

const std::vector<AllowRule>& allow_rules() { return kRules; }

const AllowRule* classify(const FrameContext& ctx, const Disagreement& d) {
  for (const AllowRule& r : kRules) {
    if (r.match(ctx, d)) return &r;
  }
  return nullptr;
}

}  // namespace seqwatch::corpus
