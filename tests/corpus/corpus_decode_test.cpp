// Differential test of the decoder against tshark on every capture of the shared corpus.
//
// For each capture file (found by its magic number, anywhere under SEQWATCH_CORPUS_DIR)
// tshark runs once and reports, per frame, the layer order and the header fields; seqwatch
// reads the same file as `seqwatch analyze` does (test::open_capture: the mmap reader, else
// libpcap) and decodes every frame. Both decodes are
// reduced to a FrameModel (tests/corpus/frame_model.hpp) and compared field by field:
// IP nesting, every layer's addresses, what each layer carries, the TCP header (ports,
// seq, ack, flags, window, header and payload length), UDP ports (tunnel and innermost)
// and VLAN tags. A disagreement fails the file's test unless a class of the reviewed
// allow-list (allow_list.cpp, docs/decode-differential.md) accepts it.
//
// Everything is computed once, files in parallel (SEQWATCH_CORPUS_JOBS, default 2), then
// printed and written to corpus-decode-report.txt in the build directory. Set
// SEQWATCH_CORPUS_FILTER to a substring to run only the files whose path contains it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "allow_list.hpp"
#include "decode/decoder.hpp"
#include "seqwatch_frames.hpp"
#include "source/pcap_file.hpp"
#include "support/capture_reader.hpp"
#include "support/corpus.hpp"
#include "tshark_frames.hpp"

namespace seqwatch::corpus {
namespace {

namespace fs = std::filesystem;


using test::Corpus;
using test::CorpusFile;
using test::corpus;
using test::env_or;

struct FrameDiff {
  FrameModel sw, ts;
  std::vector<Disagreement> diffs;
  std::vector<const AllowRule*> rules;  // per diff: the accepting class, or nullptr
};

struct FileResult {
  std::string rel;
  std::string error;  // the file could not be compared at all
  std::string read_error;
  TsharkRun tshark;   // frames are dropped once compared
  uint64_t sw_frames = 0, ts_frames = 0;
  FieldCounts counts;
  std::vector<FrameDiff> frames;  // frames with at least one disagreement
  uint64_t unexplained = 0, allowed = 0;
  double seconds = 0;
};

void compare_file(const CorpusFile& f, FileResult& r) {
  const auto t0 = std::chrono::steady_clock::now();
  r.rel = f.rel;
  r.tshark = run_tshark(f.path);
  r.ts_frames = r.tshark.frames.size();
  if (!r.tshark.error.empty()) r.error = "tshark: " + r.tshark.error;

  const test::CaptureReader src = test::open_capture(f.path);
  if (src.source() == nullptr) {
    r.error = src.error;
  } else {
    PacketSource& s = *src.source();
    PacketRef burst[kBurstSize];
    decode::PacketView view;
    // Packets come numbered as tshark numbers frames: one after the other, except that the
    // mmap reader skips the numbers of pcapng records tshark lists as frames and which are no
    // packets (custom blocks): those frames are not compared.
    uint64_t prev = 0;
    for (;;) {
      const uint16_t n = s.rx_burst(burst, kBurstSize);
      if (n == 0) break;
      for (uint16_t i = 0; i < n; ++i) {
        const uint32_t number = static_cast<uint32_t>(burst[i].frame);
        const bool in_order = burst[i].frame == prev + 1 || (src.mmap != nullptr && burst[i].frame > prev);
        if (!in_order && r.error.empty())
          r.error = "PacketRef.frame is " + std::to_string(burst[i].frame) + " after frame " + std::to_string(prev);
        prev = burst[i].frame;
        r.sw_frames = std::max<uint64_t>(r.sw_frames, prev);
        decode::decode(burst[i].data, burst[i].caplen, s.link_type(), view);
        if (number > r.ts_frames) continue;
        FrameModel sw = model_of(view, number);
        const FrameModel& ts = r.tshark.frames[number - 1];
        std::vector<Disagreement> d;
        compare(sw, ts, r.counts, d);
        if (d.empty()) continue;
        FrameDiff fd{std::move(sw), ts, std::move(d), {}};
        const FrameContext ctx{r.rel, fd.sw, fd.ts};
        for (const Disagreement& x : fd.diffs) {
          const AllowRule* rule = classify(ctx, x);
          fd.rules.push_back(rule);
          ++(rule != nullptr ? r.allowed : r.unexplained);
        }
        r.frames.push_back(std::move(fd));
      }
    }
    r.read_error = src.read_error();
    r.sw_frames = std::max<uint64_t>(r.sw_frames, src.frames_read());
  }
  r.tshark.frames.clear();
  r.tshark.frames.shrink_to_fit();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct CorpusRun {
  std::optional<std::string> tshark;
  std::vector<FileResult> results;  // same order as corpus().files
  FieldCounts totals;
  std::map<std::string, uint64_t> allowed_by_rule;
  uint64_t frames = 0, unexplained = 0, allowed = 0;
  double seconds = 0;
  unsigned jobs = 0;
  std::string report_path;
  std::string log;  // what was printed
};

std::string pct(uint64_t a, uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", b == 0 ? 100.0 : 100.0 * static_cast<double>(a) / static_cast<double>(b));
  return buf;
}

std::string disagreement_line(const FileResult& r, const FrameDiff& fd, size_t k) {
  const Disagreement& d = fd.diffs[k];
  std::string field = field_name(d.field);
  if (d.layer >= 0) field = "ip[" + std::to_string(d.layer) + "]." + field;
  std::ostringstream os;
  os << r.rel << " frame " << fd.ts.number << ' ' << field << ": seqwatch=" << d.seqwatch << " tshark=" << d.tshark;
  if (fd.rules[k] != nullptr) os << "  [allowed: " << fd.rules[k]->name << "]";
  return os.str();
}

void write_frame_context(std::ostream& os, const FrameDiff& fd) {
  os << "    seqwatch: status=" << fd.sw.status << " caplen=" << fd.sw.cap_len << " " << describe_layers(fd.sw) << "\n";
  os << "    tshark:   " << fd.ts.protocols << (fd.ts.malformed ? " (malformed)" : "") << " len=" << fd.ts.frame_len
     << " caplen=" << fd.ts.cap_len << " " << describe_layers(fd.ts) << "\n";
}

// Builds the whole report; `full` adds the decode context of every frame that disagrees.
std::string report(const CorpusRun& run, bool full) {
  std::ostringstream os;
  const Corpus& c = corpus();
  os << "seqwatch decoder vs tshark: " << run.tshark.value_or("(no tshark)") << "\n";
  os << "corpus: " << c.dir << " (" << c.files.size() << " capture files, " << c.not_captures
     << " other files skipped by magic number), " << run.jobs << " parallel jobs, " << run.seconds << " s\n\n";
  os << "per file: frames seqwatch/tshark, fields agreed/compared, disagreements allowed/unexplained, seconds\n";
  for (const FileResult& r : run.results) {
    uint64_t cmp = 0, agr = 0;
    for (size_t f = 0; f < r.counts.compared.size(); ++f) {
      cmp += r.counts.compared[f][0] + r.counts.compared[f][1];
      agr += r.counts.agreed[f][0] + r.counts.agreed[f][1];
    }
    os << (r.unexplained != 0 || !r.error.empty() || r.sw_frames != r.ts_frames ? "FAIL " : "ok   ") << r.rel
       << ": frames " << r.sw_frames << "/" << r.ts_frames << ", fields " << agr << "/" << cmp << ", disagreements "
       << r.allowed << "/" << r.unexplained << ", " << r.seconds << " s";
    if (!r.error.empty()) os << " ERROR " << r.error;
    if (!r.read_error.empty()) os << " (seqwatch read error: " << r.read_error << ")";
    if (r.tshark.exit_status != 0) os << " (tshark exit " << r.tshark.exit_status << ": " << r.tshark.stderr_text << ")";
    os << "\n";
  }
  os << "\nfield agreement (outer = outermost IP layer or frame-level; tunneled = inside a tunnel)\n";
  for (size_t f = 0; f < static_cast<size_t>(Field::kCount); ++f) {
    char line[160];
    const auto& cm = run.totals.compared[f];
    const auto& ag = run.totals.agreed[f];
    std::snprintf(line, sizeof line, "  %-12s outer %9llu/%-9llu (%s)  tunneled %7llu/%-7llu (%s)\n",
                  field_name(static_cast<Field>(f)), static_cast<unsigned long long>(ag[0]),
                  static_cast<unsigned long long>(cm[0]), pct(ag[0], cm[0]).c_str(),
                  static_cast<unsigned long long>(ag[1]), static_cast<unsigned long long>(cm[1]),
                  pct(ag[1], cm[1]).c_str());
    os << line;
  }
  os << "\nallow-list classes (disagreements accepted):\n";
  for (const AllowRule& rule : allow_rules()) {
    const auto it = run.allowed_by_rule.find(rule.name);
    os << "  " << rule.name << ": " << (it == run.allowed_by_rule.end() ? 0 : it->second) << " -- " << rule.reason << "\n";
  }
  os << "\ntotals: " << run.frames << " frames compared, " << run.allowed << " disagreements allowed, "
     << run.unexplained << " unexplained\n";
  for (int pass = 0; pass < 2; ++pass) {
    os << (pass == 0 ? "\nunexplained disagreements:\n" : "\nallowed disagreements:\n");
    for (const FileResult& r : run.results) {
      for (const FrameDiff& fd : r.frames) {
        bool any = false;
        for (size_t k = 0; k < fd.diffs.size(); ++k) {
          if ((fd.rules[k] == nullptr) != (pass == 0)) continue;
          os << "  " << disagreement_line(r, fd, k) << "\n";
          any = true;
        }
        if (any && (full || pass == 0)) write_frame_context(os, fd);
      }
    }
  }
  return os.str();
}

const CorpusRun& corpus_run() {
  static CorpusRun run;
  static std::once_flag once;
  std::call_once(once, [] {
    const auto t0 = std::chrono::steady_clock::now();
    run.tshark = test::tshark_version_once();
    const Corpus& c = corpus();
    if (!c.present || !run.tshark) return;
    run.results.resize(c.files.size());
    run.jobs = test::for_each_corpus_file(c.files, [&](size_t i) { compare_file(c.files[i], run.results[i]); });
    for (const FileResult& r : run.results) {
      run.totals.add(r.counts);
      run.frames += std::min(r.sw_frames, r.ts_frames);
      run.unexplained += r.unexplained;
      run.allowed += r.allowed;
      for (const FrameDiff& fd : r.frames) {
        for (const AllowRule* rule : fd.rules) {
          if (rule != nullptr) ++run.allowed_by_rule[rule->name];
        }
      }
    }
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string dir = env_or("SEQWATCH_BUILD_DIR", env_or("MESON_BUILD_ROOT", "."));
    run.report_path = (fs::path(dir) / "corpus-decode-report.txt").string();
    std::ofstream(run.report_path) << report(run, true);
    run.log = report(run, false);
    std::cout << run.log << "report: " << run.report_path << "\n" << std::flush;
  });
  return run;
}

constexpr const char* kNoCorpus =
    "capture corpus not found: set SEQWATCH_CORPUS_DIR (meson option corpus_dir) to the shared corpus "
    "directory; the differential test needs it";
constexpr const char* kNoTshark =
    "tshark is not installed or cannot run: install it (Debian: apt-get install tshark); the "
    "differential decode test compares seqwatch against it";

TEST(CorpusDecode, TsharkVersion) {
  if (!corpus().present) GTEST_SKIP() << kNoCorpus;
  const auto& version = test::tshark_version_once();
  ASSERT_TRUE(version.has_value()) << kNoTshark;
  std::cout << "tshark: " << *version << "\n";
  if (tshark_version_is_pinned(*version)) {
    std::cout << "tshark 4.0.x, the release the corpus facts and the allow-list were reviewed with\n";
  } else {
    std::cout << "WARNING: expected tshark 4.0.x (the corpus facts and allow-list were reviewed with 4.0.17); "
                 "disagreements may come from the other tshark release\n";
  }
  corpus_run();
}

TEST(CorpusDecode, FoundCaptures) {
  if (!corpus().present) GTEST_SKIP() << kNoCorpus;
  // The shared corpus holds 122 captures; a scan that finds far fewer is broken.
  if (env_or("SEQWATCH_CORPUS_FILTER", "").empty()) EXPECT_GE(corpus().files.size(), 100u);
  else EXPECT_FALSE(corpus().files.empty());
}

TEST(CorpusDecode, AllowListIsCurrent) {
  if (!corpus().present) GTEST_SKIP() << kNoCorpus;
  ASSERT_TRUE(test::tshark_version_once().has_value()) << kNoTshark;
  const CorpusRun& run = corpus_run();
  if (!env_or("SEQWATCH_CORPUS_FILTER", "").empty()) GTEST_SKIP() << "filtered run: allow-list usage not checked";
  for (const AllowRule& rule : allow_rules()) {
    if (!rule.in_corpus) continue;
    EXPECT_TRUE(run.allowed_by_rule.contains(rule.name))
        << "allow-list class '" << rule.name << "' accepted no disagreement: remove it, or find why it no longer matches";
  }
  EXPECT_EQ(run.unexplained, 0u) << "see the per-file tests and " << run.report_path;
}

class CorpusDecodeFile : public ::testing::TestWithParam<size_t> {};

TEST_P(CorpusDecodeFile, MatchesTshark) {
  ASSERT_TRUE(test::tshark_version_once().has_value()) << kNoTshark;
  const CorpusRun& run = corpus_run();
  const FileResult& r = run.results[GetParam()];
  ASSERT_TRUE(r.error.empty()) << r.rel << ": " << r.error;
  EXPECT_EQ(r.sw_frames, r.ts_frames) << r.rel << ": seqwatch read " << r.sw_frames << " frames, tshark "
                                      << r.ts_frames << (r.read_error.empty() ? "" : " (seqwatch: " + r.read_error + ")");
  // A file cut short mid-packet makes tshark exit 2; libpcap must then have stopped on it too.
  if (r.tshark.exit_status != 0) {
    EXPECT_FALSE(r.read_error.empty()) << r.rel << ": tshark exited " << r.tshark.exit_status << " ("
                                       << r.tshark.stderr_text << ") but seqwatch read the file without error";
  }
  std::ostringstream unexplained;
  for (const FrameDiff& fd : r.frames) {
    for (size_t k = 0; k < fd.diffs.size(); ++k) {
      if (fd.rules[k] == nullptr) unexplained << "  " << disagreement_line(r, fd, k) << "\n";
    }
  }
  EXPECT_EQ(r.unexplained, 0u) << r.rel << ": disagreements with tshark no allow-list class accepts:\n"
                               << unexplained.str();
}

std::string param_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string name = corpus().files[info.param].rel;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

std::vector<size_t> file_indices() {
  std::vector<size_t> v(corpus().files.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = i;
  return v;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CorpusDecodeFile);
INSTANTIATE_TEST_SUITE_P(Corpus, CorpusDecodeFile, ::testing::ValuesIn(file_indices()), param_name);

}  // namespace
}  // namespace seqwatch::corpus
