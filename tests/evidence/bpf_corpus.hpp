// The corpus-wide check shared by the BPF tests: every expression of a set on every packet
// of every corpus capture (and the repository's demo capture, whose frames are cut to 128
// bytes), a BpfFilter's verdict against libpcap's own pcap_offline_filter with a program
// compiled on the capture's handle. `prepare` gets each compiled filter first (the JIT test
// turns it into native code there).
#pragma once

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "evidence/bpf_filter.hpp"
#include "source/pcap_file.hpp"

namespace seqwatch::evidence {

inline const std::vector<std::string> kExpressions = {
    "tcp",
    "port 80",
    "vlan",
    "host 192.168.1.1 or net 10.0.0.0/8",
    "tcp[tcpflags] & tcp-rst != 0",
    "ip6",
    "greater 1000",
    "gre",
    "udp and not port 53",
    "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0 and not vlan",
    "ip and less 100",
    "icmp or icmp6",
    "mpls",
    // Indexed byte/word loads, small and large masks, arithmetic: the forms the rte_bpf
    // JIT path had to repair (src/runtime/bpf_jit.cpp).
    "tcp[13] & 0x12 = 0x12",
    "tcp[12:4] != 0 and tcp[14:2] < 1024",
    "ip[2:2] / 4 > 100 or ip[2:2] % 7 = 3",
    "len - 14 > 500",
};

inline void expect_libpcap_verdicts_on_corpus(const std::function<void(BpfFilter&)>& prepare) {
  namespace fs = std::filesystem;
  const char* dir = std::getenv("SEQWATCH_CORPUS_DIR");
  std::error_code ec;
  if (dir == nullptr || !fs::is_directory(dir, ec))
    GTEST_SKIP() << "capture corpus not found: set SEQWATCH_CORPUS_DIR (meson option corpus_dir) to the shared corpus";
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) paths.push_back(it->path().string());
  }
  if (const char* src = std::getenv("SEQWATCH_SOURCE_DIR")) paths.push_back(std::string(src) + "/data/demo.pcap");
  std::vector<uint64_t> matches(kExpressions.size(), 0);
  uint64_t files = 0, packets = 0, skipped_gzip = 0, compile_pairs = 0;
  for (const std::string& path : paths) {
    auto kind = PcapFileSource::sniff(path);
    if (!kind) continue;
    if (kind.value().gzip) {
      ++skipped_gzip;  // libpcap reads no gzip; the reference needs its own handle
      continue;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* h = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (h == nullptr) continue;  // unreadable captures are the decode suite's business
    ++files;
    const int dlt = pcap_datalink(h);
    struct Pair {
      size_t i;
      BpfFilter ours;
      bpf_program ref;
    };
    std::vector<Pair> pairs;
    for (size_t i = 0; i < kExpressions.size(); ++i) {
      bpf_program ref{};
      const bool ref_ok = pcap_compile(h, &ref, kExpressions[i].c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
      auto ours = BpfFilter::compile(kExpressions[i], dlt);
      ASSERT_EQ(ours.ok(), ref_ok) << path << ": '" << kExpressions[i] << "'";
      if (!ref_ok) continue;
      ++compile_pairs;
      prepare(ours.value());
      pairs.push_back(Pair{i, std::move(ours.value()), ref});
    }
    pcap_pkthdr* hdr;
    const u_char* data;
    uint64_t frame = 0;
    while (pcap_next_ex(h, &hdr, &data) == 1) {
      ++frame;
      ++packets;
      for (Pair& p : pairs) {
        const bool ref = pcap_offline_filter(&p.ref, hdr, data) != 0;
        const bool got = p.ours.match(data, hdr->caplen, hdr->len);
        ASSERT_EQ(got, ref) << path << " frame " << frame << ": '" << kExpressions[p.i] << "'";
        matches[p.i] += got;
      }
    }
    for (Pair& p : pairs) pcap_freecode(&p.ref);
    pcap_close(h);
  }
  ASSERT_GT(files, 50u) << "corpus at " << dir << " holds too few captures";
  ::testing::Test::RecordProperty("packets", std::to_string(packets));
  // Each expression matched something in the corpus (the comparison is not vacuous).
  for (size_t i = 0; i < kExpressions.size(); ++i) {
    // "gre" (outer IPv4/IPv6 protocol 47, untagged) finds nothing in the corpus: libpcap agrees
    // on every packet, which is what this test checks; the other expressions must match.
    if (kExpressions[i] != "gre") {
      EXPECT_GT(matches[i], 0u) << kExpressions[i];
    }
    std::printf("  %-55s %llu matches\n", kExpressions[i].c_str(), static_cast<unsigned long long>(matches[i]));
  }
  std::printf("BPF: %llu files, %llu packets, %llu (file, expression) pairs compiled, %llu gzip files skipped\n",
              static_cast<unsigned long long>(files), static_cast<unsigned long long>(packets),
              static_cast<unsigned long long>(compile_pairs), static_cast<unsigned long long>(skipped_gzip));
}

}  // namespace seqwatch::evidence
