// End-to-end tests of evidence output through the product's path (`seqwatch extract` and
// `analyze --evidence`): slices hold exactly the history, the trigger and the following
// packets of the trigger's connection, tshark reads every file cleanly and shows the
// verdict comments, original lengths survive trimming, and a --flow trigger extracts one
// whole connection.
#include <gtest/gtest.h>

#include "support/command.hpp"
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

using seqwatch::test::CmdResult;
using seqwatch::test::exe;
using seqwatch::test::run;
using seqwatch::test::src_dir;
std::string demo_pcap() { return seqwatch::test::src_dir() + "/data/demo.pcap"; }

std::vector<nlohmann::json> index_of(const std::string& dir) {
  std::vector<nlohmann::json> v;
  std::ifstream in(dir + "/evidence-index.jsonl");
  for (std::string line; std::getline(in, line);) v.push_back(nlohmann::json::parse(line));
  return v;
}

// tshark's view of the original capture: frame -> (tcp.stream, frame.len).
struct Original {
  std::map<uint64_t, int> stream;
  std::map<uint64_t, uint64_t> len;
  std::map<int, std::vector<uint64_t>> frames_of;
};
Original original(const std::string& file) {
  Original o;
  const CmdResult r = run("tshark -n -r '" + file + "' -T fields -e frame.number -e tcp.stream -e frame.len", false);
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    uint64_t frame, len;
    std::string stream;
    if (!(f >> frame >> stream >> len)) continue;
    o.stream[frame] = std::stoi(stream);
    o.len[frame] = len;
    o.frames_of[std::stoi(stream)].push_back(frame);
  }
  return o;
}

std::string fresh(const std::string& name) {
  const std::string d = seqwatch::test::scratch_dir() + "extract-" + name;
  fs::remove_all(d);
  return d;
}

TEST(Extract, SlicesHoldHistoryTriggerAndFollowingPacketsOfTheConnection) {
  const std::string out = fresh("dupack");
  const unsigned K = 4, M = 8;
  const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out + " --trigger dup_ack_run:3 --trigger rst" +
                          " --pre " + std::to_string(K) + " --post " + std::to_string(M));
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto idx = index_of(out);
  ASSERT_GT(idx.size(), 10u);
  const Original o = original(demo_pcap());
  size_t packets = 0;
  std::vector<uint64_t> all_frames;
  for (const auto& e : idx) {
    SCOPED_TRACE(e.dump());
    const auto frames = e["frames"].get<std::vector<uint64_t>>();
    ASSERT_FALSE(frames.empty());
    packets += frames.size();
    all_frames.insert(all_frames.end(), frames.begin(), frames.end());
    if (!e["complete"].get<bool>() || e["continued"].get<bool>()) continue;  // split by a rotation
    const uint64_t trig = e["trigger_frame"].get<uint64_t>();
    const auto& conn = o.frames_of.at(o.stream.at(trig));
    // Every packet of the slice belongs to the trigger's connection, in capture order,
    // without a gap: a contiguous run of that connection's packets.
    const auto first = std::find(conn.begin(), conn.end(), frames.front());
    ASSERT_NE(first, conn.end());
    ASSERT_LE(static_cast<size_t>(conn.end() - first), conn.size());
    ASSERT_GE(static_cast<size_t>(conn.end() - first), frames.size());
    EXPECT_TRUE(std::equal(frames.begin(), frames.end(), first)) << "not a contiguous run of the connection";
    // The trigger is in it, with K packets of history before it where the connection had
    // them, and at least M after it unless the connection ended first.
    const auto t = std::find(frames.begin(), frames.end(), trig);
    ASSERT_NE(t, frames.end());
    const size_t before_in_conn = static_cast<size_t>(std::find(conn.begin(), conn.end(), trig) - conn.begin());
    EXPECT_LE(static_cast<size_t>(t - frames.begin()), before_in_conn);
    const size_t after = static_cast<size_t>(frames.end() - t) - 1;
    const size_t after_in_conn = conn.size() - before_in_conn - 1;
    EXPECT_GE(after, std::min<size_t>(M, after_in_conn));
  }
  // tshark reads the file without a complaint, sees the same number of packets, with the
  // original lengths, and the comments name seqwatch's verdicts.
  std::string file;
  for (const auto& p : fs::directory_iterator(out))
    if (p.path().extension() == ".pcapng") file = p.path().string();
  ASSERT_FALSE(file.empty());
  const CmdResult t = run("tshark -n -r '" + file + "' -T fields -e frame.len -e frame.cap_len -e frame.comment 2>&1");
  ASSERT_EQ(t.rc, 0) << t.out;
  std::istringstream in(t.out);
  size_t n = 0, commented = 0;
  std::vector<uint64_t> lens, expected_lens;  // slices interleave in the file: compare as multisets
  for (uint64_t fr : all_frames) expected_lens.push_back(o.len.at(fr));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Running as user", 0) == 0) continue;
    std::istringstream f(line);
    uint64_t len, cap;
    ASSERT_TRUE(f >> len >> cap) << "tshark said: " << line;
    lens.push_back(len);
    EXPECT_LE(cap, len);
    commented += line.find("seqwatch: ") != std::string::npos;
    ++n;
  }
  EXPECT_EQ(n, packets);
  EXPECT_EQ(commented, n);
  std::sort(lens.begin(), lens.end());
  std::sort(expected_lens.begin(), expected_lens.end());
  EXPECT_EQ(lens, expected_lens);  // the original lengths survive trimming
}

// A verdict trigger (any analysis verdict chosen by name) opens a slice exactly at the
// segments the event stream gives those verdicts: every trigger packet carries one of them,
// and every connection with such a segment gets its slice.
TEST(Extract, VerdictTriggerOpensSlicesAtThoseVerdictsOnly) {
  const std::string out = fresh("verdict");
  const std::string events = seqwatch::test::scratch_dir() + "extract-verdict-events.jsonl";
  const CmdResult a = run(exe() + " analyze " + demo_pcap() + " --events '" + events + "'");
  ASSERT_EQ(a.rc, 0) << a.out;
  std::map<uint64_t, uint64_t> flow_of;  // frame -> flow, of the segments with the chosen verdicts
  std::ifstream in(events);
  for (std::string line; std::getline(in, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e.value("type", "") != "segment") continue;
    for (const auto& v : e["verdicts"])
      if (v == "fast_retransmission" || v == "dsack") flow_of[e["frame"].get<uint64_t>()] = e["flow"].get<uint64_t>();
  }
  ASSERT_FALSE(flow_of.empty()) << "the demo capture has fast retransmissions";
  const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out +
                          " --trigger verdict:fast_retransmission --trigger verdict:dsack --pre 2 --post 2");
  ASSERT_EQ(r.rc, 0) << r.out;
  const auto idx = index_of(out);
  ASSERT_FALSE(idx.empty());
  std::set<uint64_t> flows_sliced, flows_expected;
  for (const auto& [frame, flow] : flow_of) flows_expected.insert(flow);
  for (const auto& e : idx) {
    SCOPED_TRACE(e.dump());
    EXPECT_EQ(e["trigger"], nlohmann::json::array({"verdict"}));
    const uint64_t trig = e["trigger_frame"].get<uint64_t>();
    ASSERT_TRUE(flow_of.count(trig)) << "trigger frame " << trig << " carries neither verdict";
    flows_sliced.insert(flow_of.at(trig));
  }
  EXPECT_EQ(flows_sliced, flows_expected);
  // A name that is no verdict is refused, in the words typed.
  const CmdResult bad = run(exe() + " extract " + demo_pcap() + " -o " + out + "-bad --trigger verdict:dsack,fast_retransmision");
  EXPECT_EQ(bad.rc, 2);
  EXPECT_NE(bad.out.find("--trigger verdict:dsack,fast_retransmision: unknown verdict 'fast_retransmision'"), std::string::npos)
      << bad.out;
}

TEST(Extract, FlowTriggerWritesTheWholeConnection) {
  // The demo's third data connection, both directions.
  const Original o = original(demo_pcap());
  const CmdResult f = run("tshark -n -r " + demo_pcap() +
                              " -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -e ip.src -e tcp.srcport -e ip.dst "
                              "-e tcp.dstport",
                          false);
  std::istringstream in(f.out);
  std::vector<std::array<std::string, 4>> conns;
  for (std::string a, b, c, d; in >> a >> b >> c >> d;) conns.push_back({a, b, c, d});
  ASSERT_GE(conns.size(), 3u);
  const auto& c = conns[2];
  const std::string out = fresh("flow");
  const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out + " --flow " + c[0] + ":" + c[1] + "-" +
                          c[2] + ":" + c[3] + " --pre 0 --post 65535 --trim 64 --format pcap");
  ASSERT_EQ(r.rc, 0) << r.out;
  const CmdResult expect = run("tshark -n -r " + demo_pcap() + " -Y 'tcp.port == " + c[1] + "' 2>/dev/null | wc -l");
  std::string file;
  for (const auto& p : fs::directory_iterator(out))
    if (p.path().extension() == ".pcap") file = p.path().string();
  ASSERT_FALSE(file.empty()) << r.out;
  const CmdResult got = run("tshark -n -r '" + file + "' 2>/dev/null | wc -l");
  EXPECT_EQ(std::stoul(got.out), std::stoul(expect.out));
  const CmdResult caps = run("tshark -n -r '" + file + "' -T fields -e frame.cap_len 2>/dev/null | sort -n | tail -1");
  EXPECT_LE(std::stoul(caps.out), 64u);  // trimmed to 64 bytes
}

// A seqwatch-gen trace in the scratch folder.
std::string generated(const std::string& name, const std::string& options) {
  const std::string gen = seqwatch::test::gen_exe();
  const std::string pcap = seqwatch::test::scratch_dir() + name + ".pcap";
  const CmdResult g = run(gen + " " + options + " -o " + pcap);
  EXPECT_EQ(g.rc, 0) << g.out;
  return pcap;
}

// The packets and lines of an export's index.
struct IndexTotals {
  uint64_t packets = 0, lines = 0;
};
IndexTotals index_totals(const std::string& out) {
  IndexTotals t;
  std::ifstream idx(out + "/evidence-index.jsonl");
  for (std::string l; std::getline(idx, l); ++t.lines) t.packets += nlohmann::json::parse(l)["packets"].get<uint64_t>();
  return t;
}

// An offline export is lossless and deterministic: when triggers fire on every packet the
// worker outruns the control thread that writes the evidence, and waits for room in the
// evidence ring instead of losing records (before 2026-12-02 one run in two lost some: a
// different file each time). Three runs, byte-identical files and index, nothing lost.
TEST(Extract, EveryRunWritesTheSameEvidenceAndLosesNone) {
  const std::string pcap = generated("extract-flood", "--preset imix-100k --packets 100000 --seed 3 --usec");
  auto slurp = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  std::vector<std::map<std::string, std::string>> outputs;
  for (int k = 0; k < 3; ++k) {
    const std::string out = fresh("flood-" + std::to_string(k));
    const CmdResult r = run(exe() + " extract " + pcap + " -o " + out + " --bpf tcp --post 65535");
    ASSERT_EQ(r.rc, 0) << r.out;
    EXPECT_EQ(r.out.find("LOST"), std::string::npos) << r.out;
    std::map<std::string, std::string> files;
    for (const auto& p : fs::directory_iterator(out)) {
      std::string bytes = slurp(p.path());
      if (p.path().filename() == "evidence-index.jsonl") {  // names the folder: compare without it
        for (size_t at; (at = bytes.find(out)) != std::string::npos;) bytes.erase(at, out.size());
      }
      files[p.path().filename().string()] = std::move(bytes);
    }
    ASSERT_FALSE(files.empty());
    outputs.push_back(std::move(files));
  }
  EXPECT_GT(outputs[0].begin()->second.size(), 1000000u);  // a real export, not an empty file
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_EQ(outputs[0], outputs[2]);
}

// The appliance's budgets (a worker's 20,000 evidence packets per second of packet time, 4 MiB
// per flow) protect a live control thread and disk; an export writes every slice the triggers
// ask for. A trigger on every TCP packet of a 0.36 s trace: far more than the rate budget's
// 20,000 a second, none refused, nothing lost.
TEST(Extract, AnExportIsNotHeldToTheAppliancesBudgets) {
  const std::string pcap = generated("extract-budget", "--preset lossy --packets 200000 --seed 5");
  const std::string out = fresh("unbudgeted");
  const CmdResult r = run(exe() + " extract " + pcap + " -o " + out + " --bpf tcp --pre 0 --post 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.find("refused"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("LOST"), std::string::npos) << r.out;
  const uint64_t packets = index_totals(out).packets;
  // Every TCP packet is written once (each a trigger; its slice takes the next packet too,
  // which triggers again: the slices merge), far more than the rate budget lets through in
  // the trace's 0.36 s (at most two intervals of 20,000).
  const CmdResult t = run("tcpdump -q -nr " + pcap + " tcp", false);
  ASSERT_EQ(t.rc, 0) << "tcpdump";
  const uint64_t tcp_frames = static_cast<uint64_t>(std::count(t.out.begin(), t.out.end(), '\n'));
  EXPECT_GT(tcp_frames, 100000u);
  EXPECT_EQ(packets, tcp_frames);
}

// Every flow of a 100k-flow trace triggers and stays in its post phase to the end: ~100,000
// slices open at once in the control thread's sink, more than its old fixed limit (65,536),
// beyond which the oldest were dropped and their later packets went unwritten and unreported
// (30,635 of 400,000 here). The sink now keeps as many as the workers' flow slots can hold
// open, and the summary names any packet it could not place.
TEST(Extract, MoreOpenSlicesThanTheOldSinkLimitLoseNothing) {
  const std::string pcap = generated("extract-open-slices", "--preset imix-100k --packets 400000 --seed 9");
  const std::string out = fresh("open-slices");
  const CmdResult r = run(exe() + " extract " + pcap + " -o " + out + " --bpf tcp --post 65535");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.find("NOT written"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("LOST"), std::string::npos) << r.out;
  const IndexTotals t = index_totals(out);
  EXPECT_GT(t.lines, 65536u);
  EXPECT_EQ(t.packets, 400000u);
}

// A file left half-written by an interrupted export (NAME.partial) is neither reused nor
// in the way: the export picks the next name and writes everything.
TEST(Extract, APartialFileOfAnInterruptedRunIsNotInTheWay) {
  const std::string a = fresh("partial-a"), b = fresh("partial-b");
  const std::string args = " --trigger dup_ack_run:3 --pre 2 --post 4";
  ASSERT_EQ(run(exe() + " extract " + demo_pcap() + " -o " + a + args).rc, 0);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(a))
    if (e.path().extension() == ".pcapng") names.push_back(e.path().filename().string());
  ASSERT_EQ(names.size(), 1u);
  fs::create_directories(b);
  std::ofstream(b + "/" + names[0] + ".partial") << "left by a run that was killed";
  const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + b + args);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(index_totals(b).packets, index_totals(a).packets);
  EXPECT_EQ(r.out.find("FAILED"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(b + "/" + names[0] + ".partial"));  // not ours to delete
}

// Evidence that could not be written makes the export fail (exit status 1), not only a
// line in its report; a folder that cannot be written at all is refused before the capture
// is read (exit status 2).
TEST(Extract, AnUnwritableDirectoryFailsTheExport) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs (CI runs as root)";
  const std::string full = fresh("full");
  fs::create_directories(full);
  ASSERT_EQ(mount("tmpfs", full.c_str(), "tmpfs", 0, "size=8k"), 0);
  const CmdResult f = run(exe() + " extract " + demo_pcap() + " -o " + full + " --trigger dup_ack_run:3");
  umount(full.c_str());
  EXPECT_EQ(f.rc, 1) << f.out;
  EXPECT_NE(f.out.find("FAILED"), std::string::npos) << f.out;

  const std::string ro = fresh("readonly");
  fs::create_directories(ro);
  ASSERT_EQ(mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=64k"), 0);
  const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + ro + " --trigger dup_ack_run:3");
  umount(ro.c_str());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("-o: cannot write into '" + ro + "': Read-only file system"), std::string::npos) << r.out;
}

// A second trigger of a type replaced the first (--trigger dup_ack_run:3 --trigger
// dup_ack_run:200 gave no slice); a payload trigger naming no rule of --rules wrote
// nothing; an output folder that is a file lost every slice (review 5, R8, R9, R4).
TEST(Extract, RepeatedTriggerTypesUndefinedRulesAndUnusableFoldersAreRefused) {
  const std::string out = fresh("twice");
  CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out + " --trigger dup_ack_run:3 --trigger dup_ack_run:200");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--trigger dup_ack_run:200: a second dup_ack_run trigger (the first is --trigger dup_ack_run:3); "
                       "one trigger per type"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
  r = run(exe() + " extract " + demo_pcap() + " -o " + out + " --trigger payload:9999 --rules " + src_dir() +
          "/config/rules/default.rules");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--trigger payload:9999: rule 9999 is not defined in " + src_dir() + "/config/rules/default.rules"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
  const std::string file = fresh("a-file");
  std::ofstream(file) << "x\n";
  r = run(exe() + " extract " + demo_pcap() + " -o " + file + " --trigger dup_ack_run:3");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("-o: '" + file + "' exists and is not a folder"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("slices"), std::string::npos) << r.out;  // refused before reading the capture
}

// --trigger is checked in the words the user typed: a parameter where none is taken (rst:5
// dropped the 5), a number that is none, an unknown name; bpf:EXPR is --bpf EXPR. A BPF
// expression that does not compile for the capture's link type is refused before anything
// is written (exit 2).
TEST(Extract, TriggerFlagsAreCheckedAsTyped) {
  struct Case {
    const char* trigger;
    const char* message;
  };
  for (const Case& c : {Case{"rst:5", "--trigger rst:5: rst takes no parameter"},
                        Case{"dup_ack_run:abc", "--trigger dup_ack_run:abc: expected dup_ack_run:N (a whole number)"},
                        Case{"retransmission_storm:3", "expected retransmission_storm:N/MS"},
                        Case{"zero_window:-1", "expected zero_window:MS"},
                        Case{"bogus", "--trigger bogus: unknown trigger; one of rst,"}}) {
    const std::string out = fresh("trig");
    const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out + " --trigger '" + c.trigger + "'");
    EXPECT_EQ(r.rc, 2) << c.trigger << "\n" << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("--set"), std::string::npos) << r.out;  // no generated setting quoted
    EXPECT_FALSE(fs::exists(out));
  }
  const std::string a = fresh("bpf-trigger"), b = fresh("bpf-flag");
  const CmdResult t = run(exe() + " extract " + demo_pcap() + " -o " + a + " --trigger 'bpf:tcp[13] & 4 != 0'");
  const CmdResult f = run(exe() + " extract " + demo_pcap() + " -o " + b + " --bpf 'tcp[13] & 4 != 0'");
  ASSERT_EQ(t.rc, 0) << t.out;
  ASSERT_EQ(f.rc, 0) << f.out;
  std::ifstream ia(a + "/evidence-index.jsonl"), ib(b + "/evidence-index.jsonl");
  const std::string xa((std::istreambuf_iterator<char>(ia)), {}), xb((std::istreambuf_iterator<char>(ib)), {});
  EXPECT_FALSE(xa.empty());
  EXPECT_EQ(xa.size(), xb.size());
  const std::string bad = fresh("bpf-bad");
  const CmdResult n = run(exe() + " extract " + demo_pcap() + " -o " + bad + " --bpf 'port 99999'");
  EXPECT_EQ(n.rc, 2) << n.out;
  EXPECT_NE(n.out.find("'port 99999' does not compile: illegal port number"), std::string::npos) << n.out;
  EXPECT_FALSE(fs::exists(bad));
}

// A flag whose value the evidence settings refuse is named as the user typed it, not as the
// --set extract builds from it (review 5, R12).
TEST(Extract, RefusedFlagsAreNamedInTheUsersWords) {
  struct Case {
    std::string flags, message;
  };
  const std::string rules = src_dir() + "/config/rules/default.rules";
  for (const Case& c :
       {Case{"--trigger rst --trim 5", "--trim 5: trim 5 is out of range: 'headers' or 14 .. 65535 bytes"},
        Case{"--trigger rst --filter 'tcp and and'", "--filter tcp and and: 'tcp and and' does not compile: "},
        Case{"--trigger rst --bpf 'port 99999'", "--bpf port 99999: 'port 99999' does not compile: illegal port number"},
        Case{"--trigger rst --flow 10.0.0.1:99999-10.0.0.2:80",
             "--flow '10.0.0.1:99999-10.0.0.2:80': port 99999 is not a port (0 .. 65535)"},
        Case{"--trigger payload:5", "--trigger payload:5: a payload trigger needs --rules FILE, the rules file that "
                                    "defines rule 5"},
        Case{"--trigger payload:9999 --rules " + rules, "--trigger payload:9999: rule 9999 is not defined in " + rules},
        Case{"--flow garbage", "--flow 'garbage': expected ADDR:PORT-ADDR:PORT"}}) {
    const std::string out = fresh("words");
    const CmdResult r = run(exe() + " extract " + demo_pcap() + " -o " + out + " " + c.flags);
    EXPECT_EQ(r.rc, 2) << c.flags << "\n" << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << c.flags << "\n" << r.out;
    EXPECT_EQ(r.out.find("--set"), std::string::npos) << r.out;  // no generated setting quoted
    EXPECT_FALSE(fs::exists(out)) << c.flags;
  }
}

TEST(Extract, BadTriggersAndFiltersAreRejectedWithTheReason) {
  const CmdResult a = run(exe() + " extract " + demo_pcap() + " -o " + fresh("bad1") + " --trigger storms");
  EXPECT_NE(a.rc, 0);
  EXPECT_NE(a.out.find("storms"), std::string::npos) << a.out;
  const CmdResult b = run(exe() + " extract " + demo_pcap() + " -o " + fresh("bad2") + " --bpf 'tcp port eighty'");
  EXPECT_NE(b.rc, 0);
  EXPECT_NE(b.out.find("tcp port eighty"), std::string::npos) << b.out;
  const CmdResult c = run(exe() + " extract " + demo_pcap() + " -o " + fresh("bad3") + " --flow 10.0.0.1-10.0.0.2");
  EXPECT_NE(c.rc, 0);
  EXPECT_NE(c.out.find("ADDR:PORT-ADDR:PORT"), std::string::npos) << c.out;
}

}  // namespace

// The capture filter runs as native code (DPDK's rte_bpf JIT) where the EAL runs (`run`,
// `analyze --source dpdk`) and on libpcap's interpreter elsewhere, with the same verdicts:
// the same segments reach the analysis. The expression uses the forms DPDK 22.11 gets wrong
// without seqwatch's repairs (indexed byte loads, JSET with a small immediate).
TEST(Extract, CaptureFilterRunsNativelyWhereTheEalRunsWithTheSameVerdicts) {
  const std::string expr = "tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0 or tcp[13] & 0x08 = 0";
  std::map<std::string, nlohmann::json> sum;
  // "dpdk-off": the EAL runs, but evidence.bpf_jit: false keeps libpcap's interpreter.
  for (const std::string src : {"dpdk", "file", "dpdk-off"}) {
    const std::string dir = fresh("filter-" + src), json = seqwatch::test::scratch_dir() + "filter-" + src + ".json";
    const std::string source = src == "file" ? "file" : "dpdk";
    const std::string off = src == "dpdk-off" ? " --set evidence.bpf_jit=false" : "";
    const CmdResult r = run(exe() + " analyze " + demo_pcap() + " --source " + source + " --memory-mb 128 --evidence " +
                            dir + " --set 'evidence.capture_filter=" + expr + "' --json " + json + off);
    ASSERT_EQ(r.rc, 0) << r.out;
    std::ifstream in(json);
    sum[src] = nlohmann::json::parse(in);
    ASSERT_EQ(sum[src]["bpf_filters"].size(), 1u) << sum[src].dump();
    EXPECT_EQ(sum[src]["bpf_filters"][0]["expression"], expr);
  }
  EXPECT_EQ(sum["dpdk"]["bpf_filters"][0]["runs_as"], "jit") << sum["dpdk"]["bpf_filters"].dump();
  EXPECT_EQ(sum["file"]["bpf_filters"][0]["runs_as"], "interpreter");
  EXPECT_NE(sum["file"]["bpf_filters"][0]["why"].get<std::string>().find("EAL"), std::string::npos)
      << sum["file"]["bpf_filters"].dump();
  EXPECT_EQ(sum["dpdk-off"]["bpf_filters"][0]["runs_as"], "interpreter");
  EXPECT_NE(sum["dpdk-off"]["bpf_filters"][0]["why"].get<std::string>().find("evidence.bpf_jit"), std::string::npos)
      << sum["dpdk-off"]["bpf_filters"].dump();
  EXPECT_EQ(sum["dpdk"]["tcp"], sum["file"]["tcp"]);
  EXPECT_EQ(sum["dpdk-off"]["tcp"], sum["file"]["tcp"]);
  // Every slice was opened by a counted trigger; the summary names the kinds that fired.
  const auto& ev = sum["file"]["evidence"];
  ASSERT_TRUE(ev["triggers"].is_object()) << ev.dump();
  uint64_t fired = 0;
  for (const auto& [kind, n] : ev["triggers"].items()) fired += n.get<uint64_t>();
  EXPECT_GE(fired, ev["slices"].get<uint64_t>()) << ev.dump();
  EXPECT_GT(ev["slices"].get<uint64_t>(), 0u) << ev.dump();
  EXPECT_TRUE(ev.contains("slices_cut_by_budget") && ev.contains("flow_slots_taken")) << ev.dump();
  EXPECT_GT(sum["file"]["tcp"]["segments"].get<uint64_t>(), 0u);
  // The packets the filter kept out are counted, not lost silently.
  const uint64_t dropped = sum["file"]["bpf_filters"][0]["dropped"].get<uint64_t>();
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(sum["dpdk"]["bpf_filters"][0]["dropped"], dropped);
  const std::string all = seqwatch::test::scratch_dir() + "filter-none.json";
  ASSERT_EQ(run(exe() + " analyze " + demo_pcap() + " --json " + all).rc, 0);
  std::ifstream in(all);
  const auto unfiltered = nlohmann::json::parse(in);
  EXPECT_EQ(sum["file"]["packets"].get<uint64_t>() + dropped, unfiltered["packets"].get<uint64_t>());
}
