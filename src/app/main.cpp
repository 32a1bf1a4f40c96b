// seqwatch command line. The packet path starts in runtime/worker.cpp (Worker::run).
#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/commands.hpp"
#include "telemetry/html_report.hpp"
#include "telemetry/top.hpp"

namespace {

// Reads a real-valued option as it will be kept, a double: "" or why it cannot be used.
// std::stod threw out_of_range for denormals (1e-320) and for 1e400, which read "is not a
// number"; CLI11 reads with strtold and narrows, so 1e400 would become inf and 1e-400 0.
std::string read_real(const std::string& s, double& v) {
  errno = 0;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) return "'" + s + "' is not a number";
  if (std::isnan(v)) return "'" + s + "' is not a finite number";
  if (std::isinf(v)) return "'" + s + (errno == ERANGE ? "' is too large to be held as a number" : "' is not a finite number");
  if (errno == ERANGE && v == 0) return "'" + s + "' is too close to 0 to be held as a number (it would be read as 0)";
  return {};
}

// CLI11's Range lets NaN through (every comparison with NaN is false) and reads "-1" into an
// unsigned option as 2^64-1; these checks come before it.
const CLI::Validator kFinite(
    [](std::string& s) -> std::string {
      double v = 0;
      return read_real(s, v);
    },
    "FINITE", "finite");
const CLI::Validator kNotNegative(
    [](std::string& s) -> std::string {
      const size_t first = s.find_first_not_of(" \t");
      if (first == std::string::npos || s[first] != '-') return {};
      const std::string digits = s.substr(first + 1);
      if (!digits.empty() && digits.find_first_not_of('0') == std::string::npos)
        return "'" + s + "' has a minus sign; whole numbers here are written without one";  // -0 is not negative
      return "'" + s + "' is negative";
    },
    "", "not negative");
// A copy window is kept in whole microseconds: a value between 0 and 1 us would be 0 (off).
const CLI::Validator kCopyWindow(
    [](std::string& s) -> std::string {
      double v = 0;
      if (std::string why = read_real(s, v); !why.empty()) return why;
      if (v != 0 && v < 0.001) return s + " ms would round to 0 (it is kept in whole microseconds): use 0 (off) or at least 0.001";
      return {};
    },
    "", "copy window");
// The active timeout is kept in whole nanoseconds: a value between 0 and 1 ns would be 0 (off).
const CLI::Validator kActiveTimeout(
    [](std::string& s) -> std::string {
      double v = 0;
      if (std::string why = read_real(s, v); !why.empty()) return why;
      if (v != 0 && v < 1e-9) return s + " s would round to 0 (it is kept in whole nanoseconds): use 0 (off) or at least 1e-09";
      return {};
    },
    "", "active timeout");
// --duration: seconds to run, > 0 (leaving it out runs until a signal). The run's clock counts
// whole nanoseconds, so below 1e-09 s the duration would round to 0, as the configuration's
// durations (schema::kNanoseconds) do. -0 and 0 are refused: "stop after 0 seconds" ran until
// SIGINT/SIGTERM, as if --duration had been left out.
constexpr double kMaxDuration_s = 31536000.0;  // a year
const CLI::Validator kDuration(
    [](std::string& s) -> std::string {
      double v = 0;
      if (std::string why = read_real(s, v); !why.empty()) return why;
      if (!(v > 0))
        return "'" + s + "' is not > 0: give the seconds to run, or leave --duration out to run until SIGINT/SIGTERM";
      if (v < 1e-9)
        return s + " s would round to 0 (the run's clock counts whole nanoseconds): the smallest allowed value is 1e-09";
      if (v > kMaxDuration_s)
        return s + " s is more than a year (31536000 s): leave --duration out to run until SIGINT/SIGTERM";
      return {};
    },
    "> 0 and <= 31536000", "duration");

// The subcommand named on the command line, if it is not one of `cli`'s ("" when it is, or
// when none is named): CLI11 takes an unknown word for a stray argument and would answer
// `seqwatch NAME --help` with the main help and exit status 0.
std::string unknown_subcommand(CLI::App& cli, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    for (const CLI::App* sub : cli.get_subcommands([](CLI::App*) { return true; }))
      if (sub->check_name(arg)) return {};
    return arg;
  }
  return {};
}

}  // namespace

// Exit status: 0 done (and --help), 2 a usage or configuration error, 1 a failure while running.
int main(int argc, char** argv) {
  CLI::App cli{"seqwatch: kernel-bypass TCP sequence analysis sensor"};
  cli.require_subcommand(1);

  seqwatch::app::AnalyzeOptions a;
  auto* analyze = cli.add_subcommand("analyze", "Analyse a capture file (pcap, pcapng, gzip) through the worker path");
  analyze->add_option("file", a.file, "capture file")->required()->check(CLI::ExistingFile);
  analyze->add_option("--source", a.source,
                      "packet source: mmap (zero-copy reader), file (libpcap), dpdk (net_pcap vdev, as a live port), "
                      "auto (mmap where it can, else libpcap)")
      ->check(CLI::IsMember({"auto", "mmap", "dpdk", "file"}));
  analyze->add_option("--rules", a.rules, "payload rules file (Hyperscan), e.g. config/rules/default.rules")
      ->check(CLI::ExistingFile);
  analyze->add_option("--json", a.json_out, "also write the summary as JSON to this path");
  analyze->add_option("--events", a.events_out, "write segment events (JSON lines) to this file, - for stdout");
  analyze->add_option("--flows", a.flows_out, "write flow records (JSON lines) to this file, - for stdout");
  analyze->add_option("--flow-capacity", a.flow_capacity, "flow table capacity (flows, all workers together)")->check(kNotNegative)->check(CLI::Range(16u, 1u << 28));
  analyze->add_option("--idle-timeout", a.idle_timeout_s, "seconds of silence (packet time) before a flow expires")
      ->check(kFinite)->check(CLI::Range(0.001, 86400.0));
  analyze->add_option("--active-timeout", a.active_timeout_s,
                      "seconds (packet time): a flow that sends in a later period of this length gets an 'active' flow "
                      "record first, its counts so far (NetFlow's active timeout); 0 = off (default)")
      ->check(kFinite)->check(CLI::Range(0.0, 86400.0))->check(kActiveTimeout);
  analyze->add_option("--top", a.top, "rows in the top flows / services tables")
      ->check(kNotNegative)->check(CLI::Range(size_t{0}, size_t{1000000}));
  analyze->add_flag("--ignore-vlans", a.ignore_vlans,
                    "leave VLAN ids out of the flow key (SPAN ports that tag only one direction)");
  analyze->add_option("--copy-window-ms", a.copy_window_ms,
                      "a segment identical to one seen this many ms before (SPAN/network copy) gets the verdict "
                      "duplicate_packet and is not analysed; 0 = analyse copies like tshark (default 100)")
      ->check(kFinite)->check(CLI::Range(0.0, 1000.0))->check(kCopyWindow);
  analyze->add_option("--close-wait-s", a.close_wait_s,
                      "seconds a connection closed by one side (one FIN) must have been silent before the capture's "
                      "newest packet to be reported as left half-closed (CLOSE_WAIT?; default 60, Linux's "
                      "tcp_fin_timeout)")
      ->check(kFinite)->check(CLI::Range(0.001, 86400.0));
  analyze->add_option("-w,--workers", a.workers,
                      "worker threads; more than 1 spreads flows over workers by the inner 5-tuple (software rehash)")
      ->check(kNotNegative)->check(CLI::Range(1u, 128u));
  analyze->add_option("--memory-mb", a.memory_mb, "DPDK memory (MiB) for the dpdk source")->check(kNotNegative)->check(CLI::Range(64u, 65536u));

  analyze->add_option("--evidence", a.evidence_dir, "write evidence slices (pcapng + index) into this folder");
  analyze->add_option("--config", a.config,
                      "configuration file whose evidence section and rules.file apply (with --evidence; the "
                      "analysis takes the options above)")
      ->check(CLI::ExistingFile);
  analyze->add_option("--set", a.sets,
                      "override one evidence key, e.g. --set evidence.post_packets=32 (with --evidence; repeatable)");

  seqwatch::app::ExtractOptions x;
  auto* extract = cli.add_subcommand("extract", "Write trimmed evidence slices from a capture (the appliance's evidence path, without its budgets: every slice the triggers ask for)");
  extract->add_option("file", x.file, "capture file")->required()->check(CLI::ExistingFile);
  extract->add_option("-o,--out", x.out_dir, "output folder")->required();
  extract->add_option("--trigger", x.triggers,
                      "rst | ack_inside_segment | syn_unanswered | dup_ack_run:N | retransmission_storm:N/MS | "
                      "zero_window:MS | payload:RULE_ID | bpf:EXPRESSION | verdict:NAME[,NAME...] (repeatable)");
  extract->add_option("--bpf", x.bpf, "trigger on packets matching this tcpdump expression (repeatable)");
  extract->add_option("--flow", x.flows, "trigger on one connection: ADDR:PORT-ADDR:PORT (repeatable)");
  extract->add_option("--filter", x.filter, "capture filter: packets not matching are ignored entirely");
  extract->add_option("--pre", x.pre, "packets of history before a trigger")->check(CLI::Range(0, 1024));
  extract->add_option("--post", x.post, "packets after a trigger")->check(CLI::Range(0, 65535));
  extract->add_option("--trim", x.trim, "stored length: headers (up to the TCP header) or a byte count");
  extract->add_option("--format", x.format, "pcapng (packet comments name the verdicts) or pcap")
      ->check(CLI::IsMember({"pcap", "pcapng"}));
  extract->add_option("--sample", x.sample_one_in, "also write 1 packet in N to a sample file")
      ->check(kNotNegative)->check(CLI::Range(uint32_t{0}, UINT32_MAX));
  extract->add_flag("--ignore-vlans", x.ignore_vlans, "leave VLAN ids out of the flow key");
  extract->add_option("--rules", x.rules, "Hyperscan payload rules file (config/rules/*.rules) for payload:RULE_ID")
      ->check(CLI::ExistingFile);
  extract->add_option("-w,--workers", x.workers, "worker threads")->check(kNotNegative)->check(CLI::Range(1u, 128u));

  seqwatch::app::RunOptions r;
  auto* run = cli.add_subcommand("run", "Run the appliance on DPDK ports as a pipeline describes (live capture)");
  run->add_option("--pipeline", r.pipeline, "pipeline file, e.g. pipelines/span-sensor.yaml")
      ->required()->check(CLI::ExistingFile);
  run->add_option("--config", r.config, "base configuration file under the pipeline (defaults: config/seqwatch.yaml)")
      ->check(CLI::ExistingFile);
  run->add_option("--set", r.sets, "override one key: --set ports.0.devargs=net_pcap0,rx_pcap=F (repeatable)");
  run->add_option("--out", r.out_dir, "write outputs into this folder (instead of outputs.dir/<start time>)");
  run->add_option("--duration", r.duration_s, "stop after this many seconds (default: run until SIGINT/SIGTERM)")
      ->check(kDuration);

  seqwatch::app::RunOptions c;
  c.show_config = true;
  auto* config = cli.add_subcommand("config", "Print the effective configuration (defaults, files, --set) as YAML");
  config->add_option("--pipeline", c.pipeline, "pipeline file")->check(CLI::ExistingFile);
  config->add_option("--config", c.config, "base configuration file")->check(CLI::ExistingFile);
  config->add_option("--set", c.sets, "override one key (repeatable)");

  seqwatch::telemetry::TopOptions t;
  auto* top = cli.add_subcommand("top", "Live view of a running seqwatch (per-queue bars, per-core busy %, drops, top flows)");
  top->add_option("--endpoint", t.endpoint, "host:port of its telemetry HTTP endpoint (default 127.0.0.1:9860)");
  std::string report_dir, report_out;
  auto* report = cli.add_subcommand("report", "Write a self-contained HTML report of a run folder");
  report->add_option("RUN_DIR", report_dir, "the run's output folder")->required()->check(CLI::ExistingDirectory);
  report->add_option("-o,--out", report_out, "output file (default RUN_DIR/report.html)");

  auto* version = cli.add_subcommand("version", "Print versions of seqwatch and its libraries");

  if (const std::string name = unknown_subcommand(cli, argc, argv); !name.empty()) {
    std::string names;
    for (const CLI::App* sub : cli.get_subcommands([](CLI::App*) { return true; }))
      names += (names.empty() ? "" : ", ") + sub->get_name();
    std::fprintf(stderr, "seqwatch: error: '%s' is not a seqwatch command (commands: %s; seqwatch --help)\n",
                 name.c_str(), names.c_str());
    return 2;
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints and exits 0; every usage error exits 2 (CLI11's own codes are 100 and up).
    return cli.exit(e) == 0 ? 0 : 2;
  }
  if (analyze->parsed()) return seqwatch::app::analyze(a);
  if (run->parsed()) return seqwatch::app::run_pipeline(r);
  if (extract->parsed()) return seqwatch::app::extract(x);
  if (config->parsed()) return seqwatch::app::run_pipeline(c);
  if (top->parsed()) return seqwatch::telemetry::top_main(t);
  if (report->parsed()) return seqwatch::telemetry::html_report_main(report_dir, report_out);
  if (version->parsed()) return seqwatch::app::version();
  return 2;
}
