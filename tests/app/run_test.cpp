// End-to-end tests of `seqwatch run` (the appliance runtime): a pipeline on a DPDK
// net_pcap port gives the same results as `analyze`; several workers behind the software
// rehash stage give the same events; configuration errors name file, key and reason;
// SIGTERM leaves every output complete and valid; SIGHUP re-opens the JSON-lines files.
#include <gtest/gtest.h>

#include "support/command.hpp"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;

using seqwatch::test::CmdResult;
using seqwatch::test::exe;
using seqwatch::test::run;
using seqwatch::test::src_dir;
std::string demo_pcap() { return src_dir() + "/data/demo.pcap"; }

std::string fresh_dir(const std::string& name) {
  const std::string d = seqwatch::test::scratch_dir() + "run-" + name;
  fs::remove_all(d);
  return d;
}

std::string seqwatch_run(const std::string& out, const std::string& extra) {
  return "cd '" + src_dir() + "' && " + exe() + " run --pipeline pipelines/demo.yaml --out '" + out + "' " + extra;
}

// Every line of a JSON-lines file parses; returns them without worker-specific fields,
// sorted (a multiset comparison).
std::vector<std::string> json_lines(const std::string& path) {
  std::vector<std::string> v;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ": not JSON: " << line;
    j.erase("flow");
    j.erase("worker");
    v.push_back(j.dump());
  }
  std::sort(v.begin(), v.end());
  return v;
}

// data/demo.pcap on a net_pcap port, into `plain` as configured (must succeed) and into
// `variant` with `extra` settings; returns the second run.
CmdResult demo_twice(const std::string& plain, const std::string& variant, const std::string& extra) {
  const std::string port = "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap";
  const CmdResult a = run(seqwatch_run(plain, port));
  EXPECT_EQ(a.rc, 0) << a.out;
  return run(seqwatch_run(variant, port + " " + extra));
}

TEST(Run, PipelineOnNetPcapPortMatchesAnalyze) {
  const std::string out = fresh_dir("pcap");
  const CmdResult r = run(seqwatch_run(out, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap"));
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* f : {"config.yaml", "events.jsonl", "flows.jsonl", "summary.json", "stats.jsonl"})
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  const std::string ev = out + "/analyze-events.jsonl", fl = out + "/analyze-flows.jsonl";
  const CmdResult a = run(exe() + " analyze " + demo_pcap() + " --events " + ev + " --flows " + fl);
  ASSERT_EQ(a.rc, 0) << a.out;
  EXPECT_EQ(json_lines(out + "/events.jsonl"), json_lines(ev));
  EXPECT_EQ(json_lines(out + "/flows.jsonl"), json_lines(fl));
  std::ifstream s(out + "/summary.json");
  const auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j["packets"], 11274);
  EXPECT_EQ(j["ports"][0]["ipackets"], 11274);
  EXPECT_EQ(j["outputs"]["events_dropped"], 0);
  // The effective configuration written into the run folder loads back.
  const CmdResult c = run(exe() + " config --config '" + out + "/config.yaml'");
  EXPECT_EQ(c.rc, 0) << c.out;
}

// flow_table.active_timeout_s reaches the workers of `seqwatch run`: the demo capture on a
// net_pcap port (its own packet times) with 0.5 s periods writes the same active records as
// `analyze --active-timeout 0.5`, and the final records of a run without it.
TEST(Run, ActiveTimeoutWritesTheRecordsAnalyzeWrites) {
  const std::string plain = fresh_dir("active-off"), out = fresh_dir("active");
  const CmdResult r = demo_twice(plain, out, "--set flow_table.active_timeout_s=0.5");
  ASSERT_EQ(r.rc, 0) << r.out;
  const std::string fl = out + "/analyze-flows.jsonl";
  const CmdResult a = run(exe() + " analyze " + demo_pcap() + " --active-timeout 0.5 --flows " + fl);
  ASSERT_EQ(a.rc, 0) << a.out;
  const auto lines = json_lines(out + "/flows.jsonl");
  EXPECT_EQ(lines, json_lines(fl));
  std::vector<std::string> finals;
  size_t active = 0;
  for (const auto& l : lines) {
    if (l.find("\"end\":\"active\"") != std::string::npos) ++active;
    else finals.push_back(l);
  }
  EXPECT_GE(active, 8u);
  EXPECT_EQ(finals, json_lines(plain + "/flows.jsonl"));
  std::ifstream s(out + "/summary.json");
  EXPECT_EQ(nlohmann::json::parse(s)["outputs"]["active_flow_records"].get<size_t>(), active);
}

// A port whose packets carry their own, old times (the replay port paces data/demo.pcap,
// recorded on 2026-11-23, with the capture's timestamps) keeps its packet clock: a quiet
// moment ages flows and rotates evidence files by packet time plus the time since the
// newest packet, not by the wall clock (until 2026-12-02: every flow of the replay ended
// "idle" within a second, and the evidence file rotated at every tick of the control thread).
TEST(Run, APacedReplayOfAnOldCaptureKeepsItsPacketClock) {
  const std::string out = fresh_dir("paced");
  const CmdResult r = run(seqwatch_run(out, "--duration 3 --set ports.0.devargs= --set ports.0.replay=data/demo.pcap "
                                            "--set ports.0.replay_rate_pps=3000 --set telemetry.prometheus.enabled=false"));
  ASSERT_EQ(r.rc, 0) << r.out;
  size_t evidence_files = 0;
  for (const auto& e : fs::directory_iterator(out + "/evidence"))
    evidence_files += e.path().extension() == ".pcapng";
  EXPECT_EQ(evidence_files, 1u);  // 3 s of a 4 s capture, rotation after 3600 s
  std::ifstream fl(out + "/flows.jsonl");
  size_t flows = 0;
  for (std::string line; std::getline(fl, line); ++flows)
    EXPECT_NE(nlohmann::json::parse(line)["end"], "idle") << line;  // idle_timeout_s 30; 4 s of capture
  EXPECT_GE(flows, 1u);
  std::ifstream s(out + "/summary.json");
  EXPECT_EQ(nlohmann::json::parse(s)["flow_table"]["expired_idle"], 0);
}

// outputs.rotate_bytes: the events go to events.jsonl.1, .2, ... and events.jsonl, each
// under the limit, whole lines only, together exactly the events of an unrotated run.
TEST(Run, RotatedEventFilesHoldEveryEventOnce) {
  const std::string plain = fresh_dir("unrotated"), rotated = fresh_dir("rotated");
  const CmdResult r = demo_twice(plain, rotated, "--set outputs.rotate_bytes=64KiB");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::vector<std::string> all;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(rotated)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("events.jsonl", 0) != 0) continue;
    ++files;
    EXPECT_LE(fs::file_size(e.path()), 64u << 10) << name;
    const auto v = json_lines(e.path().string());
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_GT(files, 3u);
  EXPECT_EQ(all, json_lines(plain + "/events.jsonl"));
  std::ifstream s(rotated + "/summary.json");
  const auto j = nlohmann::json::parse(s)["output_files"]["events"];
  EXPECT_EQ(j["rotations"].get<size_t>() + 1, files);
  EXPECT_EQ(j["lines"].get<size_t>(), all.size());
  EXPECT_EQ(j["lines_lost"], 0);
}

// The software rehash stage in the live runtime (FrameRing hand-off to the worker) gives
// the same events as the port feeding the worker directly. (More workers than this
// 2-CPU machine's lcores are refused by `run`, tested below; `analyze -w N` covers N
// workers behind the same stage, tests/app/cli_test.cpp.)
TEST(Run, SoftwareRehashStageGivesTheSameEvents) {
  const std::string direct = fresh_dir("direct"), rehashed = fresh_dir("rehashed");
  const CmdResult r = demo_twice(direct, rehashed, "--set ports.0.rehash=software");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("software rehash"), std::string::npos) << r.out;
  EXPECT_EQ(json_lines(direct + "/events.jsonl"), json_lines(rehashed + "/events.jsonl"));
  EXPECT_EQ(json_lines(direct + "/flows.jsonl"), json_lines(rehashed + "/flows.jsonl"));
  std::ifstream s(rehashed + "/summary.json");
  const auto j = nlohmann::json::parse(s);
  EXPECT_EQ(j["rehash"]["packets"], 11274);
  EXPECT_EQ(j["rehash"]["dropped_full"], 0);
}

// ports.timestamps: auto takes net_pcap's timestamps (the capture's own times), tsc stamps
// packets with the TSC converted to wall time on arrival.
TEST(Run, TimestampSourceFollowsTheConfiguration) {
  const std::string port = "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap";
  const std::string a = fresh_dir("ts-auto"), t = fresh_dir("ts-tsc");
  ASSERT_EQ(run(seqwatch_run(a, port)).rc, 0);
  ASSERT_EQ(run(seqwatch_run(t, port + " --set ports.0.timestamps=tsc")).rc, 0);
  auto first_ts = [](const std::string& dir) {
    std::ifstream s(dir + "/summary.json");
    return nlohmann::json::parse(s)["first_ts_ns"].get<uint64_t>();
  };
  // auto: the capture's own first time, as the file reader sees it
  const std::string sum = fresh_dir("ts-file") + ".json";
  ASSERT_EQ(run(exe() + " analyze " + demo_pcap() + " --json " + sum).rc, 0);
  std::ifstream fs_(sum);
  EXPECT_EQ(first_ts(a), nlohmann::json::parse(fs_)["first_ts_ns"].get<uint64_t>());
  const uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  EXPECT_LT(now - first_ts(t), 600ull * 1000000000ull);  // stamped on arrival, minutes ago at most
}

TEST(Run, MoreWorkersThanLcoresAreRefused) {
  const unsigned cpus = std::thread::hardware_concurrency();
  const std::string lcores = "0-" + std::to_string(cpus);  // one more than the machine has
  const CmdResult r = run(seqwatch_run(fresh_dir("toomany"), "--set ports.0.devargs=net_null0 --set ports.0.rehash=software"
                                       " --set workers.count=" + std::to_string(cpus) + " --set eal.lcores=" + lcores));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("eal.lcores: lcore " + std::to_string(cpus) + " does not exist"), std::string::npos) << r.out;
}

TEST(Run, BadConfigurationNamesFileKeyAndReason) {
  const std::string bad = seqwatch::test::scratch_dir() + "bad-pipeline.yaml";
  {
    std::ofstream f(bad);
    f << "workers:\n  count: 2\nflow_table:\n  idle_timout_s: 10\nports:\n  - name: p\n    devargs: net_null0\n"
         "    rx_descriptors: 1000\n";
  }
  const CmdResult r = run(exe() + " run --pipeline " + bad + " --out " + fresh_dir("bad"));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find(bad + ":4:3: flow_table.idle_timout_s: unknown key; did you mean 'idle_timeout_s'?"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("ports[0].rx_descriptors"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("power of two"), std::string::npos) << r.out;
  const CmdResult s = run(exe() + " config --set workers.count=zero");
  EXPECT_EQ(s.rc, 2) << s.out;
  EXPECT_NE(s.out.find("workers.count"), std::string::npos) << s.out;
  // A port that does not exist on this machine is named after the EAL starts.
  const CmdResult p = run(seqwatch_run(fresh_dir("noport"), "--set ports.0.pci=0000:ff:1f.7"));
  EXPECT_NE(p.rc, 0) << p.out;
  EXPECT_NE(p.out.find("0000:ff:1f.7"), std::string::npos) << p.out;
}

// BPF expressions are checked with the configuration, for the port's link type: a bad one is
// named with its key and where it was set, exit 2, before anything is written (the engine
// found it after the start, exit 1, with no key; review 5, R2).
TEST(Run, BadBpfExpressionsAreRefusedWithTheirKeys) {
  const std::string out = fresh_dir("badbpf");
  const CmdResult r = run(seqwatch_run(out, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap "
                                            "--set 'evidence.capture_filter=tcp and and' "
                                            "--set 'evidence.triggers=[{type: bpf, expr: \"port 99999\"}]'"));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("evidence.capture_filter: 'tcp and and' does not compile: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("evidence.triggers[0].expr: 'port 99999' does not compile: illegal port number"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out)) << r.out;
}

// What the configuration names outside itself (capture files, interfaces, the DPDK driver,
// the rules file, hugepages, output files) is checked before the EAL starts or before the
// capture runs, named with its key and where it was set, exit 2 (review 5, R3-R5: DPDK's
// raw lines and a guessed hint, exit 1, or a whole run and then a lost summary).
TEST(Run, WhatTheConfigurationNamesOutsideItselfIsCheckedAtTheStart) {
  const std::string out = fresh_dir("outside");
  struct Case {
    std::string set, expect;
  };
  const Case cases[] = {
      {"--set ports.0.devargs=net_pcap0,rx_pcap=data/no-such-file.pcap",
       "--set ports.0.devargs=net_pcap0,rx_pcap=data/no-such-file.pcap: ports[0].devargs: net_pcap0: rx_pcap "
       "'data/no-such-file.pcap' cannot be read: "},
      {"--set ports.0.devargs=net_pcap0,rx_pcap=config/seqwatch.yaml",
       "ports[0].devargs: net_pcap0: rx_pcap 'config/seqwatch.yaml' cannot be read: unknown file format"},
      {"--set ports.0.devargs= --set ports.0.replay=data/no-such-file.pcap",
       "ports[0].replay: cannot replay 'data/no-such-file.pcap': "},
      {"--set ports.0.devargs=net_af_packet0,iface=swnosuch0",
       "ports[0].devargs: net_af_packet0: no network interface 'swnosuch0' here"},
      {"--set ports.0.devargs=net_bogus0",
       "--set ports.0.devargs=net_bogus0: ports[0].devargs: DPDK has no driver net_bogus (no librte_net_bogus.so in "},
      {"--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set rules.file=/no-such.rules",
       "--set rules.file=/no-such.rules: rules.file: "},
      {"--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set outputs.summary=/",
       "--set outputs.summary=/: outputs.summary: '/' is a folder; name a file"},
      {"--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set outputs.summary=/proc/seqwatch-summary.json",
       "outputs.summary: cannot create '/proc/seqwatch-summary.json': "},
      {"--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set outputs.events=/proc/nosuch/e.jsonl",
       "outputs.events: '/proc/nosuch' is not a folder that exists"},
  };
  for (const Case& c : cases) {
    const CmdResult r = run(seqwatch_run(out, c.set));
    EXPECT_EQ(r.rc, 2) << c.set << "\n" << r.out;
    EXPECT_NE(r.out.find("configuration does not fit this machine:\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.set << "\n" << r.out;
    EXPECT_EQ(r.out.find("packets"), std::string::npos) << r.out;  // refused before any capture
    EXPECT_FALSE(fs::exists(out)) << c.set;
  }

  // A gzip-compressed capture, which net_pcap and the replay port cannot read, is named so.
  const std::string gz = seqwatch::test::scratch_dir() + "run-demo.pcap.gz";
  ASSERT_EQ(run("gzip -c '" + demo_pcap() + "' > '" + gz + "'").rc, 0);
  for (const std::string& set : {"--set ports.0.devargs=net_pcap0,rx_pcap=" + gz,
                                 "--set ports.0.devargs= --set ports.0.replay=" + gz}) {
    const CmdResult r = run(seqwatch_run(out, set));
    EXPECT_EQ(r.rc, 2) << r.out;
    EXPECT_NE(r.out.find("gzip-compressed; DPDK ports read plain pcap or pcapng only: gunzip it first"),
              std::string::npos)
        << r.out;
  }

  // Hugepages: without eal.no_huge, a machine with none reserved is told how to get them.
  uint64_t reserved = 0;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/sys/kernel/mm/hugepages", ec)) {
    uint64_t n = 0;
    std::ifstream(d.path() / "nr_hugepages") >> n;
    reserved += n;
  }
  const CmdResult h = run(seqwatch_run(out, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set eal.no_huge=false"));
  const bool told = h.out.find("--set eal.no_huge=false: eal.no_huge: no hugepages are reserved on this machine") !=
                    std::string::npos;
  EXPECT_EQ(told, reserved == 0) << "reserved hugepages: " << reserved << "\n" << h.out;
  if (reserved == 0) {
    EXPECT_EQ(h.rc, 2) << h.out;
  }
  fs::remove_all(out);

  // An output file in a subfolder of the run folder: the subfolder is made.
  const CmdResult sub = run(seqwatch_run(out, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap "
                                              "--set outputs.events=logs/events.jsonl --set outputs.summary=logs/s.json"));
  EXPECT_EQ(sub.rc, 0) << sub.out;
  EXPECT_GT(fs::file_size(out + "/logs/events.jsonl", ec), 0u) << sub.out;
  EXPECT_TRUE(fs::exists(out + "/logs/s.json")) << sub.out;

  // A start refused at its outputs leaves an earlier run's files in the same folder as they
  // were: every output is checked before the first is opened (opening truncates).
  const auto before = fs::file_size(out + "/logs/events.jsonl", ec);
  const CmdResult again = run(seqwatch_run(out, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap "
                                                "--set outputs.events=logs/events.jsonl "
                                                "--set outputs.flows=/proc/nosuch/flows.jsonl"));
  EXPECT_EQ(again.rc, 2) << again.out;
  EXPECT_NE(again.out.find("outputs.flows: '/proc/nosuch' is not a folder that exists"), std::string::npos) << again.out;
  EXPECT_EQ(fs::file_size(out + "/logs/events.jsonl", ec), before) << again.out;
}

// A refused start leaves nothing behind: no run folder, and an earlier run's config.yaml in
// the same folder as it was (the folder and config.yaml were written before the checks that
// need the machine; review 5, R1). An evidence folder that is a file is refused at the
// start, not found out slice by slice (R4).
TEST(Run, ARefusedStartLeavesNoFolderAndKeepsAnEarlierConfig) {
  const std::string missing = "--set ports.0.devargs=net_pcap0,rx_pcap=data/no-such-file.pcap";
  const std::string fresh = fresh_dir("refused");
  CmdResult r = run(seqwatch_run(fresh, missing));
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_FALSE(fs::exists(fresh)) << r.out;
  const std::string stamped = fresh_dir("refused-stamped");
  r = run("cd '" + src_dir() + "' && " + exe() + " run --pipeline pipelines/demo.yaml " + missing +
          " --set outputs.dir=" + stamped + "/runs --set outputs.run_subdir=true");
  EXPECT_NE(r.rc, 0) << r.out;
  EXPECT_FALSE(fs::exists(stamped)) << r.out;

  const std::string earlier = fresh_dir("earlier");
  r = run(seqwatch_run(earlier, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap"));
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ifstream before_in(earlier + "/config.yaml");
  const std::string before((std::istreambuf_iterator<char>(before_in)), std::istreambuf_iterator<char>());
  ASSERT_NE(before.find("burst: 32"), std::string::npos) << before;
  for (const std::string& refused :
       {missing + " --set workers.burst=7",
        std::string("--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set workers.burst=7 "
                    "--set rules.file=/nonexistent.rules")}) {
    r = run(seqwatch_run(earlier, refused));
    EXPECT_NE(r.rc, 0) << r.out;
    std::ifstream after_in(earlier + "/config.yaml");
    const std::string after((std::istreambuf_iterator<char>(after_in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(after, before) << refused;
    EXPECT_FALSE(fs::exists(earlier + "/config.yaml.starting"));
  }

  const std::string evfile = fresh_dir("evidence-file");
  fs::create_directories(evfile);
  std::ofstream(evfile + "/ev") << "x\n";
  r = run(seqwatch_run(evfile, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set evidence.enabled=true "
                               "--set evidence.dir=ev"));
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("evidence.dir: '" + evfile + "/ev' exists and is not a folder"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(evfile + "/config.yaml"));
}

// A capture file that libpcap (and so net_pcap) reads only in part, cut mid-record: the run
// says so at the start and in its report, the summary carries `read_errors`, the exit status
// is 1, and the frames before the damage are analysed as `analyze` analyses them. Until
// 2026-12-03 such a run ended with exit 0 and only `ierrors 1` in the port stats.
TEST(Run, ACaptureReadOnlyInPartIsSaidSoAndFailsTheRun) {
  const std::string dir = fresh_dir("damaged");
  fs::create_directories(dir);
  const std::string cut = dir + "/cut.pcap";
  {
    std::ifstream in(demo_pcap(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, 100000);
  }
  const CmdResult a = run(exe() + " analyze '" + cut + "' --json '" + dir + "/analyze.json'");
  EXPECT_EQ(a.rc, 1) << a.out;
  std::ifstream aj(dir + "/analyze.json");
  const auto want = nlohmann::json::parse(aj);
  const CmdResult r = run(seqwatch_run(dir + "/run", "--set ports.0.devargs=net_pcap0,rx_pcap=" + cut));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("warning: --set ports.0.devargs=net_pcap0,rx_pcap=" + cut + ": ports[0].devargs: rx_pcap '" +
                       cut + "': net_pcap reads it only up to frame " + std::to_string(want["packets"].get<uint64_t>())),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("READ ERROR"), std::string::npos) << r.out;
  std::ifstream sj(dir + "/run/summary.json");
  const auto j = nlohmann::json::parse(sj);
  EXPECT_EQ(j["packets"], want["packets"]);
  EXPECT_EQ(j["tcp"]["segments"], want["tcp"]["segments"]);
  ASSERT_TRUE(j.contains("read_errors")) << j.dump();
  EXPECT_NE(j["read_errors"][0].get<std::string>().find("truncated"), std::string::npos) << j["read_errors"];
  // The whole file: no such line, exit 0.
  const CmdResult whole = run(seqwatch_run(dir + "/whole", "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap"));
  EXPECT_EQ(whole.rc, 0) << whole.out;
  EXPECT_EQ(whole.out.find("READ ERROR"), std::string::npos) << whole.out;
}

// An output path that names a capture a port reads is refused at the start (exit 2, the
// setting named), the capture untouched: until 2026-12-03 `outputs.flows` naming the
// net_pcap port's file overwrote it while it was being read.
TEST(Run, AnOutputNamingACaptureBeingReadIsRefused) {
  const std::string dir = fresh_dir("output-is-input");
  fs::create_directories(dir);
  const std::string copy = dir + "/in.pcap";
  fs::copy_file(demo_pcap(), copy);
  const auto size = fs::file_size(copy);
  for (const std::string key : {"outputs.flows", "outputs.events", "telemetry.stats_file"}) {
    const CmdResult r =
        run(seqwatch_run(dir + "/run", "--set ports.0.devargs=net_pcap0,rx_pcap=" + copy + " --set " + key + "=" + copy));
    EXPECT_EQ(r.rc, 2) << key << ": " << r.out;
    EXPECT_NE(r.out.find(key + ": '" + copy + "' is the capture being read"), std::string::npos) << r.out;
    EXPECT_EQ(fs::file_size(copy), size) << key;
  }
}

// Runs writing into the same outputs.dir with run_subdir each get a folder of their own,
// claimed with mkdir: a folder with the start second's stamp that exists already is left
// alone and the run takes "<stamp>-2". Until 2026-12-03 two runs started in the same second
// shared one folder and overwrote each other's files.
TEST(Run, RunsStartedInTheSameSecondGetTheirOwnFolders) {
  const std::string base = fresh_dir("same-second");
  // Every stamp the run may take in the next seconds is taken already, a marker in each.
  std::vector<std::string> stamps;
  for (int s = 0; s < 20; ++s) {
    const std::time_t t = std::time(nullptr) + s;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
    stamps.push_back(buf);
    fs::create_directories(base + "/" + buf);
    std::ofstream(base + "/" + buf + "/summary.json") << "earlier\n";
  }
  const CmdResult r = run("cd '" + src_dir() + "' && " + exe() + " run --pipeline pipelines/demo.yaml --set " +
                          "ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap --set outputs.dir=" + base +
                          " --set outputs.run_subdir=true");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto at = r.out.find("outputs in " + base + "/");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string folder = r.out.substr(at + 12 + base.size(), r.out.find('\n', at) - at - 12 - base.size());
  EXPECT_TRUE(folder.size() > 2 && folder.substr(folder.size() - 2) == "-2") << folder;
  EXPECT_NE(std::find(stamps.begin(), stamps.end(), folder.substr(0, folder.size() - 2)), stamps.end()) << folder;
  EXPECT_TRUE(fs::exists(base + "/" + folder + "/summary.json"));
  for (const std::string& s : stamps) {
    std::ifstream in(base + "/" + s + "/summary.json");
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "earlier") << s;
  }
}

// net_pcap with infinite_rx=1 stamps no frame: `timestamps: hw` is refused at the start with
// the key named, and under `auto` the frames that carry the host's clock instead of the
// device's are counted (summary ports[].host_stamped, a report line). Until 2026-12-03 `hw`
// fell back to the host's clock without a word.
TEST(Run, FramesWithoutTheDevicesTimestampAreCountedAndHwIsRefusedWhereNoneCome) {
  const std::string loop = "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap,infinite_rx=1";
  const CmdResult hw = run(seqwatch_run(fresh_dir("loop-hw"), loop + " --set ports.0.timestamps=hw --duration 1"));
  EXPECT_EQ(hw.rc, 2) << hw.out;
  EXPECT_NE(hw.out.find("ports[0].timestamps: net_pcap0 with infinite_rx=1 stamps no frame"), std::string::npos)
      << hw.out;
  const std::string out = fresh_dir("loop-auto");
  const CmdResult a = run(seqwatch_run(out, loop + " --set ports.0.timestamps=auto --duration 1"));
  ASSERT_EQ(a.rc, 0) << a.out;
  std::ifstream sj(out + "/summary.json");
  const auto j = nlohmann::json::parse(sj);
  EXPECT_GT(j["ports"][0]["host_stamped"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["ports"][0]["host_stamped"], j["ports"][0]["ipackets"]);
  EXPECT_NE(a.out.find("came without the device's timestamp"), std::string::npos) << a.out;
  // Read as it goes (no infinite_rx), every frame has the capture's own time.
  const std::string plain = fresh_dir("plain-hw");
  const CmdResult p = run(seqwatch_run(plain, "--set ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap "
                                              "--set ports.0.timestamps=hw"));
  ASSERT_EQ(p.rc, 0) << p.out;
  std::ifstream pj(plain + "/summary.json");
  EXPECT_EQ(nlohmann::json::parse(pj)["ports"][0]["host_stamped"], 0);
}

// Starts `seqwatch run` in the background on an endless replay; returns its pid.
pid_t start_endless(const std::string& out, const std::string& extra_set = "") {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string log = out + ".log";
    fs::create_directories(out);
    std::freopen(log.c_str(), "w", stdout);
    std::freopen(log.c_str(), "a", stderr);
    if (chdir(src_dir().c_str()) != 0) _exit(126);
    const std::string e = exe();
    execl(e.c_str(), e.c_str(), "run", "--pipeline", "pipelines/demo.yaml", "--out", out.c_str(), "--set",
          "ports.0.devargs=net_pcap0,rx_pcap=data/demo.pcap,infinite_rx=1", "--set", "outputs.stats_interval_s=0.2",
          "--set", extra_set.empty() ? "outputs.stats_interval_s=0.2" : extra_set.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool wait_for(const std::function<bool()>& cond, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

int wait_exit(pid_t pid, double seconds) {
  int st = 0;
  const bool done = wait_for([&] { return waitpid(pid, &st, WNOHANG) == pid; }, seconds);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

TEST(Run, SigtermFlushesEveryOutputAndSighupReopens) {
  const std::string out = fresh_dir("signals");
  const pid_t pid = start_endless(out, "evidence.rotate_bytes=1MiB");  // index lines as each file completes
  ASSERT_GT(pid, 0);
  const std::string events = out + "/events.jsonl";
  // Running: events are being written and stats lines appear.
  ASSERT_TRUE(wait_for([&] { return fs::exists(events) && fs::file_size(events) > 100000; }, 60)) << "no events";
  ASSERT_TRUE(wait_for([&] { return fs::exists(out + "/stats.jsonl") && fs::file_size(out + "/stats.jsonl") > 0; }, 30));
  // Log rotation: move the file away, SIGHUP, a new file appears and fills.
  fs::rename(events, events + ".1");
  // The evidence index too (until 2026-12-03 it kept writing into the renamed file, and the
  // summary named an index that did not exist).
  const std::string index = out + "/evidence/evidence-index.jsonl";
  const bool had_index = wait_for([&] { return fs::exists(index) && fs::file_size(index) > 0; }, 30);
  EXPECT_TRUE(had_index) << "no evidence file completed";
  if (had_index) fs::rename(index, index + ".1");
  kill(pid, SIGHUP);
  ASSERT_TRUE(wait_for([&] { return fs::exists(events) && fs::file_size(events) > 0; }, 30)) << "not re-opened";
  const uintmax_t index_old = had_index ? fs::file_size(index + ".1") : 0;  // whole lines, flushed when written
  kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid, 60), 0);
  EXPECT_TRUE(fs::exists(index)) << "the index named in the summary";  // the last file's lines, at least
  if (had_index) {
    EXPECT_EQ(fs::file_size(index + ".1"), index_old) << "lines went on into the renamed index";
  }
  // Every file is complete: each line of every JSON-lines file parses, the summary exists.
  for (const std::string& f : {events + ".1", events, out + "/flows.jsonl", out + "/stats.jsonl"}) {
    SCOPED_TRACE(f);
    std::ifstream in(f);
    size_t n = 0;
    for (std::string line; std::getline(in, line); ++n)
      ASSERT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
    EXPECT_GT(n, 0u);
  }
  std::ifstream s(out + "/summary.json");
  const auto j = nlohmann::json::parse(s, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["stopped_by_signal"], true);
  EXPECT_GT(j["packets"].get<uint64_t>(), 11274u);  // the replay looped
  // Every flow still open at the signal got its record.
  EXPECT_EQ(j["flow_table"]["inserts"].get<uint64_t>(), j["outputs"]["flow_records"].get<uint64_t>());
}

}  // namespace
