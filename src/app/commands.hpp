// CLI commands. Each returns the process exit code.
#pragma once

#include <string>

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

int analyze(const AnalyzeOptions& opts);
int version();

}  // namespace seqwatch::app
