// DPDK Environment Abstraction Layer start-up and shutdown (control path).
#pragma once

#include <cstdint>
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

// Hugepages of this machine, all page sizes together, for the start checks.
struct HugepageInfo {
  uint64_t reserved_mb = 0, free_mb = 0;
  bool mounted = false;  // a hugetlbfs mount exists
};
HugepageInfo hugepage_info();
// Why the vdev of `devargs` ("net_bogus0,...") cannot be created by this DPDK: "" when its
// driver's library is in DPDK's driver folder (or the folder cannot be read), else the reason.
std::string vdev_driver_problem(const std::string& devargs);
// True between a successful eal_init() and eal_cleanup().
bool eal_ready() noexcept;

}  // namespace seqwatch::runtime
