// seqwatch-gen: writes a deterministic synthetic TCP trace (classic pcap) and, with
// --truth, the ground truth as JSON. Options: docs/trace-generator.md.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gen/gen_config.hpp"
#include "gen/pcap_writer.hpp"
#include "gen/trace_generator.hpp"

using namespace seqwatch::gen;

namespace {

// The preset is applied before the options are bound, so every explicit option overrides
// it and --help shows the preset's values as defaults.
std::string find_preset(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--preset" && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--preset=", 0) == 0) return a.substr(9);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"seqwatch-gen: deterministic synthetic TCP traces with ground truth"};
  GenConfig v;
  std::string preset = find_preset(argc, argv), output, truth_path, encap = "none";
  bool usec = false, no_ts = false, quiet = false;
  if (!preset.empty() && !apply_preset(preset, v)) {
    fmt::print(stderr, "seqwatch-gen: unknown preset '{}'; known: imix-100k, lossy, lb-midsegment, "
                       "gre-imbalance, syn-flood\n", preset);
    return 2;
  }

  app.add_option("--preset", preset, "imix-100k | lossy | lb-midsegment | gre-imbalance | syn-flood");
  app.add_option("-o,--output", output, "pcap file to write ('-' for stdout)")->required();
  app.add_option("--truth", truth_path, "write the ground truth JSON here");
  auto opt = [&](const char* name, auto& field, const char* help) {
    app.add_option(name, field, help)->capture_default_str();
  };
  opt("--seed", v.seed, "random seed (same seed + options = same bytes)");
  opt("--flows", v.flows, "concurrent flows");
  opt("--packets", v.packets, "frames to write (0: until --duration)");
  opt("--duration", v.duration_s, "trace seconds to write (0: until --packets)");
  opt("--rate", v.rate_pps, "aggregate packets per second");
  opt("--mss", v.mss, "TCP payload bytes per full segment");
  opt("--ipv6-share", v.ipv6_share, "share of inner flows over IPv6");
  opt("--rtt-min", v.rtt_min_ms, "per-flow RTT lower bound, ms");
  opt("--rtt-max", v.rtt_max_ms, "per-flow RTT upper bound, ms");
  opt("--exchanges", v.exchanges, "mean request/response exchanges per flow");
  opt("--bulk-share", v.bulk_share, "share of responses that are bulk transfers");
  opt("--servers", v.servers, "distinct server addresses");
  opt("--loss-downstream", v.imp.loss_downstream, "per segment: captured, then lost");
  opt("--loss-upstream", v.imp.loss_upstream, "per segment: lost before the sensor");
  opt("--loss-burst-period", v.imp.loss_burst_period_s, "seconds: losses only in the first --loss-burst-len of each period");
  opt("--loss-burst-len", v.imp.loss_burst_len_s, "seconds of each --loss-burst-period in which losses happen");
  opt("--reorder", v.imp.reorder, "per segment: swapped with the next");
  opt("--duplicate", v.imp.duplicate, "per segment: duplicated");
  opt("--midseg-ack", v.imp.midseg_ack, "per segment: receiver ACKs 512 bytes into it");
  opt("--midseg-rounds", v.imp.midseg_rounds, "re-cut retransmissions per mid-segment episode");
  opt("--zero-window", v.imp.zero_window, "per segment: receiver closes its window");
  opt("--zwp-probes", v.imp.zwp_probes, "zero-window probes per episode");
  opt("--syn-unanswered", v.imp.syn_unanswered, "per flow: SYN never answered");
  opt("--syn-retries", v.imp.syn_retries, "retransmissions of an unanswered SYN");
  opt("--syn-rst", v.imp.syn_rst, "per flow: SYN answered by RST");
  opt("--rst-close", v.imp.rst_close, "per flow: closed by RST instead of FIN");
  opt("--outer-pairs", v.encap.outer_pairs, "outer tunnel endpoint pairs");
  opt("--outer-ipv6-share", v.encap.outer_ipv6_share, "share of outer pairs over IPv6");
  opt("--gre-key-base", v.encap.gre_key_base, "GRE key of outer pair 0");
  opt("--vni", v.encap.vni, "VXLAN VNI of outer pair 0");
  opt("--snaplen", v.snaplen, "captured bytes per frame");
  opt("--per-flow-truth", v.per_flow_truth_max, "flows with per-flow truth");
  opt("--start-time", v.start_time_s, "first timestamp, Unix seconds");
  opt("--span-copies", v.span_copies, "share of frames captured twice, as by a SPAN of two ports (router in and out)");
  opt("--span-lag-us", v.span_lag_us, "the second capture's lag behind the first, microseconds");
  app.add_option("--vlan", v.encap.vlans, "802.1Q tag(s); two = QinQ (outer first)");
  CLI::Option* encap_opt = app.add_option("--encap", encap, "none | vlan | qinq | gre | gre-key | ipip | vxlan")
                               ->check(CLI::IsMember({"none", "vlan", "qinq", "gre", "gre-key", "ipip", "vxlan"}));
  app.add_flag("--usec", usec, "microsecond pcap (default: nanosecond)");
  app.add_flag("--no-timestamps", no_ts, "do not negotiate TCP timestamps");
  app.add_flag("--syn-only", v.syn_only, "every flow is a single SYN");
  app.add_flag("-q,--quiet", quiet, "no summary on stderr");
  CLI11_PARSE(app, argc, argv);

  GenConfig cfg = v;
  if (encap_opt->count()) {
    cfg.encap.tunnel = Tunnel::kNone;
    cfg.encap.gre_key = false;
    if (encap == "vlan" && v.encap.vlans.empty()) cfg.encap.vlans = {100};
    if (encap == "qinq" && v.encap.vlans.empty()) cfg.encap.vlans = {200, 100};
    if (encap == "gre" || encap == "gre-key") cfg.encap.tunnel = Tunnel::kGre;
    if (encap == "gre-key") cfg.encap.gre_key = true;
    if (encap == "ipip") cfg.encap.tunnel = Tunnel::kIpip;
    if (encap == "vxlan") cfg.encap.tunnel = Tunnel::kVxlan;
  }
  if (usec) cfg.nanosecond = false;
  if (no_ts) cfg.tcp_timestamps = false;
  if (std::string err = validate(cfg); !err.empty()) {
    fmt::print(stderr, "seqwatch-gen: {}\n", err);
    return 2;
  }

  const auto t0 = std::chrono::steady_clock::now();
  Truth truth;
  if (std::string err = write_pcap(cfg, output, &truth); !err.empty()) {
    fmt::print(stderr, "seqwatch-gen: {}\n", err);
    return 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!truth_path.empty()) {
    std::ofstream out(truth_path);
    out << truth.to_json().dump(1) << '\n';
    if (!out) {
      fmt::print(stderr, "seqwatch-gen: cannot write truth to {}\n", truth_path);
      return 1;
    }
  }
  if (!quiet) {
    const Counters& c = truth.total;
    fmt::print(stderr,
               "seqwatch-gen: {} frames, {} flows started, {:.3f} s of trace in {:.2f} s "
               "(retx fast {} rto {} dup {}, lost_segment {}, ooo {}, dup_acks {}, zero_window {})\n",
               c.frames, c.flows_started, truth.last_ts - truth.first_ts, secs, c.fast_retx, c.rto_retx,
               c.dup_segments, c.lost_segment, c.out_of_order, c.dup_acks, c.zero_window);
  }
  return 0;
}
