#include "gen/truth.hpp"

#include <nlohmann/json.hpp>

#include "gen/wire.hpp"

namespace seqwatch::gen {

void Counters::tally(uint32_t tags, int dir, uint32_t payload, uint8_t tcp_flags, uint32_t wire_len) {
  ++frames;
  if (tcp_flags & wire::kTcpSyn) ++syn;
  if (tcp_flags & wire::kTcpFin) ++fin;
  if (tcp_flags & wire::kTcpRst) ++rst;
  if (tags & kTagDataSegment) {
    ++data_segments[dir];
    data_bytes[dir] += payload;
    if (!(tags & (kTagFastRetx | kTagRtoRetx | kTagDupSegment))) new_data_bytes[dir] += payload;
  }
  if (payload == 0 && tcp_flags == wire::kTcpAck) ++pure_acks;
  fast_retx += (tags & kTagFastRetx) != 0;
  rto_retx += (tags & kTagRtoRetx) != 0;
  dup_segments += (tags & kTagDupSegment) != 0;
  syn_retries += (tags & kTagSynRetry) != 0;
  refused_syns += (tags & kTagRefusedSyn) != 0;
  upstream_losses += (tags & kTagUpstreamLoss) != 0;
  downstream_losses += (tags & kTagDownstreamLoss) != 0;
  reorders += (tags & kTagReorderEarly) != 0;
  lost_segment += (tags & kTagLostSegment) != 0;
  out_of_order += (tags & kTagOutOfOrder) != 0;
  midseg_acks += (tags & kTagMidsegAck) != 0;
  midseg_retx += (tags & kTagRetxMidseg) != 0;
  zero_window += (tags & kTagZeroWindow) != 0;
  zero_window_probes += (tags & kTagZwp) != 0;
  zero_window_probe_acks += (tags & kTagZwpAck) != 0;
  window_updates += (tags & kTagWindowUpdate) != 0;
  dup_acks += (tags & kTagDupAck) != 0;
  ++frame_size_hist[wire_len < 128 ? 0 : wire_len < 512 ? 1 : wire_len < 1024 ? 2 : 3];
}

void Counters::add(const Counters& o) {
  frames += o.frames;
  flows_started += o.flows_started;
  syn += o.syn;
  fin += o.fin;
  rst += o.rst;
  for (int d = 0; d < 2; ++d) {
    data_segments[d] += o.data_segments[d];
    data_bytes[d] += o.data_bytes[d];
    new_data_bytes[d] += o.new_data_bytes[d];
  }
  pure_acks += o.pure_acks;
  fast_retx += o.fast_retx;
  rto_retx += o.rto_retx;
  dup_segments += o.dup_segments;
  syn_retries += o.syn_retries;
  refused_syns += o.refused_syns;
  upstream_losses += o.upstream_losses;
  downstream_losses += o.downstream_losses;
  reorders += o.reorders;
  lost_segment += o.lost_segment;
  out_of_order += o.out_of_order;
  midseg_acks += o.midseg_acks;
  midseg_retx += o.midseg_retx;
  zero_window += o.zero_window;
  zero_window_probes += o.zero_window_probes;
  zero_window_probe_acks += o.zero_window_probe_acks;
  window_updates += o.window_updates;
  dup_acks += o.dup_acks;
  for (int i = 0; i < 4; ++i) frame_size_hist[i] += o.frame_size_hist[i];
  span_copies += o.span_copies;
}

nlohmann::json to_json(const Counters& c) {
  nlohmann::json j;
  j["frames"] = c.frames;
  j["flows_started"] = c.flows_started;
  j["syn"] = c.syn;
  j["fin"] = c.fin;
  j["rst"] = c.rst;
  j["pure_acks"] = c.pure_acks;
  j["data_segments"] = {{"client_to_server", c.data_segments[0]}, {"server_to_client", c.data_segments[1]}};
  j["data_bytes"] = {{"client_to_server", c.data_bytes[0]}, {"server_to_client", c.data_bytes[1]}};
  j["new_data_bytes"] = {{"client_to_server", c.new_data_bytes[0]}, {"server_to_client", c.new_data_bytes[1]}};
  j["retransmissions"] = {{"fast", c.fast_retx},
                          {"rto", c.rto_retx},
                          {"duplicated_segments", c.dup_segments},
                          {"syn_retries", c.syn_retries},
                          {"midsegment_recut", c.midseg_retx}};
  j["losses"] = {{"upstream", c.upstream_losses}, {"downstream", c.downstream_losses}};
  j["reorders"] = c.reorders;
  j["refused_syns"] = c.refused_syns;
  j["midsegment_acks"] = c.midseg_acks;
  j["zero_window"] = {{"zero_window_frames", c.zero_window},
                      {"probes", c.zero_window_probes},
                      {"probe_acks", c.zero_window_probe_acks},
                      {"window_updates", c.window_updates}};
  j["dup_acks"] = c.dup_acks;
  j["span_copies"] = c.span_copies;
  j["frame_size_hist"] = {{"lt128", c.frame_size_hist[0]},
                          {"lt512", c.frame_size_hist[1]},
                          {"lt1024", c.frame_size_hist[2]},
                          {"ge1024", c.frame_size_hist[3]}};
  // What Wireshark 4.0 reports on these frames (count of frames carrying each field).
  j["wireshark"] = {{"tcp.analysis.retransmission", c.ws_retransmission()},
                    {"tcp.analysis.fast_retransmission", c.fast_retx},
                    {"tcp.analysis.spurious_retransmission", 0},
                    {"tcp.analysis.duplicate_ack", c.dup_acks},
                    {"tcp.analysis.lost_segment", c.lost_segment},
                    {"tcp.analysis.ack_lost_segment", 0},
                    {"tcp.analysis.out_of_order", c.out_of_order},
                    {"tcp.analysis.zero_window", c.zero_window},
                    {"tcp.analysis.zero_window_probe", c.zero_window_probes},
                    {"tcp.analysis.zero_window_probe_ack", c.zero_window_probe_acks},
                    {"tcp.analysis.window_update", c.window_updates},
                    {"tcp.analysis.window_full", 0},
                    {"tcp.analysis.keep_alive", 0},
                    {"tcp.analysis.reused_ports", 0}};
  return j;
}

nlohmann::json Truth::to_json() const {
  nlohmann::json j;
  j["total"] = gen::to_json(total);
  j["first_ts"] = first_ts;
  j["last_ts"] = last_ts;
  j["per_flow_truncated"] = flows_truncated;
  nlohmann::json fl = nlohmann::json::array();
  for (const FlowTruth& f : flows) {
    if (f.c.frames == 0) continue;
    nlohmann::json e = gen::to_json(f.c);
    e["id"] = f.id;
    e["client"] = f.client;
    e["server"] = f.server;
    e["ipv6"] = f.ipv6;
    e["outer_pair"] = f.outer_pair;
    fl.push_back(std::move(e));
  }
  j["flows"] = std::move(fl);
  return j;
}

}  // namespace seqwatch::gen
