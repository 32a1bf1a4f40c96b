// Exact copies (verdict duplicate_packet, docs/tcp-analysis.md section 16) on real traffic.
//
// 1. Kernel TCP (data/demo.pcap: 401 real retransmissions, loss at a tbf bottleneck): no
//    segment is a copy, and every verdict is the same with copy detection on and off.
// 2. The same capture as a SPAN port with doubled traffic sees it (every frame twice; the
//    copy right behind its original, or up to 3 frames and 500 us later): the originals get
//    exactly the verdicts of the clean capture, every copy of a frame with an IPv4
//    identification is found, and the retransmission count stays the kernel's.
// 3. The shared corpus, frame by frame, against an oracle built from tshark's header fields
//    (IP ID, sequence and ACK numbers, flags, window, length, checksum, TSval, VLANs, time):
//    seqwatch calls a frame a copy exactly when the rule says it is one.
// 4. Generated traffic (seqwatch-gen's lossy preset: loss on both sides of the sensor,
//    reordering, network duplicates, mid-segment ACKs, zero windows, refused and unanswered
//    SYNs) over IPv4 and IPv6, plain and inside VLAN, GRE, IPIP and VXLAN, doubled as in 2:
//    the copies are found through every encapsulation, and a copy right behind its original
//    leaves every verdict of the originals as in the clean trace.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "seqwatch_verdicts.hpp"
#include "support/command.hpp"
#include "support/corpus.hpp"
#include "support/tshark.hpp"
#include "decode/decoder.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::tcpdiff {
namespace {

constexpr uint32_t kWindowUs = 100000;    // the product's default (tcp.copy_window_ms: 100)
constexpr uint32_t kWeakWindowUs = 1000;  // without identity evidence (tcp_stage.cpp)
constexpr uint32_t kTsTickUs = 10000;     // an equal TSval this much later is identity evidence

std::string demo_path() { return test::src_dir() + "/data/demo.pcap"; }

uint64_t count_bit(const SeqwatchRun& r, uint32_t bit) {
  uint64_t n = 0;
  for (const SeqwatchFrame& f : r.frames) n += (f.bits & bit) != 0;
  return n;
}

struct Frame {
  pcap_pkthdr hdr;
  std::vector<u_char> data;
};

std::vector<Frame> read_frames(const std::string& path, int& linktype) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  std::vector<Frame> out;
  if (p == nullptr) return out;
  linktype = pcap_datalink(p);
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) out.push_back(Frame{*h, std::vector<u_char>(d, d + h->caplen)});
  pcap_close(p);
  return out;
}

uint64_t ns_of(const pcap_pkthdr& h) { return uint64_t(h.ts.tv_sec) * 1000000000ull + uint64_t(h.ts.tv_usec); }
void set_ns(pcap_pkthdr& h, uint64_t ns) {
  h.ts.tv_sec = static_cast<time_t>(ns / 1000000000ull);
  h.ts.tv_usec = static_cast<suseconds_t>(ns % 1000000000ull);
}

// Writes `frames` with every frame twice, as a SPAN port mirroring two ports of the path
// delivers them: the copy (1 us after its original at the earliest) goes out after at
// most `lag` later frames and no later than `max_lag_ns` after the original; times never
// go backwards. origin[k] = index in `frames` of output frame k; copy[k] = it is the copy.
bool write_doubled(const std::vector<Frame>& frames, int linktype, const std::string& out, unsigned lag,
                   uint64_t max_lag_ns, std::vector<size_t>& origin, std::vector<bool>& copy) {
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(linktype, 262144, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t* d = pcap_dump_open(dead, out.c_str());
  if (d == nullptr) {
    pcap_close(dead);
    return false;
  }
  uint64_t last = 0;
  auto emit = [&](size_t i, bool is_copy) {
    pcap_pkthdr h = frames[i].hdr;
    uint64_t t = ns_of(h) + (is_copy ? 1000 : 0);
    if (t < last) t = last;
    last = t;
    set_ns(h, t);
    pcap_dump(reinterpret_cast<u_char*>(d), &h, frames[i].data.data());
    origin.push_back(i);
    copy.push_back(is_copy);
  };
  std::vector<size_t> pending;
  for (size_t i = 0; i < frames.size(); ++i) {
    while (!pending.empty() &&
           (pending.size() > lag || ns_of(frames[i].hdr) - ns_of(frames[pending.front()].hdr) > max_lag_ns)) {
      emit(pending.front(), true);
      pending.erase(pending.begin());
    }
    emit(i, false);
    pending.push_back(i);
  }
  for (size_t i : pending) emit(i, true);
  pcap_dump_close(d);
  pcap_close(dead);
  return true;
}

// IPv4 identification of an Ethernet frame carrying IPv4 directly (data/demo.pcap), else 0.
uint16_t ipv4_id(const Frame& f) {
  if (f.data.size() < 20 || f.data[12] != 0x08 || f.data[13] != 0x00) return 0;
  return static_cast<uint16_t>(f.data[18] << 8 | f.data[19]);
}

// A RST in IPv4 with ID 0 (data/demo.pcap: the server's answers after close): no identity
// evidence, and a RST is never a copy without it (docs/tcp-analysis.md section 16).
bool rst_without_id(const Frame& f) {
  if (ipv4_id(f) != 0 || f.data.size() < 14 + 20 + 14) return false;
  const size_t tcp = 14 + (f.data[14] & 0x0F) * 4u;
  return tcp + 14 <= f.data.size() && (f.data[tcp + 13] & 0x04) != 0;
}

TEST(Copies, KernelTrafficHasNoCopiesAndTheSameVerdicts) {
  const SeqwatchRun off = run_seqwatch(demo_path(), true, 0);
  const SeqwatchRun on = run_seqwatch(demo_path(), true, kWindowUs);
  ASSERT_TRUE(off.error.empty()) << off.error;
  ASSERT_TRUE(on.error.empty()) << on.error;
  ASSERT_EQ(off.frames.size(), on.frames.size());
  EXPECT_GT(count_bit(off, tcp::kRetransmission), 300u) << "data/demo.pcap holds the kernel's retransmissions";
  EXPECT_EQ(count_bit(on, tcp::kDuplicatePacket), 0u) << "a real retransmission taken for a copy";
  for (size_t k = 0; k < on.frames.size(); ++k)
    EXPECT_EQ(on.frames[k].bits, off.frames[k].bits) << "frame " << k + 1;
  EXPECT_EQ(on.tcp_segments, off.tcp_segments);
}

void check_doubled(unsigned lag, uint64_t max_lag_ns) {
  int linktype = 0;
  const std::vector<Frame> frames = read_frames(demo_path(), linktype);
  ASSERT_GT(frames.size(), 10000u);
  const std::string out = test::scratch_dir() + "doubled-" + std::to_string(lag) + ".pcap";
  std::vector<size_t> origin;
  std::vector<bool> copy;
  ASSERT_TRUE(write_doubled(frames, linktype, out, lag, max_lag_ns, origin, copy));
  const SeqwatchRun clean = run_seqwatch(demo_path(), true, kWindowUs);
  const SeqwatchRun doubled = run_seqwatch(out, true, kWindowUs);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  ASSERT_TRUE(doubled.error.empty()) << doubled.error;
  ASSERT_EQ(doubled.frames.size(), 2 * clean.frames.size());

  uint64_t copies = 0, found = 0, strong = 0, strong_found = 0, false_copies = 0, orig_differ = 0, rsts = 0;
  for (size_t k = 0; k < doubled.frames.size(); ++k) {
    const SeqwatchFrame& s = doubled.frames[k];
    const SeqwatchFrame& c = clean.frames[origin[k]];
    const bool said_copy = (s.bits & tcp::kDuplicatePacket) != 0;
    if (!copy[k]) {
      false_copies += said_copy;
      // An original whose earlier copies were all recognised sees the clean capture's state.
      orig_differ += s.bits != c.bits;
      continue;
    }
    if (!c.tcp) continue;
    ++copies;
    found += said_copy;
    rsts += rst_without_id(frames[origin[k]]);
    if (ipv4_id(frames[origin[k]]) != 0) {
      ++strong;
      strong_found += said_copy;
    }
  }
  std::cout << "lag " << lag << ": " << copies << " TCP copies, " << found << " recognised (" << strong_found << " of "
            << strong << " with an IPv4 ID); originals with other verdicts than in the clean capture: " << orig_differ
            << "; RSTs without an IP ID (never copies): " << rsts << "\n";
  EXPECT_EQ(false_copies, 0u) << "an original frame called a copy";
  EXPECT_EQ(strong_found, strong) << "a copy with an IPv4 identification was missed";
  EXPECT_GT(strong, 10000u);
  // Data retransmissions (SYN/ACKs aside: the server's carry IP ID 0 and the client answers
  // within the lag) stay the kernel's.
  auto data_retx = [](const SeqwatchRun& r) {
    return count_bit(r, tcp::kRetransmission) - count_bit(r, tcp::kSynAckRetransmission) -
           count_bit(r, tcp::kSynRetransmission);
  };
  EXPECT_EQ(data_retx(doubled), data_retx(clean));
  if (lag == 0) {
    EXPECT_GT(rsts, 0u);
    EXPECT_EQ(found, copies - rsts) << "copies right behind their original: every one but those RSTs is recognised";
    EXPECT_EQ(orig_differ, 0u);
  }
}

TEST(Copies, DoubledSpanTrafficAdjacentCopies) { check_doubled(0, 0); }
TEST(Copies, DoubledSpanTrafficCopiesUpToThreeFramesLate) { check_doubled(3, 500000); }

// ---- generated traffic through every encapsulation ---------------------------------------

// What seqwatch's own decoder says of an Ethernet frame: analysed TCP, its IPv4 ID (the
// carrying header's; 0 for IPv6) and whether it is a RST.
struct Seen {
  bool tcp = false;
  uint16_t ip_id = 0;
  bool rst = false;
};
Seen seen(const Frame& f) {
  const decode::FrameRef ref{f.data.data(), static_cast<uint32_t>(f.data.size())};
  decode::PacketView v;
  decode::DecodeCounters c;
  decode::decode_burst(&ref, 1, decode::LinkType::kEthernet, &v, c);
  Seen s;
  s.tcp = v.is_tcp() && v.status == decode::DecodeStatus::kOk;
  s.ip_id = v.tcp.ip_id;
  s.rst = (v.tcp.flags & decode::kTcpRst) != 0;
  return s;
}

struct GenCase {
  const char* name;
  const char* args;  // seqwatch-gen options on top of the lossy preset
};

std::string gen_case_name(const ::testing::TestParamInfo<GenCase>& i) { return i.param.name; }

class GeneratedCopies : public ::testing::TestWithParam<GenCase> {};

TEST_P(GeneratedCopies, FoundThroughTheEncapsulationOriginalsKeepTheirVerdicts) {
  const GenCase& gc = GetParam();
  const std::string clean_path = test::scratch_dir() + "gen-copies-" + gc.name + ".pcap";
  const test::CmdResult g = test::run(test::gen_exe() +
                                      " --preset lossy --flows 300 --packets 30000 -q " + gc.args +
                                      " -o '" + clean_path + "'");
  ASSERT_EQ(g.rc, 0) << g.out;
  int linktype = 0;
  const std::vector<Frame> frames = read_frames(clean_path, linktype);
  ASSERT_EQ(frames.size(), 30000u);
  const SeqwatchRun clean = run_seqwatch(clean_path, true, kWindowUs);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  // The clean trace's own copies: the lossy preset's network duplicates ("the segment
  // appears twice in a row") of IPv6 segments are byte for byte the same frame, as a SPAN
  // copy is (IPv4 ones get the next IP ID: a sender's second transmission). Every frame
  // seqwatch calls a copy here must repeat the bytes of a frame at most 1 ms before it.
  std::unordered_map<std::string, uint64_t> last_seen;  // frame bytes -> time (ns)
  uint64_t clean_copies = 0;
  for (size_t k = 0; k < frames.size(); ++k) {
    const uint64_t t = ns_of(frames[k].hdr);
    const std::string bytes(frames[k].data.begin(), frames[k].data.end());
    const auto it = last_seen.find(bytes);
    const bool repeat = it != last_seen.end() && t - it->second <= 1000000;
    last_seen[bytes] = t;
    if ((clean.frames[k].bits & tcp::kDuplicatePacket) == 0) continue;
    ++clean_copies;
    EXPECT_TRUE(repeat) << "frame " << k + 1 << " taken for a copy, but no frame just before it has its bytes";
  }
  std::cout << gc.name << ": " << clean_copies << " network duplicates without an IPv4 ID are copies already\n";
  ASSERT_GT(count_bit(clean, tcp::kRetransmission), 100u);
  for (const unsigned lag : {0u, 3u}) {
    const std::string out = test::scratch_dir() + "gen-copies-" + gc.name + "-doubled-" + std::to_string(lag) + ".pcap";
    std::vector<size_t> origin;
    std::vector<bool> copy;
    ASSERT_TRUE(write_doubled(frames, linktype, out, lag, 500000, origin, copy));
    const SeqwatchRun doubled = run_seqwatch(out, true, kWindowUs);
    ASSERT_TRUE(doubled.error.empty()) << doubled.error;
    ASSERT_EQ(doubled.frames.size(), 2 * clean.frames.size());
    uint64_t copies = 0, found = 0, strong = 0, strong_found = 0, weak_rsts = 0, false_copies = 0, orig_differ = 0;
    for (size_t k = 0; k < doubled.frames.size(); ++k) {
      const bool said_copy = (doubled.frames[k].bits & tcp::kDuplicatePacket) != 0;
      const Seen s = seen(frames[origin[k]]);
      if (!copy[k]) {
        // An original called a copy where the clean trace did not call it one. Late copies
        // without identity evidence that had to be analysed (the peer spoke in between)
        // become the reference for what follows, so only originals with an IPv4 ID count
        // then; with adjacent copies every original does.
        const bool clean_copy = (clean.frames[origin[k]].bits & tcp::kDuplicatePacket) != 0;
        false_copies += said_copy && !clean_copy && (lag == 0 || s.ip_id != 0);
        orig_differ += doubled.frames[k].bits != clean.frames[origin[k]].bits;
        continue;
      }
      if (!s.tcp) continue;
      ++copies;
      found += said_copy;
      weak_rsts += s.rst && s.ip_id == 0;
      if (s.ip_id != 0) {
        ++strong;
        strong_found += said_copy;
      }
    }
    std::cout << gc.name << " lag " << lag << ": " << copies << " TCP copies, " << found << " recognised ("
              << strong_found << " of " << strong << " with an IPv4 ID), " << weak_rsts
              << " RSTs without one; originals with other verdicts than in the clean trace: " << orig_differ << "\n";
    EXPECT_EQ(false_copies, 0u) << "an original frame called a copy";
    EXPECT_EQ(strong_found, strong) << "a copy with an IPv4 identification was missed";
    if (lag == 0) {
      // Right behind its original, with nothing from the peer in between: every copy but a
      // RST without identity evidence is one, and nothing the originals showed changes.
      EXPECT_EQ(found, copies - weak_rsts);
      EXPECT_EQ(orig_differ, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Encapsulations, GeneratedCopies,
    ::testing::Values(GenCase{"plain", "--ipv6-share 0.3"}, GenCase{"vlan", "--encap vlan --vlan 100 --ipv6-share 0.3"},
                      GenCase{"qinq", "--encap qinq --vlan 200 --vlan 300"},
                      GenCase{"gre", "--encap gre-key --outer-pairs 4 --ipv6-share 0.3"},
                      GenCase{"ipip", "--encap ipip --outer-pairs 2"},
                      GenCase{"vxlan", "--encap vxlan --outer-pairs 4 --outer-ipv6-share 0.5 --ipv6-share 0.3"},
                      GenCase{"no_timestamps", "--no-timestamps --ipv6-share 0.5"}),
    gen_case_name);

// seqwatch-gen's own SPAN model (--span-copies: a router's two ports, the second capture
// later, here 1.5 ms, with the outer TTL / hop limit one lower): every second capture is a copy,
// over IPv6 and through tunnels too (the TTL parity is the identity evidence there), and
// every original keeps the verdicts of the trace without them (same seed and duration:
// the originals are its frames, byte for byte and in order).
class GeneratedSpan : public ::testing::TestWithParam<GenCase> {};

TEST_P(GeneratedSpan, EverySecondCaptureIsACopyOriginalsKeepTheirVerdicts) {
  const GenCase& gc = GetParam();
  const std::string gen = test::gen_exe();
  const std::string clean_path = test::scratch_dir() + "gen-span-" + gc.name + "-clean.pcap";
  const std::string span_path = test::scratch_dir() + "gen-span-" + gc.name + ".pcap";
  const std::string common = std::string(" --preset lossy --flows 300 --packets 0 --duration 0.03 -q ") + gc.args + " -o ";
  // 1.5 ms behind: past the 1 ms of the rule for segments without identity evidence
  ASSERT_EQ(test::run(gen + common + "'" + clean_path + "'").rc, 0);
  ASSERT_EQ(test::run(gen + common + "'" + span_path + "' --span-copies 0.5 --span-lag-us 1500").rc, 0);
  int linktype = 0;
  const std::vector<Frame> frames = read_frames(span_path, linktype);
  const std::vector<Frame> originals = read_frames(clean_path, linktype);
  const SeqwatchRun clean = run_seqwatch(clean_path, true, kWindowUs);
  const SeqwatchRun span = run_seqwatch(span_path, true, kWindowUs);
  ASSERT_TRUE(clean.error.empty()) << clean.error;
  ASSERT_TRUE(span.error.empty()) << span.error;
  ASSERT_EQ(span.frames.size(), frames.size());
  ASSERT_EQ(clean.frames.size(), originals.size());
  size_t k = 0;
  uint64_t copies = 0, found = 0, differ = 0, clean_copies = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (k < originals.size() && frames[i].data == originals[k].data && ns_of(frames[i].hdr) == ns_of(originals[k].hdr)) {
      differ += span.frames[i].bits != clean.frames[k].bits;
      clean_copies += (clean.frames[k].bits & tcp::kDuplicatePacket) != 0;
      ++k;
      continue;
    }
    ++copies;
    found += (span.frames[i].bits & tcp::kDuplicatePacket) != 0;
  }
  std::cout << gc.name << ": seqwatch-gen --span-copies 0.5: " << copies << " second captures, " << found
            << " found; " << differ << " originals with other verdicts (" << clean_copies
            << " network duplicates copies already)\n";
  EXPECT_EQ(k, originals.size());
  EXPECT_GT(copies, 1000u);
  EXPECT_EQ(found, copies);
  EXPECT_EQ(differ, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Encapsulations, GeneratedSpan,
    ::testing::Values(GenCase{"ipv4", ""}, GenCase{"ipv6", "--ipv6-share 1"},
                      GenCase{"ipv6_no_timestamps", "--ipv6-share 1 --no-timestamps"},
                      GenCase{"vlan", "--encap vlan --vlan 100 --ipv6-share 0.5"},
                      GenCase{"gre", "--encap gre-key --outer-pairs 4 --ipv6-share 0.5"},
                      GenCase{"vxlan", "--encap vxlan --outer-pairs 4 --outer-ipv6-share 0.5 --ipv6-share 0.5"}),
    gen_case_name);

// ---- corpus, against an oracle from tshark's fields -------------------------------------

struct FieldFrame {
  uint64_t number = 0;
  bool usable = false;  // one TCP header, not quoted in ICMP, not an IP fragment
  int64_t time_us = 0;
  std::string flow;     // VLANs + both endpoints, canonical order
  bool forward = false; // sender is the flow's first endpoint
  uint16_t ip_id = 0;   // innermost IPv4 header's identification (IPv6 in IPv4: the tunnel's), else 0
  bool timestamps = false;  // TCP timestamps option present
  uint32_t tsval = 0;       // with it
  bool rst = false;         // RST flag
  unsigned ttl_low = 0;  // low 2 bits of the outermost + innermost IP header's TTL / hop limit (one header: its own)
  std::string fingerprint;
};

using FieldRun = test::FieldsRun<FieldFrame>;
using test::split;

std::string last_of(const std::string& s) {
  const size_t p = s.rfind(',');
  return p == std::string::npos ? s : s.substr(p + 1);
}

constexpr const char* kFields[] = {
    "frame.number", "frame.time_epoch", "frame.protocols", "vlan.id", "ip.id", "ip.src", "ip.dst", "ipv6.src",
    "ipv6.dst", "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value",
    "tcp.len", "tcp.checksum", "tcp.options.timestamp.tsval", "ip.flags.mf", "ip.frag_offset", "ip.ttl", "ipv6.hlim",
    "tcp.options.sack_le", "tcp.options.sack_re"};
constexpr size_t kCols = std::size(kFields);

std::optional<FieldFrame> parse(std::string_view line, std::string& why) {
  const auto c = split(line, '\t');
  if (c.size() != kCols) {
    why = "expected " + std::to_string(kCols) + " columns, got " + std::to_string(c.size());
    return std::nullopt;
  }
  FieldFrame f;
  f.number = std::strtoull(c[0].c_str(), nullptr, 10);
  const std::string& protos = c[2];
  const size_t tcp_at = protos.find(":tcp");
  const bool one_tcp = tcp_at != std::string::npos && protos.find(":tcp", tcp_at + 1) == std::string::npos &&
                       protos.find("icmp") == std::string::npos && split(c[11], ',').size() == 1;
  bool fragment = false;
  for (const std::string& v : split(c[18], ',')) fragment |= v == "1" || v == "True";
  for (const std::string& v : split(c[19], ',')) fragment |= !v.empty() && v != "0";
  if (!one_tcp || fragment) return f;
  // Innermost IP layer: the last "ip" / "ipv6" before ":tcp".
  std::string inner;
  for (const std::string& p : split(protos.substr(0, tcp_at), ':'))
    if (p == "ip" || p == "ipv6") inner = p;
  if (inner.empty()) return f;
  const bool inner_v6 = inner == "ipv6";
  const std::string src = (inner_v6 ? last_of(c[7]) : last_of(c[5])) + "/" + c[9];
  const std::string dst = (inner_v6 ? last_of(c[8]) : last_of(c[6])) + "/" + c[10];
  // The innermost IPv4 header's (ip.id lists IPv4 layers only): IPv6 in an IPv4 tunnel has the tunnel's.
  f.ip_id = c[4].empty() ? 0 : static_cast<uint16_t>(std::strtoul(last_of(c[4]).c_str(), nullptr, 0));
  f.forward = src < dst;
  f.flow = c[3] + "|" + (f.forward ? src + "|" + dst : dst + "|" + src);
  // frame.time_epoch: seconds "." nanoseconds
  const auto t = split(c[1], '.');
  f.time_us = std::strtoll(t[0].c_str(), nullptr, 10) * 1000000;
  if (t.size() > 1) f.time_us += std::strtoll((t[1] + "000000").substr(0, 6).c_str(), nullptr, 10);
  f.timestamps = !c[17].empty();
  f.tsval = static_cast<uint32_t>(std::strtoul(c[17].c_str(), nullptr, 10));
  f.rst = (std::strtoul(c[13].c_str(), nullptr, 0) & 0x04) != 0;
  {
    // The IP layers in frame order (frame.protocols), each taking the next value of its
    // family's field (ip.ttl lists the IPv4 headers, ipv6.hlim the IPv6 ones, outermost first).
    const auto v4 = split(c[20], ','), v6 = split(c[21], ',');
    std::vector<unsigned> ttls;
    size_t n4 = 0, n6 = 0;
    for (const std::string& p : split(protos.substr(0, tcp_at), ':')) {
      if (p == "ip" && n4 < v4.size()) ttls.push_back(static_cast<unsigned>(std::strtoul(v4[n4++].c_str(), nullptr, 10)));
      if (p == "ipv6" && n6 < v6.size()) ttls.push_back(static_cast<unsigned>(std::strtoul(v6[n6++].c_str(), nullptr, 10)));
    }
    if (!ttls.empty()) f.ttl_low = (ttls.front() + (ttls.size() > 1 ? ttls.back() : 0u)) & 3u;
  }
  f.fingerprint = f.flow + "|" + (f.forward ? "a" : "b") + "|" + std::to_string(f.ip_id);
  for (size_t k = 11; k <= 17; ++k) f.fingerprint += "|" + c[k];
  // The first SACK block (the newest); tshark's edges are relative, which equality within a flow allows.
  f.fingerprint += "|" + split(c[22], ',')[0] + "|" + split(c[23], ',')[0];
  f.usable = true;
  return f;
}

// The rule of tcp_stage.cpp (is_copy), written from the fields: a frame is a copy when an
// earlier analysed frame has the same fingerprint, at most kWindowUs before it with an
// IPv4 identification, or (timestamps option) at least kTsTickUs after it (either of them
// with the other TTL parity, the TSval nonzero: at any age); at most
// kWindowUs before with a TTL sum of the other parity than that frame's (one routed hop
// further on); never when that frame's copy one hop further on was seen and this one has its
// very TTL sum (modulo 4: a second transmission at the same point); at any age while the
// low 3 bits of the sender's latest analysed TSval differ from its own (the clock moved on); otherwise at most
// kWeakWindowUs before, not a RST, and the peer sent no analysed segment since that frame (in
// a later microsecond: within the same one the order is unknown and taken as silent). A
// copy is not analysed and leaves the state alone.
std::vector<bool> oracle(const std::vector<FieldFrame>& frames, const SeqwatchRun& sw) {
  std::vector<bool> out(frames.size(), false);
  struct Seen {
    int64_t time_us;
    unsigned ttl_low;  // of its analysed frame
    bool paired;       // its copy one routed hop further on was seen
  };
  std::map<std::string, Seen> seen;  // fingerprint -> its analysed frame
  std::map<std::string, std::array<int64_t, 2>> last_sent;  // flow -> latest analysed segment per side
  std::map<std::string, std::array<uint32_t, 2>> last_tsval;  // flow -> latest analysed TSval per side
  for (size_t k = 0; k < frames.size() && k < sw.frames.size(); ++k) {
    const FieldFrame& f = frames[k];
    if (!f.usable || !sw.frames[k].tcp) continue;
    auto [side, created] = last_sent.try_emplace(f.flow, std::array<int64_t, 2>{INT64_MIN, INT64_MIN});
    auto it = seen.find(f.fingerprint);
    bool is_copy = false;
    if (!created && it != seen.end()) {
      const int64_t age = f.time_us - it->second.time_us;
      const bool other_hop = ((f.ttl_low ^ it->second.ttl_low) & 1u) != 0;
      const uint32_t sender_tsval = last_tsval[f.flow][f.forward ? 0 : 1];
      if (f.timestamps && (sender_tsval & 7) != (f.tsval & 7)) {
        is_copy = true;  // the sender's clock moved on: at any age
      } else if (f.ip_id != 0 || (f.timestamps && age >= kTsTickUs)) {
        // With the other TTL parity, an IPv4 identification or an equal nonzero TSval at
        // least a tick later: at any age (seqwatch's age wraps at 2^24 us, 16.8 s: a copy
        // that late is not in the corpus).
        is_copy = (age >= 0 && age <= kWindowUs) ||
                  (other_hop && (f.ip_id != 0 || (f.timestamps && f.tsval != 0 && age >= kTsTickUs)));
      } else if (other_hop) {
        is_copy = age >= 0 && age <= kWindowUs;
      } else if (it->second.paired && f.ttl_low == it->second.ttl_low) {
        is_copy = false;
      } else {
        const int64_t peer = side->second[f.forward ? 1 : 0];
        is_copy = !f.rst && age >= 0 && age <= kWeakWindowUs && peer <= it->second.time_us;  // same microsecond: silent
      }
    }
    out[k] = is_copy;
    if (is_copy) {
      if (((f.ttl_low ^ it->second.ttl_low) & 1u) != 0) it->second.paired = true;
      continue;
    }
    seen[f.fingerprint] = {f.time_us, f.ttl_low, false};
    side->second[f.forward ? 0 : 1] = f.time_us;
    if (f.timestamps) last_tsval[f.flow][f.forward ? 0 : 1] = f.tsval;
  }
  return out;
}

TEST(Copies, CorpusAgreesWithTheRuleFromTsharkFields) {
  const auto& c = test::corpus();
  if (!c.present) GTEST_FAIL() << "corpus not found (SEQWATCH_CORPUS_DIR=" << c.dir << ")";
  const auto version = test::tshark_version();
  ASSERT_TRUE(version.has_value()) << "tshark is needed: tools/install-deps.sh";
  std::cout << "reference: " << *version << "\n";
  std::string cmd_fields;
  for (const char* f : kFields) cmd_fields += std::string(" -e ") + f;

  std::mutex mu;
  uint64_t agree_copies = 0, files_with_copies = 0, frames = 0, no_repeats = 0;
  std::vector<std::string> failures;
  test::for_each_corpus_file(c.files, [&](size_t i) {
    const auto& file = c.files[i];
    const SeqwatchRun s = run_seqwatch(file.path, true, kWindowUs);
    if (!s.error.empty() || s.tcp_segments == 0) return;  // unreadable / no TCP: other tests' business
    // No TCP segment repeats an earlier one's ports, seq, ack, flags, window, length and
    // checksum: the rule finds no copy (they are part of its fingerprint) and needs no tshark
    // pass (its start-up dominates this test): seqwatch must mark none. That seqwatch decodes
    // those fields as tshark does, frame by frame, is the decode differential's check
    // (tests/corpus).
    if (s.repeated_headers == 0) {
      std::lock_guard lock(mu);
      ++no_repeats;
      for (size_t k = 0; k < s.frames.size(); ++k) {
        if (!s.frames[k].tcp) continue;
        ++frames;
        if (s.frames[k].bits & tcp::kDuplicatePacket)
          failures.push_back(file.rel + " frame " + std::to_string(k + 1) + ": seqwatch copy, but no TCP header repeats");
      }
      return;
    }
    const FieldRun t = test::run_tshark_fields<FieldRun>(
        "tshark -n -r " + test::shell_quote(file.path) +
            " -o tcp.analyze_sequence_numbers:FALSE -T fields -E occurrence=a" + cmd_fields,
        parse, file.path);
    if (!t.error.empty()) return;
    const std::vector<bool> want = oracle(t.frames, s);
    std::lock_guard lock(mu);
    uint64_t here = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      if (!t.frames[k].usable) continue;  // fields not per header: not judged
      ++frames;
      const bool got = (s.frames[k].bits & tcp::kDuplicatePacket) != 0;
      if (got == want[k]) {
        here += got;
        continue;
      }
      std::ostringstream os;
      os << file.rel << " frame " << k + 1 << ": seqwatch " << (got ? "copy" : "not a copy") << ", rule "
         << (want[k] ? "copy" : "not a copy") << " (" << t.frames[k].fingerprint << ")";
      failures.push_back(os.str());
    }
    agree_copies += here;
    files_with_copies += here != 0;
  });
  std::cout << "copies both agree on: " << agree_copies << " in " << files_with_copies << " files; frames judged: "
            << frames << "; files without a repeated TCP header (no tshark pass): " << no_repeats << "\n";
  if (c.shared && !c.filtered) {
    EXPECT_GT(agree_copies, 500u) << "the shared corpus holds SPAN-duplicated captures";
  }
  for (const auto& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace seqwatch::tcpdiff
