// Configuration: defaults file == built-in defaults, every key documented, every pipeline
// loads, layering and overrides, rendering round-trips, and each class of rejected input
// with its exact message ("FILE:LINE:COL: key.path: reason").
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "config/config.hpp"

namespace fs = std::filesystem;
using namespace seqwatch::config;

namespace {

fs::path source_dir() {
  const char* d = std::getenv("SEQWATCH_SOURCE_DIR");
  return d ? fs::path(d) : fs::path(SEQWATCH_TEST_SOURCE_DIR);
}
std::string defaults_file() { return (source_dir() / "config" / "seqwatch.yaml").string(); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A YAML file in a per-test temporary directory; returns its path.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("seqwatch-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  // Loads `text` alone (on the built-in defaults); returns the error message ("" = ok).
  std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
    const std::string f = file("t.yaml", text);
    auto r = load_config({f}, sets);
    return r.ok() ? std::string{} : r.error().message;
  }
  std::string where(int line, int col) { return (dir_ / "t.yaml").string() + ":" + std::to_string(line) + ":" + std::to_string(col); }
  fs::path dir_;
};

// Key paths set in a YAML tree, lists written as "[]".
void live_paths(const YAML::Node& n, const std::string& prefix, std::set<std::string>& out) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      const std::string key = kv.first.Scalar();
      const std::string p = prefix.empty() ? key : prefix + "." + key;
      out.insert(p);
      live_paths(kv.second, p, out);
    }
  } else if (n.IsSequence()) {
    for (const auto& item : n)
      if (item.IsMap()) live_paths(item, prefix + "[]", out);
  }
}

// ---- defaults, documentation, pipelines -------------------------------------------------

TEST_F(ConfigTest, DefaultsFileEqualsBuiltInDefaults) {
  auto r = load_config({defaults_file()}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value() == Config{}) << "config/seqwatch.yaml and the struct defaults differ; file renders as:\n"
                                     << render_yaml(r.value()) << "\nstruct renders as:\n" << render_yaml(Config{});
}

TEST_F(ConfigTest, BuiltInDefaultsAreValid) {
  // The defaults alone pass every text check (a device is only required at run time).
  auto r = load_config({}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value() == Config{});
}

TEST_F(ConfigTest, EveryKeyAppearsInDefaultsFile) {
  const std::string text = slurp(defaults_file());
  std::set<std::string> live;
  live_paths(YAML::Load(text), "", live);
  // Trigger parameters of types the defaults do not use are documented in the comment
  // block above `triggers:`.
  std::string comments;
  std::istringstream lines(text);
  for (std::string l; std::getline(lines, l);)
    if (auto h = l.find('#'); h != std::string::npos) comments += l.substr(h) + "\n";
  for (const auto& k : key_paths()) {
    if (live.count(k)) continue;
    const std::string leaf = k.substr(k.rfind('.') + 1);
    EXPECT_TRUE(k.starts_with("evidence.triggers[].") && comments.find(leaf) != std::string::npos)
        << k << " is neither set nor described in config/seqwatch.yaml";
  }
  // And nothing in the file that the schema does not know (load would reject it too).
  const auto keys = key_paths();
  for (const auto& p : live) {
    bool known = std::find(keys.begin(), keys.end(), p) != keys.end();
    for (const auto& k : keys) known |= k.starts_with(p + ".") || k.starts_with(p + "[]");
    EXPECT_TRUE(known) << p;
  }
  // Every trigger type is described in the comments.
  for (auto t : {TriggerType::kRetransmissionStorm, TriggerType::kDupAckRun, TriggerType::kAckInsideSegment,
                 TriggerType::kZeroWindow, TriggerType::kRst, TriggerType::kSynUnanswered, TriggerType::kPayload,
                 TriggerType::kBpf, TriggerType::kVerdict})
    EXPECT_NE(comments.find(std::string(to_string(t)) + ":"), std::string::npos) << to_string(t);
}

TEST_F(ConfigTest, EveryKeyLineInDefaultsFileIsCommented) {
  std::istringstream lines(slurp(defaults_file()));
  std::string prev;
  int n = 0;
  for (std::string l; std::getline(lines, l); prev = l) {
    ++n;
    const auto first = l.find_first_not_of(' ');
    if (first == std::string::npos || l[first] == '#') continue;
    const bool key_line = l.find(':') != std::string::npos;
    if (!key_line) continue;
    const auto pfirst = prev.find_first_not_of(' ');
    const bool comment_above = pfirst != std::string::npos && prev[pfirst] == '#';
    EXPECT_TRUE(l.find('#') != std::string::npos || comment_above) << "line " << n << " has no comment: " << l;
  }
}

TEST_F(ConfigTest, EveryKeyIsInTheDocs) {
  const std::string doc = slurp(source_dir() / "docs" / "configuration.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& k : key_paths()) EXPECT_NE(doc.find("`" + k + "`"), std::string::npos) << k;
}

TEST_F(ConfigTest, EveryPipelineLoadsOnTheDefaults) {
  std::vector<fs::path> pipelines;
  for (const auto& e : fs::directory_iterator(source_dir() / "pipelines"))
    if (e.path().extension() == ".yaml") pipelines.push_back(e.path());
  std::sort(pipelines.begin(), pipelines.end());
  ASSERT_GE(pipelines.size(), 4u);
  for (const char* name : {"span-sensor.yaml", "line-rate-bench.yaml", "evidence-export.yaml", "demo.yaml"})
    EXPECT_TRUE(fs::exists(source_dir() / "pipelines" / name)) << name;
  for (const auto& p : pipelines) {
    auto r = load_config({defaults_file(), p.string()}, {});
    ASSERT_TRUE(r.ok()) << p << ":\n" << r.error().message;
    // And its rendering loads back to the same configuration.
    auto back = load_config_text(render_yaml(r.value()), "rendered");
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_TRUE(back.value() == r.value()) << p;
  }
}

TEST_F(ConfigTest, PipelinesSayWhatTheyPromise) {
  auto load = [&](const char* name) {
    auto r = load_config({defaults_file(), (source_dir() / "pipelines" / name).string()}, {});
    EXPECT_TRUE(r.ok()) << name;
    return r.ok() ? r.value() : Config{};
  };
  const Config bench = load("line-rate-bench.yaml");
  EXPECT_FALSE(bench.outputs.events.enabled);
  EXPECT_FALSE(bench.outputs.flows.enabled);
  EXPECT_FALSE(bench.evidence.enabled);
  EXPECT_TRUE(bench.rules.file.empty());

  const Config demo = load("demo.yaml");
  ASSERT_EQ(demo.ports.size(), 1u);
  EXPECT_TRUE(demo.ports[0].devargs.starts_with("net_af_packet0,iface="));
  EXPECT_TRUE(demo.eal.no_huge);

  const Config span = load("span-sensor.yaml");
  EXPECT_TRUE(span.evidence.enabled);
  EXPECT_EQ(span.ports[0].rss, Rss::kSymmetric);
  EXPECT_EQ(span.ports[0].rehash, Rehash::kSoftware);
  EXPECT_FALSE(span.ports[0].pci.empty());

  const Config exp = load("evidence-export.yaml");
  EXPECT_TRUE(exp.evidence.enabled);
  EXPECT_TRUE(exp.evidence.trim.headers);
  EXPECT_TRUE(exp.ports[0].devargs.starts_with("net_pcap0,"));
  EXPECT_FALSE(exp.outputs.events.enabled);
  const auto verdict = std::find_if(exp.evidence.triggers.begin(), exp.evidence.triggers.end(),
                                    [](const Trigger& t) { return t.type == TriggerType::kVerdict; });
  ASSERT_NE(verdict, exp.evidence.triggers.end());
  EXPECT_NE(std::find(verdict->names.begin(), verdict->names.end(), "rst_after_fin"), verdict->names.end());
}

// ---- layering and overrides -------------------------------------------------------------

TEST_F(ConfigTest, LaterFilesOverrideEarlierKeyByKey) {
  const auto a = file("a.yaml", "workers: {count: 1, burst: 16}\nflow_table: {capacity: 4096}\neal: {lcores: '0-3'}\n");
  const auto b = file("b.yaml", "workers:\n  count: 3\n");
  Origins org;
  auto r = load_config({a, b}, {}, &org);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().workers.count, 3u);
  EXPECT_EQ(r.value().workers.burst, 16u);  // kept from a.yaml
  EXPECT_EQ(r.value().flow_table.capacity, 4096u);
  EXPECT_EQ(r.value().tcp.event_ring, TcpConfig{}.event_ring);
  EXPECT_EQ(org["workers.count"], b + ":2:10");
  EXPECT_EQ(org["workers.burst"], a + ":1:28");
}

TEST_F(ConfigTest, ListsAreReplacedWholeOrPatchedByIndex) {
  const auto a = file("a.yaml",
                      "ports:\n  - {name: a, devargs: net_null0}\n  - {name: b, devargs: net_null1}\n"
                      "eal: {lcores: '0-2'}\nworkers: {count: 2}\n");
  const auto b = file("b.yaml", "ports:\n  1: {rss: off}\n");
  auto r = load_config({a, b}, {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r.value().ports.size(), 2u);
  EXPECT_EQ(r.value().ports[1].name, "b");
  EXPECT_EQ(r.value().ports[1].rss, Rss::kOff);
  EXPECT_EQ(r.value().ports[0].rss, Rss::kSymmetric);

  const auto c = file("c.yaml", "ports:\n  - {name: only, pci: '0000:3b:00.0'}\n");
  auto r2 = load_config({a, c}, {});
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  ASSERT_EQ(r2.value().ports.size(), 1u);
  EXPECT_EQ(r2.value().ports[0].name, "only");
  EXPECT_EQ(r2.value().ports[0].rx_descriptors, 4096u);  // new elements start from the defaults
}

TEST_F(ConfigTest, OverridesApplyLast) {
  const auto a = file("a.yaml", "workers: {count: 1}\n");
  auto r = load_config({a}, {"workers.burst=16", "ports.0.devargs=net_pcap0,rx_pcap=/tmp/x.pcap,infinite_rx=1",
                             "ports[0].rss=off", "evidence.triggers=[{type: rst}, {type: bpf, expr: 'tcp port 80'}]",
                             "evidence.rotate_bytes=64MiB", "eal.extra_args=[-a, 0000:3b:00.0]", "outputs.events=false"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = r.value();
  EXPECT_EQ(c.workers.burst, 16u);
  EXPECT_EQ(c.ports[0].devargs, "net_pcap0,rx_pcap=/tmp/x.pcap,infinite_rx=1");
  EXPECT_EQ(c.ports[0].rss, Rss::kOff);
  ASSERT_EQ(c.evidence.triggers.size(), 2u);
  EXPECT_EQ(c.evidence.triggers[1].type, TriggerType::kBpf);
  EXPECT_EQ(c.evidence.triggers[1].expr, "tcp port 80");
  EXPECT_EQ(c.evidence.rotate_bytes, 64ull << 20);
  EXPECT_EQ(c.eal.extra_args, (std::vector<std::string>{"-a", "0000:3b:00.0"}));
  EXPECT_FALSE(c.outputs.events.enabled);
}

TEST_F(ConfigTest, TriggerTypeChangeResetsItsParameters) {
  auto r = load_config({}, {"evidence.triggers.0.type=dup_ack_run"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().evidence.triggers[0], Trigger::of(TriggerType::kDupAckRun));
  auto r2 = load_config({}, {"evidence.triggers.0.count=3"});
  ASSERT_TRUE(r2.ok()) << r2.error().message;
  EXPECT_EQ(r2.value().evidence.triggers[0].count, 3u);
  EXPECT_EQ(r2.value().evidence.triggers[0].window_ms, 1000u);
}

TEST_F(ConfigTest, SizesAndSinksAndTrim) {
  auto r = load_config({file("a.yaml",
                             "evidence:\n  per_flow_budget: 1K\n  global_budget_bytes: 2GiB\n  trim: 128\n"
                             "outputs:\n  events: '-'\n  flows: off\n")},
                       {});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r.value().evidence.per_flow_budget, 1024u);
  EXPECT_EQ(r.value().evidence.global_budget_bytes, 2ull << 30);
  EXPECT_EQ(r.value().evidence.trim, (Trim{false, 128}));
  EXPECT_EQ(r.value().outputs.events, (Sink{true, "-"}));
  EXPECT_FALSE(r.value().outputs.flows.enabled);
}

TEST_F(ConfigTest, RenderingRoundTripsEveryValue) {
  Config c;
  c.eal = {"0-8", 2048, true, "sw2", LogLevel::kDebug, {"--vdev", "net_null0"}};
  c.ports = {PortConfig{"a", "net_null0", "", 2, 512, 100000, false, Rss::kOff, Rehash::kSoftware, Timestamps::kTsc, "", 0, true, 0},
             PortConfig{"b", "", "0000:3b:00.1", 0, 8192, 0, true, Rss::kSymmetric, Rehash::kNone, Timestamps::kHw, "", 0, true, 0},
             PortConfig{"c", "", "", 4, 1024, 0, true, Rss::kSymmetric, Rehash::kNone, Timestamps::kTsc, "/tmp/t.pcap",
                        0, false, 7},
             PortConfig{"d", "", "", 1, 256, 0, true, Rss::kOff, Rehash::kNone, Timestamps::kAuto, "/tmp/u.pcap", 2.5e6,
                        true, 0}};
  c.workers = {4, "1-4", 16};
  c.flow_table = {4096, 0.25, 0.125, false, Eviction::kLru, false, 30};
  c.tcp = {1024, 256};
  c.outputs = {"/tmp/o", false, {false, "e"}, {true, "-"}, {true, "s.json"}, 0.5, 123456, 0};
  Trigger payload = Trigger::of(TriggerType::kPayload);
  payload.rule = 1001;
  payload.post_packets = 5;
  Trigger bpf = Trigger::of(TriggerType::kBpf);
  bpf.expr = "tcp[tcpflags] & tcp-rst != 0";
  c.evidence.triggers = {payload, bpf, Trigger::of(TriggerType::kAckInsideSegment)};
  c.evidence.trim = Trim{false, 96};
  c.evidence.format = EvidenceFormat::kPcap;
  c.evidence.sampling = {100, 0.01};
  c.evidence.capture_filter = "not port 22";
  c.evidence.per_flow_budget = 3000;
  c.telemetry = {{false, "::1", 9999}, false, {false, "stats.jsonl"}};
  c.imbalance = {30, 0.3, 1.7, 1.2, 5};
  c.rules.file = "config/rules/default.rules";
  const std::string text = render_yaml(c);
  auto back = load_config_text(text, "rendered");
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_TRUE(back.value() == c) << text;
  // Rendering is stable.
  EXPECT_EQ(render_yaml(back.value()), text);
}

// ---- rejected input: one test per error class, exact messages ----------------------------

TEST_F(ConfigTest, UnknownKeySuggestsTheClosestName) {
  EXPECT_EQ(error_of("flow_table:\n  idle_timout_s: 30\n"),
            where(2, 3) + ": flow_table.idle_timout_s: unknown key; did you mean 'idle_timeout_s'?");
  EXPECT_EQ(error_of("flowtable:\n  capacity: 1024\n"), where(1, 1) + ": flowtable: unknown key; did you mean 'flow_table'?");
}

TEST_F(ConfigTest, UnknownKeyInTheWrongSectionSaysWhereItBelongs) {
  EXPECT_EQ(error_of("workers:\n  idle_timeout_s: 30\n"),
            where(2, 3) + ": workers.idle_timeout_s: unknown key; 'idle_timeout_s' is a key of flow_table.idle_timeout_s");
  EXPECT_EQ(error_of("workers:\n  zzz: 1\n"), where(2, 3) + ": workers.zzz: unknown key (keys here: count, lcores, burst, share_cpus)");
}

TEST_F(ConfigTest, WrongTypes) {
  EXPECT_EQ(error_of("flow_table:\n  capacity: lots\n"),
            where(2, 13) + ": flow_table.capacity: expected an unsigned integer, got 'lots'");
  EXPECT_EQ(error_of("flow_table:\n  capacity: 1.5\n"),
            where(2, 13) + ": flow_table.capacity: expected a whole number, got '1.5'");
  EXPECT_EQ(error_of("flow_table:\n  capacity: -5\n"),
            where(2, 13) + ": flow_table.capacity: '-5' is negative; expected an unsigned integer");
  EXPECT_EQ(error_of("evidence:\n  enabled: maybe\n"), where(2, 12) + ": evidence.enabled: expected true or false, got 'maybe'");
  EXPECT_EQ(error_of("workers: 4\n"), where(1, 10) + ": workers: expected a map of keys, got '4'");
  EXPECT_EQ(error_of("eal:\n  lcores: [0, 1]\n"), where(2, 11) + ": eal.lcores: expected a string, got a list");
  EXPECT_EQ(error_of("ports: eth0\n"), where(1, 8) + ": ports: expected a list of maps, got 'eth0'");
  EXPECT_EQ(error_of("imbalance:\n  window_s: soon\n"), where(2, 13) + ": imbalance.window_s: expected a number, got 'soon'");
  EXPECT_EQ(error_of("- a\n- b\n"), where(1, 1) + ": (top level): expected a map of sections (eal, ports, workers, ...)");
}

TEST_F(ConfigTest, PowersOfTwo) {
  EXPECT_EQ(error_of("ports:\n  - {name: p, rx_descriptors: 1000}\n"),
            where(2, 31) + ": ports[0].rx_descriptors: 1000 is not a power of two (nearest: 512 or 1024)");
  EXPECT_EQ(error_of("tcp:\n  event_ring: 100000\n"),
            where(2, 15) + ": tcp.event_ring: 100000 is not a power of two (nearest: 65536 or 131072)");
}

// Values the runtime could not honour are refused, not clamped or ignored: more workers
// than the engine runs, a burst larger than the workers' arrays, a count that its 16-bit
// field would cut, a trim per trigger (the history is stored trimmed before any trigger),
// an eviction policy the flow table does not have.
TEST_F(ConfigTest, ValuesTheRuntimeCannotHonourAreRefused) {
  EXPECT_EQ(error_of("workers:\n  count: 129\n"), where(2, 10) + ": workers.count: 129 is out of range: allowed 1 .. 128");
  EXPECT_EQ(error_of("workers:\n  burst: 33\n"), where(2, 10) + ": workers.burst: 33 is out of range: allowed 1 .. 32");
  EXPECT_EQ(error_of("evidence:\n  post_packets: 70000\n"),
            where(2, 17) + ": evidence.post_packets: 70000 is out of range: allowed 0 .. 65535");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: dup_ack_run, min: 100000}\n"),
            where(3, 32) + ": evidence.triggers[0].min: 100000 is out of range: allowed 1 .. 65535");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: rst, trim: 64}\n"),
            where(3, 25) + ": evidence.triggers[0].trim: a trim per trigger is not supported: a flow's history is stored "
                           "trimmed before any trigger fires, so every slice keeps evidence.trim; set that instead");
  EXPECT_EQ(error_of("flow_table:\n  eviction: refuse\n"),
            where(2, 13) + ": flow_table.eviction: 'refuse' is not one of: lru");
  // Per-trigger post_packets is honoured (EvidenceSlice.APerTriggerPostCountAppliesToItsSlices).
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: rst, post_packets: 8}\n"), "");
}

TEST_F(ConfigTest, RangesZeroWorkersAndTimeouts) {
  EXPECT_EQ(error_of("workers:\n  count: 0\n"), where(2, 10) + ": workers.count: 0 is out of range: allowed 1 .. 128");
  EXPECT_EQ(error_of("flow_table:\n  idle_timeout_s: 0\n"),
            where(2, 19) + ": flow_table.idle_timeout_s: 0 is out of range: must be > 0 and <= 86400");
  EXPECT_EQ(error_of("flow_table:\n  closed_linger_s: -1\n"),
            where(2, 20) + ": flow_table.closed_linger_s: -1 is out of range: must be > 0 and <= 86400");
  EXPECT_EQ(error_of("workers:\n  burst: 1024\n"), where(2, 10) + ": workers.burst: 1024 is out of range: allowed 1 .. 32");
  EXPECT_EQ(error_of("telemetry:\n  prometheus: {port: 0}\n"),
            where(2, 22) + ": telemetry.prometheus.port: 0 is out of range: allowed 1 .. 65535");
  EXPECT_EQ(error_of("evidence:\n  sampling: {flow_hash_fraction: 1.5}\n"),
            where(2, 34) + ": evidence.sampling.flow_hash_fraction: 1.5 is out of range: must be >= 0 and <= 1");
}

TEST_F(ConfigTest, UnknownEnumValuesListTheAllowedOnes) {
  EXPECT_EQ(error_of("ports:\n  - rss: symetric\n"),
            where(2, 10) + ": ports[0].rss: 'symetric' is not one of: symmetric, off (did you mean 'symmetric'?)");
  EXPECT_EQ(error_of("evidence:\n  format: erf\n"), where(2, 11) + ": evidence.format: 'erf' is not one of: pcap, pcapng");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - type: retransmit_storm\n"),
            where(3, 13) + ": evidence.triggers[0].type: 'retransmit_storm' is not one of: retransmission_storm, dup_ack_run, "
                           "ack_inside_segment, zero_window, rst, syn_unanswered, payload, bpf, verdict (did you mean "
                           "'retransmission_storm'?)");
}

TEST_F(ConfigTest, TrimLengths) {
  EXPECT_EQ(error_of("evidence:\n  trim: 5\n"), where(2, 9) + ": evidence.trim: trim 5 is out of range: 'headers' or 14 .. 65535 bytes");
  EXPECT_EQ(error_of("evidence:\n  trim: all\n"), where(2, 9) + ": evidence.trim: expected 'headers' or a byte count, got 'all'");
}

TEST_F(ConfigTest, Budgets) {
  EXPECT_EQ(error_of("evidence:\n  per_flow_budget: 2GiB\n  global_budget_bytes: 1GiB\n"),
            where(2, 20) + ": evidence.per_flow_budget: 2147483648 bytes per flow exceeds evidence.global_budget_bytes "
                           "(1073741824); lower it or raise the global budget");
  EXPECT_EQ(error_of("evidence:\n  rotate_bytes: 5XB\n"),
            where(2, 17) + ": evidence.rotate_bytes: '5XB': unknown unit 'XB' (use KiB, MiB, GiB or TiB)");
  EXPECT_EQ(error_of("evidence:\n  triggers: []\n"),
            where(2, 13) + ": evidence.triggers: evidence is enabled but nothing starts a slice: add a trigger, turn on "
                           "sampling, or set evidence.enabled: false");
}

TEST_F(ConfigTest, MoreWorkersThanLcores) {
  EXPECT_EQ(error_of("workers:\n  count: 3\n"),
            where(2, 10) + ": workers.count: 3 workers need 3 lcores besides the main lcore 0, but eal.lcores '0-1' leaves 1: "
                           "add lcores to eal.lcores (e.g. 0-3) or lower workers.count");
  EXPECT_EQ(error_of("eal: {lcores: '0-3'}\nworkers: {count: 2, lcores: '0-1'}\n"),
            where(2, 29) + ": workers.lcores: lcore 0 is the main lcore (the control thread); workers need their own");
  EXPECT_EQ(error_of("eal: {lcores: '0-3'}\nworkers: {count: 2, lcores: '1,7'}\n"),
            where(2, 29) + ": workers.lcores: lcore 7 is not in eal.lcores '0-3'");
  EXPECT_EQ(error_of("eal:\n  lcores: 3-1\n"),
            where(2, 11) + ": eal.lcores: '3-1' is not an lcore list (range '3-1' runs backwards); expected e.g. 0-3 or 0,2,4-7");
}

TEST_F(ConfigTest, PortChecks) {
  EXPECT_EQ(error_of("ports:\n  - {name: a, devargs: net_null0}\n  - {name: a, devargs: net_null1}\n"),
            where(3, 12) + ": ports[1].name: 'a' is already the name of ports[0]; names must be unique");
  EXPECT_EQ(error_of("ports:\n  - {pci: '0000:3b:00.0', devargs: net_null0}\n"),
            where(2, 36) + ": ports[0].devargs: both pci (0000:3b:00.0) and devargs are set; a port is either a NIC or a vdev");
  EXPECT_EQ(error_of("ports:\n  - {pci: 3b:00}\n"),
            where(2, 11) + ": ports[0].pci: '3b:00' is not a PCI address (expected DDDD:BB:DD.F, e.g. 0000:3b:00.0; see "
                           "dpdk-devbind.py --status)");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'pcap0,rx_pcap=x'}\n"),
            where(2, 15) + ": ports[0].devargs: 'pcap0,rx_pcap=x' does not start with a vdev name such as net_pcap0, "
                           "net_af_packet0, net_ring0, net_tap0 or net_null0");
  EXPECT_EQ(error_of("ports:\n  - {devargs: net_null0, mbufs: 100}\n"),
            where(2, 33) + ": ports[0].mbufs: 100 mbufs cannot fill 1 RX queue of 4096 descriptors plus one burst per worker "
                           "(4128 needed): the port would run out (rx_nombuf); use at least 4128 or 0 (derived: 16383)");
  // A replay port ignores mbufs (its pool is never allocated from), so a small one is no error.
  EXPECT_EQ(error_of("ports:\n  - {replay: t.pcap, mbufs: 100}\n"), "");
  EXPECT_EQ(error_of("eal: {lcores: '0-2'}\nworkers: {count: 2}\nports:\n  - {devargs: net_null0, rss: off}\n"),
            where(2, 18) + ": workers.count: 2 workers but the ports give 1 RX queue and no port has rehash: software; 1 "
                           "worker would poll nothing: set rehash: software on a port, raise rx_queues, or lower workers.count");
  EXPECT_EQ(error_of("ports: []\n"), where(1, 8) + ": ports: no port: add one with pci (a NIC) or devargs (a vdev)");
  // The arguments of the usual software ports are checked at load time (DPDK's probe failed
  // at start with a raw line), and a net_pcap/af_packet port that can receive nothing refused.
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_pcap0,rx_pcap=x,bogus=1'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_pcap0,rx_pcap=x,bogus=1': net_pcap0 has no argument 'bogus' (its "
                           "arguments: rx_pcap, tx_pcap, rx_iface, rx_iface_in, tx_iface, iface, phy_mac, infinite_rx)");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_pcap0,tx_pcap=x'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_pcap0,tx_pcap=x': net_pcap0 receives nothing without rx_pcap=, "
                           "rx_iface=, rx_iface_in=, iface=");
  EXPECT_EQ(error_of("ports:\n  - {devargs: net_af_packet1}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_af_packet1': net_af_packet1 receives nothing without iface=");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_null0,nosuch=1'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_null0,nosuch=1': net_null0 has no argument 'nosuch' (its arguments: "
                           "size, copy, no-rx)");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_null0,size=abc'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_null0,size=abc': size=abc is not a whole number");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_af_packet0,iface=eth0,qpairs='}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_af_packet0,iface=eth0,qpairs=': qpairs= is not a whole number");
  // framesz= sizes the port's mbufs (one ring frame each): up to an mbuf's 16-bit data room.
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_af_packet0,iface=eth0,framesz=65536,blocksz=65536'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_af_packet0,iface=eth0,framesz=65536,blocksz=65536': framesz=65536 "
                           "is over 65407, the most one mbuf holds");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_af_packet0,iface=eth0,framesz=16384,blocksz=16384'}\n"), "");
  EXPECT_EQ(error_of("ports:\n  - {devargs: 'net_pcap0,rx_pcap=x,infinite_rx=yes'}\n"),
            where(2, 15) + ": ports[0].devargs: 'net_pcap0,rx_pcap=x,infinite_rx=yes': infinite_rx=yes must be 0 or 1");
  const auto fine = load_config_text("ports:\n  - {name: a, devargs: 'net_af_packet0,iface=eth1,qpairs=2,qdisc_bypass=1'}\n"
                                     "  - {name: b, devargs: 'eth_pcap1,iface=eth2'}\n"
                                     "  - {name: c, devargs: 'net_vhost0,iface=/tmp/s'}\nworkers: {count: 1}\n",
                                     "t");
  EXPECT_TRUE(fine.ok()) << fine.error().message;
}

// Checks made before the EAL starts, with what the runtime found (files, interfaces, the
// rules file, hugepages) given as callbacks.
TEST_F(ConfigTest, ValidateBeforeTheStart) {
  const auto f = file("s.yaml",
                      "eal: {lcores: '0-3', no_huge: false, memory_mb: 2048}\nworkers: {count: 3}\n"
                      "ports:\n  - {name: a, devargs: 'net_pcap0,rx_pcap=gone.pcap,rx_pcap=ok.pcap', rss: off, "
                      "rehash: software}\n"
                      "  - {name: b, devargs: 'net_af_packet0,iface=nosuch0', rss: off}\n"
                      "  - {name: c, replay: bad.pcap}\n"
                      "  - {name: d, devargs: 'net_pcap1,rx_iface=eth0', rss: off}\n"
                      "rules: {file: x.rules}\n");
  Origins org;
  auto r = load_config({f}, {}, &org);
  ASSERT_TRUE(r.ok()) << r.error().message;
  StartEnvironment env;
  std::vector<std::string> asked;
  env.capture_file = [&](const std::string& path) {
    asked.push_back(path);
    return path == "ok.pcap" ? std::string() : path + ": No such file or directory";
  };
  env.interface_exists = [](const std::string& name) { return name == "eth0"; };
  env.rules_file = [](const std::string& path) { return path + ":3: rule 7 /(/ rejected by Hyperscan: Missing close paren"; };
  env.hugepages = [] { return Hugepages{1024, 512, true}; };
  auto v = validate_before_start(r.value(), env, &org);
  ASSERT_FALSE(v.ok());
  const std::string p = (dir_ / "s.yaml").string();
  EXPECT_EQ(v.error().message,
            p + ":8:15: rules.file: x.rules:3: rule 7 /(/ rejected by Hyperscan: Missing close paren\n" +
            p + ":4:24: ports[0].devargs: net_pcap0: rx_pcap 'gone.pcap' cannot be read: gone.pcap: No such file or "
                "directory\n" +
            p + ":5:24: ports[1].devargs: net_af_packet0: no network interface 'nosuch0' here (`ip link` lists them; an "
                "interface inside a network namespace needs seqwatch started in it: ip netns exec NS seqwatch ...)\n" +
            p + ":6:23: ports[2].replay: cannot replay 'bad.pcap': bad.pcap: No such file or directory\n" +
            p + ":1:49: eal.memory_mb: 2048 MiB asked from hugepages, but only 512 MiB of the 1024 MiB reserved are "
                "free: reserve more hugepages, stop what holds them, or lower eal.memory_mb");
  EXPECT_EQ(asked, (std::vector<std::string>{"gone.pcap", "ok.pcap", "bad.pcap"}));

  // Hugepages: none reserved, or reserved and not mounted; eal.no_huge asks nothing.
  Config c = r.value();
  c.rules.file.clear();
  c.ports.resize(1);
  c.ports[0].devargs = "net_null0";
  StartEnvironment h;
  h.hugepages = [] { return Hugepages{0, 0, true}; };
  auto none = validate_before_start(c, h, &org);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find(p + ":1:31: eal.no_huge: no hugepages are reserved on this machine"),
            std::string::npos)
      << none.error().message;
  h.hugepages = [] { return Hugepages{4096, 4096, false}; };
  auto unmounted = validate_before_start(c, h, &org);
  ASSERT_FALSE(unmounted.ok());
  EXPECT_NE(unmounted.error().message.find("eal.no_huge: 4096 MiB of hugepages are reserved but no hugetlbfs is mounted"),
            std::string::npos)
      << unmounted.error().message;
  c.eal.extra_args = {"--in-memory"};  // hugepages through memfd: no mount needed
  EXPECT_TRUE(validate_before_start(c, h, &org).ok());
  c.eal.extra_args.clear();
  h.hugepages = [] { return Hugepages{4096, 4096, true}; };
  EXPECT_TRUE(validate_before_start(c, h, &org).ok());
  c.eal.no_huge = true;
  h.hugepages = [] { return Hugepages{0, 0, false}; };
  EXPECT_TRUE(validate_before_start(c, h, &org).ok());
  // --socket-mem in extra_args takes the place of -m: only hugepages at all are asked for.
  c.eal.no_huge = false;
  c.eal.extra_args = {"--socket-mem=4096"};
  h.hugepages = [] { return Hugepages{1024, 10, true}; };
  EXPECT_TRUE(validate_before_start(c, h, &org).ok());
}

TEST_F(ConfigTest, TriggerShapes) {
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {count: 5}\n"),
            where(3, 7) + ": evidence.triggers[0].type: missing; a trigger needs a type (one of: retransmission_storm, "
                          "dup_ack_run, ack_inside_segment, zero_window, rst, syn_unanswered, payload, bpf, verdict)");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: rst, count: 5}\n"),
            where(3, 19) + ": evidence.triggers[0].count: unknown key; it is not a parameter of trigger type 'rst' (it "
                           "belongs to: retransmission_storm; 'rst' takes: type, post_packets)");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: bpf}\n"),
            where(3, 7) + ": evidence.triggers[0].expr: a bpf trigger needs expr, a tcpdump filter expression (e.g. "
                          "'tcp[tcpflags] & tcp-rst != 0')");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: bpf, expr: ''}\n"),
            where(3, 25) + ": evidence.triggers[0].expr: must not be empty");
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: payload, rule: 1001}\n"),
            where(3, 29) + ": evidence.triggers[0].rule: a payload trigger needs rules.file, the rules file that defines rule 1001");
}

TEST_F(ConfigTest, OtherValueChecks) {
  EXPECT_EQ(error_of("telemetry:\n  prometheus: {listen: localhost}\n"),
            where(2, 24) + ": telemetry.prometheus.listen: 'localhost' is not an IP address (use 127.0.0.1 for this host "
                           "only, 0.0.0.0 or :: for all)");
  EXPECT_EQ(error_of("outputs:\n  events: ''\n"),
            where(2, 11) + ": outputs.events: an enabled output needs a file path (or false to turn it off)");
  EXPECT_EQ(error_of("imbalance:\n  window_s: 1\n"),
            where(2, 13) + ": imbalance.window_s: 1 s is shorter than outputs.stats_interval_s (10 s), the period the "
                           "counters are read at; raise it or lower the stats interval");
  EXPECT_EQ(error_of("imbalance:\n  core_skew_threshold: 1\n"),
            where(2, 24) + ": imbalance.core_skew_threshold: 1 is out of range: must be > 1 and <= 1000000");
}

TEST_F(ConfigTest, DuplicateKeysAndSyntaxErrors) {
  EXPECT_EQ(error_of("workers:\n  count: 1\n  count: 2\n"),
            where(3, 3) + ": workers.count: key given twice (first at " + where(2, 3) + "); remove one");
  const std::string syntax = error_of("workers:\n  count: [1\n");
  EXPECT_TRUE(syntax.starts_with((dir_ / "t.yaml").string() + ":")) << syntax;
  EXPECT_NE(syntax.find("YAML syntax error"), std::string::npos) << syntax;
  auto r = load_config({(dir_ / "missing.yaml").string()}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, (dir_ / "missing.yaml").string() + ": cannot read the file: No such file or directory");
}

// The capture keeps one setting per trigger type: a second trigger of a type would have
// replaced the first without a word (review 5, R8).
TEST_F(ConfigTest, OneTriggerPerType) {
  EXPECT_EQ(error_of("evidence:\n  triggers:\n    - {type: dup_ack_run, min: 3}\n    - {type: rst}\n"
                     "    - {type: dup_ack_run, min: 200}\n"),
            where(5, 7) + ": evidence.triggers[2]: a second dup_ack_run trigger (the first is evidence.triggers[0]); "
                          "one trigger per type: remove one");
  EXPECT_NE(error_of("evidence:\n  triggers:\n    - {type: rst}\n    - {type: rst}\n")
                .find("evidence.triggers[1]: a second rst trigger"),
            std::string::npos);
  // payload and bpf triggers are lists of rules and expressions.
  EXPECT_EQ(error_of("rules: {file: x.rules}\nevidence:\n  triggers:\n    - {type: payload, rule: 1}\n"
                     "    - {type: payload, rule: 2}\n    - {type: bpf, expr: tcp}\n    - {type: bpf, expr: udp}\n"),
            "");
  // ... up to the 32 bpf triggers the capture has bits for; the 33rd is refused at load time.
  std::string bpf = "evidence:\n  triggers:\n";
  for (int i = 0; i < 32; ++i) bpf += "    - {type: bpf, expr: 'tcp port " + std::to_string(1000 + i) + "'}\n";
  EXPECT_EQ(error_of(bpf), "");
  const std::string too_many = error_of(bpf + "    - {type: bpf, expr: 'tcp port 9'}\n");
  EXPECT_NE(too_many.find("evidence.triggers[32]: a bpf trigger more than the 32 a run can hold"), std::string::npos)
      << too_many;
}

// Only the first YAML document was read; a second one was ignored, valid or not (R7).
TEST_F(ConfigTest, ASecondYamlDocumentIsRefused) {
  EXPECT_EQ(error_of("workers:\n  count: 1\n---\nworkers: {count: 1000}\nbogus: 1\n"),
            where(4, 1) + ": a second YAML document starts here; a configuration is one document (remove the '---' or "
                          "'...' and what follows it, or merge the documents)");
  EXPECT_NE(error_of("workers:\n  count: 1\n...\ngarbage: [\n"), "");
  EXPECT_EQ(error_of("---\nworkers:\n  count: 1\n...\n"), "");  // one document, with its markers
  EXPECT_EQ(error_of("workers:\n  count: 1\n---\n"), "");  // a trailing bare '---': an empty document, nothing ignored
  EXPECT_EQ(error_of("workers:\n  count: 1\n---\n# nothing\n---\n"), "");
  auto r = load_config({}, {"workers.count=1\n---\n5"});
  ASSERT_FALSE(r.ok());
  // The newlines of the argument are shown escaped: one problem, one line.
  EXPECT_EQ(r.error().message, "--set workers.count=1\\n---\\n5: workers.count: the value holds a second YAML document "
                               "('---' or '...' inside it); give one value");
}

// A list patch naming one element twice: the last one won, silently (R13).
TEST_F(ConfigTest, AListPatchNamingAnElementTwiceIsRefused) {
  EXPECT_EQ(error_of("ports: {0: {rx_descriptors: 128}, 0: {rx_descriptors: 256}}\n"),
            where(1, 35) + ": ports[0]: index 0 given twice (first at " + where(1, 9) + "); remove one");
  EXPECT_NE(error_of("ports: {0: {rx_descriptors: 128}, 00: {rx_descriptors: 256}}\n").find("ports[0]: index 00 given twice"),
            std::string::npos);
}

// A duration above 0 but below the runtime's unit ran as 0 (every packet a new flow) (R14).
TEST_F(ConfigTest, DurationsThatRoundToZeroAreRefused) {
  EXPECT_EQ(error_of("flow_table:\n  idle_timeout_s: 1e-300\n"),
            where(2, 19) + ": flow_table.idle_timeout_s: 1e-300 would round to 0 (seconds are kept in whole "
                           "nanoseconds): the smallest allowed value is 1e-09");
  EXPECT_NE(error_of("flow_table:\n  closed_linger_s: 0.0000000004\n").find("flow_table.closed_linger_s: 4e-10 would round to 0"),
            std::string::npos);
  EXPECT_NE(error_of("tcp:\n  copy_window_ms: 0.0001\n").find("tcp.copy_window_ms: 0.0001 would round to 0 (0 turns it off"),
            std::string::npos);
  EXPECT_EQ(error_of("flow_table:\n  idle_timeout_s: 1e-9\n  closed_linger_s: 0.000001\ntcp:\n  copy_window_ms: 0\n"), "");
  EXPECT_EQ(error_of("tcp:\n  copy_window_ms: 0.001\n"), "");
}

TEST_F(ConfigTest, AllProblemsAreReportedTogether) {
  const std::string e = error_of("workers:\n  count: 0\n  burst: 0\nflow_table:\n  capcity: 1\n");
  EXPECT_EQ(e, where(2, 10) + ": workers.count: 0 is out of range: allowed 1 .. 128\n" + where(3, 10) +
                   ": workers.burst: 0 is out of range: allowed 1 .. 32\n" + where(5, 3) +
                   ": flow_table.capcity: unknown key; did you mean 'capacity'?");
}

TEST_F(ConfigTest, OverrideErrors) {
  auto err = [](std::vector<std::string> sets) {
    auto r = load_config({}, sets);
    return r.ok() ? std::string{} : r.error().message;
  };
  EXPECT_EQ(err({"flow_table.capacity=abc"}),
            "--set flow_table.capacity=abc: flow_table.capacity: expected an unsigned integer, got 'abc'");
  EXPECT_EQ(err({"flow_table.capasity=4"}),
            "--set flow_table.capasity=4: flow_table.capasity: unknown key; did you mean 'capacity'?");
  EXPECT_EQ(err({"workers.count"}), "--set workers.count: expected KEY.PATH=VALUE (e.g. workers.count=4)");
  EXPECT_EQ(err({"ports.3.rss=off"}),
            "--set ports.3.rss=off: ports[3]: no such element: ports has 1 entry (indices from 0); give a whole list to "
            "replace it");
  EXPECT_EQ(err({"workers.count=2"}),
            "--set workers.count=2: workers.count: 2 workers need 2 lcores besides the main lcore 0, but eal.lcores '0-1' "
            "leaves 1: add lcores to eal.lcores (e.g. 0-2) or lower workers.count");
}

// A NUL in a value ended the whole report where it was printed (with %s): every later line
// was lost. Control bytes, DEL and bytes that are not UTF-8 are shown as \xHH (\t, \n, \r by
// name), C1 controls and the bidirectional overrides as \uXXXX; other UTF-8 is kept (R15).
TEST_F(ConfigTest, ControlBytesInValuesAreShownEscaped) {
  const std::string name_rule = " is not a valid name: 1 to 32 letters, digits, '_', '-' or '.' (it appears in file "
                                "names and metric labels)";
  const std::string nul = error_of(std::string("ports:\n  - name: \"p") + '\0' + "0\"\nworkers:\n  count: 0\n");
  EXPECT_EQ(nul, where(2, 11) + ": ports[0].name: 'p\\x000'" + name_rule + "\n" + where(4, 10) +
                     ": workers.count: 0 is out of range: allowed 1 .. 128");
  // Unquoted, as in the review's case: yaml-cpp reads the NUL (and turns the byte after it into
  // a space); the line shows it escaped and the report goes on.
  const std::string plain = error_of(std::string("ports:\n  - name: p") + '\0' + "0\nworkers:\n  count: 0\n");
  EXPECT_EQ(plain.rfind(where(2, 11) + ": ports[0].name: 'p\\x00", 0), 0u) << plain;
  EXPECT_NE(plain.find("\n" + where(4, 10) + ": workers.count: 0 is out of range: allowed 1 .. 128"), std::string::npos)
      << plain;
  EXPECT_EQ(error_of("ports:\n  - name: p\xff" "0\n"), where(2, 11) + ": ports[0].name: 'p\\xff0'" + name_rule);
  EXPECT_EQ(error_of("eal:\n  file_prefix: \"a\\tb\\e[31mc\\x7f\"\n"),
            where(2, 16) + ": eal.file_prefix: 'a\\tb\\x1b[31mc\\x7f'" + name_rule);
  EXPECT_EQ(error_of("eal:\n  file_prefix: \"a\\u0085b\\u202ec\"\n"),
            where(2, 16) + ": eal.file_prefix: 'a\\u0085b\\u202ec'" + name_rule);
  EXPECT_EQ(error_of("eal:\n  file_prefix: p\u00e9\n"), where(2, 16) + ": eal.file_prefix: 'p\u00e9'" + name_rule);
  // In keys and --set arguments too.
  EXPECT_EQ(error_of(std::string("workers:\n  co") + '\x01' + "unt: 1\n"),
            where(2, 3) + ": workers.co\\x01unt: unknown key; did you mean 'count'?");
  auto r = load_config({}, {"eal.file_prefix=x\ty"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "--set eal.file_prefix=x\\ty: eal.file_prefix: 'x\\ty'" + name_rule);
  for (const std::string& m : {nul, plain})
    for (const char c : m) EXPECT_TRUE(c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)) << m;
}

// --set ports.-1.rss=off and ports.999999999999.rss=off read "ports: expected a list of maps, got
// a map" (R15): a key meant as an index is judged as one.
TEST_F(ConfigTest, ListIndicesThatAreNoIndicesAreNamed) {
  auto err = [&](const std::vector<std::string>& sets, const std::vector<std::string>& files = {}) {
    auto r = load_config(files, sets);
    return r.ok() ? std::string{} : r.error().message;
  };
  EXPECT_EQ(err({"ports.-1.rss=off"}), "--set ports.-1.rss=off: ports.-1: '-1' is not a list index (ports has 1 entry: index 0)");
  EXPECT_EQ(err({"ports[-1].rss=off"}), "--set ports[-1].rss=off: ports.-1: '-1' is not a list index (ports has 1 entry: index 0)");
  EXPECT_EQ(err({"ports.+1.rss=off"}), "--set ports.+1.rss=off: ports.+1: '+1' is not a list index (ports has 1 entry: index 0)");
  EXPECT_EQ(err({"ports.999999999999.rss=off"}),
            "--set ports.999999999999.rss=off: ports[999999999999]: no such element: ports has 1 entry (indices from 0); "
            "give a whole list to replace it");
  EXPECT_EQ(err({"ports.99999999999999999999999.rss=off"}),
            "--set ports.99999999999999999999999.rss=off: ports[99999999999999999999999]: no such element: ports has 1 "
            "entry (indices from 0); give a whole list to replace it");
  const auto two = file("two.yaml", "ports:\n  - {name: a, devargs: net_null0}\n  - {name: b, devargs: net_null1}\n");
  EXPECT_EQ(err({"ports.-2.rss=off"}, {two}),
            "--set ports.-2.rss=off: ports.-2: '-2' is not a list index (ports has 2 entries: indices 0 .. 1)");
  const auto none = file("none.yaml", "ports: []\n");
  EXPECT_EQ(err({"ports.-1.rss=off"}, {none}),
            "--set ports.-1.rss=off: ports.-1: '-1' is not a list index (ports has no entries; give a whole list to set it)");
  // In a file: each key that is not an index, once a key is meant as one.
  EXPECT_EQ(error_of("ports: {-1: {rss: off}}\n"), where(1, 9) + ": ports.-1: '-1' is not a list index (ports has 1 entry: index 0)");
  EXPECT_EQ(error_of("ports: {0: {rss: off}, name: x}\n"),
            where(1, 24) + ": ports.name: 'name' is not a list index (ports has 1 entry: index 0)");
  EXPECT_EQ(error_of("ports: {name: p0}\n"), where(1, 8) + ": ports: expected a list of maps, got a map");
  EXPECT_EQ(error_of("ports: {000000000000: {rss: off}}\n"), "");  // index 0, however many digits
}

// Empty names and unbalanced brackets in a --set key path were skipped or glued on:
// workers..count=1, ports[0]rss=off and ports[0.rss=off were accepted (R15).
TEST_F(ConfigTest, MalformedSetKeyPathsAreRefused) {
  auto err = [](const std::string& set) {
    auto r = load_config({}, {set});
    return r.ok() ? std::string{} : r.error().message;
  };
  const std::string eg = " (e.g. workers.count=4, ports[0].rss=off)";
  EXPECT_EQ(err("workers..count=1"),
            "--set workers..count=1: 'workers..count' is not a key path: '.' at character 9 leaves an empty name between "
            "two dots" + eg);
  EXPECT_EQ(err("ports[0]rss=off"),
            "--set ports[0]rss=off: 'ports[0]rss' is not a key path: 'r' at character 9 follows ']'; a '.', a '[' or the "
            "'=' must come next" + eg);
  EXPECT_EQ(err("ports[0.rss=off"),
            "--set ports[0.rss=off: 'ports[0.rss' is not a key path: '[' at character 6 is not closed by ']'" + eg);
  EXPECT_EQ(err("ports[0[1]].rss=off"),
            "--set ports[0[1]].rss=off: 'ports[0[1]].rss' is not a key path: '[' at character 6 is not closed by ']'" + eg);
  EXPECT_EQ(err(".workers.count=1"),
            "--set .workers.count=1: '.workers.count' is not a key path: it starts with '.' at character 1; it must start "
            "with a section name" + eg);
  EXPECT_EQ(err("[0].rss=off"),
            "--set [0].rss=off: '[0].rss' is not a key path: it starts with '[' at character 1; it must start with a "
            "section name" + eg);
  EXPECT_EQ(err("workers.=1"), "--set workers.=1: 'workers.' is not a key path: it ends with '.'; a name must follow it" + eg);
  EXPECT_EQ(err("ports[].rss=off"),
            "--set ports[].rss=off: 'ports[].rss' is not a key path: '[]' at character 6 holds no list index" + eg);
  EXPECT_EQ(err("ports]0.rss=off"), "--set ports]0.rss=off: 'ports]0.rss' is not a key path: ']' at character 6 has no '[' "
                                    "before it" + eg);
  EXPECT_EQ(err("ports.[0].rss=off"), "--set ports.[0].rss=off: 'ports.[0].rss' is not a key path: '[' at character 7 "
                                      "follows a '.'; write NAME[INDEX] or NAME.INDEX" + eg);
  // The well-formed spellings.
  for (const std::string ok : {"ports.0.rss=off", "ports[0].rss=off", "evidence.triggers[0].type=rst",
                               "evidence.triggers.0.type=rst", "workers.count=1"})
    EXPECT_EQ(err(ok), "") << ok;
}

// ---- checks against the machine ----------------------------------------------------------

TEST_F(ConfigTest, ValidateAgainstTheMachine) {
  const auto f = file("t.yaml",
                      "eal: {lcores: '0-4'}\nworkers: {count: 4}\n"
                      "ports:\n  - {name: nic, pci: '0000:3b:00.0', timestamps: hw}\n"
                      "  - {name: vdev, devargs: 'net_af_packet0,iface=eth1', rss: off, rehash: software}\n"
                      "  - {name: gone, devargs: 'net_pcap7,rx_pcap=x', rss: off}\n"
                      "evidence:\n  capture_filter: 'tcp and'\n  triggers:\n    - {type: payload, rule: 42}\n"
                      "rules: {file: r.rules}\n");
  Origins org;
  auto r = load_config({f}, {}, &org);
  ASSERT_TRUE(r.ok()) << r.error().message;
  Environment env;
  env.lcore_count = 4;
  env.ports = {{"0000:3b:00.0", 2, 2048, true, false}, {"net_af_packet0", 1, 0, false, false}};
  env.check_bpf = [](const std::string& e) { return e == "tcp and" ? std::string("syntax error") : std::string(); };
  env.rule_ids = {1001};
  env.rule_ids_known = true;
  auto v = validate_against(r.value(), env, &org);
  ASSERT_FALSE(v.ok());
  const std::string p = (dir_ / "t.yaml").string();
  EXPECT_EQ(v.error().message,
            p + ":1:15: eal.lcores: lcore 4 does not exist: this machine has 4 lcores (0-3)\n" +
            p + ":4:5: ports[0].rx_queues: 4 RX queues asked (rx_queues 0, workers.count 4) but 0000:3b:00.0 offers at "
                "most 2; lower them, or set rss: off and rehash: software\n" +
            p + ":4:5: ports[0].rx_descriptors: 4096 descriptors but 0000:3b:00.0 offers at most 2048 per queue\n" +
            p + ":4:50: ports[0].timestamps: 0000:3b:00.0 gives no hardware timestamps; use auto (hw where offered, TSC "
                "otherwise) or tsc\n" +
            p + ":6:27: ports[2].devargs: the vdev net_pcap7 was not created (probed: 0000:3b:00.0, net_af_packet0): its "
                "driver refused its arguments, for the reason DPDK gives in its lines above\n" +
            p + ":8:19: evidence.capture_filter: 'tcp and' does not compile: syntax error\n" +
            p + ":10:29: evidence.triggers[0].rule: rule 42 is not defined in r.rules");

  env.lcore_count = 8;
  env.ports[0].max_rx_queues = 8;
  env.ports[0].max_rx_descriptors = 0;
  env.ports[0].hw_timestamps = true;
  env.ports.push_back({"net_pcap7", 1, 0, false, true});
  env.rule_ids = {42};
  env.check_bpf = nullptr;
  auto ok = validate_against(r.value(), env, &org);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
}

TEST_F(ConfigTest, ValidateAgainstNeedsADevicePerPort) {
  Environment env;
  env.lcore_count = 2;
  auto v = validate_against(Config{}, env);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message,
            "(default): ports[0].pci: port 'span0' has no device: set pci (a NIC, e.g. 0000:3b:00.0), devargs (a vdev, "
            "e.g. net_af_packet0,iface=eth1) or replay (a capture file)");
  Config c;
  c.ports[0].devargs = "net_af_packet0,iface=eth0";
  c.ports[0].rss = Rss::kSymmetric;
  c.workers.count = 1;
  env.ports = {{"net_af_packet0", 1, 0, false, false}};
  EXPECT_TRUE(validate_against(c, env).ok());
  c.ports[0].rx_queues = 2;
  env.ports[0].max_rx_queues = 4;
  auto v2 = validate_against(c, env);
  ASSERT_FALSE(v2.ok());
  EXPECT_EQ(v2.error().message,
            "(default): ports[0].rss: net_af_packet0 cannot do RSS, so 2 queues would not share the traffic; set rss: off "
            "and rehash: software");
}

// workers.share_cpus: worker lcores beyond the machine's CPUs are refused without it (the
// message names the first absent lcore and the machine's range), accepted with it; the main
// lcore must exist either way, and the eal.lcores / workers.count relation is unchanged.
TEST_F(ConfigTest, WorkerLcoresBeyondTheMachineNeedShareCpus) {
  const auto f = file("t.yaml",
                      "eal: {lcores: '0-4'}\nworkers: {count: 4}\n"
                      "ports:\n  - {name: mq, devargs: 'net_pcap0,rx_pcap=a.pcap', rss: off, rehash: software}\n");
  Origins org;
  auto r = load_config({f}, {}, &org);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r.value().workers.share_cpus);  // the default
  Environment env;
  env.lcore_count = 2;
  env.ports = {{"net_pcap0", 1, 0, false, true}};
  auto v = validate_against(r.value(), env, &org);
  ASSERT_FALSE(v.ok());
  const std::string p = (dir_ / "t.yaml").string();
  // One message for every missing lcore (until 2026-12-03 one line each: 299 for 0-300).
  EXPECT_EQ(v.error().message, p + ":1:15: eal.lcores: lcores 2, 3, 4 do not exist: this machine has 2 lcores (0-1)");
  Origins org_many;
  auto many = load_config({file("many.yaml", "eal: {lcores: 0-300}\n")}, {}, &org_many);
  ASSERT_TRUE(many.ok()) << many.error().message;
  auto vm = validate_against(many.value(), env, &org_many);
  ASSERT_FALSE(vm.ok());
  EXPECT_NE(vm.error().message.find("eal.lcores: 299 lcores (2, 3, ..., 300) do not exist: this machine has 2 lcores"),
            std::string::npos) << vm.error().message;
  const std::string& m = vm.error().message;
  EXPECT_EQ(m.find("eal.lcores", m.find("eal.lcores") + 1), std::string::npos) << m;  // one line for all

  // With the key (here from --set, as a YAML boolean): accepted.
  Origins org2;
  auto shared = load_config({f}, {"workers.share_cpus=true"}, &org2);
  ASSERT_TRUE(shared.ok()) << shared.error().message;
  EXPECT_TRUE(shared.value().workers.share_cpus);
  auto ok = validate_against(shared.value(), env, &org2);
  EXPECT_TRUE(ok.ok()) << ok.error().message;
  // In YAML too, and the rendered configuration carries it.
  auto y = load_config_text("workers: {share_cpus: yes}\n", "y", r.value());
  ASSERT_TRUE(y.ok()) << y.error().message;
  EXPECT_TRUE(validate_against(y.value(), env).ok());
  EXPECT_NE(render_yaml(y.value()).find("share_cpus: true"), std::string::npos) << render_yaml(y.value());

  // The main lcore is the EAL's own thread: it must exist even when workers share CPUs.
  Config c = shared.value();
  c.eal.lcores = "2-5";
  auto main_absent = validate_against(c, env);
  ASSERT_FALSE(main_absent.ok());
  EXPECT_EQ(main_absent.error().message,
            "(default): eal.lcores: lcore 2 does not exist: this machine has 2 lcores (0-1)");

  // The relation between workers.count and eal.lcores is not relaxed: workers still need
  // their lcores listed.
  EXPECT_EQ(error_of("eal: {lcores: '0-1'}\nworkers: {count: 3, share_cpus: true}\n"),
            where(2, 18) + ": workers.count: 3 workers need 3 lcores besides the main lcore 0, but eal.lcores '0-1' "
                           "leaves 1: add lcores to eal.lcores (e.g. 0-3) or lower workers.count");
  EXPECT_EQ(error_of("workers: {share_cpus: maybe}\n"),
            where(1, 23) + ": workers.share_cpus: expected true or false, got 'maybe'");
}

// ---- helpers -----------------------------------------------------------------------------

TEST(ConfigHelpers, LcoreLists) {
  auto r = parse_lcore_list("0-3,8,2,10-11");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value(), (std::vector<uint32_t>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_FALSE(parse_lcore_list("").ok());
  EXPECT_FALSE(parse_lcore_list("1-").ok());
  EXPECT_FALSE(parse_lcore_list("a").ok());
  EXPECT_FALSE(parse_lcore_list("0,,1").ok());
}

TEST(ConfigHelpers, DerivedQueuesAndMbufs) {
  Config c;
  EXPECT_EQ(effective_rx_queues(c, c.ports[0]), 1u);
  // 2 x 1 x 4096 + 1 x (32 + 512) = 8736 -> 16383
  EXPECT_EQ(effective_mbufs(c, c.ports[0]), 16383u);
  c.workers.count = 4;
  EXPECT_EQ(effective_rx_queues(c, c.ports[0]), 4u);
  c.ports[0].rss = Rss::kOff;
  EXPECT_EQ(effective_rx_queues(c, c.ports[0]), 1u);
  c.ports[0].mbufs = 5000;
  EXPECT_EQ(effective_mbufs(c, c.ports[0]), 5000u);
}

TEST(ConfigHelpers, KeyPathsCoverEverySection) {
  const auto keys = key_paths();
  for (const char* k : {"eal.lcores", "ports[].rehash", "workers.burst", "flow_table.eviction", "tcp.record_ring",
                        "outputs.rotate_seconds", "evidence.triggers[].window_ms", "evidence.triggers[].expr",
                        "evidence.sampling.one_in_n", "telemetry.prometheus.port", "imbalance.core_skew_threshold",
                        "rules.file"})
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
}

// A verdict trigger takes the analysis verdicts by their event names; a misspelt or missing
// name is refused with the key, the name and the closest one, not ignored.
TEST_F(ConfigTest, VerdictTriggerNamesAreChecked) {
  auto r = load_config({}, {"evidence.triggers=[{type: verdict, names: [spurious_retransmission, rst_after_fin]}]"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r.value().evidence.triggers.size(), 1u);
  EXPECT_EQ(r.value().evidence.triggers[0].type, TriggerType::kVerdict);
  EXPECT_EQ(r.value().evidence.triggers[0].names, (std::vector<std::string>{"spurious_retransmission", "rst_after_fin"}));
  const std::string typo = error_of("evidence:\n  triggers:\n    - {type: verdict, names: [spurious_retransmision]}\n");
  EXPECT_NE(typo.find("evidence.triggers[0].names: unknown verdict 'spurious_retransmision' (did you mean "
                      "'spurious_retransmission'?); one of: retransmission, "),
            std::string::npos) << typo;
  const std::string empty = error_of("evidence:\n  triggers:\n    - {type: verdict, names: []}\n");
  EXPECT_NE(empty.find("evidence.triggers[0].names: a verdict trigger needs at least one verdict name"), std::string::npos)
      << empty;
  // Names belong to the verdict type only.
  const std::string misplaced = error_of("evidence:\n  triggers:\n    - {type: rst, names: [dsack]}\n");
  EXPECT_NE(misplaced.find("it belongs to: verdict"), std::string::npos) << misplaced;
}

}  // namespace
