// seqwatch configuration: every setting of the appliance, with production defaults.
//
// A Config is plain data. It is built by load_config() from layered YAML files (the
// defaults in config/seqwatch.yaml, then a pipeline overlay, ...) and `--set key=value`
// overrides, and checked twice:
//   * load_config() checks everything that can be known from the text: types, ranges,
//     powers of two, enum values, and the relations between keys (workers vs EAL lcores,
//     budgets, port names);
//   * validate_against() checks what needs the running machine (lcores that exist, ports
//     that were probed, queue and descriptor limits); the runtime fills an Environment
//     with plain numbers and names after rte_eal_init.
// Both report "FILE:LINE:COL: key.path: reason", one line per problem.
//
// The key names, their order, documentation and checks live in one place (schema.hpp);
// the loader, the renderer and the key list are all driven from it. docs/configuration.md
// describes each key; config/seqwatch.yaml holds the defaults below, and a test keeps the
// two equal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace seqwatch::config {

// ---- eal -----------------------------------------------------------------------------
enum class LogLevel : uint8_t { kEmergency, kAlert, kCritical, kError, kWarning, kNotice, kInfo, kDebug };

struct EalConfig {
  std::string lcores = "0-1";          // DPDK -l list; the first lcore is the main (control) lcore
  uint32_t memory_mb = 1024;           // -m: DPDK memory (mempools, rings), MiB
  bool no_huge = false;                // --no-huge: ordinary pages (slower TLB, for labs and CI)
  std::string file_prefix = "seqwatch";  // --file-prefix: lets several instances share a host
  LogLevel log_level = LogLevel::kNotice;  // --log-level for DPDK's own messages
  std::vector<std::string> extra_args;   // appended verbatim to the EAL arguments
  bool operator==(const EalConfig&) const = default;
};

// ---- ports ---------------------------------------------------------------------------
enum class Rss : uint8_t { kSymmetric, kOff };
enum class Rehash : uint8_t { kNone, kSoftware };
enum class Timestamps : uint8_t { kAuto, kHw, kTsc };

struct PortConfig {
  std::string name = "span0";   // label used in stats, metrics and file names
  std::string devargs;          // a vdev: "net_af_packet0,iface=veth0", "net_pcap0,rx_pcap=F"
  std::string pci;              // or a PCI NIC: "0000:3b:00.0"
  uint32_t rx_queues = 0;       // 0 = one per worker
  uint32_t rx_descriptors = 4096;  // per queue, power of two
  uint32_t mbufs = 0;           // mempool size; 0 = derived (see docs/configuration.md)
  bool promiscuous = true;      // a SPAN port carries other hosts' traffic
  Rss rss = Rss::kSymmetric;    // symmetric Toeplitz key: both directions on one queue
  Rehash rehash = Rehash::kNone;  // software: spread by the inner 5-tuple (tunnel-aware)
  Timestamps timestamps = Timestamps::kAuto;  // auto: hw where offered, TSC otherwise
  // Or seqwatch's own in-memory replay port (runtime/replay_port.hpp): this capture file,
  // loaded once and fed in a loop into a net_ring ethdev by a feeder thread. Exactly one
  // of devargs, pci and replay.
  std::string replay;
  double replay_rate_pps = 0;   // 0 = as fast as the workers take frames (no loss); else paced, full queue = imissed
  bool replay_shift_seq = true; // each pass shifts TCP sequence/ACK/SACK numbers: loops read as flows going on
  uint64_t replay_passes = 0;   // 0 = loop until stopped; N = N passes over the file, then the port is done
  bool operator==(const PortConfig&) const = default;
};

// ---- workers -------------------------------------------------------------------------
struct WorkersConfig {
  uint32_t count = 1;     // poll-mode workers, one lcore each
  std::string lcores;     // lcore list for the workers; "" = eal.lcores minus the main lcore
  uint32_t burst = 32;    // packets per rte_eth_rx_burst
  // Accept worker lcores the machine does not have (labs, CI, small VMs): those workers
  // share its CPUs (lcore L runs on CPU L mod CPUs), so per-worker rates and busy ratios
  // are not per-core figures. false = such lcores are refused (validate_against).
  bool share_cpus = false;
  bool operator==(const WorkersConfig&) const = default;
};

// ---- flow_table ----------------------------------------------------------------------
// The one policy the flow table has: a full probe window evicts its least recently active
// flow (counted, its record written). (A "refuse" policy was once listed and never built.)
enum class Eviction : uint8_t { kLru };

struct FlowTableConfig {
  uint32_t capacity = 1u << 20;   // flows per worker (both directions in one entry)
  double idle_timeout_s = 3600;   // no packet for this long (packet time): flow expires
  double closed_linger_s = 60;    // after FIN/FIN or RST: kept this long for late packets
  bool key_vlans = true;          // VLAN ids in the flow key
  Eviction eviction = Eviction::kLru;  // what a full table does with a new flow
  bool prefault = true;           // fault in the whole table at start: no page fault on a worker's first packets
  double active_timeout_s = 0;    // a flow sending in a later period of this length gets an `active` record first; 0 = off
  bool operator==(const FlowTableConfig&) const = default;
};

// ---- tcp -----------------------------------------------------------------------------
struct TcpConfig {
  uint32_t event_ring = 1u << 16;   // per worker, segment events to the control thread
  uint32_t record_ring = 1u << 14;  // per worker, flow records to the control thread
  double copy_window_ms = 100;      // exact copies of a segment this soon after it: duplicate_packet, not analysed (0 = off)
  uint32_t copy_slots = 1u << 16;   // per worker, fingerprints of recent segments for the copy check
  double close_wait_s = 60;         // the report: a half-closed connection silent this long is left half-closed (CLOSE_WAIT?)
  bool operator==(const TcpConfig&) const = default;
};

// ---- outputs -------------------------------------------------------------------------
// An output file: disabled, or a path (relative paths live in the run folder; "-" = stdout).
struct Sink {
  bool enabled = true;
  std::string path;
  // A disabled sink has no path worth comparing.
  bool operator==(const Sink& o) const { return enabled == o.enabled && (!enabled || path == o.path); }
};

struct OutputsConfig {
  std::string dir = "/var/lib/seqwatch";  // parent of the run folders
  bool run_subdir = true;                  // write into DIR/<UTC start time>/ (else DIR itself)
  Sink events{true, "events.jsonl"};       // segment events (docs/events.md)
  Sink flows{true, "flows.jsonl"};         // flow records
  Sink summary{true, "summary.json"};      // final summary and retransmission report
  double stats_interval_s = 10;            // period of the stats lines and imbalance checks
  uint64_t rotate_bytes = 1ull << 30;      // rotate events/flows files at this size; 0 = never
  uint32_t rotate_seconds = 3600;          // and/or after this long; 0 = never
  bool operator==(const OutputsConfig&) const = default;
};

// ---- evidence ------------------------------------------------------------------------
// Trim length of a stored packet: up to the end of the TCP header, or a fixed byte count.
struct Trim {
  bool headers = true;
  uint32_t bytes = 0;  // used when !headers
  bool operator==(const Trim&) const = default;
};

enum class EvidenceFormat : uint8_t { kPcap, kPcapng };
enum class TriggerType : uint8_t {
  kRetransmissionStorm, kDupAckRun, kAckInsideSegment, kZeroWindow, kRst, kSynUnanswered, kPayload, kBpf, kVerdict
};
// bpf triggers a configuration may hold: the capture gives each a bit of a 32-bit mask.
inline constexpr unsigned kMaxBpfTriggers = 32;
// The largest net_af_packet framesz= a port takes: each frame must fit one mbuf, whose data
// room is 16-bit and starts after DPDK's 128-byte headroom.
inline constexpr unsigned kMaxAfPacketFrame = 65535 - 128;

// One trigger. Only the parameters of its type are accepted in YAML; the others keep the
// type's defaults (Trigger::of(type)).
struct Trigger {
  TriggerType type = TriggerType::kRst;
  uint32_t count = 0;        // retransmission_storm: retransmissions ...
  uint32_t window_ms = 0;    // ... within this many milliseconds
  uint32_t min = 0;          // dup_ack_run: duplicate ACKs in a row
  uint32_t min_ms = 0;       // zero_window: advertised zero window for at least this long
  uint32_t rule = 0;         // payload: rule id in rules.file
  std::string expr;          // bpf: tcpdump filter expression
  std::vector<std::string> names;  // verdict: analysis verdicts (docs/events.md), any of which fires it
  std::optional<Trim> trim;  // not supported (rejected: every slice keeps evidence.trim); kept to name the key
  std::optional<uint32_t> post_packets;  // overrides evidence.post_packets
  static Trigger of(TriggerType t);       // the type with its default parameters
  bool operator==(const Trigger&) const = default;
};

struct SamplingConfig {
  uint32_t one_in_n = 0;            // keep 1 packet in N (0 = off)
  double flow_hash_fraction = 0;    // keep whole flows whose symmetric hash falls in this fraction
  bool operator==(const SamplingConfig&) const = default;
};

struct EvidenceConfig {
  bool enabled = true;
  std::string dir = "evidence";           // relative to the run folder
  uint32_t history_packets = 16;          // K: pre-trigger packets kept per flow
  Trim trim{};                            // stored length of each packet (original length kept)
  uint32_t post_packets = 64;             // M: packets written after the trigger
  uint64_t per_flow_budget = 4ull << 20;  // bytes written per flow over the run
  uint64_t global_budget_bytes = 10ull << 30;  // bytes written over the run, all files
  EvidenceFormat format = EvidenceFormat::kPcapng;
  uint64_t rotate_bytes = 256ull << 20;   // start a new file at this size; 0 = never
  uint32_t rotate_seconds = 3600;         // or after this long; 0 = never
  std::vector<Trigger> triggers = {
      Trigger::of(TriggerType::kRetransmissionStorm), Trigger::of(TriggerType::kZeroWindow),
      Trigger::of(TriggerType::kSynUnanswered)};
  SamplingConfig sampling{};
  std::string capture_filter;             // BPF: packets not matching are dropped before analysis
  bool bpf_jit = true;                    // BPF filters as native code (rte_bpf JIT) where the EAL runs
  bool operator==(const EvidenceConfig&) const = default;
};

// ---- telemetry -----------------------------------------------------------------------
struct PrometheusConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1";  // address to bind (an IP literal)
  uint32_t port = 9860;
  bool operator==(const PrometheusConfig&) const = default;
};

struct TelemetryConfig {
  PrometheusConfig prometheus{};
  bool dpdk_telemetry = true;                // register /seqwatch/* telemetry commands
  Sink stats_file{true, "stats.jsonl"};      // periodic JSON-lines stats (every outputs.stats_interval_s)
  bool operator==(const TelemetryConfig&) const = default;
};

// ---- imbalance -----------------------------------------------------------------------
struct ImbalanceConfig {
  double window_s = 10;              // packets per queue / busy cycles per core over this window
  double queue_cv_threshold = 0.5;   // coefficient of variation of packets per queue
  double max_mean_threshold = 2.0;   // busiest queue / mean queue
  double core_skew_threshold = 1.5;  // busiest core / mean core (busy cycles)
  uint64_t min_packets = 10000;      // windows with fewer packets are not judged
  bool samples = true;               // workers hand 1 packet in 64 to the diagnosis (inner vs outer hash)
  bool operator==(const ImbalanceConfig&) const = default;
};

// ---- rules ---------------------------------------------------------------------------
struct RulesConfig {
  std::string file;  // Hyperscan payload rules (config/rules/*.rules); "" = no payload matching
  bool operator==(const RulesConfig&) const = default;
};

struct Config {
  EalConfig eal{};
  std::vector<PortConfig> ports{PortConfig{}};
  WorkersConfig workers{};
  FlowTableConfig flow_table{};
  TcpConfig tcp{};
  OutputsConfig outputs{};
  EvidenceConfig evidence{};
  TelemetryConfig telemetry{};
  ImbalanceConfig imbalance{};
  RulesConfig rules{};
  bool operator==(const Config&) const = default;
};

// Where each key got its value: "ports[0].rx_queues" -> "pipelines/x.yaml:12:5" or
// "--set ports.0.rx_queues=4". Keys left at their defaults are absent.
using Origins = std::map<std::string, std::string>;

// Loads `files` in order (each overrides the keys it names; a list given in a later file
// replaces the earlier list, a map with index keys {0: {...}} patches elements), then
// applies `overrides` ("key.path=value", value parsed as YAML: `ports.0.rss=off`,
// `evidence.triggers=[{type: rst}]`), then checks the relations between keys.
// On error, the message has one line per problem: "FILE:LINE:COL: key.path: reason".
Result<Config> load_config(const std::vector<std::string>& files, const std::vector<std::string>& overrides,
                           Origins* origins = nullptr);

// Applies one YAML document (text) on top of `base`; `source` names it in messages.
// Relations between keys are checked as by load_config.
Result<Config> load_config_text(std::string_view yaml, std::string_view source, const Config& base = Config{},
                                Origins* origins = nullptr);

// What the runtime knows after rte_eal_init and device probing.
struct PortCapabilities {
  std::string id;              // PCI address ("0000:3b:00.0") or vdev name ("net_pcap0")
  uint32_t max_rx_queues = 0;  // rte_eth_dev_info.max_rx_queues
  uint32_t max_rx_descriptors = 0;  // rx_desc_lim.nb_max (0 = unknown)
  bool rss = false;            // flow_type_rss_offloads != 0
  bool hw_timestamps = false;  // RTE_ETH_RX_OFFLOAD_TIMESTAMP or a vdev that stamps (net_pcap)
};

struct Environment {
  uint32_t lcore_count = 0;          // lcores of the machine (ids 0 .. lcore_count-1)
  std::vector<PortCapabilities> ports;  // probed devices
  // Optional checks done by other libraries; each returns "" when the input is fine,
  // else the reason (e.g. pcap_compile's message). Left empty, the check is skipped.
  std::function<std::string(const std::string& bpf)> check_bpf;
  std::vector<uint32_t> rule_ids;    // ids defined in rules.file (payload triggers must name one)
  bool rule_ids_known = false;
};

// Checks `cfg` against the machine; errors in the same form as load_config, located by
// `origins` when given.
Result<bool> validate_against(const Config& cfg, const Environment& env, const Origins* origins = nullptr);
// The part of validate_against that needs no machine: every payload trigger names a rule
// id of `rule_ids` (the rules file's); analyze and extract, which start no port, check this.
Result<bool> validate_rule_ids(const Config& cfg, const std::vector<uint32_t>& rule_ids, const Origins* origins = nullptr);
// The part of validate_against that checks BPF expressions (capture filter, bpf triggers)
// with `check` (Environment::check_bpf), for the link type the caller knows.
Result<bool> validate_bpf(const Config& cfg, const std::function<std::string(const std::string&)>& check,
                          const Origins* origins = nullptr);

// What the start checks learn before rte_eal_init about things the configuration names
// outside itself: capture files, network interfaces, the rules file, hugepages. Each
// callback left empty skips its check.
struct Hugepages {
  uint64_t reserved_mb = 0;  // all sizes (/sys/kernel/mm/hugepages/*/nr_hugepages x size)
  uint64_t free_mb = 0;
  bool mounted = false;      // a hugetlbfs mount exists (/proc/mounts)
};
struct StartEnvironment {
  std::function<std::string(const std::string& path)> capture_file;  // "" when it opens as pcap/pcapng, else why not
  std::function<bool(const std::string& name)> interface_exists;     // a network interface of this namespace
  std::function<std::string(const std::string& path)> rules_file;    // "" when it loads and compiles, else why not
  std::function<Hugepages()> hugepages;                              // asked only when eal.no_huge is false
};

// Checks made before the EAL starts: replay files and net_pcap rx_pcap= files open as
// captures, net_af_packet/net_pcap interfaces exist, the rules file compiles, hugepages are
// reserved, mounted and enough for eal.memory_mb. Errors in the form of load_config's.
Result<bool> validate_before_start(const Config& cfg, const StartEnvironment& env, const Origins* origins = nullptr);

// "FILE:LINE:COL: key: reason" for a problem the runtime found with one key (located by
// where the key, or the nearest enclosing one, was set; "(default)" when it was not).
std::string located(const Origins* origins, const std::string& key, const std::string& reason);

// The arguments of a vdev's devargs "name,k=v,k,...", after the name, in order (empty items
// skipped; `k` alone has no value).
struct DevArg {
  std::string key, value;
  bool has_value = false;
};
std::vector<DevArg> devargs_items(const std::string& devargs);
// Every value of `key` in a vdev's devargs (net_pcap repeats rx_pcap=).
std::vector<std::string> devargs_values(const std::string& devargs, const std::string& key);

// The effective configuration as YAML, every key, in schema order (loads back to `cfg`).
std::string render_yaml(const Config& cfg);

// Every key path of the schema, e.g. "ports[].rss", "evidence.triggers[].count".
std::vector<std::string> key_paths();

// "0-3,8,10-11" (DPDK -l syntax) -> sorted, unique lcore ids.
Result<std::vector<uint32_t>> parse_lcore_list(std::string_view list);

// Helpers for the runtime: effective queue count and mempool size of a port.
uint32_t effective_rx_queues(const Config& cfg, const PortConfig& port);
uint32_t effective_mbufs(const Config& cfg, const PortConfig& port);
// The DPDK ethdev name of a port: the PCI address, the vdev name (devargs before the first
// comma), or "net_ring_NAME" for a replay port.
std::string port_device(const PortConfig& port);

// Names of enum values as they appear in YAML.
std::string_view to_string(LogLevel v);
std::string_view to_string(Rss v);
std::string_view to_string(Rehash v);
std::string_view to_string(Timestamps v);
std::string_view to_string(Eviction v);
std::string_view to_string(EvidenceFormat v);
std::string_view to_string(TriggerType v);

}  // namespace seqwatch::config
