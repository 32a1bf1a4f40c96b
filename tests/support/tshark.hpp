// The reference tool's identity, shared by the differential tests (decode and TCP).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace seqwatch::test {

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

}  // namespace seqwatch::test
