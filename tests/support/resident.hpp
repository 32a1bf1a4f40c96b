// Resident memory of one mapping of this process, as the kernel reports it: for tests that
// check memory is touched only when used, or given back.
#pragma once

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace seqwatch::test {

// Resident KiB of the mapping that holds `addr` (/proc/self/smaps "Rss:"); ~0 if none does.
inline uint64_t resident_kib(const void* addr) {
  std::ifstream in("/proc/self/smaps");
  const auto a = reinterpret_cast<uintptr_t>(addr);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {  // a mapping's header line
      inside = a >= lo && a < hi;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) return std::stoull(line.substr(4));
  }
  return ~0ull;
}

}  // namespace seqwatch::test
