// Per-packet differential against tshark 4.0 on generated traffic whose settings are drawn at
// random: impairment rates, RTTs, MSS, flow counts, exchanges per flow, the share of bulk
// transfers, IPv6, encapsulation, TCP timestamps, SPAN copies (every frame or some captured a
// second time, a few microseconds to 300 us later), microsecond or nanosecond time stamps.
// The corpus and the fixed scenarios of gen_test each pin one combination; this sweep crosses
// them, as traffic from elsewhere would. The draws come from a fixed list of seeds, so every run
// compares the same traces, and a failing case prints the seqwatch-gen command that makes its
// trace again.
//
// Each trace: tshark lists every frame's tcp.analysis.* flags, seqwatch analyses the file as
// the corpus differential does (tests/tcp/seqwatch_verdicts.cpp: no copy window, as tshark),
// and every frame must agree on the 15 flags and the duplicate-ACK number and frame, with no
// allow-list (verdict_diff's general rules still apply). Then the same trace cut to 74 bytes
// per frame (headers-only capture) must give the verdicts tshark gives the whole file.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "seqwatch_verdicts.hpp"
#include "support/command.hpp"
#include "tshark_verdicts.hpp"
#include "verdict_diff.hpp"

namespace seqwatch::tcpdiff {
namespace {

constexpr uint32_t kPackets = 20000;
// Frames a trace: kPackets, or SEQWATCH_GENERATED_PACKETS for a longer sweep by hand.
uint32_t trace_packets() {
  const char* env = std::getenv("SEQWATCH_GENERATED_PACKETS");
  return env != nullptr && *env != '\0' ? static_cast<uint32_t>(std::stoul(env)) : kPackets;
}
constexpr uint32_t kCutSnap = 74;  // Ethernet + IPv4 + TCP + 20 bytes of options (inside most SACK blocks)
// The sweep's seeds. Adding one adds a case; changing one changes that case's settings only.
constexpr uint64_t kSeeds[] = {101, 202, 303, 404, 505, 606, 707, 808};

// The cases run: kSeeds, or, for a wider sweep by hand, the comma-separated seeds in
// SEQWATCH_GENERATED_SEEDS (e.g. "9001,9002,9003"; the settings drawn as for the fixed ones).
std::vector<uint64_t> run_seeds() {
  std::vector<uint64_t> seeds(std::begin(kSeeds), std::end(kSeeds));
  const char* env = std::getenv("SEQWATCH_GENERATED_SEEDS");
  if (env == nullptr || *env == '\0') return seeds;
  seeds.clear();
  std::istringstream in(env);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) seeds.push_back(std::stoull(item));
  return seeds;
}

// The raw engine output picks choices (std::*_distribution differs between standard libraries).
struct Draw {
  std::mt19937_64 rng;
  template <class T>
  T pick(std::initializer_list<T> v) {
    return v.begin()[rng() % v.size()];
  }
  bool chance(double p) { return static_cast<double>(rng() >> 11) * 0x1.0p-53 < p; }
};

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// seqwatch-gen options for case `seed`. Loss on at least one side of the sensor, so every trace
// has retransmissions and duplicate ACKs to compare.
std::string draw_settings(uint64_t seed) {
  Draw d{std::mt19937_64(seed)};
  std::ostringstream a;
  a << "--seed " << seed << " --packets " << trace_packets() << " --flows " << d.pick({20, 200, 1000, 3000});
  const double down = d.pick({0.0, 0.002, 0.01, 0.03});
  const double up = d.pick({0.002, 0.01, 0.03});
  a << " --loss-downstream " << num(down) << " --loss-upstream " << num(up);
  a << " --reorder " << num(d.pick({0.0, 0.003, 0.02})) << " --duplicate " << num(d.pick({0.0, 0.002, 0.01}));
  a << " --midseg-ack " << num(d.pick({0.0, 0.0, 0.002, 0.01})) << " --zero-window " << num(d.pick({0.0, 0.0, 0.001, 0.005}));
  a << " --syn-unanswered " << num(d.pick({0.0, 0.01, 0.05})) << " --syn-rst " << num(d.pick({0.0, 0.01, 0.05}));
  a << " --rst-close " << num(d.pick({0.0, 0.05, 0.2})) << " --ipv6-share " << num(d.pick({0.0, 0.3, 1.0}));
  a << " --mss " << d.pick({536, 1460, 1460, 8960});
  const double rtt_min = d.pick({0.2, 0.5, 2.0, 20.0});
  a << " --rtt-min " << num(rtt_min) << " --rtt-max " << num(rtt_min * d.pick({1.5, 4.0, 20.0}));
  a << " --exchanges " << num(d.pick({1.0, 2.0, 8.0})) << " --bulk-share " << num(d.pick({0.1, 0.35, 0.8}));
  if (d.chance(0.3)) a << " --span-copies " << num(d.pick({0.2, 1.0})) << " --span-lag-us " << d.pick({5, 30, 300});
  if (d.chance(0.3)) a << " --no-timestamps";
  if (d.chance(0.3)) a << " --usec";
  if (d.chance(0.4)) a << " --encap " << d.pick({"vlan", "qinq", "gre", "gre-key", "ipip", "vxlan"});
  if (d.chance(0.2)) a << " --loss-burst-period 0.5 --loss-burst-len 0.05";
  return a.str();
}

// Frames both flagged with tcp.analysis.<flag>.
uint64_t agreed(const FileDiff& f, std::string_view flag) {
  for (size_t k = 0; k < kFlagCount; ++k)
    if (kFlags[k].name == flag) return f.counts[k].tp;
  ADD_FAILURE() << "no check " << flag;
  return 0;
}

// At most `max` disagreements, one per line, with both sides' verdicts of the frame.
std::string listing(const FileDiff& f, const std::vector<TsharkFrame>& ts, const std::vector<SeqwatchFrame>& sw,
                    size_t max = 20) {
  std::ostringstream os;
  for (size_t i = 0; i < f.unexplained.size() && i < max; ++i) {
    const Disagreement& d = f.unexplained[i];
    os << "  frame " << d.frame << " " << check_name(d.check) << ": ";
    if (d.check < kFlagCount) os << "seqwatch=" << (d.seqwatch ? "yes" : "no") << " tshark=" << (d.tshark ? "yes" : "no");
    else os << d.detail;
    if (d.frame >= 1 && d.frame <= ts.size() && d.frame <= sw.size())
      os << "  | seqwatch{" << verdict_names(sw[d.frame - 1].bits) << "} tshark{" << verdict_names(ts[d.frame - 1].bits) << "}";
    os << "\n";
  }
  if (f.unexplained.size() > max) os << "  ... " << f.unexplained.size() - max << " more\n";
  return os.str();
}

class GeneratedVerdicts : public ::testing::TestWithParam<uint64_t> {};

TEST_P(GeneratedVerdicts, EveryFrameAgreesWithTshark) {
  const uint64_t seed = GetParam();
  const std::string settings = draw_settings(seed);
  const std::string path = test::scratch_dir() + "/generated-" + std::to_string(seed) + ".pcap";
  const std::string gen = test::gen_exe() + " -q " + settings + " -o '" + path + "'";
  SCOPED_TRACE("trace: seqwatch-gen " + settings + " -o FILE");
  const test::CmdResult g = test::run(gen);
  ASSERT_EQ(g.rc, 0) << g.out;

  const TsharkRun ts = run_tshark(path);
  ASSERT_TRUE(ts.error.empty()) << ts.error;
  ASSERT_EQ(ts.exit_status, 0) << ts.stderr_text;
  ASSERT_EQ(ts.frames.size(), trace_packets());
  const SeqwatchRun sw = run_seqwatch(path);
  ASSERT_TRUE(sw.error.empty()) << sw.error;
  ASSERT_EQ(sw.frames.size(), trace_packets());
  EXPECT_EQ(sw.events_dropped, 0u);

  const FileDiff whole = compare_file("generated", ts.frames, sw.frames, {});
  EXPECT_TRUE(whole.tcp_not_analysed.empty()) << whole.tcp_not_analysed.size() << " TCP frames not analysed, the first "
                                              << whole.tcp_not_analysed.front();
  EXPECT_TRUE(whole.unexplained.empty()) << whole.unexplained.size() << " disagreements:\n"
                                         << listing(whole, ts.frames, sw.frames);
  // Not a vacuous agreement: the loss was there, and both saw it.
  EXPECT_GT(agreed(whole, "retransmission"), 0u);
  EXPECT_GT(agreed(whole, "duplicate_ack"), 0u);
  std::cout << "seed " << seed << ": " << agreed(whole, "retransmission") << " retransmissions, "
            << agreed(whole, "duplicate_ack") << " duplicate ACKs, " << agreed(whole, "lost_segment")
            << " lost segments, " << agreed(whole, "out_of_order") << " out of order, "
            << whole.by_rule.size() << " tshark artefacts set apart by rule (seqwatch-gen " << settings << ")\n";

  const std::string cut = test::scratch_dir() + "/generated-" + std::to_string(seed) + "-cut.pcapng";
  ASSERT_EQ(cut_copy(path, cut, kCutSnap, true), "");
  const SeqwatchRun sw_cut = run_seqwatch(cut);
  ASSERT_TRUE(sw_cut.error.empty()) << sw_cut.error;
  ASSERT_EQ(sw_cut.frames.size(), trace_packets());
  const FileDiff headers = compare_file("generated (cut)", ts.frames, sw_cut.frames, {});
  EXPECT_TRUE(headers.unexplained.empty()) << headers.unexplained.size() << " disagreements of the copy cut to "
                                           << kCutSnap << " bytes with tshark on the whole file:\n"
                                           << listing(headers, ts.frames, sw_cut.frames);
  std::filesystem::remove(path);
  std::filesystem::remove(cut);
}

INSTANTIATE_TEST_SUITE_P(Seeds, GeneratedVerdicts, ::testing::ValuesIn(run_seeds()),
                         [](const ::testing::TestParamInfo<uint64_t>& i) { return "seed" + std::to_string(i.param); });

// The sweep crosses the settings it claims to: over its seeds, every choice that changes how
// a trace looks on the wire is drawn both ways.
TEST(GeneratedVerdictsSweep, DrawsEachKindOfTrace) {
  std::vector<std::string> all;
  for (uint64_t s : kSeeds) all.push_back(draw_settings(s));
  auto some = [&](const std::string& opt) {
    size_t n = 0;
    for (const std::string& a : all) n += a.find(opt) != std::string::npos;
    return n;
  };
  for (const char* opt : {"--span-copies", "--no-timestamps", "--usec", "--encap", "--ipv6-share 1", "--mss 536",
                          "--midseg-ack 0.0", "--zero-window 0.0", "--loss-downstream 0 "}) {
    EXPECT_GT(some(opt), 0u) << opt << " never drawn";
    EXPECT_LT(some(opt), all.size()) << opt << " always drawn";
  }
  EXPECT_EQ(draw_settings(kSeeds[0]), draw_settings(kSeeds[0]));  // the same seed, the same trace
}

}  // namespace
}  // namespace seqwatch::tcpdiff
