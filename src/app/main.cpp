// seqwatch command line. The packet path starts in runtime/worker.cpp (Worker::run).
#include <CLI/CLI.hpp>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  CLI::App cli{"seqwatch: kernel-bypass TCP sequence analysis sensor"};
  cli.require_subcommand(1);

  seqwatch::app::AnalyzeOptions a;
  auto* analyze = cli.add_subcommand("analyze", "Analyse a capture file (pcap, pcapng, gzip) through the worker path");
  analyze->add_option("file", a.file, "capture file")->required()->check(CLI::ExistingFile);
  analyze->add_option("--source", a.source, "packet source: file (libpcap reader), dpdk (net_pcap vdev, as a live port), auto (= file)")
      ->check(CLI::IsMember({"auto", "dpdk", "file"}));
  analyze->add_option("--rules", a.rules, "payload rules file (Hyperscan), e.g. config/rules/default.rules")
      ->check(CLI::ExistingFile);
  analyze->add_option("--json", a.json_out, "also write the summary as JSON to this path");
  analyze->add_option("--events", a.events_out, "write segment events (JSON lines) to this file, - for stdout");
  analyze->add_option("--flows", a.flows_out, "write flow records (JSON lines) to this file, - for stdout");
  analyze->add_option("--flow-capacity", a.flow_capacity, "flow table capacity (flows, all workers together)")->check(CLI::Range(16u, 1u << 28));
  analyze->add_option("--idle-timeout", a.idle_timeout_s, "seconds of silence (packet time) before a flow expires")
      ->check(CLI::Range(0.001, 86400.0));
  analyze->add_option("--top", a.top, "rows in the top flows / services tables");
  analyze->add_flag("--ignore-vlans", a.ignore_vlans,
                    "leave VLAN ids out of the flow key (SPAN ports that tag only one direction)");
  analyze->add_option("-w,--workers", a.workers,
                      "worker threads; more than 1 spreads flows over workers by the inner 5-tuple (software rehash)")
      ->check(CLI::Range(1u, 128u));
  analyze->add_option("--memory-mb", a.memory_mb, "DPDK memory (MiB) for the dpdk source")->check(CLI::Range(64u, 65536u));

  auto* version = cli.add_subcommand("version", "Print versions of seqwatch and its libraries");

  CLI11_PARSE(cli, argc, argv);
  if (analyze->parsed()) return seqwatch::app::analyze(a);
  if (version->parsed()) return seqwatch::app::version();
  return 2;
}
