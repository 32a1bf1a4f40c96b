// The shared reference corpus (../shared/corpus, or SEQWATCH_CORPUS_DIR) as the differential
// tests see it: every capture in it (the magic number decides, never the extension), and a
// runner that works through them on a few threads, largest first.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "source/pcap_file.hpp"

namespace seqwatch::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

struct CorpusFile {
  std::string path;  // absolute
  std::string rel;   // relative to the corpus directory
  uintmax_t size = 0;
};

struct Corpus {
  std::string dir;
  bool present = false;
  bool filtered = false;    // SEQWATCH_CORPUS_FILTER narrowed the run to some files
  // The directory is the project's shared corpus (SOURCES.md and TSHARK_COUNTS.md at its
  // root), not some other folder of captures: checks tied to its contents (file count,
  // allow-list use) apply only then.
  bool shared = false;
  std::vector<CorpusFile> files;  // sorted by relative path
  size_t not_captures = 0;  // files whose magic number is neither pcap nor pcapng (nor gzip of them)
};

// Expected-output files of the source projects that sit beside the captures: never
// captures, so they are not even sniffed.
inline bool is_known_text(const std::filesystem::path& p) {
  static const char* const kText[] = {".md", ".yaml", ".out", ".log", ".test", ".txt", ".json", ".stdout"};
  const std::string ext = p.extension().string();
  for (const char* t : kText)
    if (ext == t) return true;
  return false;
}

inline const Corpus& corpus() {
  namespace fs = std::filesystem;
  static const Corpus c = [] {
    Corpus c;
    c.dir = env_or("SEQWATCH_CORPUS_DIR", "");
    std::error_code ec;
    c.present = !c.dir.empty() && fs::is_directory(c.dir, ec);
    if (!c.present) return c;
    c.shared = fs::is_regular_file(fs::path(c.dir) / "SOURCES.md", ec) &&
               fs::is_regular_file(fs::path(c.dir) / "TSHARK_COUNTS.md", ec);
    const std::string filter = env_or("SEQWATCH_CORPUS_FILTER", "");
    c.filtered = !filter.empty();
    for (auto it = fs::recursive_directory_iterator(c.dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file(ec) || is_known_text(it->path())) continue;
      if (!PcapFileSource::sniff(it->path().string())) {
        ++c.not_captures;
        continue;
      }
      CorpusFile f;
      f.path = it->path().string();
      f.rel = fs::relative(it->path(), c.dir, ec).string();
      f.size = it->file_size(ec);
      if (c.filtered && f.rel.find(filter) == std::string::npos) continue;
      c.files.push_back(std::move(f));
    }
    std::sort(c.files.begin(), c.files.end(), [](const CorpusFile& a, const CorpusFile& b) { return a.rel < b.rel; });
    return c;
  }();
  return c;
}

// Calls work(i) for every file index on SEQWATCH_CORPUS_JOBS threads (default 2), largest
// files first so the threads finish together. Returns the number of threads used.
template <class F>
unsigned for_each_corpus_file(const std::vector<CorpusFile>& files, F&& work) {
  std::vector<size_t> order(files.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return files[a].size > files[b].size; });
  const unsigned jobs = static_cast<unsigned>(std::max(1, std::atoi(env_or("SEQWATCH_CORPUS_JOBS", "2").c_str())));
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) {
    threads.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < order.size();) work(order[k]);
    });
  }
  for (std::thread& t : threads) t.join();
  return jobs;
}

}  // namespace seqwatch::test
