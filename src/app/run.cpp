// `seqwatch run --pipeline FILE`: the live appliance. Loads the layered configuration,
// starts the DPDK EAL and the ports (one RX queue per worker with symmetric RSS, or the
// software rehash stage), runs the engine until SIGINT/SIGTERM (or --duration), and keeps
// the control thread's promises: outputs in one run folder, stats lines every
// outputs.stats_interval_s, SIGHUP re-opens the JSON-lines files, and every file is
// flushed and closed before the final report.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <net/if.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

#include "app/commands.hpp"
#include "app/evidence_out.hpp"
#include "app/queue_report.hpp"
#include "app/report.hpp"
#include "app/summary.hpp"
#include "evidence/bpf_filter.hpp"
#include "config/config.hpp"
#include "event/json_writer.hpp"
#include "match/payload_matcher.hpp"
#include "runtime/dpdk_source.hpp"
#include "runtime/eal.hpp"
#include "runtime/replay_port.hpp"
#include "runtime/engine.hpp"
#include "telemetry/collect.hpp"

namespace seqwatch::app {

namespace {

namespace fs = std::filesystem;

std::atomic<bool> g_run_stop{false};      // stop: a signal or --duration
std::atomic<int> g_signals{0};        // SIGINT/SIGTERM received
std::atomic<bool> g_reopen{false};

void on_stop(int) {
  if (g_signals.fetch_add(1) != 0) {  // second signal: the user insists
    static const char msg[] = "\nseqwatch: second signal: exiting at once; outputs are left as they are (not completed)\n";
    [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);  // async-signal-safe
    _exit(130);
  }
  g_run_stop.store(true);
}
void on_hup(int) { g_reopen.store(true); }

// A start refused because the configuration does not fit this machine (exit 2, as a
// rejected key): `lines` are "FILE:LINE:COL: key: reason".
int unfit(const std::string& lines) {
  std::fprintf(stderr, "seqwatch: configuration does not fit this machine:\n%s\n", lines.c_str());
  return 2;
}

std::string utc_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// Counts the frames net_pcap will deliver from a capture file (it reads through libpcap
// too). `err`: the file cannot be opened at all. `read_error`: libpcap stops before the end
// (a record cut short, a damaged block, a pcapng interface of another link type): net_pcap
// delivers the frames before it and then nothing, so the run must say so.
uint64_t count_pcap_frames(const std::string& path, std::string& err, std::string& read_error) {
  char e[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), e);
  if (p == nullptr) {
    err = e;
    return 0;
  }
  uint64_t n = 0;
  pcap_pkthdr* h;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) ++n;
  if (rc == -1) read_error = pcap_geterr(p);
  pcap_close(p);
  return n;
}

// The JSON-lines files of the run folder (events, flow records, stats lines): rotated by
// size and age (outputs.rotate_bytes / rotate_seconds), re-opened on SIGHUP, each failure
// reported on stderr when it happens and counted in the summary (event::LineFile).
struct LineOutputs {
  event::LineFile events, flows, stats;
  std::vector<std::pair<const char*, event::LineFile*>> all() {
    return {{"events", &events}, {"flow records", &flows}, {"stats lines", &stats}};
  }
  void report_errors() {
    for (auto& [what, f] : all())
      if (const std::string e = f->take_error(); !e.empty())
        std::fprintf(stderr, "seqwatch: %s: %s; lines are kept and retried, and counted if lost\n", what, e.c_str());
  }
};

uint64_t steady_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace

int run_pipeline(const RunOptions& o) {
  std::vector<std::string> files;
  if (!o.config.empty()) files.push_back(o.config);
  if (!o.pipeline.empty()) files.push_back(o.pipeline);
  config::Origins origins;
  auto loaded = config::load_config(files, o.sets, &origins);
  if (!loaded) {
    std::fprintf(stderr, "seqwatch: configuration rejected:\n%s\n", loaded.error().message.c_str());
    return 2;
  }
  const config::Config cfg = loaded.value();
  if (o.show_config) {
    std::fputs(config::render_yaml(cfg).c_str(), stdout);
    return 0;
  }

  std::signal(SIGINT, on_stop);
  std::signal(SIGTERM, on_stop);
  std::signal(SIGHUP, on_hup);
  std::signal(SIGPIPE, SIG_IGN);  // a consumer of "-" going away is a write error, counted, not death

  // Run folder: named now, made once every start check has passed (below), so that a refused
  // start leaves no folder and no config.yaml over an earlier run's.
  fs::path dir = o.out_dir.empty() ? fs::path(cfg.outputs.dir) : fs::path(o.out_dir);
  if (cfg.outputs.run_subdir && o.out_dir.empty()) dir /= utc_stamp();
  auto in_dir = [&](const std::string& p) { return p == "-" || fs::path(p).is_absolute() ? p : (dir / p).string(); };
  if (const std::string why = folder_problem(dir.string()); !why.empty()) {
    if (!o.out_dir.empty()) {
      std::fprintf(stderr, "seqwatch: error: --out: %s\n", why.c_str());
      return 2;
    }
    return unfit(config::located(&origins, "outputs.dir", why));
  }
  // The evidence folder is made at the first slice: refused now rather than every slice lost.
  if (cfg.evidence.enabled)
    if (const std::string why = folder_problem(in_dir(cfg.evidence.dir)); !why.empty())
      return unfit(config::located(&origins, "evidence.dir", why));

  // What the configuration names outside itself, checked before the EAL starts: the rules
  // file (compiled here, once), capture files, interfaces, hugepages.
  std::unique_ptr<PayloadMatcher> matcher;
  config::StartEnvironment start;
  start.rules_file = [&matcher](const std::string& path) -> std::string {
    auto rules = load_rules(path);
    if (!rules) return rules.error().message;
    auto m = PayloadMatcher::compile(std::move(rules.value()));
    if (!m) return m.error().message;
    matcher = std::move(m.value());
    return {};
  };
  start.capture_file = [](const std::string& path) -> std::string {
    char e[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_open_offline(path.c_str(), e);
    if (p == nullptr) {
      unsigned char magic[2] = {};
      if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        const size_t got = std::fread(magic, 1, 2, f);
        std::fclose(f);
        if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b)
          return "gzip-compressed; DPDK ports read plain pcap or pcapng only: gunzip it first (seqwatch analyze "
                 "reads it as it is)";
      }
      return e;
    }
    pcap_close(p);
    return {};
  };
  start.interface_exists = [](const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; };
  start.hugepages = [] {
    const runtime::HugepageInfo h = runtime::hugepage_info();
    return config::Hugepages{h.reserved_mb, h.free_mb, h.mounted};
  };
  if (auto ok = config::validate_before_start(cfg, start, &origins); !ok) return unfit(ok.error().message);

  // EAL.
  // Workers are threads registered with DPDK (rte_thread_register), pinned to the worker
  // lcores' CPUs; the EAL itself runs the control thread on the main (first) lcore.
  auto lcores = config::parse_lcore_list(cfg.eal.lcores);
  if (!lcores || lcores.value().empty()) return fail("eal.lcores: '" + cfg.eal.lcores + "' names no lcore");
  auto worker_lcores = config::parse_lcore_list(cfg.workers.lcores.empty() ? cfg.eal.lcores : cfg.workers.lcores);
  std::vector<int> cpus;
  const unsigned ncpu = std::thread::hardware_concurrency();
  std::vector<uint32_t> absent;  // worker lcores this machine does not have (workers.share_cpus)
  if (worker_lcores) {
    for (uint32_t l : worker_lcores.value()) {
      if (l == lcores.value()[0]) continue;
      if (cpus.size() == cfg.workers.count) break;
      if (l < ncpu) {
        cpus.push_back(static_cast<int>(l));
      } else if (cfg.workers.share_cpus && ncpu != 0) {
        absent.push_back(l);
        cpus.push_back(static_cast<int>(l % ncpu));  // shares the CPU of lcore l mod CPUs
      }
    }
  }
  runtime::EalOptions eal;
  eal.lcores = std::to_string(std::min<uint32_t>(lcores.value()[0], ncpu == 0 ? 0 : ncpu - 1));
  eal.memory_mb = cfg.eal.memory_mb;
  eal.no_huge = cfg.eal.no_huge;
  eal.no_pci = true;
  eal.log_level = static_cast<int>(cfg.eal.log_level) + 1;  // RTE_LOG_EMERG is 1
  eal.extra = cfg.eal.extra_args;
  eal.extra.push_back("--file-prefix=" + cfg.eal.file_prefix);  // names the DPDK telemetry socket folder
  for (const auto& p : cfg.ports) {
    if (!p.pci.empty()) {
      eal.no_pci = false;
      eal.extra.push_back("-a");
      eal.extra.push_back(p.pci);
    } else if (!p.devargs.empty()) {
      eal.vdevs.push_back(p.devargs);
    }
  }
  if (auto ok = runtime::eal_init(eal); !ok) {
    // The EAL says why in its own words above; a vdev driver DPDK does not have is named here.
    std::vector<std::string> drivers;
    for (size_t i = 0; i < cfg.ports.size(); ++i)
      if (const std::string why = runtime::vdev_driver_problem(cfg.ports[i].devargs);
          !cfg.ports[i].devargs.empty() && !why.empty())
        drivers.push_back(config::located(&origins, fmt::format("ports[{}].devargs", i), why));
    if (!drivers.empty()) return unfit(fmt::format("{}", fmt::join(drivers, "\n")));
    std::string msg = ok.error().message;
    if (!cfg.eal.extra_args.empty())
      msg += "\n" + config::located(&origins, "eal.extra_args", "passed to the EAL as they are: check them too");
    return fail(msg);
  }

  // Replay ports: the file is loaded and its net_ring ethdev created now, so the checks
  // below see the port like any other.
  std::map<std::string, std::unique_ptr<runtime::ReplayPort>> replays;  // by port name
  for (const auto& p : cfg.ports) {
    if (p.replay.empty()) continue;
    runtime::ReplayConfig rc;
    rc.name = p.name;
    rc.file = p.replay;
    rc.queues = static_cast<uint16_t>(config::effective_rx_queues(cfg, p));
    rc.ring_size = p.rx_descriptors;
    rc.rate_pps = p.replay_rate_pps;
    rc.shift_seq = p.replay_shift_seq;
    rc.passes = p.replay_passes;
    rc.key_vlans = cfg.flow_table.key_vlans;
    auto r = runtime::ReplayPort::create(rc);
    if (!r) {
      runtime::eal_cleanup();
      return fail(config::located(&origins, fmt::format("ports[{}].replay", &p - cfg.ports.data()), r.error().message));
    }
    replays[p.name] = std::move(r.value());
  }

  // What the machine has, checked against the configuration.
  config::Environment env;
  env.lcore_count = std::thread::hardware_concurrency();
  for (const auto& p : cfg.ports) {
    config::PortCapabilities cap;
    cap.id = config::port_device(p);
    uint16_t id;
    if (rte_eth_dev_get_port_by_name(cap.id.c_str(), &id) != 0) continue;  // validate_against names it
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) == 0) {
      cap.max_rx_queues = info.max_rx_queues;
      cap.max_rx_descriptors = info.rx_desc_lim.nb_max;
      cap.rss = info.flow_type_rss_offloads != 0 || !p.replay.empty();  // a replay's feeder spreads by the flow hash
      cap.hw_timestamps = (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) || cap.id.rfind("net_pcap", 0) == 0 ||
                          !p.replay.empty();  // the feeder stamps each frame's capture time
    }
    env.ports.push_back(cap);
  }
  if (matcher) {
    for (const auto& r : matcher->rules()) env.rule_ids.push_back(r.id);
    env.rule_ids_known = true;
  }
  // BPF filters compile for the link type the workers will see (the first port's: Ethernet,
  // or a replay file's own), so a bad one is named with its key and file now, not by the engine.
  decode::LinkType filter_link = decode::LinkType::kEthernet;
  if (!cfg.ports.empty())
    if (const auto r = replays.find(cfg.ports[0].name); r != replays.end()) filter_link = r->second->link_type();
  env.check_bpf = [filter_link](const std::string& expr) { return evidence::BpfFilter::problem(expr, filter_link); };
  if (auto ok = config::validate_against(cfg, env, &origins); !ok) {
    replays.clear();
    runtime::eal_cleanup();
    return unfit(ok.error().message);
  }
  if (!absent.empty()) {
    const std::set<int> used(cpus.begin(), cpus.end());
    const bool one = absent.size() == 1;
    fmt::print(stderr,
               "seqwatch: warning: workers.share_cpus: the {} workers share {} CPU{} (this machine has {}; worker "
               "lcore{} {} {} beyond them and run{} on CPU lcore mod {}): per-worker packet rates, busy ratios and "
               "cycles per packet are not per-core figures\n",
               cpus.size(), used.size(), used.size() == 1 ? "" : "s", ncpu, one ? "" : "s", fmt::join(absent, ","),
               one ? "is" : "are", one ? "s" : "", ncpu);
  }

  // Ports and their queues.
  std::vector<std::unique_ptr<runtime::DpdkPortSource>> queues;
  std::vector<std::string> read_errors;  // capture files net_pcap reads only in part
  size_t recorded_files = 0;             // rx_pcap files of net_pcap ports (a recorded queue each)
  bool all_recorded = true;              // every queue is a file net_pcap reads on demand
  bool software_rehash = false, lossless = true;
  for (const auto& p : cfg.ports) {
    runtime::PortConfig pc;
    pc.name = config::port_device(p);
    pc.rx_queues = static_cast<uint16_t>(config::effective_rx_queues(cfg, p));
    pc.rss = p.rss == config::Rss::kSymmetric;
    pc.promiscuous = p.promiscuous;
    pc.rx_desc = static_cast<uint16_t>(std::min<uint32_t>(p.rx_descriptors, 32768));
    pc.mbufs = config::effective_mbufs(cfg, p);
    software_rehash |= p.rehash == config::Rehash::kSoftware;
    pc.timestamps = p.timestamps == config::Timestamps::kHw    ? runtime::PortConfig::Timestamps::kHw
                    : p.timestamps == config::Timestamps::kTsc ? runtime::PortConfig::Timestamps::kTsc
                                                               : runtime::PortConfig::Timestamps::kAuto;
    bool finite = false;
    if (const auto r = replays.find(p.name); r != replays.end()) {
      pc.rss = false;        // the feeder already spread the frames over the rings
      pc.mbufs = 1023;       // the ring PMD never allocates from the port's own pool
      pc.wire_lengths = false;
      pc.timestamp_unit_ns = 1;  // the feeder stamps capture times in ns
      pc.link = r->second->link_type();
      if (p.replay_passes != 0) {  // rate 0: nothing is dropped, every frame arrives
        for (uint64_t n : r->second->queue_frames()) pc.queue_frames.push_back(n * p.replay_passes);
        finite = true;
      }
    } else if (pc.name.rfind("net_pcap", 0) == 0) {
      pc.timestamp_unit_ns = 1000;  // net_pcap stamps microseconds
      pc.wire_lengths = false;
      // One RX queue per rx_pcap= file, in order (a multi-queue replay: each file is what
      // the NIC would have put on that queue).
      const std::vector<std::string> rx = config::devargs_values(p.devargs, "rx_pcap");
      recorded_files += rx.size();
      std::vector<uint64_t> frames;
      uint64_t total = 0;
      for (const std::string& f : rx) {
        std::string err, damaged;
        frames.push_back(count_pcap_frames(f, err, damaged));
        if (!err.empty())
          return fail(config::located(&origins, fmt::format("ports[{}].devargs", &p - cfg.ports.data()),
                                      "rx_pcap '" + f + "': " + err));
        if (!damaged.empty()) {
          read_errors.push_back(fmt::format("rx_pcap '{}': net_pcap reads it only up to frame {}, where libpcap "
                                            "stops: {}", f, frames.back(), explain_libpcap_stop(damaged)));
          std::fprintf(stderr, "seqwatch: warning: %s\n",
                       config::located(&origins, fmt::format("ports[{}].devargs", &p - cfg.ports.data()),
                                       read_errors.back()).c_str());
        }
        total += frames.back();
      }
      if (!rx.empty()) {
        if (const auto inf = config::devargs_values(p.devargs, "infinite_rx"); !inf.empty() && inf.back() == "1") {
          // net_pcap loads the whole file into mbufs once and loops over them.
          uint32_t need = static_cast<uint32_t>(total) + 2u * pc.rx_desc * pc.rx_queues + 1024u;
          uint32_t pool = 1023;
          while (pool < need) pool = pool * 2 + 1;
          pc.mbufs = std::max(pc.mbufs, pool);
        } else {
          // A finite replay: each queue is done after the last frame of its file.
          frames.resize(pc.rx_queues, 0);
          pc.queue_frames = frames;
          finite = true;
        }
      }
    }
    if (pc.name.rfind("net_af_packet", 0) == 0) {
      // The af_packet PMD's mbuf length is what its PACKET_MMAP frame held (framesz, 2048 by
      // default), not the frame's: a jumbo frame or a GRO/GSO aggregate on the interface comes
      // cut. As for a snaplen-cut file, the IP length then says how long the segment was.
      pc.wire_lengths = false;
      // A larger framesz= (whole jumbo frames) needs mbufs that hold one ring frame each.
      if (const auto fs = config::devargs_values(p.devargs, "framesz"); !fs.empty()) pc.frame_bytes = std::stoul(fs.back());
    }
    if (!finite) lossless = false;  // a live port never waits for a worker
    // A replay feeds its rings from a thread of its own (not read on demand): not merged.
    if (!finite || replays.count(p.name) != 0) all_recorded = false;
    auto qs = runtime::DpdkPortSource::open_queues(pc);
    if (!qs) return fail(config::located(&origins, fmt::format("ports[{}]", &p - cfg.ports.data()), qs.error().message));
    if (const auto r = replays.find(p.name); r != replays.end())
      qs.value()[0]->set_rss_note(fmt::format("replay of {} ({} frames, {}) spread over {} queue{} by the symmetric flow "
                                              "hash; {}", p.replay, r->second->frames(),
                                              p.replay_shift_seq ? fmt::format("sequence numbers shifted per pass on {} "
                                                                               "connections", r->second->shifted_flows())
                                                                 : "sequence numbers as in the file",
                                              pc.rx_queues, pc.rx_queues == 1 ? "" : "s",
                                              p.replay_rate_pps > 0 ? fmt::format("paced at {:.0f} frames/s, a full "
                                                                                  "queue is a drop (imissed)",
                                                                                  p.replay_rate_pps)
                                                                    : "as fast as the workers take frames (no loss)"));
    for (auto& q : qs.value()) queues.push_back(std::move(q));
  }
  std::vector<PacketSource*> inputs;
  for (auto& q : queues) inputs.push_back(q.get());
  // The rehash stage merges queues that are all recorded files by packet time (as mergecap
  // does). Alongside a live or replayed queue it takes each queue's frames as they come, so
  // a connection whose two directions are in different files would reach its worker out of
  // time order (false retransmissions): said, not hidden.
  const bool merge_by_time = software_rehash && all_recorded && queues.size() > 1;
  if (software_rehash && recorded_files > 1 && !merge_by_time)
    std::fprintf(stderr,
                 "seqwatch: warning: rehash: software over %zu recorded queue files alongside live or replayed "
                 "queues: the files are not merged by packet time, so a connection whose two directions are in "
                 "different files is analysed out of order (false retransmissions); run the files in a pipeline of "
                 "their own, where they are merged\n",
                 recorded_files);

  runtime::EngineConfig ec;
  ec.workers = cfg.workers.count;
  ec.burst = static_cast<uint16_t>(cfg.workers.burst);
  ec.matcher = matcher.get();
  ec.software_rehash = software_rehash;
  ec.merge_by_time = merge_by_time;
  ec.lossless = lossless;
  ec.tcp.table.capacity = cfg.flow_table.capacity;
  ec.tcp.table.idle_timeout_ns = static_cast<uint64_t>(cfg.flow_table.idle_timeout_s * 1e9);
  ec.tcp.table.closed_linger_ns = static_cast<uint64_t>(cfg.flow_table.closed_linger_s * 1e9);
  ec.tcp.active_timeout_ns = static_cast<uint64_t>(cfg.flow_table.active_timeout_s * 1e9);
  ec.tcp.key_vlans = cfg.flow_table.key_vlans;
  ec.tcp.table.prefault = cfg.flow_table.prefault;
  ec.tcp.event_ring = cfg.tcp.event_ring;
  ec.tcp.record_ring = cfg.tcp.record_ring;
  ec.tcp.copy_window_us = static_cast<uint32_t>(cfg.tcp.copy_window_ms * 1000);
  ec.tcp.copy_slots = cfg.tcp.copy_slots;
  ec.payload_events = matcher != nullptr;
  ec.capture_filter = cfg.evidence.capture_filter;
  set_bpf_jit(ec, cfg.evidence);
  auto ev_setup = evidence_setup(cfg.evidence, cfg.flow_table.capacity);
  if (!ev_setup) return fail(ev_setup.error().message);
  ec.evidence = ev_setup.value();
  ec.thread_init = [] { rte_thread_register(); };
  ec.flow_samples = cfg.imbalance.samples;  // 1 packet in 64: the imbalance diagnosis (outer vs inner hash)
  ec.cpus = cpus;  // worker i on cpus[i]; with workers.share_cpus several workers share a CPU
  auto engine_r = runtime::Engine::create(ec, inputs);
  if (!engine_r) return fail(engine_r.error().message);
  runtime::Engine& engine = *engine_r.value();

  // The run folder and its config.yaml (under a temporary name until the start succeeded;
  // a start refused from here on removes what it made).
  // What this start creates, taken back if it is refused from here on: its own files, then
  // the folders it made, innermost first, each only while empty (what another process put
  // there meanwhile stays).
  std::vector<fs::path> made;  // folders, innermost first
  const bool own_folder = cfg.outputs.run_subdir && o.out_dir.empty();
  for (fs::path p = own_folder ? dir.parent_path() : dir; !p.empty() && !fs::exists(p); p = p.parent_path()) {
    made.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::vector<fs::path> created;  // files
  std::error_code dir_err;
  fs::create_directories(own_folder ? dir.parent_path() : dir, dir_err);
  if (dir_err) return fail("outputs.dir: cannot create '" + dir.string() + "': " + dir_err.message());
  if (own_folder) {
    // The run's own folder is claimed with mkdir, which only one process wins: two runs
    // started in the same second (two sensors started together, a quick restart) get
    // DIR/<stamp> and DIR/<stamp>-2, never one folder with each other's files.
    const fs::path stamp = dir;
    for (unsigned n = 1;; ++n) {
      const fs::path c = n == 1 ? stamp : fs::path(stamp.string() + "-" + std::to_string(n));
      if (::mkdir(c.c_str(), 0755) == 0) {
        dir = c;
        made.insert(made.begin(), c);
        break;
      }
      if (errno != EEXIST || n == 1000)
        return fail("outputs.dir: cannot create '" + c.string() + "': " + std::strerror(errno));
    }
  }
  const fs::path config_new = dir / "config.yaml.starting";
  created.push_back(config_new);
  auto abandon = [&](int rc) {
    std::error_code ec;
    for (const fs::path& f : created) fs::remove(f, ec);
    for (const fs::path& d : made) fs::remove(d, ec);  // fails, harmlessly, on a folder not empty
    return rc;
  };
  {
    std::ofstream c(config_new);
    c << "# effective configuration of this run\n" << config::render_yaml(cfg);
    if (!c) return abandon(fail("cannot write '" + config_new.string() + "'"));
  }

  // Outputs.
  LineOutputs out;
  event::LineFileOptions lopts;
  lopts.rotate_bytes = cfg.outputs.rotate_bytes;
  lopts.rotate_ns = static_cast<uint64_t>(cfg.outputs.rotate_seconds) * 1000000000ull;
  const std::string summary_path = cfg.outputs.summary.enabled ? in_dir(cfg.outputs.summary.path) : "";
  {
    const std::vector<std::pair<std::string, std::string>> paths = {
        {"outputs.events", cfg.outputs.events.enabled ? in_dir(cfg.outputs.events.path) : ""},
        {"outputs.flows", cfg.outputs.flows.enabled ? in_dir(cfg.outputs.flows.path) : ""},
        {"telemetry.stats_file", cfg.telemetry.stats_file.enabled ? in_dir(cfg.telemetry.stats_file.path) : ""},
        {"outputs.summary", summary_path}};
    if (auto dup = same_output(paths); !dup.empty()) return abandon(unfit(dup));
    std::vector<std::string> capture_inputs;  // files the ports read: never an output
    for (const auto& p : cfg.ports) {
      if (!p.replay.empty()) capture_inputs.push_back(p.replay);
      for (std::string& f : config::devargs_values(p.devargs, "rx_pcap")) capture_inputs.push_back(std::move(f));
    }
    std::vector<std::pair<std::string, std::string>> written = paths;
    written.emplace_back("outputs.dir", (dir / "config.yaml").string());
    for (const auto& [key, path] : written)
      if (auto why = output_is_input({{key, path}}, capture_inputs); !why.empty())
        return abandon(unfit(config::located(&origins, key, why.substr(key.size() + 2))));
    // A file inside the run folder may name a subfolder of it ("logs/events.jsonl"): made
    // here. Every output (the summary is written at the end) is checked before any is opened:
    // opening truncates, and a start refused at the second would have emptied an earlier
    // run's first one in the same folder (--out, run_subdir: false).
    for (const auto& [key, path] : paths) {
      if (path.empty() || path == "-") continue;
      std::error_code ec;
      if (path.rfind((dir / "").string(), 0) == 0) {
        std::vector<fs::path> sub;
        for (fs::path p = fs::path(path).parent_path(); p != dir && !fs::exists(p, ec); p = p.parent_path()) sub.push_back(p);
        made.insert(made.begin(), sub.begin(), sub.end());
        fs::create_directories(fs::path(path).parent_path(), ec);
      }
      if (const std::string why = output_file_problem(path); !why.empty())
        return abandon(unfit(config::located(&origins, key, why)));
      if (key != "outputs.summary" && !fs::exists(path, ec)) created.push_back(path);
    }
    event::LineFile* files[] = {&out.events, &out.flows, &out.stats};
    for (size_t i = 0; i < 3; ++i)
      if (!paths[i].second.empty() && !files[i]->open(paths[i].second, false, lopts, steady_ns()))
        return abandon(unfit(config::located(&origins, paths[i].first, files[i]->take_error())));
  }
  std::FILE* report_out = (out.events.is_stdout() || out.flows.is_stdout() || out.stats.is_stdout() ||
                           summary_path == "-")
                              ? stderr
                              : stdout;
  event::JsonLinesWriter events(out.events), flows(out.flows);

  fmt::print(report_out, "seqwatch run: {} port(s), {} queue(s), {} worker(s){}; outputs in {}\n", cfg.ports.size(),
             queues.size(), engine.workers(),
             engine.merging()     ? " behind the software rehash stage (recorded queues merged by packet time)"
             : engine.rehashing() ? " behind the software rehash stage"
                                  : "",
             dir.string());
  for (const auto& q : queues)
    if (q->queue() == 0 && !q->port().rss_note.empty()) fmt::print(report_out, "  {}: {}\n", q->describe(), q->port().rss_note);
  std::fflush(report_out);

  std::unique_ptr<EvidenceOutput> evidence_out;
  if (cfg.evidence.enabled) {
    auto ev = EvidenceOutput::create(evidence_sink_config(cfg.evidence, in_dir(cfg.evidence.dir), inputs[0]->link_type(),
                                                          ec.evidence, engine.workers()),
                                     cfg.evidence.global_budget_bytes);
    if (!ev) return abandon(fail("evidence: " + ev.error().message));
    evidence_out = std::move(ev.value());
  }
  // Started: this run's settings replace an earlier run's config.yaml.
  {
    std::error_code ec;
    fs::rename(config_new, dir / "config.yaml", ec);
    if (ec) return abandon(fail("cannot write '" + (dir / "config.yaml").string() + "': " + ec.message()));
  }

  // Telemetry: Prometheus / JSON over HTTP, DPDK telemetry commands, stats and imbalance
  // lines. A listen address already in use is reported and the capture goes on without it.
  std::vector<const runtime::DpdkPortSource*> qptrs;
  for (auto& q : queues) qptrs.push_back(q.get());
  telemetry::LiveTelemetry live(cfg, engine, qptrs);
  std::string telemetry_error;  // kept for the summary and the final report, not only stderr
  if (auto ok = live.start(); !ok) {
    telemetry_error = ok.error().message;
    std::fprintf(stderr, "seqwatch: warning: telemetry: %s; running without it\n", telemetry_error.c_str());
  }

  RetransReport report;
  report.set_close_wait_ns(static_cast<uint64_t>(cfg.tcp.close_wait_s * 1e9));
  runtime::EngineSinks sinks;
  sinks.on_sample = [&](const runtime::FlowSample& s) { live.add_sample(s); };
  if (evidence_out) sinks.on_evidence = [&](evidence::RecordRing& r) { return evidence_out->drain(r); };
  sinks.on_event = [&](const event::SegmentEvent& e) {
    report.add_event(e);
    if (!out.events.path().empty()) events.write(e);
  };
  sinks.on_record = [&](const event::FlowRecord& r) {
    report.add(r);
    if (!out.flows.path().empty()) flows.write(r);
  };
  const auto t0 = std::chrono::steady_clock::now();
  // Replay feeders start once every worker polls, so no frame is lost to a worker that
  // has not started yet.
  bool replaying = replays.empty();
  sinks.on_tick = [&] {
    if (!replaying) {
      bool polling = true;
      for (unsigned i = 0; i < engine.workers(); ++i)
        polling &= engine.worker(i).state().idle_polls + engine.worker(i).state().bursts != 0;
      if (polling) {
        for (auto& [name, r] : replays) r->start(g_run_stop);
        replaying = true;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - t0).count();
    if (o.duration_s > 0 && elapsed >= o.duration_s) g_run_stop.store(true);
    const uint64_t now_ns = steady_ns();
    if (g_reopen.exchange(false)) {  // log rotation: the old files were renamed away
      for (auto& [what, f] : out.all()) f->reopen(now_ns);
      if (evidence_out) evidence_out->reopen_index();
    }
    if (evidence_out) {
      timespec wall{};
      clock_gettime(CLOCK_REALTIME, &wall);
      evidence_out->tick(static_cast<uint64_t>(wall.tv_sec) * 1000000000ull + static_cast<uint64_t>(wall.tv_nsec));
    }
    for (const auto& l : live.tick(elapsed, [&] { return report.to_json(10); }))
      if (!out.stats.path().empty()) out.stats.write(l);
    for (auto& [what, f] : out.all()) f->tick(now_ns);
    out.report_errors();
  };
  live.begin();
  engine.run(g_run_stop, sinks);
  for (auto& [name, r] : replays) r->stop();
  // The last counters are judged too: a replay can end before the first stats interval.
  for (const auto& l : live.finish(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                                   [&] { return report.to_json(10); }))
    if (!out.stats.path().empty()) out.stats.write(l);

  // Final report.
  auto j = engine_summary(engine, matcher.get(), report, 10);
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& q : queues) {
    if (q->queue() != 0) continue;
    const auto ps = q->port_stats();
    uint64_t host_stamped = 0;  // over the port's queues
    for (const auto& o : queues)
      if (&o->port() == &q->port()) host_stamped += o->host_stamped();
    ports.push_back({{"port", q->describe()}, {"ipackets", ps.ipackets}, {"imissed", ps.imissed},
                     {"ierrors", ps.ierrors}, {"rx_nombuf", ps.rx_nombuf}, {"host_stamped", host_stamped}});
  }
  j["ports"] = ports;
  // Packets per RX queue over the whole run (the stats lines give them per window).
  // Named as the configuration names the port: the k-th distinct device is cfg.ports[k] (as
  // the telemetry snapshot names it).
  nlohmann::json qj = nlohmann::json::array();
  std::vector<uint16_t> port_ids;
  for (size_t i = 0; i < queues.size(); ++i) {
    const uint16_t id = queues[i]->port().id;
    size_t k = std::find(port_ids.begin(), port_ids.end(), id) - port_ids.begin();
    if (k == port_ids.size()) port_ids.push_back(id);
    qj.push_back({{"port", k < cfg.ports.size() ? cfg.ports[k].name : queues[i]->describe()},
                  {"queue", queues[i]->queue()}, {"packets", queues[i]->received()},
                  {"worker", engine.rehashing() ? -1 : static_cast<int>(i)}});
  }
  j["queues"] = qj;
  if (!replays.empty()) {
    nlohmann::json rj = nlohmann::json::array();
    for (const auto& [name, r] : replays)
      rj.push_back({{"port", name}, {"ethdev", r->ethdev()}, {"frames", r->frames()}, {"frames_skipped", r->skipped()},
                    {"shifted_connections", r->shifted_flows()}, {"passes", r->passes()}, {"sent", r->sent()},
                    {"dropped", r->dropped()}, {"left_in_queues", r->in_rings()}});
    j["replay"] = rj;
  }
  if (evidence_out) {
    evidence_out->close();
    j["evidence"] = evidence_out->summary(engine);
  }
  j["stopped_by_signal"] = g_signals.load() != 0;
  j["imbalance_events"] = live.events();
  if (!read_errors.empty()) j["read_errors"] = read_errors;
  if (!telemetry_error.empty()) j["telemetry_error"] = telemetry_error;

  // Every output is completed before the human report is printed (a reader of standard
  // output that went away costs the report, not the files).
  bool ok = true;
  nlohmann::json line_files = nlohmann::json::object();
  for (auto& [what, f] : out.all()) {
    if (f->path().empty()) continue;
    ok &= f->close();
    line_files[f == &out.events ? "events" : f == &out.flows ? "flows" : "stats"] = line_file_json(*f);
  }
  out.report_errors();
  j["output_files"] = line_files;
  if (evidence_out) ok &= evidence_out->complete();
  if (!summary_path.empty()) ok &= write_summary(summary_path, j);

  ok &= print_or_fail([&] {
    const std::string title = fmt::format("seqwatch run: {} port(s), {} queue(s){}", cfg.ports.size(), queues.size(),
                                          j["stopped_by_signal"].get<bool>() ? ", stopped by signal" : "");
    print_engine_report(report_out, title, engine, report, j, 10);
    for (const auto& p : j["ports"])
      fmt::print(report_out, "  port stats     {}: ipackets {}, imissed {}, ierrors {}, rx_nombuf {}\n",
                 p["port"].get<std::string>(), p["ipackets"].get<uint64_t>(), p["imissed"].get<uint64_t>(),
                 p["ierrors"].get<uint64_t>(), p["rx_nombuf"].get<uint64_t>());
    print_queue_report(report_out, j);
    for (const auto& p : j["ports"])
      if (p["host_stamped"].get<uint64_t>() != 0)
        fmt::print(report_out, "  timestamps     {}: {} frame(s) came without the device's timestamp and carry the "
                               "host's clock\n", p["port"].get<std::string>(), p["host_stamped"].get<uint64_t>());
    for (auto& [what, f] : out.all()) {
      const auto& c = f->counters();
      if (c.lost != 0 || c.write_errors != 0)
        fmt::print(report_out, "  {:<14} {} line(s) LOST, {} write error(s) on '{}'\n", what, c.lost, c.write_errors,
                   f->path());
    }
    if (evidence_out) fmt::print(report_out, "  evidence       {}\n", evidence_out->describe(engine));
    for (const std::string& e : read_errors) fmt::print(report_out, "  READ ERROR     {}\n", e);
    if (!telemetry_error.empty()) fmt::print(report_out, "  TELEMETRY      not served: {}\n", telemetry_error);
    fmt::print(report_out, "  outputs        {}\n", dir.string());
  });
  queues.clear();
  engine_r.value().reset();
  replays.clear();  // after the ethdevs that use their rings are closed
  runtime::eal_cleanup();
  if (!ok) return fail("some output could not be written completely (disk full?): see the lines above and the summary");
  // A damaged capture file was analysed only in part: not a clean run, as for analyze.
  if (!read_errors.empty()) return fail("a capture file could only be read in part: see READ ERROR above and "
                                        "read_errors in the summary");
  return 0;
}

}  // namespace seqwatch::app
