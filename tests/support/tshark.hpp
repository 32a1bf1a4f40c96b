// The reference tool's identity, shared by the differential tests (decode and TCP).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
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

// Runs a `tshark -T fields` command whose output has one line per frame: parse(line, why)
// returns the frame (or nullopt with the reason), frames must come numbered 1, 2, ...
// Run has: error, frames, exit_status, stderr_text (FieldsRun). stderr goes through a temporary file.
template <class Run, class Parse>
Run run_tshark_fields(const std::string& cmd, Parse&& parse) {
  Run run;
  char err_path[] = "/tmp/seqwatch-tshark-XXXXXX";
  const int fd = mkstemp(err_path);
  if (fd < 0) {
    run.error = std::string("cannot create a temporary file for tshark's stderr: ") + std::strerror(errno);
    return run;
  }
  close(fd);
  FILE* p = popen((cmd + " 2>" + shell_quote(err_path)).c_str(), "r");
  if (p == nullptr) {
    run.error = "cannot run tshark: " + std::string(std::strerror(errno));
    unlink(err_path);
    return run;
  }
  char* buf = nullptr;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&buf, &cap, p)) > 0) {
    std::string_view line(buf, static_cast<size_t>(n));
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
  std::free(buf);
  const int status = pclose(p);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  run.stderr_text = drop_root_notice(ss.str());
  unlink(err_path);
  return run;
}

}  // namespace seqwatch::test
