// Checks that involve several keys (after all layers are applied) and checks against the
// machine (validate_against). Messages are located by the key's origin: the file and line
// where the layer that set it named it.
#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/config.hpp"
#include "config/internal.hpp"
#include "config/schema.hpp"

namespace seqwatch::config {

namespace {

// Mempool headroom, see effective_mbufs() and docs/configuration.md.
constexpr uint32_t kMempoolCache = 512;   // per-lcore mempool cache the runtime asks for
constexpr uint32_t kRehashRing = 1024;    // mbufs parked in each worker's rehash ring

struct Report {
  const Origins& origins;
  std::vector<std::string>& errors;
  void operator()(const std::string& path, const std::string& reason) {
    errors.push_back(fmt::format("{}: {}: {}", detail::origin_of(origins, path), path, reason));
  }
};

std::string port_path(size_t i, std::string_view key) { return fmt::format("ports[{}].{}", i, key); }

std::string device_id(const PortConfig& p) { return port_device(p); }

}  // namespace

std::string port_device(const PortConfig& p) {
  if (!p.pci.empty()) return p.pci;
  if (!p.replay.empty()) return "net_ring_" + p.name;  // rte_eth_from_rings names it so
  return p.devargs.substr(0, p.devargs.find(','));
}

std::vector<DevArg> devargs_items(const std::string& devargs) {
  std::vector<DevArg> out;
  for (size_t pos = devargs.find(','); pos != std::string::npos;) {
    const size_t start = pos + 1;
    pos = devargs.find(',', start);
    const std::string item = devargs.substr(start, pos == std::string::npos ? pos : pos - start);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    out.push_back({item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1), eq != std::string::npos});
  }
  return out;
}

std::vector<std::string> devargs_values(const std::string& devargs, const std::string& key) {
  std::vector<std::string> out;
  for (DevArg& a : devargs_items(devargs))
    if (a.has_value && a.key == key) out.push_back(std::move(a.value));
  return out;
}

std::string located(const Origins* origins, const std::string& key, const std::string& reason) {
  const Origins none;
  return fmt::format("{}: {}: {}", detail::origin_of(origins ? *origins : none, key), key, reason);
}

uint32_t effective_rx_queues(const Config& cfg, const PortConfig& port) {
  if (port.rx_queues) return port.rx_queues;
  return port.rss == Rss::kOff ? 1 : cfg.workers.count;
}

uint32_t effective_mbufs(const Config& cfg, const PortConfig& port) {
  if (port.mbufs) return port.mbufs;
  // Twice the RX rings (one set posted to the NIC, one in flight through the workers), one
  // burst and one mempool cache per worker, and the rehash rings when rehash is on;
  // rounded up to 2^n - 1, the size a mempool ring stores best.
  uint64_t n = 2ull * effective_rx_queues(cfg, port) * port.rx_descriptors +
               uint64_t{cfg.workers.count} * (cfg.workers.burst + kMempoolCache);
  if (port.rehash == Rehash::kSoftware) n += uint64_t{cfg.workers.count} * kRehashRing;
  uint64_t p = 1;
  while (p - 1 < n) p <<= 1;
  return static_cast<uint32_t>(std::min<uint64_t>(p - 1, UINT32_MAX));
}

namespace detail {

std::string origin_of(const Origins& origins, const std::string& path) {
  std::string p = path;
  while (!p.empty()) {
    if (auto it = origins.find(p); it != origins.end()) return it->second;
    const auto cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p.resize(cut);
  }
  return "(default)";
}

void check_relations(const Config& cfg, const Origins& origins, std::vector<std::string>& errors) {
  Report report{origins, errors};

  // Lcores: the lowest EAL lcore is the main lcore (DPDK's default), the control thread.
  auto eal = parse_lcore_list(cfg.eal.lcores);
  if (eal.ok()) {
    const std::vector<uint32_t>& ids = eal.value();
    const uint32_t main_lcore = ids.front();
    const size_t free = ids.size() - 1;
    if (cfg.workers.count > free) {
      report("workers.count",
             fmt::format("{} worker{} need{} {} lcore{} besides the main lcore {}, but eal.lcores '{}' leaves {}: "
                         "add lcores to eal.lcores (e.g. {}-{}) or lower workers.count",
                         cfg.workers.count, cfg.workers.count == 1 ? "" : "s", cfg.workers.count == 1 ? "s" : "",
                         cfg.workers.count, cfg.workers.count == 1 ? "" : "s", main_lcore, cfg.eal.lcores, free,
                         main_lcore, main_lcore + cfg.workers.count));
    }
    if (!cfg.workers.lcores.empty()) {
      auto w = parse_lcore_list(cfg.workers.lcores);
      if (w.ok()) {
        if (w.value().size() != cfg.workers.count)
          report("workers.lcores", fmt::format("'{}' names {} lcore{} but workers.count is {}", cfg.workers.lcores,
                                               w.value().size(), w.value().size() == 1 ? "" : "s", cfg.workers.count));
        for (uint32_t id : w.value()) {
          if (id == main_lcore) {
            report("workers.lcores", fmt::format("lcore {} is the main lcore (the control thread); workers need their own",
                                                 id));
          } else if (!std::binary_search(ids.begin(), ids.end(), id)) {
            report("workers.lcores", fmt::format("lcore {} is not in eal.lcores '{}'", id, cfg.eal.lcores));
          }
        }
      }
    }
  }

  // Ports.
  if (cfg.ports.empty()) report("ports", "no port: add one with pci (a NIC) or devargs (a vdev)");
  uint64_t total_queues = 0;
  bool any_rehash = false;
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    const PortConfig& p = cfg.ports[i];
    for (size_t j = 0; j < i; ++j) {
      if (cfg.ports[j].name == p.name)
        report(port_path(i, "name"), fmt::format("'{}' is already the name of ports[{}]; names must be unique", p.name, j));
      const std::string id = device_id(p);
      if (!id.empty() && id == device_id(cfg.ports[j]))
        report(port_path(i, p.pci.empty() ? "devargs" : "pci"),
               fmt::format("device {} is already ports[{}]; each device can be opened once", id, j));
    }
    if (!p.pci.empty() && !p.devargs.empty())
      report(port_path(i, "devargs"), fmt::format("both pci ({}) and devargs are set; a port is either a NIC or a vdev", p.pci));
    if (!p.replay.empty() && (!p.pci.empty() || !p.devargs.empty()))
      report(port_path(i, "replay"), fmt::format("replay ({}) and {} are both set; a port is a NIC, a vdev or a replay, "
                                                 "one of them", p.replay, p.pci.empty() ? "devargs" : "pci"));
    if (p.replay.empty() && p.replay_rate_pps != 0)
      report(port_path(i, "replay_rate_pps"), "applies only to a replay port (set replay: FILE, or remove the key)");
    if (p.replay.empty() && p.replay_passes != 0)
      report(port_path(i, "replay_passes"), "applies only to a replay port (set replay: FILE, or remove the key)");
    if (p.replay_passes != 0 && p.replay_rate_pps != 0)
      report(port_path(i, "replay_passes"),
             fmt::format("{} passes with replay_rate_pps {}: a paced replay drops frames when a queue is full, so its end "
                         "is not a frame count; use replay_rate_pps 0 or --duration", p.replay_passes, p.replay_rate_pps));
    const uint32_t q = effective_rx_queues(cfg, p);
    total_queues += q;
    any_rehash |= p.rehash == Rehash::kSoftware;
    const uint64_t need = uint64_t{q} * p.rx_descriptors + uint64_t{cfg.workers.count} * cfg.workers.burst;
    // A replay port ignores mbufs (its ring PMD never allocates from the port's pool: 1023,
    // docs/configuration.md), so a small value there cannot run anything out.
    if (p.mbufs != 0 && p.mbufs < need && p.replay.empty())
      report(port_path(i, "mbufs"),
             fmt::format("{} mbufs cannot fill {} RX queue{} of {} descriptors plus one burst per worker ({} needed): "
                         "the port would run out (rx_nombuf); use at least {} or 0 (derived: {})",
                         p.mbufs, q, q == 1 ? "" : "s", p.rx_descriptors, need, need, effective_mbufs(cfg, [&] {
                           PortConfig d = p;
                           d.mbufs = 0;
                           return d;
                         }())));
  }
  if (!cfg.ports.empty() && !any_rehash && total_queues < cfg.workers.count)
    report("workers.count",
           fmt::format("{} workers but the ports give {} RX queue{} and no port has rehash: software; {} worker{} would "
                       "poll nothing: set rehash: software on a port, raise rx_queues, or lower workers.count",
                       cfg.workers.count, total_queues, total_queues == 1 ? "" : "s", cfg.workers.count - total_queues,
                       cfg.workers.count - total_queues == 1 ? "" : "s"));

  // Evidence.
  const EvidenceConfig& ev = cfg.evidence;
  if (ev.per_flow_budget > ev.global_budget_bytes)
    report("evidence.per_flow_budget",
           fmt::format("{} bytes per flow exceeds evidence.global_budget_bytes ({}); lower it or raise the global budget",
                       ev.per_flow_budget, ev.global_budget_bytes));
  if (ev.enabled && ev.triggers.empty() && ev.sampling.one_in_n == 0 && ev.sampling.flow_hash_fraction == 0)
    report("evidence.triggers", "evidence is enabled but nothing starts a slice: add a trigger, turn on sampling, "
                                "or set evidence.enabled: false");
  if (ev.enabled && ev.history_packets == 0 && ev.post_packets == 0)
    report("evidence.post_packets", "with history_packets 0 and post_packets 0 a slice holds no packet");
  unsigned bpf_triggers = 0;
  for (size_t i = 0; i < ev.triggers.size(); ++i) {
    const Trigger& t = ev.triggers[i];
    const std::string tpath = fmt::format("evidence.triggers[{}]", i);
    if (t.type == TriggerType::kBpf && ++bpf_triggers == kMaxBpfTriggers + 1)
      report(tpath, fmt::format("a bpf trigger more than the {} a run can hold; join expressions with 'or'",
                                kMaxBpfTriggers));
    if (t.type == TriggerType::kBpf && t.expr.empty())
      report(tpath + ".expr", "a bpf trigger needs expr, a tcpdump filter expression (e.g. 'tcp[tcpflags] & tcp-rst != 0')");
    if (t.type == TriggerType::kPayload && t.rule == 0)
      report(tpath + ".rule", "a payload trigger needs rule, the id of a rule in rules.file");
    else if (t.type == TriggerType::kPayload && cfg.rules.file.empty())
      report(fmt::format("evidence.triggers[{}].rule", i),
             fmt::format("a payload trigger needs rules.file, the rules file that defines rule {}", t.rule));
    // The capture keeps one setting per trigger type (a dup_ack_run minimum, a storm count and
    // window, ...): a second trigger of the type would silently replace the first. payload
    // and bpf triggers are lists (one rule id or expression each) and may repeat.
    if (t.type != TriggerType::kPayload && t.type != TriggerType::kBpf) {
      for (size_t j = 0; j < i; ++j) {
        if (ev.triggers[j].type != t.type) continue;
        report(tpath, fmt::format("a second {} trigger (the first is evidence.triggers[{}]); one trigger per type: "
                                  "remove one", schema::enum_name(t.type), j));
        break;
      }
    }
  }

  // Imbalance is judged on whole stats periods.
  if (cfg.imbalance.window_s < cfg.outputs.stats_interval_s)
    report("imbalance.window_s", fmt::format("{} s is shorter than outputs.stats_interval_s ({} s), the period the "
                                             "counters are read at; raise it or lower the stats interval",
                                             cfg.imbalance.window_s, cfg.outputs.stats_interval_s));
}

}  // namespace detail

Result<bool> validate_rule_ids(const Config& cfg, const std::vector<uint32_t>& rule_ids, const Origins* origins) {
  const Origins none;
  std::vector<std::string> errors;
  Report report{origins ? *origins : none, errors};
  for (size_t i = 0; i < cfg.evidence.triggers.size(); ++i) {
    const Trigger& t = cfg.evidence.triggers[i];
    if (t.type == TriggerType::kPayload && std::find(rule_ids.begin(), rule_ids.end(), t.rule) == rule_ids.end())
      report(fmt::format("evidence.triggers[{}].rule", i), fmt::format("rule {} is not defined in {}", t.rule, cfg.rules.file));
  }
  if (!errors.empty()) return Error{detail::join(errors, "\n")};
  return true;
}

Result<bool> validate_bpf(const Config& cfg, const std::function<std::string(const std::string&)>& check,
                          const Origins* origins) {
  const Origins none;
  std::vector<std::string> errors;
  Report report{origins ? *origins : none, errors};
  if (!cfg.evidence.capture_filter.empty())
    if (std::string why = check(cfg.evidence.capture_filter); !why.empty())
      report("evidence.capture_filter", fmt::format("'{}' does not compile: {}", cfg.evidence.capture_filter, why));
  for (size_t i = 0; i < cfg.evidence.triggers.size(); ++i) {
    const Trigger& t = cfg.evidence.triggers[i];
    if (t.type != TriggerType::kBpf) continue;
    if (std::string why = check(t.expr); !why.empty())
      report(fmt::format("evidence.triggers[{}].expr", i), fmt::format("'{}' does not compile: {}", t.expr, why));
  }
  if (!errors.empty()) return Error{detail::join(errors, "\n")};
  return true;
}

Result<bool> validate_before_start(const Config& cfg, const StartEnvironment& env, const Origins* origins) {
  const Origins none;
  std::vector<std::string> errors;
  Report report{origins ? *origins : none, errors};

  if (!cfg.rules.file.empty() && env.rules_file)
    if (std::string why = env.rules_file(cfg.rules.file); !why.empty()) report("rules.file", why);

  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    const PortConfig& p = cfg.ports[i];
    if (!p.replay.empty() && env.capture_file)
      if (std::string why = env.capture_file(p.replay); !why.empty())
        report(port_path(i, "replay"), fmt::format("cannot replay '{}': {}", p.replay, why));
    if (p.devargs.empty()) continue;
    const std::string name = p.devargs.substr(0, p.devargs.find(','));
    const bool pcap = name.starts_with("net_pcap") || name.starts_with("eth_pcap");
    const bool af_packet = name.starts_with("net_af_packet") || name.starts_with("eth_af_packet");
    // net_pcap stamps each frame with its capture time only when it reads the file as it
    // goes; with infinite_rx=1 it loops its copy in memory and stamps nothing.
    if (pcap && p.timestamps == Timestamps::kHw)
      if (const auto inf = devargs_values(p.devargs, "infinite_rx"); !inf.empty() && inf.back() == "1")
        report(port_path(i, "timestamps"), fmt::format("{} with infinite_rx=1 stamps no frame (it loops its copy of the "
                                                       "file in memory): timestamps: hw cannot be honoured; use auto or "
                                                       "tsc (the host's clock), or a replay port", name));
    if (pcap && env.capture_file)
      for (const std::string& f : devargs_values(p.devargs, "rx_pcap"))
        if (std::string why = env.capture_file(f); !why.empty())
          report(port_path(i, "devargs"), fmt::format("{}: rx_pcap '{}' cannot be read: {}", name, f, why));
    if (env.interface_exists) {
      std::vector<std::string> ifaces;
      if (af_packet) ifaces = devargs_values(p.devargs, "iface");
      if (pcap)
        for (const char* key : {"iface", "rx_iface", "rx_iface_in"})
          for (std::string& v : devargs_values(p.devargs, key)) ifaces.push_back(std::move(v));
      for (const std::string& f : ifaces)
        if (!env.interface_exists(f))
          report(port_path(i, "devargs"),
                 fmt::format("{}: no network interface '{}' here (`ip link` lists them; an interface inside a network "
                             "namespace needs seqwatch started in it: ip netns exec NS seqwatch ...)", name, f));
    }
  }

  if (!cfg.eal.no_huge && env.hugepages) {
    const Hugepages h = env.hugepages();
    bool socket_mem = false;  // --socket-mem in extra_args replaces -m (eal_arguments)
    bool in_memory = false;   // --in-memory: DPDK may take hugepages through memfd, without a mount
    for (const auto& e : cfg.eal.extra_args) {
      socket_mem |= e.rfind("--socket-mem", 0) == 0;
      in_memory |= e == "--in-memory";
    }
    if (h.reserved_mb == 0)
      report("eal.no_huge", "no hugepages are reserved on this machine (/sys/kernel/mm/hugepages/*/nr_hugepages are 0): "
                            "reserve some (e.g. echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages "
                            "for 2 GiB, or hugepages= on the kernel command line), or set eal.no_huge: true to run "
                            "from ordinary memory");
    else if (!h.mounted && !in_memory)
      report("eal.no_huge", fmt::format("{} MiB of hugepages are reserved but no hugetlbfs is mounted (/proc/mounts): "
                                        "mount one (mount -t hugetlbfs nodev /dev/hugepages), or set eal.no_huge: true",
                                        h.reserved_mb));
    else if (!socket_mem && h.free_mb < cfg.eal.memory_mb)
      report("eal.memory_mb", fmt::format("{} MiB asked from hugepages, but only {} MiB of the {} MiB reserved are "
                                          "free: reserve more hugepages, stop what holds them, or lower eal.memory_mb",
                                          cfg.eal.memory_mb, h.free_mb, h.reserved_mb));
  }

  if (!errors.empty()) return Error{detail::join(errors, "\n")};
  return true;
}

Result<bool> validate_against(const Config& cfg, const Environment& env, const Origins* origins) {
  const Origins none;
  std::vector<std::string> errors;
  Report report{origins ? *origins : none, errors};

  if (env.lcore_count > 0) {
    if (auto ids = parse_lcore_list(cfg.eal.lcores); ids.ok()) {
      std::vector<uint32_t> missing;
      for (uint32_t id : ids.value()) {
        // workers.share_cpus: worker lcores beyond the machine run on its CPUs, shared (the
        // main lcore is the EAL's own and must exist).
        if (cfg.workers.share_cpus && id != ids.value().front()) continue;
        if (id >= env.lcore_count) missing.push_back(id);
      }
      if (!missing.empty()) {  // one message, however many (eal.lcores 0-300 on a 2-CPU machine)
        std::string which = missing.size() == 1 ? fmt::format("lcore {} does not", missing[0])
                            : missing.size() <= 4 ? fmt::format("lcores {} do not", fmt::join(missing, ", "))
                                                  : fmt::format("{} lcores ({}, {}, ..., {}) do not", missing.size(),
                                                                missing[0], missing[1], missing.back());
        report("eal.lcores", fmt::format("{} exist: this machine has {} lcore{} (0-{})", which, env.lcore_count,
                                         env.lcore_count == 1 ? "" : "s", env.lcore_count - 1));
      }
    }
  }

  std::vector<std::string> probed;
  for (const auto& c : env.ports) probed.push_back(c.id);
  const std::string probed_list = probed.empty() ? "none" : detail::join(probed, ", ");
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    const PortConfig& p = cfg.ports[i];
    if (p.pci.empty() && p.devargs.empty() && p.replay.empty()) {
      report(port_path(i, "pci"), fmt::format("port '{}' has no device: set pci (a NIC, e.g. 0000:3b:00.0), devargs "
                                              "(a vdev, e.g. net_af_packet0,iface=eth1) or replay (a capture file)", p.name));
      continue;
    }
    const std::string id = device_id(p);
    const auto cap = std::find_if(env.ports.begin(), env.ports.end(), [&](const PortCapabilities& c) { return c.id == id; });
    if (cap == env.ports.end()) {
      if (!p.pci.empty())
        report(port_path(i, "pci"), fmt::format("no DPDK device at {} (probed: {}); bind the NIC to vfio-pci with "
                                                "dpdk-devbind.py and check eal.extra_args for -a/-b filters", id, probed_list));
      else
        report(port_path(i, "devargs"), fmt::format("the vdev {} was not created (probed: {}): its driver refused "
                                                    "its arguments, for the reason DPDK gives in its lines above",
                                                    id, probed_list));
      continue;
    }
    const uint32_t q = effective_rx_queues(cfg, p);
    if (cap->max_rx_queues > 0 && q > cap->max_rx_queues)
      report(port_path(i, "rx_queues"),
             fmt::format("{} RX queues asked (rx_queues {}, workers.count {}) but {} offers at most {}; lower them, or set "
                         "rss: off and rehash: software", q, p.rx_queues, cfg.workers.count, id, cap->max_rx_queues));
    if (cap->max_rx_descriptors > 0 && p.rx_descriptors > cap->max_rx_descriptors)
      report(port_path(i, "rx_descriptors"),
             fmt::format("{} descriptors but {} offers at most {} per queue", p.rx_descriptors, id, cap->max_rx_descriptors));
    if (p.rss == Rss::kSymmetric && q > 1 && !cap->rss)
      report(port_path(i, "rss"), fmt::format("{} cannot do RSS, so {} queues would not share the traffic; set rss: off "
                                              "and rehash: software", id, q));
    if (p.timestamps == Timestamps::kHw && !cap->hw_timestamps)
      report(port_path(i, "timestamps"), fmt::format("{} gives no hardware timestamps; use auto (hw where offered, "
                                                     "TSC otherwise) or tsc", id));
  }

  if (env.check_bpf)
    if (auto ok = validate_bpf(cfg, env.check_bpf, origins); !ok) errors.push_back(ok.error().message);
  if (env.rule_ids_known)
    if (auto ok = validate_rule_ids(cfg, env.rule_ids, origins); !ok) errors.push_back(ok.error().message);

  if (!errors.empty()) return Error{detail::join(errors, "\n")};
  return true;
}

}  // namespace seqwatch::config
