// BpfFilter gives libpcap's own verdict (pcap_offline_filter with a program compiled on
// the capture's own handle) on every packet of every corpus capture, for a set of
// tcpdump expressions; bad expressions are rejected with the expression and libpcap's message.
#include <gtest/gtest.h>

#include <string>

#include "evidence/bpf_corpus.hpp"
#include "evidence/bpf_filter.hpp"

namespace seqwatch::evidence {
namespace {

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
  expect_libpcap_verdicts_on_corpus([](BpfFilter&) {});
}

}  // namespace
}  // namespace seqwatch::evidence
