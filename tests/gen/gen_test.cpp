// Trace generator tests: determinism, the in-memory API against the pcap file, frame
// checksums, and the important one: tshark's tcp.analysis counts on generated traces
// equal the generator's truth, per impairment and per encapsulation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gen/gen_config.hpp"
#include "gen/trace_generator.hpp"
#include "gen/wire.hpp"

namespace seqwatch::gen {
namespace {

GenConfig small(uint64_t packets = 6000) {
  GenConfig c;
  c.flows = 20;
  c.packets = packets;
  c.rate_pps = 20000;
  c.seed = 7;
  return c;
}

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/seqwatch-gen-test-" + std::to_string(getpid()) + "-" + name;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GenDeterminism, SameSeedSameBytesDifferentSeedDifferentBytes) {
  GenConfig c = small(3000);
  c.imp.loss_downstream = 0.02;
  c.imp.reorder = 0.01;
  c.encap.tunnel = Tunnel::kVxlan;
  const std::string a = temp_path("a.pcap"), b = temp_path("b.pcap"), d = temp_path("d.pcap");
  ASSERT_EQ(write_pcap(c, a), "");
  ASSERT_EQ(write_pcap(c, b), "");
  GenConfig c2 = c;
  c2.seed = 8;
  ASSERT_EQ(write_pcap(c2, d), "");
  const std::string fa = read_file(a), fb = read_file(b), fd = read_file(d);
  EXPECT_GT(fa.size(), 3000u * 60);
  EXPECT_EQ(fa, fb);
  EXPECT_NE(fa, fd);
  std::remove(a.c_str());
  std::remove(b.c_str());
  std::remove(d.c_str());
}

TEST(GenApi, InMemoryFramesEqualThePcapRecords) {
  GenConfig c = small(2000);
  c.ipv6_share = 0.5;
  Truth truth;
  const FrameStore store = generate_frames(c, &truth);
  ASSERT_EQ(store.frames.size(), 2000u);
  EXPECT_EQ(truth.total.frames, 2000u);
  const std::string p = temp_path("mem.pcap");
  ASSERT_EQ(write_pcap(c, p), "");
  const std::string file = read_file(p);
  std::remove(p.c_str());
  uint32_t magic;
  std::memcpy(&magic, file.data(), 4);
  EXPECT_EQ(magic, 0xA1B23C4Du);
  size_t off = 24;
  for (const FrameRef& r : store.frames) {
    ASSERT_LE(off + 16 + r.caplen, file.size());
    uint32_t sec, nsec, caplen, wirelen;
    std::memcpy(&sec, file.data() + off, 4);
    std::memcpy(&nsec, file.data() + off + 4, 4);
    std::memcpy(&caplen, file.data() + off + 8, 4);
    std::memcpy(&wirelen, file.data() + off + 12, 4);
    EXPECT_EQ(uint64_t{sec} * 1000000000ull + nsec, r.ts_ns);
    ASSERT_EQ(caplen, r.caplen);
    EXPECT_EQ(wirelen, r.wirelen);
    ASSERT_EQ(std::memcmp(file.data() + off + 16, store.data(r), caplen), 0);
    off += 16 + caplen;
  }
  EXPECT_EQ(off, file.size());
}

TEST(GenApi, TimestampsNeverGoBackwards) {
  TraceGenerator g(small(5000));
  Frame f;
  uint64_t last = 0, n = 0;
  while (g.next(f)) {
    ASSERT_GE(f.ts_ns, last);
    last = f.ts_ns;
    ++n;
  }
  EXPECT_EQ(n, 5000u);
}

TEST(GenWire, Ipv4AndTcpChecksumsVerify) {
  TraceGenerator g(small(500));
  Frame f;
  int checked = 0;
  while (g.next(f)) {
    const uint8_t* ip = f.data + 14;
    ASSERT_EQ(ip[0], 0x45);
    EXPECT_EQ(inet_checksum(ip, 20), 0) << "IPv4 header checksum";
    const uint16_t total = static_cast<uint16_t>(ip[2] << 8 | ip[3]);
    const uint8_t* tcp = ip + 20;
    uint8_t ph[12];
    std::memcpy(ph, ip + 12, 8);
    ph[8] = 0;
    ph[9] = 6;
    ph[10] = static_cast<uint8_t>((total - 20) >> 8);
    ph[11] = static_cast<uint8_t>(total - 20);
    uint64_t acc = 0;
    for (int i = 0; i < 12; i += 2) acc += static_cast<uint16_t>(ph[i] << 8 | ph[i + 1]);
    // Verify by summing in network order: the full sum must fold to 0xFFFF.
    for (int i = 0; i + 1 < total - 20; i += 2) acc += static_cast<uint16_t>(tcp[i] << 8 | tcp[i + 1]);
    if ((total - 20) % 2) acc += static_cast<uint16_t>(tcp[total - 21] << 8);
    while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
    EXPECT_EQ(acc, 0xFFFFu) << "TCP checksum";
    ++checked;
  }
  EXPECT_EQ(checked, 500);
}

// --span-copies: the originals are the clean trace's frames, unchanged; each second capture
// comes span_lag_us after its original, with the outermost TTL / hop limit one lower and a
// valid IPv4 header checksum, every other byte the same; the truth counts them.
TEST(GenSpan, SecondCapturesFollowTheirOriginalsOneHopLower) {
  struct Rec {
    std::vector<uint8_t> bytes;
    uint64_t ts;
    bool copy;
  };
  auto run = [](const GenConfig& c, Truth& truth) {
    std::vector<Rec> out;
    TraceGenerator g(c);
    Frame f;
    while (g.next(f)) out.push_back(Rec{{f.data, f.data + f.caplen}, f.ts_ns, (f.tags & kTagSpanCopy) != 0});
    truth = g.truth();
    return out;
  };
  for (const double v6 : {0.0, 1.0}) {
    GenConfig clean_cfg = small(4000);
    clean_cfg.ipv6_share = v6;
    clean_cfg.encap.vlans = {300};
    GenConfig span_cfg = clean_cfg;
    span_cfg.span_copies = 0.4;
    span_cfg.span_lag_us = 25;
    Truth t_clean, t_span;
    const std::vector<Rec> clean = run(clean_cfg, t_clean);
    const std::vector<Rec> span = run(span_cfg, t_span);
    ASSERT_EQ(span.size(), 4000u);
    std::multimap<uint64_t, size_t> originals;  // time -> index in `span`
    size_t k = 0, copies = 0;
    for (size_t i = 0; i < span.size(); ++i) {
      const Rec& r = span[i];
      if (!r.copy) {
        ASSERT_LT(k, clean.size());
        EXPECT_EQ(r.bytes, clean[k].bytes) << "original " << k;
        EXPECT_EQ(r.ts, clean[k].ts) << "original " << k;
        ++k;
        originals.emplace(r.ts, i);
        continue;
      }
      ++copies;
      const size_t ip = 14 + 4;  // Ethernet + one VLAN tag
      bool matched = false;
      auto [lo, hi] = originals.equal_range(r.ts - 25000);
      for (auto it = lo; it != hi && !matched; ++it) {
        std::vector<uint8_t> want = span[it->second].bytes;
        if (want.size() != r.bytes.size()) continue;
        if (v6 == 0.0) {
          --want[ip + 8];                                   // TTL
          want[ip + 10] = r.bytes[ip + 10];                 // header checksum: verified below
          want[ip + 11] = r.bytes[ip + 11];
        } else {
          --want[ip + 7];  // hop limit
        }
        matched = want == r.bytes;
      }
      EXPECT_TRUE(matched) << "second capture " << i << " has no original 25 us before it";
      if (v6 == 0.0) {
        EXPECT_EQ(inet_checksum(r.bytes.data() + ip, 20), 0) << "IPv4 header checksum of " << i;
      }
    }
    EXPECT_EQ(t_span.total.span_copies, copies);
    EXPECT_EQ(t_span.total.frames, 4000u);
    EXPECT_EQ(t_clean.total.span_copies, 0u);
    EXPECT_GT(copies, 4000u * 0.4 * 0.5 / 1.4);  // ~0.4 / 1.4 of the frames
    EXPECT_LT(copies, 4000u * 0.4 * 1.5 / 1.4);
  }
}

TEST(GenModel, SynOnlyFlowsAreSingleSynsFromDistinctSources) {
  GenConfig c = small(3000);
  c.syn_only = true;
  TraceGenerator g(c);
  Frame f;
  std::map<std::string, int> sources;
  while (g.next(f)) {
    ASSERT_EQ(f.data[14 + 20 + 13], wire::kTcpSyn);
    sources[std::string(reinterpret_cast<const char*>(f.data + 26), 4) +
            std::string(reinterpret_cast<const char*>(f.data + 34), 2)]++;
  }
  EXPECT_EQ(sources.size(), 3000u);
  EXPECT_EQ(g.truth().total.flows_started, 3000u);
}

TEST(GenModel, ConcurrencyStaysAtTheConfiguredFlowCount) {
  GenConfig c = small(20000);
  c.exchanges = 1;
  TraceGenerator g(c);
  Frame f;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> span;  // flow -> first, last frame index
  uint64_t i = 0;
  while (g.next(f)) {
    auto [it, inserted] = span.try_emplace(f.flow_id, i, i);
    it->second.second = i++;
  }
  EXPECT_GT(span.size(), 40u) << "flows must close and be replaced";
  // At the midpoint, the flows with frames on both sides of it are the open ones.
  const uint64_t mid = i / 2;
  uint64_t open = 0;
  for (const auto& [id, s] : span) open += s.first <= mid && s.second >= mid;
  EXPECT_LE(open, c.flows);
  EXPECT_GE(open, c.flows * 3 / 4);
}

TEST(GenConfigTest, PresetsValidateAndUnknownNamesFail) {
  for (std::string_view name : preset_names()) {
    GenConfig c;
    ASSERT_TRUE(apply_preset(name, c)) << name;
    EXPECT_EQ(validate(c), "") << name;
  }
  GenConfig c;
  EXPECT_FALSE(apply_preset("no-such", c));
  c.imp.loss_downstream = 0.7;
  c.imp.reorder = 0.7;
  EXPECT_NE(validate(c), "");
}

// ---- tshark differential -------------------------------------------------------------

constexpr std::array<const char*, 14> kFlags = {
    "retransmission", "fast_retransmission", "spurious_retransmission", "duplicate_ack",
    "lost_segment", "ack_lost_segment", "out_of_order", "zero_window",
    "zero_window_probe", "zero_window_probe_ack", "window_update", "window_full",
    "keep_alive", "reused_ports"};

struct TsharkCounts {
  std::map<std::string, uint64_t> flags;
  uint64_t frames = 0, malformed = 0, errors = 0;
  std::string stderr_text;
};

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TsharkCounts tshark(const std::string& pcap) {
  // Checksum validation on: a wrong checksum is an error-severity expert item.
  std::string cmd = "tshark -n -r '" + pcap +
                    "' -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
                    " -T fields -E occurrence=a -E aggregator=, -e frame.number";
  for (const char* f : kFlags) cmd += std::string(" -e tcp.analysis.") + f;
  cmd += " -e _ws.malformed -e _ws.expert.severity 2>'" + pcap + ".err'";
  const std::string out = run(cmd);
  TsharkCounts c;
  std::istringstream lines(out);
  std::string line;
  constexpr int kErrorSeverity = 0x00800000;  // PI_ERROR
  while (std::getline(lines, line)) {
    std::vector<std::string> cols;
    std::string col;
    std::istringstream cs(line);
    while (std::getline(cs, col, '\t')) cols.push_back(col);
    cols.resize(kFlags.size() + 3);
    ++c.frames;
    for (size_t i = 0; i < kFlags.size(); ++i)
      if (!cols[1 + i].empty()) ++c.flags[kFlags[i]];
    if (!cols[kFlags.size() + 1].empty()) ++c.malformed;
    std::istringstream sev(cols[kFlags.size() + 2]);
    std::string s;
    bool err = false;
    while (std::getline(sev, s, ',')) err |= !s.empty() && std::stol(s) >= kErrorSeverity;
    c.errors += err;
  }
  std::string e = read_file(pcap + ".err");
  const std::string notice = "Running as user \"root\" and group \"root\". This could be dangerous.";
  if (auto pos = e.find(notice); pos != std::string::npos) e.erase(pos, notice.size());
  while (!e.empty() && (e.back() == '\n' || e.front() == '\n')) e.erase(e.back() == '\n' ? e.size() - 1 : 0, 1);
  c.stderr_text = e;
  std::remove((pcap + ".err").c_str());
  return c;
}

struct Scenario {
  const char* name;
  std::function<void(GenConfig&)> setup;
  std::function<uint64_t(const Counters&)> exercised;  // must be > 0: the impairment happened
};

void mixed(GenConfig& c) {
  c.imp.loss_downstream = 0.02;
  c.imp.loss_upstream = 0.01;
  c.imp.reorder = 0.01;
  c.imp.duplicate = 0.01;
  c.imp.midseg_ack = 0.01;
  c.imp.zero_window = 0.01;
  c.imp.syn_unanswered = 0.05;
  c.imp.syn_rst = 0.05;
  c.imp.rst_close = 0.2;
}

uint64_t any_impairment(const Counters& t) {
  return t.fast_retx && t.rto_retx && t.dup_segments && t.lost_segment && t.out_of_order && t.midseg_acks &&
         t.zero_window_probes && t.syn_retries && t.refused_syns;
}

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> s = {
      {"clean", [](GenConfig&) {}, [](const Counters& t) { return t.data_segments[0] * t.data_segments[1]; }},
      {"loss_downstream", [](GenConfig& c) { c.imp.loss_downstream = 0.03; },
       [](const Counters& t) { return t.downstream_losses * t.fast_retx * t.rto_retx; }},
      {"loss_upstream", [](GenConfig& c) { c.imp.loss_upstream = 0.03; },
       [](const Counters& t) { return t.upstream_losses * t.fast_retx; }},
      {"reorder", [](GenConfig& c) { c.imp.reorder = 0.03; }, [](const Counters& t) { return t.out_of_order; }},
      {"duplicate", [](GenConfig& c) { c.imp.duplicate = 0.03; }, [](const Counters& t) { return t.dup_segments; }},
      {"midsegment_ack",
       [](GenConfig& c) {
         c.imp.midseg_ack = 0.02;
         c.bulk_share = 0.8;
       },
       [](const Counters& t) { return t.midseg_acks * t.midseg_retx * t.dup_acks; }},
      {"zero_window", [](GenConfig& c) { c.imp.zero_window = 0.02; },
       [](const Counters& t) { return t.zero_window_probes * t.window_updates; }},
      {"syn_unanswered",
       [](GenConfig& c) {
         c.imp.syn_unanswered = 0.3;
         c.exchanges = 1;
         c.bulk_share = 0;
       },
       [](const Counters& t) { return t.syn_retries; }},
      {"syn_rst",
       [](GenConfig& c) {
         c.imp.syn_rst = 0.3;
         c.exchanges = 1;
         c.bulk_share = 0;
       },
       [](const Counters& t) { return t.refused_syns; }},
      {"mixed", [](GenConfig& c) { mixed(c); c.packets = 20000; }, any_impairment},
      {"mixed_no_tcp_timestamps", [](GenConfig& c) { mixed(c); c.tcp_timestamps = false; c.packets = 20000; },
       any_impairment},
      {"mixed_ipv6", [](GenConfig& c) { mixed(c); c.ipv6_share = 1; c.packets = 20000; }, any_impairment},
      {"mixed_vlan", [](GenConfig& c) { mixed(c); c.encap.vlans = {100}; }, [](const Counters& t) { return t.fast_retx; }},
      {"mixed_qinq", [](GenConfig& c) { mixed(c); c.encap.vlans = {200, 100}; }, [](const Counters& t) { return t.fast_retx; }},
      {"mixed_gre_key",
       [](GenConfig& c) {
         mixed(c);
         c.encap.tunnel = Tunnel::kGre;
         c.encap.gre_key = true;
         c.encap.outer_pairs = 3;
         c.ipv6_share = 0.5;
       },
       [](const Counters& t) { return t.fast_retx; }},
      {"mixed_ipip",
       [](GenConfig& c) {
         mixed(c);
         c.encap.tunnel = Tunnel::kIpip;
         c.encap.outer_pairs = 3;
         c.ipv6_share = 0.5;
         c.encap.outer_ipv6_share = 0.5;
       },
       [](const Counters& t) { return t.fast_retx; }},
      {"mixed_vxlan_outer_ipv6",
       [](GenConfig& c) {
         mixed(c);
         c.encap.tunnel = Tunnel::kVxlan;
         c.encap.outer_pairs = 2;
         c.encap.outer_ipv6_share = 1;
         c.ipv6_share = 0.3;
       },
       [](const Counters& t) { return t.fast_retx; }},
  };
  return s;
}

class GenVsTshark : public ::testing::TestWithParam<size_t> {};

TEST_P(GenVsTshark, AnalysisFlagsMatchTruth) {
  const Scenario& sc = scenarios()[GetParam()];
  ASSERT_EQ(std::system("command -v tshark >/dev/null 2>&1"), 0) << "tshark is required (tools/install-deps.sh)";
  GenConfig c = small();
  sc.setup(c);
  ASSERT_EQ(validate(c), "");
  const std::string pcap = temp_path(std::string(sc.name) + ".pcap");
  Truth truth;
  ASSERT_EQ(write_pcap(c, pcap, &truth), "");
  const TsharkCounts ts = tshark(pcap);
  std::remove(pcap.c_str());

  const Counters& t = truth.total;
  EXPECT_EQ(ts.frames, c.packets);
  EXPECT_EQ(t.frames, c.packets);
  EXPECT_GT(sc.exercised(t), 0u) << "the scenario did not exercise its impairment";
  EXPECT_EQ(ts.malformed, 0u);
  EXPECT_EQ(ts.errors, 0u) << "error-severity expert items (bad checksum, reassembly...)";
  EXPECT_EQ(ts.stderr_text, "");
  EXPECT_EQ(t.lost_segment, t.upstream_losses + t.reorders);
  const nlohmann::json expected = to_json(t)["wireshark"];
  for (const char* f : kFlags) {
    const std::string key = std::string("tcp.analysis.") + f;
    const uint64_t want = expected.at(key).get<uint64_t>();
    const auto it = ts.flags.find(f);
    EXPECT_EQ(it == ts.flags.end() ? 0 : it->second, want) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, GenVsTshark, ::testing::Range<size_t>(0, scenarios().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) { return scenarios()[i.param].name; });

}  // namespace
}  // namespace seqwatch::gen
