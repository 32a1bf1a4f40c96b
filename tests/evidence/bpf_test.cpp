// BpfFilter gives libpcap's own verdict (pcap_offline_filter with a program compiled on
// the capture's own handle) on every packet of every corpus capture, for a set of
// tcpdump expressions; bad expressions are rejected with the expression and libpcap's message.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "evidence/bpf_filter.hpp"
#include "source/pcap_file.hpp"

namespace seqwatch::evidence {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kExpressions = {
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
};

TEST(BpfFilter, BadExpressionNamesItAndLibpcapMessage) {
  auto r = BpfFilter::compile("tcp port", decode::LinkType::kEthernet);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("'tcp port'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("syntax error"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("EN10MB"), std::string::npos) << r.error().message;
  EXPECT_TRUE(BpfFilter::compile("tcp and port 80", decode::LinkType::kRaw).ok());
  EXPECT_GT(BpfFilter::compile("tcp", decode::LinkType::kEthernet).value().length(), 0u);
}

TEST(BpfFilter, EqualsPcapOfflineFilterOnCorpus) {
  const char* dir = std::getenv("SEQWATCH_CORPUS_DIR");
  std::error_code ec;
  if (dir == nullptr || !fs::is_directory(dir, ec))
    GTEST_SKIP() << "capture corpus not found: set SEQWATCH_CORPUS_DIR (meson option corpus_dir) to the shared corpus";
  std::vector<uint64_t> matches(kExpressions.size(), 0);
  uint64_t files = 0, packets = 0, skipped_gzip = 0, compile_pairs = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const std::string path = it->path().string();
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
  RecordProperty("packets", std::to_string(packets));
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

}  // namespace
}  // namespace seqwatch::evidence
