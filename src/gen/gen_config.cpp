#include "gen/gen_config.hpp"

#include <fmt/format.h>

namespace seqwatch::gen {

std::vector<std::string_view> preset_names() {
  return {"imix-100k", "lossy", "lb-midsegment", "gre-imbalance", "syn-flood"};
}

bool apply_preset(std::string_view name, GenConfig& cfg) {
  if (name == "imix-100k") {
    // 100k concurrent clean flows at 1 Mpps: the flow-table and decode benchmark input.
    cfg.flows = 100000;
    cfg.packets = 1000000;
    cfg.rate_pps = 1e6;
    cfg.ipv6_share = 0.2;
    cfg.exchanges = 2;
  } else if (name == "lossy") {
    cfg.flows = 1000;
    cfg.packets = 200000;
    cfg.imp.loss_downstream = 0.01;
    cfg.imp.loss_upstream = 0.005;
    cfg.imp.reorder = 0.005;
    cfg.imp.duplicate = 0.003;
  } else if (name == "lb-midsegment") {
    // The load-balancer case (seed 004): ACKs 512 bytes into full segments of uploads.
    cfg.flows = 100;
    cfg.packets = 100000;
    cfg.bulk_share = 0.8;
    cfg.imp.midseg_ack = 0.02;
    cfg.imp.midseg_rounds = 8;
  } else if (name == "gre-imbalance") {
    // 100k inner flows inside 3 GRE outer pairs: RSS on the outer header sees 3 flows.
    cfg.flows = 100000;
    cfg.packets = 1000000;
    cfg.encap.tunnel = Tunnel::kGre;
    cfg.encap.gre_key = true;
    cfg.encap.outer_pairs = 3;
  } else if (name == "syn-flood") {
    cfg.flows = 10000;
    cfg.packets = 1000000;
    cfg.syn_only = true;
  } else {
    return false;
  }
  return true;
}

std::string validate(const GenConfig& c) {
  auto prob = [](double p) { return p >= 0 && p <= 1; };
  if (c.flows == 0) return "--flows must be at least 1";
  if (c.packets == 0 && c.duration_s <= 0) return "give --packets or --duration: the trace would never end";
  if (!(c.rate_pps > 0)) return "--rate must be positive";
  if (c.mss < 64 || c.mss > 65000) return fmt::format("--mss {} out of range: use 64..65000", c.mss);
  if (!(c.rtt_min_ms >= 0.2) || c.rtt_max_ms < c.rtt_min_ms)
    return "--rtt-min must be >= 0.2 ms and <= --rtt-max";
  if (c.rtt_max_ms > 60000) return "--rtt-max must be <= 60000 ms";
  if (c.servers == 0 || c.servers > 65535) return "--servers must be 1..65535";
  if (!prob(c.ipv6_share) || !prob(c.bulk_share) || !prob(c.encap.outer_ipv6_share))
    return "shares (--ipv6-share, --bulk-share, --outer-ipv6-share) must be in [0, 1]";
  const Impairments& i = c.imp;
  const double per_seg = i.loss_downstream + i.loss_upstream + i.reorder + i.duplicate + i.midseg_ack + i.zero_window;
  for (double p : {i.loss_downstream, i.loss_upstream, i.reorder, i.duplicate, i.midseg_ack, i.zero_window,
                   i.syn_unanswered, i.syn_rst, i.rst_close})
    if (!prob(p)) return "impairment probabilities must be in [0, 1]";
  if (per_seg > 1) return "per-segment impairment probabilities add up to more than 1";
  if (!(i.loss_burst_period_s >= 0) || !(i.loss_burst_len_s >= 0) ||
      (i.loss_burst_period_s > 0 && !(i.loss_burst_len_s > 0 && i.loss_burst_len_s <= i.loss_burst_period_s)))
    return "--loss-burst-len must be in (0, --loss-burst-period] when --loss-burst-period is set";
  if (i.syn_unanswered + i.syn_rst > 1) return "--syn-unanswered + --syn-rst must be <= 1";
  if (c.encap.vlans.size() > 2) return "at most two --vlan tags (QinQ)";
  for (uint16_t v : c.encap.vlans)
    if (v == 0 || v > 4094) return fmt::format("VLAN id {} out of range: use 1..4094", v);
  if (c.encap.outer_pairs == 0) return "--outer-pairs must be at least 1";
  if (c.encap.vni > 0xFFFFFF - c.encap.outer_pairs) return "--vni + --outer-pairs must fit in 24 bits";
  if (c.exchanges < 1) return "--exchanges must be >= 1";
  if (c.snaplen < 64) return "--snaplen must be >= 64";
  if (!prob(c.span_copies)) return "--span-copies must be in [0, 1]";
  if (!(c.span_lag_us >= 0 && c.span_lag_us <= 1e6)) return "--span-lag-us must be in [0, 1000000]";
  return {};
}

}  // namespace seqwatch::gen
