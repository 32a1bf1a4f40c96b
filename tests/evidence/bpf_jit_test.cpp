// The BPF filters compiled to native code through DPDK (rte_bpf_convert + JIT, with the
// repairs src/runtime/bpf_jit.cpp applies) give libpcap's own verdict on every corpus packet,
// as the interpreter does (bpf_test.cpp): same expressions, same comparison.
#include <gtest/gtest.h>

#include "evidence/bpf_corpus.hpp"
#include "evidence/bpf_filter.hpp"
#include "runtime/bpf_jit.hpp"
#include "runtime/eal.hpp"

namespace seqwatch::evidence {
namespace {

class BpfJit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    runtime::EalOptions eal;
    eal.memory_mb = 64;
    eal.extra = {"--file-prefix=swbpfjit"};
    auto ok = runtime::eal_init(eal);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
  }
};

TEST_F(BpfJit, AFilterRunsTheInterpreterUntilCompiled) {
  auto f = BpfFilter::compile("tcp", decode::LinkType::kEthernet);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value().accelerated());
}

TEST_F(BpfJit, EqualsPcapOfflineFilterOnCorpus) {
  unsigned jitted = 0;
  expect_libpcap_verdicts_on_corpus([&](BpfFilter& f) {
    auto r = runtime::jit_compile(f);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_TRUE(r.value()) << "no JIT on this machine";
    ASSERT_TRUE(f.accelerated());
    ++jitted;
  });
  EXPECT_GT(jitted, 500u);
}

// Frames cut by a snaplen: a program that reads `len` must see the original length, which
// the mbuf view does not carry; such frames go to the interpreter, others run natively.
TEST_F(BpfJit, CutFramesKeepTheOriginalLength) {
  std::vector<uint8_t> frame(60, 0);
  frame[12] = 0x08;  // IPv4
  frame[14] = 0x45;
  frame[23] = 6;
  auto f = BpfFilter::compile("greater 1000", decode::LinkType::kEthernet);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(runtime::jit_compile(f.value()).value());
  EXPECT_TRUE(f.value().reads_length());
  EXPECT_TRUE(f.value().match(frame.data(), 60, 1514));   // cut: interpreter, original length
  EXPECT_FALSE(f.value().match(frame.data(), 60, 60));    // whole: native code
  EXPECT_FALSE(f.value().match(frame.data(), 60, 0));     // length unknown: the captured one
  auto g = BpfFilter::compile("ip proto 6", decode::LinkType::kEthernet);
  ASSERT_TRUE(runtime::jit_compile(g.value()).value());
  EXPECT_FALSE(g.value().reads_length());
  EXPECT_TRUE(g.value().match(frame.data(), 60, 1514));
  EXPECT_FALSE(g.value().match(frame.data(), 20, 1514));  // a load past caplen fails, as in libpcap
}

}  // namespace
}  // namespace seqwatch::evidence
