// CLI commands. Each returns the process exit code.
#pragma once

#include <string>

namespace seqwatch::app {

struct AnalyzeOptions {
  std::string file;
  std::string source = "auto";  // auto | dpdk | file
  std::string rules;            // payload rules file ("" = none)
  std::string json_out;         // write the summary as JSON here ("" = no)
  unsigned memory_mb = 512;
};

int analyze(const AnalyzeOptions& opts);
int version();

}  // namespace seqwatch::app
