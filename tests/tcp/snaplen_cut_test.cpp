// A capture cut short by the snaplen inside the TCP options must give the verdicts the
// whole capture gives: the fixed TCP header (seq, ack, flags, window) and the IP lengths
// are all the sequence analysis needs. The reference is tshark on the UNCUT file, per frame,
// on every tcp.analysis flag and the duplicate-ACK number and frame.
//
// tshark 4.0 itself does not pass this: a frame whose options the snaplen cuts (a SACK
// block, say) raises an exception in its option dissector before the sequence analysis
// runs, so on the cut copy it neither flags that frame nor lets it move the connection's
// state (its window updates and duplicate ACKs vanish). docs/tcp-analysis.md, "Frames with
// TCP options cut by the snaplen".
//
// Inputs: data/demo.pcap (real Linux TCP through a tbf bottleneck, IPv4, timestamps and
// SACK; written by tools/capture-demo.sh) and every capture in SEQWATCH_CUT_CAPTURES (a
// directory, optional: e.g. the output of tools/tunnel-captures.sh).
#include <gtest/gtest.h>

#include <pcap/pcap.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "decode/packet_view.hpp"
#include "seqwatch_verdicts.hpp"
#include "tshark_verdicts.hpp"
#include "verdict_diff.hpp"

namespace seqwatch::tcpdiff {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> inputs() {
  std::vector<std::string> files;
  const char* src = std::getenv("SEQWATCH_SOURCE_DIR");
  files.push_back((fs::path(src != nullptr ? src : ".") / "data" / "demo.pcap").string());
  if (const char* dir = std::getenv("SEQWATCH_CUT_CAPTURES"); dir != nullptr && *dir != '\0') {
    std::vector<std::string> more;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".pcap") more.push_back(e.path().string());
    std::sort(more.begin(), more.end());
    files.insert(files.end(), more.begin(), more.end());
  }
  return files;
}

std::string describe(const std::string& name, const std::vector<Disagreement>& ds) {
  std::ostringstream os;
  size_t shown = 0;
  for (const Disagreement& d : ds) {
    if (++shown > 20) break;
    os << "\n  " << name << " frame " << d.frame << " " << check_name(d.check) << ": "
       << (d.detail.empty() ? "seqwatch=" + std::to_string(d.seqwatch) + " tshark(uncut)=" + std::to_string(d.tshark)
                            : d.detail);
  }
  return os.str();
}

// Ethernet 14 + IPv4 20 + TCP 20 = 54: cuts at 58 and 62 fall inside the NOP-NOP-timestamp
// option, 70 and 78 inside a SACK option (IPv6: 74 is the fixed TCP header's end).
TEST(SnaplenCut, VerdictsOnACutCopyEqualTsharkOnTheWholeCapture) {
  const std::string dir = (fs::temp_directory_path() / ("seqwatch-snapcut-" + std::to_string(::getpid()))).string();
  fs::create_directories(dir);
  uint64_t compared_frames = 0, verdicts = 0, cut_options = 0;
  for (const std::string& whole : inputs()) {
    ASSERT_TRUE(fs::exists(whole)) << whole;
    const TsharkRun ts = run_tshark(whole);
    ASSERT_TRUE(ts.error.empty()) << whole << ": tshark: " << ts.error;
    for (const TsharkFrame& f : ts.frames) verdicts += f.bits != 0;
    for (uint32_t snap : {58u, 62u, 70u, 78u, 90u}) {
      const std::string name = fs::path(whole).filename().string() + " cut at " + std::to_string(snap);
      const std::string cut = dir + "/cut.pcapng";
      ASSERT_EQ(cut_copy(whole, cut, snap), "") << name;
      const SeqwatchRun sw = run_seqwatch(cut);
      ASSERT_TRUE(sw.error.empty()) << name << ": " << sw.error;
      ASSERT_EQ(sw.frames.size(), ts.frames.size()) << name;
      const FileDiff diff = compare_file(name, ts.frames, sw.frames, {});
      // Frames whose fixed TCP header the cut reached are not analysed by either side
      // when cut; they are left out (a cut at 58 leaves IPv6 without its TCP header).
      std::vector<Disagreement> real;
      for (const Disagreement& d : diff.unexplained) {
        const SeqwatchFrame& s = sw.frames[d.frame - 1];
        if (s.tcp) real.push_back(d);
      }
      EXPECT_TRUE(real.empty()) << real.size() << " disagreements" << describe(name, real);
      for (const SeqwatchFrame& s : sw.frames) cut_options += s.tcp;
      compared_frames += sw.frames.size();
    }
  }
  fs::remove_all(dir);
  EXPECT_GT(verdicts, 100u) << "the inputs must carry verdicts to compare";
  EXPECT_GT(cut_options, 0u);
  std::printf("compared %llu frames of cut copies; %llu frames of the whole captures carry verdicts\n",
              static_cast<unsigned long long>(compared_frames), static_cast<unsigned long long>(verdicts));
}

}  // namespace
}  // namespace seqwatch::tcpdiff
