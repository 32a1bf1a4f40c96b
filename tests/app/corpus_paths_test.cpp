// One analysis, whichever way the packets come in: over every capture of the shared corpus,
// `seqwatch analyze` must give the same segment events and the same flow records
//   - with 1 worker and with 3 (the software rehash stage spreads the flows over the
//     workers by the inner 5-tuple; a flow split across workers, or a worker that sees the
//     end of the input at another time, would show as a different event or record), and
//   - from the zero-copy mmap reader and from libpcap (`--source file`), where the mmap
//     reader takes the file (gzip is libpcap's alone).
// Worker and flow numbers are the only fields that may differ (each worker numbers its own
// flows); every other field of every line must be equal, the lines compared as sorted sets
// (several workers interleave their output). The DPDK `net_pcap` path is left out here: it
// changes timestamps and cut frames itself (docs/architecture.md); tests/app/cli_test.cpp
// compares it on captures it carries unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/command.hpp"
#include "support/corpus.hpp"

namespace seqwatch::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Output {
  std::string error;               // why the run is not comparable (empty: it is)
  std::vector<std::string> events; // normalised, sorted
  std::vector<std::string> flows;
  std::string source;              // "mmap" or "pcap" (the reader the run used)
};

std::vector<std::string> normalised_lines(const std::string& path, std::string& error) {
  std::vector<std::string> out;
  std::ifstream in(path);
  if (!in) {
    error = "no output file " + path;
    return out;
  }
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      error = "not a JSON object: " + line.substr(0, 120);
      return out;
    }
    j.erase("worker");
    j.erase("flow");
    out.push_back(j.dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Output analyze(const CorpusFile& f, const std::string& tag, const std::string& options) {
  Output o;
  const std::string base = scratch_dir() + tag;
  const std::string ev = base + ".events.jsonl", fl = base + ".flows.jsonl";
  const CmdResult r = run(exe() + " analyze '" + f.path + "' " + options + " --events '" + ev + "' --flows '" + fl + "'");
  if (!analyze_succeeded(r)) {
    o.error = "exit " + std::to_string(r.rc) + ": " + r.out.substr(0, 300);
    return o;
  }
  const size_t nl = r.out.find('\n');
  o.source = r.out.substr(0, nl).find(", mmap)") != std::string::npos ? "mmap" : "pcap";
  o.events = normalised_lines(ev, o.error);
  if (o.error.empty()) o.flows = normalised_lines(fl, o.error);
  fs::remove(ev);
  fs::remove(fl);
  return o;
}

// The first line present in one set and not the other, for the failure message.
std::string first_difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  std::ostringstream s;
  s << a.size() << " vs " << b.size() << " lines; " << only_a.size() << " only in the first, " << only_b.size()
    << " only in the second";
  if (!only_a.empty()) s << "\n      first:  " << only_a.front().substr(0, 400);
  if (!only_b.empty()) s << "\n      second: " << only_b.front().substr(0, 400);
  return s.str();
}

TEST(CorpusPaths, OneWorkerAndThreeAndBothFileReadersGiveTheSameAnalysis) {
  const Corpus& c = corpus();
  if (!c.present) GTEST_FAIL() << "corpus not found (SEQWATCH_CORPUS_DIR=" << c.dir << ")";
  ASSERT_FALSE(c.files.empty());
  std::mutex mu;
  std::vector<std::string> failures;
  size_t compared_workers = 0, compared_readers = 0, events = 0;
  for_each_corpus_file(c.files, [&](size_t i) {
    const CorpusFile& f = c.files[i];
    const std::string tag = std::to_string(i);
    std::vector<std::string> bad;
    const Output one = analyze(f, tag + "-w1", "-w 1");
    if (!one.error.empty()) {
      std::lock_guard<std::mutex> lock(mu);
      failures.push_back(f.rel + ": -w 1: " + one.error);
      return;
    }
    const Output three = analyze(f, tag + "-w3", "-w 3");
    if (!three.error.empty()) bad.push_back("-w 3: " + three.error);
    else {
      if (three.events != one.events) bad.push_back("events, -w 1 vs -w 3: " + first_difference(one.events, three.events));
      if (three.flows != one.flows) bad.push_back("flows, -w 1 vs -w 3: " + first_difference(one.flows, three.flows));
    }
    bool readers = false;
    if (one.source == "mmap") {
      readers = true;
      const Output lib = analyze(f, tag + "-file", "-w 1 --source file");
      if (!lib.error.empty()) bad.push_back("--source file: " + lib.error);
      else {
        if (lib.events != one.events) bad.push_back("events, mmap vs libpcap: " + first_difference(one.events, lib.events));
        if (lib.flows != one.flows) bad.push_back("flows, mmap vs libpcap: " + first_difference(one.flows, lib.flows));
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    ++compared_workers;
    compared_readers += readers ? 1 : 0;
    events += one.events.size();
    for (const std::string& b : bad) failures.push_back(f.rel + ": " + b);
  });
  std::cout << "[corpus-paths] " << compared_workers << " captures compared at -w 1 / -w 3 (" << events
            << " events at -w 1), " << compared_readers << " of them also mmap / libpcap\n";
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(compared_workers, c.files.size());
  // The comparison must have had something to compare: most of the corpus is plain pcap or
  // pcapng the mmap reader takes, and its TCP gives events.
  EXPECT_GT(compared_readers, c.files.size() / 2);
  EXPECT_GT(events, 1000u);
}

}  // namespace
}  // namespace seqwatch::test
