// DPDK Environment Abstraction Layer start-up and shutdown (control path).
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace seqwatch::runtime {

struct EalOptions {
  std::vector<std::string> vdevs;  // e.g. "net_pcap0,rx_pcap=/path/file.pcap"
  unsigned memory_mb = 512;        // -m: plain anonymous memory with --no-huge, else hugepages reserved at start
  bool no_huge = true;             // no hugepages needed (CI, laptops, vdev-only runs)
  bool no_pci = true;              // no physical NICs probed
  std::string lcores = "0";
  int log_level = 4;               // RTE_LOG_ERR: keep EAL chatter out of reports
  std::vector<std::string> extra;  // passed through verbatim (advanced)
};

// Initialises the EAL once per process. The error says, in plain words, what failed
// and what usually causes it (hugepages, permissions, a missing driver).
Result<bool> eal_init(const EalOptions& opts);
// The argument list eal_init passes to rte_eal_init (argv[0] first).
std::vector<std::string> eal_arguments(const EalOptions& opts);
void eal_cleanup();
// True between a successful eal_init() and eal_cleanup().
bool eal_ready() noexcept;

}  // namespace seqwatch::runtime
