#include "runtime/eal.hpp"

#include <rte_eal.h>
#include <rte_build_config.h>
#include <rte_errno.h>

#include <cctype>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <unistd.h>

namespace seqwatch::runtime {

namespace {
bool g_initialised = false;
}

std::vector<std::string> eal_arguments(const EalOptions& opts) {
  // --no-shconf: no runtime files under /var/run/dpdk, so concurrent instances (tests,
  // replays beside a live sensor) never collide; secondary processes are not supported.
  std::vector<std::string> args = {"seqwatch", "-l", opts.lcores, "--no-shconf",
                                   "--log-level=" + std::to_string(opts.log_level)};
  if (opts.no_huge) args.push_back("--no-huge");
  // -m: with --no-huge the anonymous memory DPDK maps; with hugepages the amount reserved
  // from them at start (eal.memory_mb either way, as documented), unless eal.extra_args
  // reserves per NUMA socket (--socket-mem: the EAL refuses it beside -m).
  bool socket_mem = false;
  for (const auto& e : opts.extra) socket_mem |= e.rfind("--socket-mem", 0) == 0;
  if (!socket_mem) {
    args.push_back("-m");
    args.push_back(std::to_string(opts.memory_mb));
  }
  if (opts.no_pci) args.push_back("--no-pci");
  for (const auto& v : opts.vdevs) {
    args.push_back("--vdev");
    args.push_back(v);
  }
  for (const auto& e : opts.extra) args.push_back(e);
  return args;
}

Result<bool> eal_init(const EalOptions& opts) {
  if (g_initialised) return true;
  std::vector<std::string> args = eal_arguments(opts);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  if (rc < 0) {
    const int err = rte_errno;
    std::fflush(stdout);  // the EAL's usage text (stdout) before the reason (stderr), in a log file too
    std::string why = rte_strerror(err);
    std::string hint;
    if (err == EACCES)
      hint = ::geteuid() != 0 ? " (DPDK needs root for its memory and device access)"
                              : " (as root: are hugepages reserved and mounted, or is eal.no_huge: true?)";
    else if (err == ENOMEM) hint = " (not enough memory: lower -m or free memory; hugepages are not used with --no-huge)";
    else if (err == EALREADY) hint = " (the EAL was already initialised in this process)";
    else if (err == ENODEV || err == ENOENT) hint = " (a --vdev driver is missing: is librte-net-pcap installed?)";
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    return Error{"DPDK EAL initialisation failed: " + why + hint + "; arguments: " + cmd};
  }
  g_initialised = true;
  return true;
}

bool eal_ready() noexcept { return g_initialised; }

HugepageInfo hugepage_info() {
  namespace fs = std::filesystem;
  HugepageInfo h;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    const std::string name = d.path().filename().string();  // hugepages-2048kB
    uint64_t kb = 0;
    if (std::sscanf(name.c_str(), "hugepages-%" SCNu64 "kB", &kb) != 1) continue;
    uint64_t total = 0, avail = 0;
    std::ifstream(d.path() / "nr_hugepages") >> total;
    std::ifstream(d.path() / "free_hugepages") >> avail;
    h.reserved_mb += total * kb / 1024;
    h.free_mb += avail * kb / 1024;
  }
  std::ifstream mounts("/proc/mounts");
  std::string dev, dir, type;
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream in(line);
    if (in >> dev >> dir >> type && type == "hugetlbfs") h.mounted = true;
  }
  return h;
}

std::string vdev_driver_problem(const std::string& devargs) {
  namespace fs = std::filesystem;
  std::string driver = devargs.substr(0, devargs.find(','));
  while (!driver.empty() && std::isdigit(static_cast<unsigned char>(driver.back()))) driver.pop_back();
  if (driver.rfind("eth_", 0) == 0) driver = "net_" + driver.substr(4);  // the drivers' old aliases
  // Drivers whose library is named otherwise.
  static const std::map<std::string, std::string> lib_of = {
      {"net_bonding", "net_bond"}, {"net_tun", "net_tap"}, {"net_virtio_user", "net_virtio"}};
  const auto it = lib_of.find(driver);
  const std::string lib = "librte_" + (it == lib_of.end() ? driver : it->second) + ".so";
  const fs::path dir = RTE_EAL_PMD_PATH;
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || fs::exists(dir / lib, ec)) return {};
  std::vector<std::string> vdevs;  // the usual software ports that are installed
  for (const char* v : {"af_packet", "af_xdp", "null", "pcap", "ring", "tap", "vhost", "memif"})
    if (fs::exists(dir / ("librte_net_" + std::string(v) + ".so"), ec)) vdevs.push_back(std::string("net_") + v);
  std::string list;
  for (const auto& v : vdevs) list += (list.empty() ? "" : ", ") + v;
  return "DPDK has no driver " + driver + " (no " + lib + " in " + dir.string() + "); software ports installed: " +
         (list.empty() ? "none" : list);
}

void eal_cleanup() {
  if (g_initialised) rte_eal_cleanup();
  g_initialised = false;
}

}  // namespace seqwatch::runtime
