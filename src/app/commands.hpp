// CLI commands. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace seqwatch::app {

struct AnalyzeOptions {
  std::string file;
  std::string source = "auto";  // auto | dpdk | file
  std::string rules;            // payload rules file ("" = none)
  std::string json_out;         // write the summary as JSON here ("" = no)
  std::string events_out;       // segment events as JSON lines ("-" = stdout, "" = none)
  std::string flows_out;        // flow records as JSON lines ("-" = stdout, "" = none)
  uint32_t flow_capacity = 1u << 20;
  double idle_timeout_s = 3600.0;
  size_t top = 10;
  bool ignore_vlans = false;
  unsigned memory_mb = 512;
  unsigned workers = 1;         // > 1: software rehash over this many workers
};

struct RunOptions {
  std::string pipeline;           // pipelines/NAME.yaml (overlay on the defaults)
  std::string config;             // optional base file (config/seqwatch.yaml holds the defaults)
  std::vector<std::string> sets;  // --set key.path=value
  std::string out_dir;            // overrides outputs.dir (no run subfolder)
  double duration_s = 0;          // stop after this long (0 = until SIGINT/SIGTERM)
  bool show_config = false;       // print the effective configuration and exit
};

int analyze(const AnalyzeOptions& opts);
int run_pipeline(const RunOptions& opts);
int version();

}  // namespace seqwatch::app
