// End-to-end tests of the replay port (`ports[].replay`, runtime/replay_port.hpp): a capture
// file looped from memory through a net_ring ethdev by seqwatch's own feeder.
//
//  * with replay_shift_seq, a trace without loss looped N times has no retransmission,
//    and every frame of every pass reaches the worker; without it (and without the copy
//    check), every repeated data segment is a retransmission (what net_pcap's infinite_rx gives);
//  * one pass with the file's capture times (timestamps: hw) gives exactly the events
//    `seqwatch analyze FILE` gives;
//  * a lossy trace looped N times gives N times every verdict of one pass (each pass is a
//    shifted copy of the file, in sequence numbers, ACK and SACK edges, and time);
//  * two queues keep both directions of every connection on one worker;
//  * paced faster than the worker can go, the frames that find the queue full are dropped
//    and counted as the port's imissed, and sent = received + still queued;
//  * replay keys that cannot work together are rejected with the key and the reason.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using seqwatch::test::CmdResult;
using seqwatch::test::exe;
using seqwatch::test::gen_exe;
using seqwatch::test::run;
using seqwatch::test::src_dir;

std::string fresh_dir(const std::string& name) {
  const std::string d = seqwatch::test::scratch_dir() + "replay-" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string generate(const std::string& dir, const std::string& args) {
  const std::string out = dir + "/trace.pcap";
  const CmdResult g = run(gen_exe() + " " + args + " -q -o '" + out + "'");
  EXPECT_EQ(g.rc, 0) << g.out;
  return out;
}

// `seqwatch run` on pipelines/line-rate-bench.yaml with its port turned into a replay of
// `file`, stamped with the file's capture times (so verdicts that depend on time repeat
// exactly); returns the summary (null when the run failed).
json replay_run(const std::string& out, const std::string& file, const std::string& sets, CmdResult* res = nullptr) {
  const CmdResult r = run("cd '" + src_dir() + "' && " + exe() +
                          " run --pipeline pipelines/line-rate-bench.yaml --set ports.0.devargs= --set 'ports.0.replay=" +
                          file + "' --set ports.0.timestamps=hw " + sets + " --out '" + out + "'");
  if (res != nullptr) *res = r;
  EXPECT_EQ(r.rc, 0) << r.out;
  std::ifstream in(out + "/summary.json");
  if (r.rc != 0 || !in) return json();
  return json::parse(in);
}

uint64_t u(const json& j, const char* a, const char* b) { return j.at(a).at(b).get<uint64_t>(); }
uint64_t replay(const json& j, const char* key) { return j.at("replay").at(0).at(key).get<uint64_t>(); }

TEST(Replay, LoopedTraceWithShiftedSequenceNumbersHasNoRetransmission) {
  const std::string dir = fresh_dir("clean");
  const std::string trace = generate(dir, "--preset imix-100k --flows 40 --packets 4000 --seed 11");
  const json j = replay_run(dir + "/shift", trace, "--set ports.0.replay_passes=5");
  ASSERT_FALSE(j.is_null());
  const uint64_t frames = replay(j, "frames");
  EXPECT_EQ(frames, 4000u);
  EXPECT_EQ(replay(j, "passes"), 5u);
  EXPECT_EQ(replay(j, "sent"), 5 * frames);
  EXPECT_EQ(replay(j, "dropped"), 0u);
  EXPECT_GT(replay(j, "shifted_connections"), 40u);
  EXPECT_EQ(j.at("ports").at(0).at("ipackets").get<uint64_t>(), 5 * frames);
  EXPECT_EQ(j.at("ports").at(0).at("imissed").get<uint64_t>(), 0u);
  EXPECT_EQ(u(j, "tcp", "segments"), 5 * frames);
  EXPECT_EQ(u(j, "retransmissions", "retx_segments"), 0u);
  EXPECT_EQ(u(j, "retransmissions", "dup_acks"), 0u);
  // Each later pass reopens the connections the file opens (SYN on a closed flow).
  EXPECT_GT(u(j, "flow_table", "reused_ports"), 0u);

  // The same loop without the shift: every data segment after the first pass repeats
  // sequence numbers already seen. Byte for byte, IP IDs included: with the copy check on,
  // a pass that comes round within tcp.copy_window_ms would be exact copies
  // (duplicate_packet), so the check is off here, as for net_pcap's infinite_rx.
  const json k = replay_run(dir + "/noshift", trace,
                            "--set ports.0.replay_passes=3 --set ports.0.replay_shift_seq=false --set tcp.copy_window_ms=0");
  ASSERT_FALSE(k.is_null());
  EXPECT_EQ(replay(k, "shifted_connections"), 0u);
  const uint64_t data_per_pass = u(k, "tcp", "data_segments") / 3;
  EXPECT_GT(data_per_pass, 0u);
  EXPECT_GE(u(k, "retransmissions", "retx_segments"), 2 * data_per_pass);
}

// Events without the fields that name the worker or the flow id: a multiset comparison.
std::vector<std::string> events(const std::string& path) {
  std::vector<std::string> v;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << line;
    j.erase("flow");
    j.erase("worker");
    v.push_back(j.dump());
  }
  std::sort(v.begin(), v.end());
  return v;
}

TEST(Replay, OnePassGivesTheEventsOfAnalyze) {
  const std::string dir = fresh_dir("analyze");
  const std::string trace = generate(dir, "--preset lossy --flows 60 --packets 6000 --seed 9");
  const json j = replay_run(dir + "/out", trace, "--set ports.0.replay_passes=1 --set outputs.events=events.jsonl");
  ASSERT_FALSE(j.is_null());
  const CmdResult a = run(exe() + " analyze '" + trace + "' --events '" + dir + "/analyze.jsonl'");
  ASSERT_EQ(a.rc, 0) << a.out;
  const auto replayed = events(dir + "/out/events.jsonl");
  EXPECT_GT(replayed.size(), 50u);
  EXPECT_EQ(replayed, events(dir + "/analyze.jsonl"));
}

TEST(Replay, EveryPassRepeatsTheVerdictsOfTheFile) {
  const std::string dir = fresh_dir("lossy");
  const std::string trace = generate(dir, "--preset lossy --flows 60 --packets 8000 --seed 5");
  const json one = replay_run(dir + "/one", trace, "--set ports.0.replay_passes=1");
  const json four = replay_run(dir + "/four", trace, "--set ports.0.replay_passes=4");
  ASSERT_FALSE(one.is_null());
  ASSERT_FALSE(four.is_null());
  const json& v1 = one.at("retransmissions").at("verdicts");
  const json& v4 = four.at("retransmissions").at("verdicts");
  for (const char* k : {"retransmission", "fast_retransmission", "duplicate_ack", "lost_segment", "out_of_order"}) {
    ASSERT_TRUE(v1.contains(k)) << k << " " << v1.dump();
    EXPECT_GT(v1.at(k).get<uint64_t>(), 0u) << k;
  }
  for (const auto& [k, n] : v1.items()) {
    if (k == "reused_ports") continue;  // later passes reopen the file's connections
    EXPECT_EQ(v4.value(k, uint64_t{0}), 4 * n.get<uint64_t>()) << k;
  }
  EXPECT_EQ(u(four, "retransmissions", "retx_segments"), 4 * u(one, "retransmissions", "retx_segments"));
  EXPECT_EQ(u(four, "retransmissions", "dup_acks"), 4 * u(one, "retransmissions", "dup_acks"));
  EXPECT_EQ(u(four, "tcp", "segments"), 4 * u(one, "tcp", "segments"));
}

// Every pass rewrites sequence numbers, ACKs and SACK edges; the TCP checksum follows them
// (RFC 1624 incremental update), so frames of later passes, written whole to the sample
// file, pass tshark's checksum validation as the file's own frames do.
TEST(Replay, ShiftedFramesKeepValidTcpChecksums) {
  const std::string dir = fresh_dir("csum");
  const std::string trace = generate(dir, "--preset lossy --flows 20 --packets 3000 --seed 9");
  const json j = replay_run(dir + "/out", trace,
                            "--set ports.0.replay_passes=3 --set evidence.enabled=true --set evidence.trim=65535 "
                            "--set evidence.sampling.one_in_n=1");
  ASSERT_FALSE(j.is_null());
  std::vector<std::string> samples;
  for (const auto& e : fs::recursive_directory_iterator(dir + "/out"))
    if (e.path().filename().string().rfind("sample", 0) == 0) samples.push_back(e.path().string());
  ASSERT_FALSE(samples.empty());
  uint64_t good = 0, other = 0;
  for (const std::string& f : samples) {
    const CmdResult t = run("tshark -n -r '" + f + "' -o tcp.check_checksum:TRUE -Y tcp -T fields -e tcp.checksum.status",
                            false);
    ASSERT_EQ(t.rc, 0) << t.out;
    std::istringstream lines(t.out);
    for (std::string l; std::getline(lines, l);)
      if (!l.empty()) (l == "1" ? good : other) += 1;  // tcp.checksum.status 1 = good
  }
  EXPECT_EQ(good, 3u * 3000u) << "every TCP frame of three passes";
  EXPECT_EQ(other, 0u);
}

TEST(Replay, TwoQueuesKeepBothDirectionsOfAConnectionOnOneWorker) {
  const std::string dir = fresh_dir("queues");
  const std::string trace = generate(dir, "--preset imix-100k --flows 80 --packets 6000 --seed 3");
  const json j = replay_run(dir + "/out", trace,
                            "--set ports.0.replay_passes=2 --set ports.0.rss=symmetric --set workers.count=2 "
                            "--set eal.lcores=0-2 --set workers.share_cpus=true");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j.at("ports").at(0).at("ipackets").get<uint64_t>(), 2 * replay(j, "frames"));
  // Per-worker packets from the final stats line.
  json last;
  std::ifstream stats(dir + "/out/stats.jsonl");
  for (std::string line; std::getline(stats, line);) {
    const json l = json::parse(line, nullptr, false);
    if (!l.is_discarded() && l.contains("workers")) last = l;
  }
  ASSERT_FALSE(last.is_null());
  ASSERT_EQ(last.at("workers").size(), 2u);
  for (const auto& w : last.at("workers")) EXPECT_GT(w.at("packets").get<uint64_t>(), 0u) << w.dump();
  EXPECT_EQ(u(j, "retransmissions", "split_across_workers"), 0u);
  EXPECT_EQ(u(j, "retransmissions", "retx_segments"), 0u);
  EXPECT_EQ(j.at("not_delivered").get<uint64_t>(), 0u);  // each queue knew its own frame count
}

TEST(Replay, PacedFasterThanTheWorkerCountsFullQueuesAsImissed) {
  const std::string dir = fresh_dir("paced");
  const std::string trace = generate(dir, "--preset imix-100k --flows 40 --packets 4000 --seed 7");
  // A billion frames a second: the feeder outruns any worker, so queues fill.
  const json j = replay_run(dir + "/out", trace, "--set ports.0.replay_rate_pps=1e9 --set ports.0.rx_descriptors=256 --duration 2");
  ASSERT_FALSE(j.is_null());
  const uint64_t dropped = replay(j, "dropped");
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(j.at("ports").at(0).at("imissed").get<uint64_t>(), dropped);
  EXPECT_EQ(replay(j, "sent"), j.at("ports").at(0).at("ipackets").get<uint64_t>() + replay(j, "left_in_queues"));
}

TEST(Replay, KeysThatCannotWorkTogetherAreRejected) {
  const std::string dir = fresh_dir("bad");
  const std::string trace = generate(dir, "--preset imix-100k --flows 10 --packets 500 --seed 1");
  auto rejected = [&](const std::string& sets, const std::string& want) {
    const CmdResult r = run("cd '" + src_dir() + "' && " + exe() + " run --pipeline pipelines/line-rate-bench.yaml " + sets +
                            " --out '" + dir + "/out'");
    EXPECT_NE(r.rc, 0) << sets;
    EXPECT_NE(r.out.find(want), std::string::npos) << sets << "\n" << r.out;
  };
  rejected("--set ports.0.replay=" + trace + " --set ports.0.devargs=net_null0",
           "ports[0].replay: replay (" + trace + ") and devargs are both set");
  rejected("--set ports.0.replay= --set ports.0.devargs=net_null0 --set ports.0.replay_rate_pps=1000",
           "ports[0].replay_rate_pps: applies only to a replay port");
  rejected("--set ports.0.devargs= --set ports.0.replay=" + trace + " --set ports.0.replay_passes=2 "
           "--set ports.0.replay_rate_pps=1000",
           "ports[0].replay_passes: 2 passes with replay_rate_pps 1000");
  rejected("--set ports.0.devargs= --set ports.0.replay=" + dir + "/missing.pcap",
           "ports[0].replay: cannot replay '" + dir + "/missing.pcap': " + dir + "/missing.pcap: No such file");
}

}  // namespace
