// D-SACK differential: seqwatch's `dsack` verdict against tshark 4.0's D-SACK marking
// (tcp.options.sack.dsack_le) on every capture of the shared corpus, frame by frame.
//
// seqwatch recognises a D-SACK as the Linux sender does (tcp_check_dsack): the first SACK
// block starts below the cumulative ACK, or lies inside the second block; the kernel truth
// test compares the count with the sender's TcpExtTCPDSACKRecv + TcpExtTCPDSACKOfoRecv.
// One class of disagreement is expected and checked from tshark's own field values: a
// first block that STRADDLES the ACK (left edge below it, right edge above it). Linux counts
// it (and seqwatch with it); tshark 4.0 does not mark it (docs/tcp-analysis.md, "D-SACK and
// timestamps"). Every other
// disagreement fails the test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "seqwatch_verdicts.hpp"
#include "support/corpus.hpp"
#include "support/tshark.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::tcpdiff {
namespace {

struct SackFrame {
  uint64_t number = 0;
  bool one_tcp = false;  // exactly one TCP header (no ICMP-quoted one): the fields are unambiguous
  bool dsack = false;    // tshark: tcp.options.sack.dsack_le present
  bool straddles = false;  // first SACK block: left < ack < right (raw sequence numbers)
};

using SackRun = test::FieldsRun<SackFrame>;
using test::split;

// Serial-number "a before b" (RFC 1982), as the kernel's before().
bool before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

std::optional<SackFrame> parse(std::string_view line, std::string& why) {
  const auto cols = split(line, '\t');
  if (cols.size() != 5) {
    why = "expected 5 columns, got " + std::to_string(cols.size());
    return std::nullopt;
  }
  SackFrame f;
  f.number = std::strtoull(cols[0].c_str(), nullptr, 10);
  const auto acks = split(cols[1], ',');
  f.one_tcp = !cols[1].empty() && acks.size() == 1;
  f.dsack = !cols[4].empty();
  if (f.one_tcp && !cols[2].empty() && !cols[3].empty()) {
    const uint32_t ack = static_cast<uint32_t>(std::strtoul(acks[0].c_str(), nullptr, 10));
    const uint32_t le = static_cast<uint32_t>(std::strtoul(split(cols[2], ',')[0].c_str(), nullptr, 10));
    const uint32_t re = static_cast<uint32_t>(std::strtoul(split(cols[3], ',')[0].c_str(), nullptr, 10));
    f.straddles = before(le, ack) && before(ack, re);
  }
  return f;
}

TEST(CorpusDsack, SeqwatchAgreesWithTsharkFrameByFrame) {
  const auto& c = test::corpus();
  if (!c.present) GTEST_FAIL() << "corpus not found (SEQWATCH_CORPUS_DIR=" << c.dir << ")";
  const auto version = test::tshark_version();
  ASSERT_TRUE(version.has_value()) << "tshark is needed: tools/install-deps.sh";
  std::cout << "reference: " << *version << "\n";

  std::mutex mu;
  uint64_t both = 0, straddle_only_seqwatch = 0, ambiguous = 0, no_sack = 0;
  std::vector<std::string> failures;
  test::for_each_corpus_file(c.files, [&](size_t i) {
    const auto& file = c.files[i];
    // Files in which seqwatch decoded no SACK block at all (and no TCP segment failed to
    // decode) need no tshark pass (its start-up dominates this test): a D-SACK is a SACK
    // block, and that seqwatch decodes every TCP segment and every SACK block tshark finds,
    // frame by frame, is the decode differential's check (tests/corpus, tcp.opt.sack).
    const SeqwatchRun s = run_seqwatch(file.path);
    if (s.error.empty() && s.tcp_skipped == 0 && s.sack_segments == 0) {
      std::lock_guard lock(mu);
      ++no_sack;
      return;
    }
    const SackRun t = test::run_tshark_fields<SackRun>(
        "tshark -n -r " + test::shell_quote(file.path) +
            " -o tcp.relative_sequence_numbers:FALSE -o tcp.analyze_sequence_numbers:FALSE -T fields -E occurrence=a"
            " -e frame.number -e tcp.ack -e tcp.options.sack_le -e tcp.options.sack_re -e tcp.options.sack.dsack_le",
        parse, file.path);
    std::lock_guard lock(mu);
    if (!t.error.empty() || !s.error.empty()) {
      // Files tshark or seqwatch cannot read at all are the decode differential's business.
      return;
    }
    const size_t n = std::min(t.frames.size(), s.frames.size());
    for (size_t k = 0; k < n; ++k) {
      const bool sw = (s.frames[k].bits & tcp::kDsack) != 0;
      const SackFrame& tf = t.frames[k];
      if (sw == tf.dsack) {
        both += sw;
        continue;
      }
      if (!tf.one_tcp) {
        ++ambiguous;  // an ICMP-quoted TCP header beside the real one: fields are not per header
        continue;
      }
      if (sw && tf.straddles) {
        ++straddle_only_seqwatch;
        continue;
      }
      std::ostringstream os;
      os << file.rel << " frame " << tf.number << ": seqwatch " << (sw ? "dsack" : "no dsack") << ", tshark "
         << (tf.dsack ? "dsack" : "no dsack");
      failures.push_back(os.str());
    }
  });
  std::cout << "D-SACK frames both agree on: " << both << "; first block straddling the ACK (Linux: D-SACK, tshark: "
            << "not): " << straddle_only_seqwatch << "; frames with two TCP headers left out: " << ambiguous << "; files without SACK blocks (no tshark pass): " << no_sack << " of "
            << c.files.size() << "\n";
  EXPECT_GT(both, 0u) << "the corpus has D-SACKs that tshark marks: none agreed";
  for (const auto& f : failures) ADD_FAILURE() << f;
}

}  // namespace
}  // namespace seqwatch::tcpdiff
