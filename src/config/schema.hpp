// The configuration schema: key names, their order and the checks on each value, written
// once as visit() functions over the Config structs. The loader (load.cpp), the renderer
// (render.cpp) and the key list all walk these functions, so a key cannot be loadable but
// not renderable, or documented under another name. A new member of a Config struct must
// be added here, to config/seqwatch.yaml and to docs/configuration.md (tests check the
// last two against key_paths()).
//
// A visitor V provides:
//   v.field(key, member, checks...)   scalars, enums, strings, Sink, Trim, optionals, lists of strings
//   v.section(key, struct_member)     a nested map
//   v.list(key, vector_of_structs)    a list of maps
// Checks (loader only; the others ignore them): IntRange, Pow2, RealRange, Resolution, Size, and
// Custom (a function returning "" or the reason).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace seqwatch::config::schema {

struct IntRange { uint64_t lo, hi; };
struct Pow2 {};                      // a power of two
struct RealRange { double lo, hi; bool lo_open; };  // lo_open: value must be > lo
// The smallest non-zero value the runtime can hold: a value that is not 0 but below it would
// round to 0 in the internal unit (seconds kept as nanoseconds, ...); `why` says the unit.
struct Resolution { double smallest; std::string_view why; };
struct Size {};                      // byte count; accepts suffixes KiB, MiB, GiB, TiB (K, M, G, T)
template <class T>
struct Custom { std::string (*check)(const T&); };

std::string check_lcore_list(const std::string& s);
std::string check_lcore_list_or_empty(const std::string& s);
std::string check_ip_literal(const std::string& s);
std::string check_not_empty(const std::string& s);
std::string check_port_name(const std::string& s);
std::string check_pci(const std::string& s);
std::string check_devargs(const std::string& s);
std::string check_sink(const Sink& s);
std::string check_trim(const Trim& t);
std::string check_opt_trim(const std::optional<Trim>& t);
std::string check_trigger_trim(const std::optional<Trim>& t);
std::string check_verdict_names(const std::vector<std::string>& names);

constexpr uint64_t kDay_s = 86400;
// Flow-table times run in nanoseconds, the copy window in microseconds.
constexpr Resolution kNanoseconds{1e-9, "seconds are kept in whole nanoseconds"};
constexpr Resolution kMicrosecondsOfMs{1e-3, "0 turns it off; other values are kept in whole microseconds"};
constexpr uint32_t kMaxBurst = 32;           // the workers' burst arrays (runtime kBurstSize)
constexpr uint32_t kMaxWorkers = 128;        // the engine's limit (runtime::Engine::create)
constexpr uint32_t kMaxQueues = 1024;        // RTE_MAX_QUEUES_PER_PORT
constexpr uint32_t kMaxDescriptors = 32768;  // the largest rx ring any PMD offers
constexpr uint32_t kMaxSnap = 65535;         // pcap snaplen for trimmed copies
constexpr uint32_t kMinTrim = 14;            // an Ethernet header

template <class V> void visit(V& v, EalConfig& c) {
  v.field("lcores", c.lcores, Custom<std::string>{check_lcore_list});
  v.field("memory_mb", c.memory_mb, IntRange{64, 1u << 20});
  v.field("no_huge", c.no_huge);
  v.field("file_prefix", c.file_prefix, Custom<std::string>{check_port_name});
  v.field("log_level", c.log_level);
  v.field("extra_args", c.extra_args);
}

template <class V> void visit(V& v, PortConfig& c) {
  v.field("name", c.name, Custom<std::string>{check_port_name});
  v.field("devargs", c.devargs, Custom<std::string>{check_devargs});
  v.field("pci", c.pci, Custom<std::string>{check_pci});
  v.field("replay", c.replay);
  v.field("replay_rate_pps", c.replay_rate_pps, RealRange{0, 1e9, false});
  v.field("replay_shift_seq", c.replay_shift_seq);
  v.field("replay_passes", c.replay_passes, IntRange{0, 1000000000});
  v.field("rx_queues", c.rx_queues, IntRange{0, kMaxQueues});
  v.field("rx_descriptors", c.rx_descriptors, IntRange{64, kMaxDescriptors}, Pow2{});
  v.field("mbufs", c.mbufs, IntRange{0, 1u << 28});
  v.field("promiscuous", c.promiscuous);
  v.field("rss", c.rss);
  v.field("rehash", c.rehash);
  v.field("timestamps", c.timestamps);
}

template <class V> void visit(V& v, WorkersConfig& c) {
  v.field("count", c.count, IntRange{1, kMaxWorkers});
  v.field("lcores", c.lcores, Custom<std::string>{check_lcore_list_or_empty});
  v.field("burst", c.burst, IntRange{1, kMaxBurst});
  v.field("share_cpus", c.share_cpus);
}

template <class V> void visit(V& v, FlowTableConfig& c) {
  v.field("capacity", c.capacity, IntRange{16, 1u << 28});
  v.field("idle_timeout_s", c.idle_timeout_s, RealRange{0, kDay_s, true}, kNanoseconds);
  v.field("closed_linger_s", c.closed_linger_s, RealRange{0, kDay_s, true}, kNanoseconds);
  v.field("key_vlans", c.key_vlans);
  v.field("eviction", c.eviction);
  v.field("prefault", c.prefault);
  v.field("active_timeout_s", c.active_timeout_s, RealRange{0, kDay_s, false}, kNanoseconds);
}

template <class V> void visit(V& v, TcpConfig& c) {
  v.field("event_ring", c.event_ring, IntRange{64, 1u << 24}, Pow2{});
  v.field("record_ring", c.record_ring, IntRange{64, 1u << 24}, Pow2{});
  v.field("copy_window_ms", c.copy_window_ms, RealRange{0, 1000, false}, kMicrosecondsOfMs);
  v.field("copy_slots", c.copy_slots, IntRange{1024, 1u << 24}, Pow2{});
  v.field("close_wait_s", c.close_wait_s, RealRange{0, kDay_s, true}, kNanoseconds);
}

template <class V> void visit(V& v, OutputsConfig& c) {
  v.field("dir", c.dir, Custom<std::string>{check_not_empty});
  v.field("run_subdir", c.run_subdir);
  v.field("events", c.events, Custom<Sink>{check_sink});
  v.field("flows", c.flows, Custom<Sink>{check_sink});
  v.field("summary", c.summary, Custom<Sink>{check_sink});
  v.field("stats_interval_s", c.stats_interval_s, RealRange{0, kDay_s, true});
  v.field("rotate_bytes", c.rotate_bytes, Size{}, IntRange{0, 1ull << 50});
  v.field("rotate_seconds", c.rotate_seconds, IntRange{0, 7 * kDay_s});
}

template <class V> void visit(V& v, Trigger& c) {
  v.field("type", c.type);
  switch (c.type) {
    case TriggerType::kRetransmissionStorm:
      // 2 .. evidence::kMaxStormCount: the detector keeps that many retransmission times per flow.
      v.field("count", c.count, IntRange{2, 16});
      v.field("window_ms", c.window_ms, IntRange{1, 3600000});
      break;
    case TriggerType::kDupAckRun: v.field("min", c.min, IntRange{1, 65535}); break;
    case TriggerType::kZeroWindow: v.field("min_ms", c.min_ms, IntRange{0, 3600000}); break;
    case TriggerType::kPayload: v.field("rule", c.rule, IntRange{1, UINT32_MAX}); break;
    case TriggerType::kBpf: v.field("expr", c.expr, Custom<std::string>{check_not_empty}); break;
    case TriggerType::kVerdict: v.field("names", c.names, Custom<std::vector<std::string>>{check_verdict_names}); break;
    case TriggerType::kAckInsideSegment:
    case TriggerType::kRst:
    case TriggerType::kSynUnanswered: break;
  }
  v.field("trim", c.trim, Custom<std::optional<Trim>>{check_trigger_trim});
  v.field("post_packets", c.post_packets, IntRange{0, 65535});
}

template <class V> void visit(V& v, SamplingConfig& c) {
  v.field("one_in_n", c.one_in_n, IntRange{0, UINT32_MAX});
  v.field("flow_hash_fraction", c.flow_hash_fraction, RealRange{0, 1, false});
}

template <class V> void visit(V& v, EvidenceConfig& c) {
  v.field("enabled", c.enabled);
  v.field("dir", c.dir, Custom<std::string>{check_not_empty});
  v.field("history_packets", c.history_packets, IntRange{0, 1024});
  v.field("trim", c.trim, Custom<Trim>{check_trim});
  v.field("post_packets", c.post_packets, IntRange{0, 65535});
  v.field("per_flow_budget", c.per_flow_budget, Size{}, IntRange{1, 1ull << 50});
  v.field("global_budget_bytes", c.global_budget_bytes, Size{}, IntRange{1, 1ull << 50});
  v.field("format", c.format);
  v.field("rotate_bytes", c.rotate_bytes, Size{}, IntRange{0, 1ull << 50});
  v.field("rotate_seconds", c.rotate_seconds, IntRange{0, 7 * kDay_s});
  v.list("triggers", c.triggers);
  v.section("sampling", c.sampling);
  v.field("capture_filter", c.capture_filter);
  v.field("bpf_jit", c.bpf_jit);
}

template <class V> void visit(V& v, PrometheusConfig& c) {
  v.field("enabled", c.enabled);
  v.field("listen", c.listen, Custom<std::string>{check_ip_literal});
  v.field("port", c.port, IntRange{1, 65535});
}

template <class V> void visit(V& v, TelemetryConfig& c) {
  v.section("prometheus", c.prometheus);
  v.field("dpdk_telemetry", c.dpdk_telemetry);
  v.field("stats_file", c.stats_file, Custom<Sink>{check_sink});
}

template <class V> void visit(V& v, ImbalanceConfig& c) {
  v.field("window_s", c.window_s, RealRange{0, kDay_s, true});
  v.field("queue_cv_threshold", c.queue_cv_threshold, RealRange{0, 100, true});
  v.field("max_mean_threshold", c.max_mean_threshold, RealRange{1, 1e6, true});
  v.field("core_skew_threshold", c.core_skew_threshold, RealRange{1, 1e6, true});
  v.field("min_packets", c.min_packets, IntRange{0, UINT64_MAX});
  v.field("samples", c.samples);
}

template <class V> void visit(V& v, RulesConfig& c) { v.field("file", c.file); }

template <class V> void visit(V& v, Config& c) {
  v.section("eal", c.eal);
  v.list("ports", c.ports);
  v.section("workers", c.workers);
  v.section("flow_table", c.flow_table);
  v.section("tcp", c.tcp);
  v.section("outputs", c.outputs);
  v.section("evidence", c.evidence);
  v.section("telemetry", c.telemetry);
  v.section("imbalance", c.imbalance);
  v.section("rules", c.rules);
}

// Enum names, in the order shown to users.
template <class E> struct EnumNames;
#define SEQWATCH_ENUM_NAMES(E, ...)                                                 \
  template <> struct EnumNames<E> {                                                 \
    static constexpr std::pair<std::string_view, E> kNames[] = {__VA_ARGS__};       \
  };
SEQWATCH_ENUM_NAMES(LogLevel, {"emergency", LogLevel::kEmergency}, {"alert", LogLevel::kAlert},
                    {"critical", LogLevel::kCritical}, {"error", LogLevel::kError},
                    {"warning", LogLevel::kWarning}, {"notice", LogLevel::kNotice}, {"info", LogLevel::kInfo},
                    {"debug", LogLevel::kDebug})
SEQWATCH_ENUM_NAMES(Rss, {"symmetric", Rss::kSymmetric}, {"off", Rss::kOff})
SEQWATCH_ENUM_NAMES(Rehash, {"none", Rehash::kNone}, {"software", Rehash::kSoftware})
SEQWATCH_ENUM_NAMES(Timestamps, {"auto", Timestamps::kAuto}, {"hw", Timestamps::kHw}, {"tsc", Timestamps::kTsc})
SEQWATCH_ENUM_NAMES(Eviction, {"lru", Eviction::kLru})
SEQWATCH_ENUM_NAMES(EvidenceFormat, {"pcap", EvidenceFormat::kPcap}, {"pcapng", EvidenceFormat::kPcapng})
SEQWATCH_ENUM_NAMES(TriggerType, {"retransmission_storm", TriggerType::kRetransmissionStorm},
                    {"dup_ack_run", TriggerType::kDupAckRun}, {"ack_inside_segment", TriggerType::kAckInsideSegment},
                    {"zero_window", TriggerType::kZeroWindow}, {"rst", TriggerType::kRst},
                    {"syn_unanswered", TriggerType::kSynUnanswered}, {"payload", TriggerType::kPayload},
                    {"bpf", TriggerType::kBpf}, {"verdict", TriggerType::kVerdict})
#undef SEQWATCH_ENUM_NAMES

template <class E>
constexpr bool kIsConfigEnum = requires { EnumNames<E>::kNames; };

template <class E>
std::string_view enum_name(E e) {
  for (const auto& [n, v] : EnumNames<E>::kNames)
    if (v == e) return n;
  return "?";
}

// "1GiB" style for sizes that are whole units, else the plain number.
std::string format_size(uint64_t bytes);
// Shortest text that reads back as the same double.
std::string format_real(double v);

}  // namespace seqwatch::config::schema
