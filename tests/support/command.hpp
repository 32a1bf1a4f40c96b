// Running the seqwatch executable (and tshark) from end-to-end tests: the command's exit
// status and its output (stderr merged unless asked otherwise).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace seqwatch::test {

struct CmdResult {
  int rc;
  std::string out;
};

// `seqwatch analyze` finished as it should: exit status 0, or 1 on a capture that is itself
// cut short or damaged (the corpus holds such files; tshark exits 2 on them), where that is
// the one error and the frames before the damage were analysed.
inline bool analyze_succeeded(const CmdResult& r) {
  if (r.rc == 0) return true;
  size_t errors = 0;
  for (size_t at = r.out.find("seqwatch: error:"); at != std::string::npos; at = r.out.find("seqwatch: error:", at + 1))
    ++errors;
  return r.rc == 1 && errors == 1 && r.out.find("reading stopped before the end of the file") != std::string::npos;
}

inline CmdResult run(const std::string& cmd, bool merge_stderr = true) {
  CmdResult r{-1, {}};
  FILE* p = popen((cmd + (merge_stderr ? " 2>&1" : " 2>/dev/null")).c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// A folder the test takes from its environment (tests/meson.build sets them). A test binary
// run by hand without it stops with the variable's name instead of crashing.
inline std::string env_dir(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::fprintf(stderr, "test setup: %s is not set (meson test sets it; by hand: %s=DIR %s)\n", name, name,
                 "TEST_BINARY");
    std::exit(2);
  }
  return v;
}

// The executables under test and the source tree.
inline std::string exe() { return env_dir("SEQWATCH_BUILD_DIR") + "/src/seqwatch"; }
inline std::string gen_exe() { return env_dir("SEQWATCH_BUILD_DIR") + "/src/gen/seqwatch-gen"; }
inline std::string src_dir() { return env_dir("SEQWATCH_SOURCE_DIR"); }

// A scratch folder of this test process (several builds' suites may run at once), removed
// when the process exits (some tests write ~1 GB of generated captures there; left behind,
// every run of the suite filled /tmp by several GB). SEQWATCH_KEEP_SCRATCH=1 keeps it.
inline std::string scratch_dir() {
  static const std::string d = [] {
    const char* base = std::getenv("TMPDIR");
    std::string p = std::string(base && *base ? base : "/tmp") + "/seqwatch-test-" + std::to_string(getpid());
    std::filesystem::create_directories(p);
    // Outlives the static strings' destructors, which run after this handler (registered
    // before `d` is constructed). Only the process that made it removes it (a forked child
    // that exits without exec runs the handler too).
    static const std::string* const path = new std::string(p);
    static const pid_t owner = getpid();
    std::atexit([] {
      const char* keep = std::getenv("SEQWATCH_KEEP_SCRATCH");
      if (getpid() != owner || (keep && *keep && *keep != '0')) return;
      std::error_code ec;
      std::filesystem::remove_all(*path, ec);
    });
    return p + "/";
  }();
  return d;
}

}  // namespace seqwatch::test
