#include "runtime/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

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
    std::string why = rte_strerror(err);
    std::string hint;
    if (err == EACCES) hint = " (DPDK needs root for its memory and device access)";
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

void eal_cleanup() {
  if (g_initialised) rte_eal_cleanup();
  g_initialised = false;
}

}  // namespace seqwatch::runtime
