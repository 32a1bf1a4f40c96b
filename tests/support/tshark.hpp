// The reference tool's identity, shared by the differential tests (decode and TCP).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace seqwatch::test {

// A `tshark -T fields` column split at `sep` (tab between columns, ',' between the
// occurrences of one field with -E occurrence=a); empty fields stay, as empty strings.
inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.emplace_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// What run_tshark_fields returns: the parsed frames, in order, and how tshark ended.
template <class Frame>
struct FieldsRun {
  std::string error;
  std::vector<Frame> frames;
  int exit_status = 0;
  std::string stderr_text;
};

// The first line of `tshark --version`, or nullopt when tshark cannot be run.
inline std::optional<std::string> tshark_version() {
  FILE* p = popen("tshark --version 2>/dev/null", "r");
  if (p == nullptr) return std::nullopt;
  char* line = nullptr;
  size_t cap = 0;
  std::string first;
  if (getline(&line, &cap, p) > 0) first = line;
  while (getline(&line, &cap, p) > 0) {
  }
  std::free(line);
  const int rc = pclose(p);
  if (rc != 0 || first.empty()) return std::nullopt;
  while (!first.empty() && (first.back() == '\n' || first.back() == '\r')) first.pop_back();
  return first;
}

// tshark_version(), asked once per process (each start of tshark costs ~0.5 s).
inline const std::optional<std::string>& tshark_version_once() {
  static const std::optional<std::string> v = tshark_version();
  return v;
}

// True for a version line of the release the corpus facts were generated with (4.0.x).
inline bool tshark_version_is_pinned(const std::string& version_line) {
  return version_line.find("TShark (Wireshark) 4.0.") != std::string::npos;
}

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) {
    if (ch == '\'') q += "'\\''";
    else q += ch;
  }
  return q + "'";
}

// tshark's stderr without its "Running as user root" notice.
inline std::string drop_root_notice(std::string text) {
  static constexpr const char* kNotice = "Running as user \"root\" and group \"root\". This could be dangerous.";
  for (size_t pos; (pos = text.find(kNotice)) != std::string::npos;) {
    size_t end = pos + std::strlen(kNotice);
    if (end < text.size() && text[end] == '\n') ++end;
    text.erase(pos, end - pos);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// tshark's answer to one command: its stdout, stderr (root notice dropped) and exit status.
struct TsharkOutput {
  bool ran = false;  // false: it could not be started (error says why)
  std::string error;
  std::string out;
  std::string err;
  int exit_status = 0;
};

// The run-wide tshark cache (SEQWATCH_TSHARK_CACHE, a directory: tools/run-tests.sh makes one
// per CI run, so the sanitizer build's tests read the answers the release build's tests got;
// unset, as under a plain `meson test`, every command runs tshark). Its start-up (~0.4 s of
// dissector registration, ~1 s beside another test) is most of the corpus tests' time, and
// its answer depends on nothing but the tshark build, the command and the file's bytes: the
// key is a hash of the version line, the command and the file's contents and size, so a
// changed file or another tshark misses. An entry that does not read back whole is a miss.
inline uint64_t fnv1a(uint64_t h, std::string_view bytes) noexcept {
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
  return h;
}
inline std::optional<std::string> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return s;
}
inline std::optional<std::string> tshark_cache_path(const std::string& cmd, const std::string& capture_path) {
  const char* dir = std::getenv("SEQWATCH_TSHARK_CACHE");
  if (dir == nullptr || *dir == '\0' || capture_path.empty()) return std::nullopt;
  const std::optional<std::string>& version = tshark_version_once();
  if (!version) return std::nullopt;
  const std::optional<std::string> bytes = read_whole_file(capture_path);
  if (!bytes) return std::nullopt;
  const uint64_t h1 = fnv1a(fnv1a(0xcbf29ce484222325ull, *version), "\n" + cmd);
  const uint64_t h2 = fnv1a(0x84222325cbf29ce4ull ^ h1, *bytes);
  char name[64];
  std::snprintf(name, sizeof name, "/%016llx-%016llx-%zx", static_cast<unsigned long long>(h1),
                static_cast<unsigned long long>(h2), bytes->size());
  return std::string(dir) + name;
}
// Entry layout: "seqwatch-tshark-cache 1 EXIT ERRLEN OUTLEN\n", stderr, stdout.
inline std::optional<TsharkOutput> tshark_cache_read(const std::string& path) {
  const std::optional<std::string> s = read_whole_file(path);
  if (!s) return std::nullopt;
  const size_t nl = s->find('\n');
  if (nl == std::string::npos) return std::nullopt;
  int exit_status = 0;
  size_t err_len = 0, out_len = 0;
  if (std::sscanf(s->substr(0, nl).c_str(), "seqwatch-tshark-cache 1 %d %zu %zu", &exit_status, &err_len, &out_len) != 3)
    return std::nullopt;
  if (s->size() != nl + 1 + err_len + out_len) return std::nullopt;
  TsharkOutput o;
  o.ran = true;
  o.exit_status = exit_status;
  o.err = s->substr(nl + 1, err_len);
  o.out = s->substr(nl + 1 + err_len);
  return o;
}
inline void tshark_cache_write(const std::string& path, const TsharkOutput& o) {
  std::string tmp = path + ".XXXXXX";
  const int fd = mkstemp(tmp.data());
  if (fd < 0) return;  // no cache entry: the next run asks tshark again
  const std::string head = "seqwatch-tshark-cache 1 " + std::to_string(o.exit_status) + " " +
                           std::to_string(o.err.size()) + " " + std::to_string(o.out.size()) + "\n";
  bool ok = true;
  for (const std::string* part : {&head, &o.err, &o.out}) {
    size_t done = 0;
    while (ok && done < part->size()) {
      const ssize_t n = write(fd, part->data() + done, part->size() - done);
      if (n <= 0) ok = false;
      else done += static_cast<size_t>(n);
    }
  }
  ok = close(fd) == 0 && ok;
  // rename() is atomic: a concurrent reader sees no entry or a whole one.
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) unlink(tmp.c_str());
}

// Runs a tshark command (no redirections in it), or answers from the run-wide cache when
// capture_path is the file it reads and the cache holds the answer.
inline TsharkOutput tshark_output(const std::string& cmd, const std::string& capture_path = {}) {
  const std::optional<std::string> cached = tshark_cache_path(cmd, capture_path);
  if (cached) {
    if (std::optional<TsharkOutput> o = tshark_cache_read(*cached)) return *o;
  }
  TsharkOutput o;
  char err_path[] = "/tmp/seqwatch-tshark-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd < 0) {
    o.error = std::string("cannot create a temporary file for tshark's stderr: ") + std::strerror(errno);
    return o;
  }
  close(fd);
  FILE* p = popen((cmd + " 2>" + shell_quote(err_path)).c_str(), "r");
  if (p == nullptr) {
    o.error = "cannot run tshark: " + std::string(std::strerror(errno));
    unlink(err_path);
    return o;
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int status = pclose(p);
  o.ran = true;
  o.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  o.err = drop_root_notice(read_whole_file(err_path).value_or(""));
  unlink(err_path);
  // Only answers tshark gave: not a signal (a test's timeout), nor the shell's 126/127 (tshark
  // not found or not executable).
  if (cached && WIFEXITED(status) && o.exit_status < 126) tshark_cache_write(*cached, o);
  return o;
}

// Runs a `tshark -T fields` command whose output has one line per frame: parse(line, why)
// returns the frame (or nullopt with the reason), frames must come numbered 1, 2, ...
// Run has: error, frames, exit_status, stderr_text (FieldsRun). capture_path: the file the
// command reads, for the run-wide cache (tshark_output).
template <class Run, class Parse>
Run run_tshark_fields(const std::string& cmd, Parse&& parse, const std::string& capture_path = {}) {
  Run run;
  const TsharkOutput o = tshark_output(cmd, capture_path);
  if (!o.ran) {
    run.error = o.error;
    return run;
  }
  std::string_view rest = o.out;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    std::string why;
    auto frame = parse(line, why);
    if (!frame) {
      if (run.error.empty()) run.error = "cannot parse tshark line " + std::to_string(run.frames.size() + 1) + ": " + why;
      continue;
    }
    if (frame->number != run.frames.size() + 1 && run.error.empty())
      run.error = "tshark frame numbers are not consecutive at " + std::to_string(frame->number);
    run.frames.push_back(std::move(*frame));
  }
  run.exit_status = o.exit_status;
  run.stderr_text = o.err;
  return run;
}

}  // namespace seqwatch::test
