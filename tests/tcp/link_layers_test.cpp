// The same connections over other link layers: data/demo.pcap (real Linux TCP through a tbf
// bottleneck, Ethernet) rewritten frame by frame as IEEE 802.11 data frames (link type 105:
// data to the access point, QoS data from it, four-address QoS data with HT control between
// two access points, one after the other) and the same behind a radiotap header (link type
// 127, a monitor-mode capture). seqwatch must give every frame the verdicts it gives the
// Ethernet original, and tshark on the rewritten file must agree with it per frame.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "seqwatch_verdicts.hpp"
#include "tshark_verdicts.hpp"
#include "verdict_diff.hpp"

namespace seqwatch::tcpdiff {
namespace {

namespace fs = std::filesystem;

std::string demo_path() {
  const char* src = std::getenv("SEQWATCH_SOURCE_DIR");
  return (fs::path(src != nullptr ? src : ".") / "data" / "demo.pcap").string();
}

uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
void put_le32(std::vector<uint8_t>& o, uint32_t v) {
  for (int i = 0; i < 4; ++i) o.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Rewrites a little-endian Ethernet pcap as 802.11 (radiotap: behind a 12-byte radiotap
// header naming Flags and Rate). Returns "" or what went wrong.
std::string to_wlan(const std::string& in, const std::string& out, bool radiotap) {
  std::ifstream f(in, std::ios::binary);
  const std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (b.size() < 24 || le32(b.data()) != 0xA1B2C3D4 || le32(b.data() + 20) != 1)
    return in + ": not a little-endian microsecond Ethernet pcap";
  std::vector<uint8_t> o(b.begin(), b.begin() + 24);
  o[16] = 0, o[17] = 0, o[18] = 4, o[19] = 0;  // snaplen 262144
  const uint32_t link = radiotap ? 127 : 105;
  o[20] = static_cast<uint8_t>(link), o[21] = o[22] = o[23] = 0;
  uint32_t n = 0;
  for (size_t off = 24; off + 16 <= b.size();) {
    const uint32_t cap = le32(&b[off + 8]), wire = le32(&b[off + 12]);
    if (off + 16 + cap > b.size() || cap < 14) return in + ": damaged record";
    const uint8_t* d = &b[off + 16];
    std::vector<uint8_t> h;
    if (radiotap) h = {0, 0, 12, 0, 0x06, 0, 0, 0, 0x00, 0x6C, 0, 0};
    const unsigned kind = n++ % 3;
    const uint8_t fc[3][2] = {{0x08, 0x01}, {0x88, 0x02}, {0x88, 0x83}};
    h.push_back(fc[kind][0]);
    h.push_back(fc[kind][1]);
    h.push_back(0x3A), h.push_back(0x01);      // duration
    h.insert(h.end(), d, d + 6);               // receiver: the Ethernet destination
    h.insert(h.end(), d + 6, d + 12);          // transmitter: the source
    h.insert(h.end(), d, d + 6);               // third address
    h.push_back(static_cast<uint8_t>(n << 4)), h.push_back(static_cast<uint8_t>(n >> 4));  // sequence
    if (kind == 2) h.insert(h.end(), d + 6, d + 12);  // fourth address
    if (kind != 0) h.push_back(0), h.push_back(0);    // QoS control
    if (kind == 2) h.insert(h.end(), 4, 0);           // HT control
    const uint8_t snap[6] = {0xAA, 0xAA, 0x03, 0, 0, 0};
    h.insert(h.end(), snap, snap + 6);
    h.insert(h.end(), d + 12, d + cap);  // ethertype and what follows
    o.insert(o.end(), &b[off], &b[off + 8]);  // time
    put_le32(o, static_cast<uint32_t>(h.size()));
    put_le32(o, wire + static_cast<uint32_t>(h.size()) - cap);
    o.insert(o.end(), h.begin(), h.end());
    off += 16 + cap;
  }
  std::ofstream w(out, std::ios::binary);
  w.write(reinterpret_cast<const char*>(o.data()), static_cast<std::streamsize>(o.size()));
  return w.good() ? "" : "cannot write " + out;
}

class LinkLayers : public ::testing::TestWithParam<bool> {};

TEST_P(LinkLayers, WlanFramesGiveTheVerdictsOfTheEthernetOriginal) {
  const bool radiotap = GetParam();
  const std::string out = (fs::temp_directory_path() / ("seqwatch-wlan-" + std::to_string(::getpid()) +
                                                        (radiotap ? "-radiotap.pcap" : ".pcap"))).string();
  ASSERT_EQ(to_wlan(demo_path(), out, radiotap), "");
  const SeqwatchRun eth = run_seqwatch(demo_path());
  const SeqwatchRun wlan = run_seqwatch(out);
  ASSERT_TRUE(eth.error.empty()) << eth.error;
  ASSERT_TRUE(wlan.error.empty()) << wlan.error;
  ASSERT_EQ(wlan.frames.size(), eth.frames.size());
  EXPECT_EQ(wlan.tcp_segments, eth.tcp_segments);
  EXPECT_GT(eth.tcp_segments, 10000u);
  uint64_t verdicts = 0;
  for (size_t i = 0; i < eth.frames.size(); ++i) {
    EXPECT_EQ(wlan.frames[i].tcp, eth.frames[i].tcp) << "frame " << i + 1;
    EXPECT_EQ(wlan.frames[i].bits, eth.frames[i].bits) << "frame " << i + 1;
    EXPECT_EQ(wlan.frames[i].dupack_num, eth.frames[i].dupack_num) << "frame " << i + 1;
    EXPECT_EQ(wlan.frames[i].dupack_frame, eth.frames[i].dupack_frame) << "frame " << i + 1;
    verdicts += eth.frames[i].bits != 0;
  }
  EXPECT_GT(verdicts, 400u);  // the demo's retransmissions, duplicate ACKs, window updates

  // tshark reads the rewritten file as seqwatch does.
  const TsharkRun ts = run_tshark(out);
  ASSERT_TRUE(ts.error.empty()) << ts.error;
  ASSERT_EQ(ts.frames.size(), wlan.frames.size());
  const FileDiff diff = compare_file(out, ts.frames, wlan.frames, {});
  EXPECT_TRUE(diff.unexplained.empty()) << diff.unexplained.size() << " disagreements with tshark, first at frame "
                                        << (diff.unexplained.empty() ? 0 : diff.unexplained[0].frame);
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Wlan, LinkLayers, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "radiotap" : "plain80211"; });

}  // namespace
}  // namespace seqwatch::tcpdiff
