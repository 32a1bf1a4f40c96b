// The run-wide tshark cache of the differential tests (tests/support/tshark.hpp,
// SEQWATCH_TSHARK_CACHE): an answer read back equals tshark's own, the key follows the
// capture's bytes and the command, a damaged entry is a miss, and without the variable
// nothing is cached. Needs tshark (tools/install-deps.sh installs it) and data/demo.pcap.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/tshark.hpp"
#include "tshark_verdicts.hpp"

namespace seqwatch::tcpdiff {
namespace {

namespace fs = std::filesystem;

// Sets an environment variable for one scope, restoring it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class TsharkCache : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::tshark_version().has_value()) << "tshark is not installed (tools/install-deps.sh)";
    const char* src = std::getenv("SEQWATCH_SOURCE_DIR");
    ASSERT_NE(src, nullptr) << "SEQWATCH_SOURCE_DIR is not set (run through meson test)";
    char tmpl[] = "/tmp/seqwatch-tshark-cache-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    capture_ = dir_ / "demo.pcap";
    fs::copy_file(fs::path(src) / "data" / "demo.pcap", capture_);
    cache_ = dir_ / "cache";
    fs::create_directory(cache_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  size_t entries() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(cache_)) n += e.is_regular_file();
    return n;
  }
  static void expect_same(const TsharkRun& a, const TsharkRun& b) {
    EXPECT_EQ(a.exit_status, b.exit_status);
    EXPECT_EQ(a.stderr_text, b.stderr_text);
    ASSERT_EQ(a.frames.size(), b.frames.size());
    for (size_t i = 0; i < a.frames.size(); ++i) {
      EXPECT_EQ(a.frames[i].number, b.frames[i].number);
      EXPECT_EQ(a.frames[i].bits, b.frames[i].bits) << "frame " << i + 1;
      EXPECT_EQ(a.frames[i].dupack_num, b.frames[i].dupack_num) << "frame " << i + 1;
      EXPECT_EQ(a.frames[i].streams, b.frames[i].streams) << "frame " << i + 1;
      EXPECT_EQ(a.frames[i].protocols, b.frames[i].protocols) << "frame " << i + 1;
    }
  }
  fs::path dir_, capture_, cache_;
};

TEST_F(TsharkCache, AnswerReadBackEqualsTsharksOwnAndFollowsTheCapturesBytes) {
  TsharkRun direct;
  {
    ScopedEnv off("SEQWATCH_TSHARK_CACHE", nullptr);
    direct = run_tshark(capture_.string());
  }
  ASSERT_TRUE(direct.error.empty()) << direct.error;
  ASSERT_GT(direct.frames.size(), 100u);
  EXPECT_EQ(entries(), 0u) << "nothing is cached without SEQWATCH_TSHARK_CACHE";

  ScopedEnv on("SEQWATCH_TSHARK_CACHE", cache_.c_str());
  const TsharkRun first = run_tshark(capture_.string());
  ASSERT_TRUE(first.error.empty()) << first.error;
  expect_same(direct, first);
  EXPECT_EQ(entries(), 1u);

  {
    // tshark out of reach: the answer can only come from the cache.
    ScopedEnv no_path("PATH", "/nonexistent");
    const TsharkRun cached = run_tshark(capture_.string());
    ASSERT_TRUE(cached.error.empty()) << cached.error;
    expect_same(direct, cached);

    // Another command on the same file is another key: a miss, and tshark cannot run.
    const std::string other_cmd = "tshark -n -r " + test::shell_quote(capture_.string()) + " -T fields -e frame.number";
    const test::TsharkOutput other = test::tshark_output(other_cmd, capture_.string());
    EXPECT_NE(other.exit_status, 0);
    EXPECT_TRUE(other.out.empty());

    // The same path with other bytes (the last record cut off) is another key too.
    const auto size = fs::file_size(capture_);
    fs::resize_file(capture_, size - 10);
    const TsharkRun changed = run_tshark(capture_.string());
    EXPECT_TRUE(changed.frames.empty());
    EXPECT_NE(changed.exit_status, 0) << "answered from the cache although the capture changed";
    fs::remove(capture_);
    fs::copy_file(fs::path(std::getenv("SEQWATCH_SOURCE_DIR")) / "data" / "demo.pcap", capture_);
  }
  // The shell's "not found" (exit 127) is no answer of tshark's: not cached.
  EXPECT_EQ(entries(), 1u);

  // A damaged entry (cut short) is a miss: tshark runs again and the entry is rewritten.
  for (const auto& e : fs::directory_iterator(cache_)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string head;
    std::getline(in, head);
    int exit_status = -1;
    size_t err_len = 0, out_len = 0;
    ASSERT_EQ(std::sscanf(head.c_str(), "seqwatch-tshark-cache 1 %d %zu %zu", &exit_status, &err_len, &out_len), 3);
    EXPECT_EQ(exit_status, 0);
    fs::resize_file(e.path(), fs::file_size(e.path()) - 1);
  }
  const TsharkRun again = run_tshark(capture_.string());
  ASSERT_TRUE(again.error.empty()) << again.error;
  expect_same(direct, again);
  ScopedEnv no_path("PATH", "/nonexistent");
  expect_same(direct, run_tshark(capture_.string()));
}

}  // namespace
}  // namespace seqwatch::tcpdiff
