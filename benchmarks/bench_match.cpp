// Hyperscan block scan with the default rules (config/rules/default.rules), one payload
// per call as Worker::process_burst scans TCP payloads.
//
//   BM_Scan/<payload>/<bytes>
//     http_request   an HTTP/1.1 GET (matches rule 1001 at offset 0)
//     tls_hello      a TLS ClientHello record start (matches 1003)
//     binary         pseudo-random bytes (no match: what most mid-stream segments are)
//   sizes 64, 536, 1448 (a full-MSS segment) bytes.
// The rules file is found through SEQWATCH_SOURCE_DIR (set by meson test) or, failing that,
// relative to the working directory.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "match/payload_matcher.hpp"

namespace {

using seqwatch::PayloadMatcher;

enum class Kind { kHttp, kTls, kBinary };

std::vector<uint8_t> payload(Kind k, size_t n) {
  std::vector<uint8_t> p(n);
  uint64_t s = 0x1234567;
  for (auto& b : p) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    b = static_cast<uint8_t>(s >> 56);
  }
  const char* head = nullptr;
  size_t head_len = 0;
  static const char kHttp[] = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\n\r\n";
  static const uint8_t kTls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  if (k == Kind::kHttp) {
    head = kHttp;
    head_len = sizeof kHttp - 1;
  } else if (k == Kind::kTls) {
    head = reinterpret_cast<const char*>(kTls);
    head_len = sizeof kTls;
  }
  if (head != nullptr) std::memcpy(p.data(), head, std::min(head_len, n));
  return p;
}

struct Matcher {
  std::unique_ptr<PayloadMatcher> m;
  std::unique_ptr<PayloadMatcher::Scratch> s;
  std::string error;
};

Matcher& matcher() {
  static Matcher mm = [] {
    Matcher r;
    const char* src = std::getenv("SEQWATCH_SOURCE_DIR");
    const std::string path = std::string(src && *src ? src : ".") + "/config/rules/default.rules";
    auto rules = seqwatch::load_rules(path);
    if (!rules) {
      r.error = rules.error().message;
      return r;
    }
    auto m = PayloadMatcher::compile(std::move(rules.value()));
    if (!m) {
      r.error = m.error().message;
      return r;
    }
    r.m = std::move(m.value());
    auto s = r.m->make_scratch();
    if (!s) {
      r.error = s.error().message;
      r.m.reset();
      return r;
    }
    r.s = std::move(s.value());
    return r;
  }();
  return mm;
}

void BM_Scan(benchmark::State& state, Kind k) {
  Matcher& mm = matcher();
  if (!mm.m) {
    state.SkipWithError(mm.error.c_str());
    return;
  }
  const auto n = static_cast<size_t>(state.range(0));
  // 64 different payloads, so the scan does not see one buffer in L1 only.
  std::vector<std::vector<uint8_t>> bufs;
  for (int i = 0; i < 64; ++i) {
    auto p = payload(k, n);
    if (n > 40) p[n - 1 - i % 8] ^= static_cast<uint8_t>(i);
    bufs.push_back(std::move(p));
  }
  uint64_t hits0 = 0;
  for (uint64_t h : mm.s->hits()) hits0 += h;
  size_t i = 0;
  for (auto _ : state) {
    const auto& b = bufs[i++ & 63];
    mm.m->scan(b.data(), static_cast<uint32_t>(b.size()), *mm.s);
  }
  uint64_t hits1 = 0;
  for (uint64_t h : mm.s->hits()) hits1 += h;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["hits_per_scan"] = static_cast<double>(hits1 - hits0) / static_cast<double>(state.iterations());
  state.counters["scan_errors"] = static_cast<double>(mm.s->scan_errors());
}

BENCHMARK_CAPTURE(BM_Scan, http_request, Kind::kHttp)->Arg(64)->Arg(536)->Arg(1448)->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_Scan, tls_hello, Kind::kTls)->Arg(64)->Arg(536)->Arg(1448)->Unit(benchmark::kNanosecond);
BENCHMARK_CAPTURE(BM_Scan, binary, Kind::kBinary)->Arg(64)->Arg(536)->Arg(1448)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
