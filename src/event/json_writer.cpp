#include "event/json_writer.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "decode/packet_view.hpp"

namespace seqwatch::event {

namespace {

constexpr int kSchemaVersion = 1;

std::string context_json(const flow::FlowKey& k) {
  std::string s;
  const uint64_t c = k.context;
  if (c >> 63) {
    const unsigned v0 = c & 0xFFF, v1 = (c >> 12) & 0xFFF;
    s += v0 == v1 ? fmt::format(",\"vlan\":[{}]", v0) : fmt::format(",\"vlan\":[{},{}]", v0, v1);
  }
  const unsigned inner_vlan = (c >> 24) & 0xFFF;
  if (inner_vlan != 0) s += fmt::format(",\"inner_vlan\":{}", inner_vlan);
  const auto tt = static_cast<decode::TunnelType>((c >> 36) & 0xF);
  if (tt != decode::TunnelType::kNone)
    s += fmt::format(",\"tunnel\":\"{}\",\"tunnel_key\":{}", decode::tunnel_type_name(tt), (c >> 40) & 0x7FFFFF);
  return s;
}

const char* flag_letters(uint8_t f, char* buf) {
  static constexpr char kLetters[] = "FSRPAUEC";
  int n = 0;
  for (int i = 0; i < 8; ++i)
    if (f & (1u << i)) buf[n++] = kLetters[i];
  buf[n] = 0;
  return buf;
}

const char* reason_name(flow::RemoveReason r) {
  switch (r) {
    case flow::RemoveReason::kIdle: return "idle";
    case flow::RemoveReason::kClosed: return "closed";
    case flow::RemoveReason::kEvicted: return "evicted";
    case flow::RemoveReason::kFlush: return "end_of_input";
    case flow::RemoveReason::kActive: return "active";
  }
  return "unknown";
}

const char* stage_name(tcp::Stage s) {
  switch (s) {
    case tcp::Stage::kNone: return "midstream";
    case tcp::Stage::kSynSent: return "syn_sent";
    case tcp::Stage::kSynReceived: return "syn_received";
    case tcp::Stage::kEstablished: return "established";
    case tcp::Stage::kClosing: return "closing";
    case tcp::Stage::kClosed: return "closed";
    case tcp::Stage::kReset: return "reset";
  }
  return "unknown";
}

std::string half_json(const tcp::HalfState& h, const DirCounters& c, uint8_t max_dup_run) {
  const double rate = c.segments ? static_cast<double>(c.retx_segs) / c.segments : 0.0;
  return fmt::format(
      "{{\"segments\":{},\"data_bytes\":{},\"retx_segments\":{},\"retx_bytes\":{},\"fast_retx\":{},"
      "\"spurious_retx\":{},\"rto_retx\":{},\"retx_rate\":{:.6f},\"dup_acks\":{},"
      "\"max_dup_ack_run\":{},\"lost_segments\":{},\"zero_window_ms\":{},\"wscale\":{},"
      "\"fin\":{},\"rst\":{}}}",
      c.segments, c.data_bytes, c.retx_segs, c.retx_bytes, c.fast_retx, c.spurious_retx, c.rto_retx,
      rate, c.dup_acks, max_dup_run, c.lost_segments, h.zw_total_ms, static_cast<int>(h.wscale),
      (h.flags & tcp::kFinSeen) != 0, (h.flags & tcp::kRstSeen) != 0);
}

}  // namespace

std::string format_address(const flow::FlowKey& key, bool endpoint_b) {
  char buf[INET6_ADDRSTRLEN];
  const auto& a = endpoint_b ? key.addr_b : key.addr_a;
  inet_ntop(key.family == 4 ? AF_INET : AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

void JsonLinesWriter::write(const SegmentEvent& e) {
  const bool from_b = e.dir == static_cast<uint8_t>(flow::Dir::kBtoA);
  std::string verdicts;
  for (unsigned b = 0; b < tcp::kVerdictBits; ++b) {
    if (!(e.verdict.bits & (1u << b))) continue;
    verdicts += fmt::format("{}\"{}\"", verdicts.empty() ? "" : ",", tcp::verdict_name(b));
  }
  char fl[9];
  std::string line = fmt::format(
      "{{\"v\":{},\"type\":\"{}\",\"frame\":{},\"ts\":{}.{:09},\"flow\":{},\"worker\":{},"
      "\"src\":\"{}\",\"sport\":{},\"dst\":\"{}\",\"dport\":{}{},\"seq\":{},\"ack\":{},\"len\":{},\"flags\":\"{}\","
      "\"win\":{},\"verdicts\":[{}]",
      kSchemaVersion, e.kind == kPayloadMatch ? "payload_match" : "segment", e.frame, e.ts_ns / 1000000000ull, e.ts_ns % 1000000000ull, e.flow_id, e.worker,
      format_address(e.key, from_b), from_b ? e.key.port_b : e.key.port_a, format_address(e.key, !from_b),
      from_b ? e.key.port_a : e.key.port_b, context_json(e.key), e.seq, e.ack, e.payload_len,
      flag_letters(e.tcp_flags, fl), e.window, verdicts);
  if (e.verdict.bits & tcp::kDuplicateAck)
    line += fmt::format(",\"dupack_num\":{},\"dupack_frame\":{}", e.verdict.dupack_num, e.verdict.dupack_frame);
  if (e.verdict.bits & tcp::kAckInSegment) line += fmt::format(",\"ack_in_segment_offset\":{}", e.verdict.midack_offset);
  if (e.verdict.bits & (tcp::kSynRetransmission | tcp::kSynAckRetransmission))
    line += fmt::format(",\"attempt\":{}", e.verdict.attempt);
  if (e.kind == kPayloadMatch) line += fmt::format(",\"rule\":{},\"match_end\":{}", e.rule_id, e.match_end);
  line += "}\n";
  out_.write(line);
}

void JsonLinesWriter::write(const FlowRecord& r) {
  const auto& c = r.cold;
  const bool client_b = c.initiator == static_cast<uint8_t>(flow::Dir::kBtoA);
  const int ci = client_b ? 1 : 0, si = client_b ? 0 : 1;
  std::string rst = "null";
  if (c.rst_from() != 0xFF) rst = (c.rst_from() == c.initiator) ? "\"client\"" : "\"server\"";
  const FlowCounters& n = r.totals;
  const double rtt_avg = n.rtt_samples ? static_cast<double>(n.rtt_sum_us) / static_cast<double>(n.rtt_samples) : 0.0;
  std::string line = fmt::format(
      "{{\"v\":{},\"type\":\"flow\",\"flow\":{},\"worker\":{},\"end\":\"{}\",\"client\":\"{}\",\"cport\":{},"
      "\"server\":\"{}\",\"sport\":{}{},\"first_ts\":{}.{:09},\"last_ts\":{}.{:09},\"state\":\"{}\",\"rst_from\":{},"
      "\"c2s\":{},\"s2c\":{},"
      "\"handshake\":{{\"syn_attempts\":{},\"synack_attempts\":{},\"rtt_syn_synack_us\":{},\"rtt_synack_ack_us\":{},"
      "\"mss\":[{},{}],\"simultaneous_open\":{}}},"
      "\"rtt_us\":{{\"min\":{},\"avg\":{:.1f},\"max\":{},\"samples\":{}}},"
      "\"ack_in_segment\":{{\"count\":{},\"last_offset\":{}}},\"dsacks\":{},\"tail_loss_probes\":{},\"counters_saturated\":{},"
      "\"super_segments\":{},\"rst_after_fin\":{},\"synack_after_ack\":{}}}\n",
      kSchemaVersion, r.flow_id, r.worker, reason_name(r.reason), format_address(r.key, client_b),
      client_b ? r.key.port_b : r.key.port_a, format_address(r.key, !client_b), client_b ? r.key.port_a : r.key.port_b,
      context_json(r.key), c.first_ts_ns / 1000000000ull, c.first_ts_ns % 1000000000ull, r.last_ts_ns / 1000000000ull,
      r.last_ts_ns % 1000000000ull, stage_name(c.stage), rst, half_json(r.half[ci], r.count[ci], r.max_dup_run[ci]), half_json(r.half[si], r.count[si], r.max_dup_run[si]), c.syn_count,
      c.synack_count, c.hs_rtt_syn_us, c.hs_rtt_ack_us, c.mss[client_b ? 1 : 0], c.mss[client_b ? 0 : 1],
      c.simultaneous_open(), c.rtt_min_us, rtt_avg, c.rtt_max_us, n.rtt_samples, n.midack_count, c.midack_last_off, n.dsacks,
      n.tail_probes, r.saturated, c.super_segments != 0, r.rst_after_fin, r.synack_after_ack);
  out_.write(line);
}

}  // namespace seqwatch::event
