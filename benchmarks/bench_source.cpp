// Reading a capture file: packets/s of the libpcap source (PcapFileSource, which copies
// every frame out of libpcap's buffer) against seqwatch's own source (MmapFileSource,
// pointers into its 1 MiB read windows, the next one read ahead on a helper thread:
// BM_ReadMmap; every window read when needed, on the reading thread: BM_ReadBuffered; into
// the mapping: BM_ReadMapped), on the same large file already in the page cache.
//
// The file is written once into /tmp (removed at exit): kPackets frames of an IMIX-like
// size mix (7:4:1 of 66, 590 and 1514 bytes), as classic pcap with libpcap's pcap_dump and
// as pcapng by hand (SHB, IDB, EPBs). Set SEQWATCH_BENCH_CAPTURE to time an existing file
// instead. One iteration opens the file and reads it to the end; each packet's first byte
// and caplen are consumed, as a decoder would start on them.
#include <benchmark/benchmark.h>
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "source/mmap_file.hpp"
#include "source/pcap_file.hpp"

namespace {

using seqwatch::kBurstSize;
using seqwatch::PacketRef;

constexpr uint32_t kPackets = 1000000;
constexpr uint32_t kSizes[12] = {66, 590, 66, 66, 590, 1514, 66, 590, 66, 66, 590, 66};

std::vector<uint8_t> frame_bytes(uint32_t i) {
  std::vector<uint8_t> f(kSizes[i % 12]);
  for (size_t k = 0; k < f.size(); ++k) f[k] = static_cast<uint8_t>(i + k);
  f[12] = 0x08;
  f[13] = 0x00;
  return f;
}

struct Files {
  std::string pcap, pcapng;
  bool generated = false;
  std::string error;
  ~Files() {
    if (generated) {
      std::remove(pcap.c_str());
      std::remove(pcapng.c_str());
    }
  }
};

void write_pcapng(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "wb");
  auto u32 = [&](uint32_t v) { std::fwrite(&v, 4, 1, f); };
  auto u16 = [&](uint16_t v) { std::fwrite(&v, 2, 1, f); };
  u32(0x0A0D0D0A); u32(28); u32(0x1A2B3C4D); u16(1); u16(0); u32(0xFFFFFFFF); u32(0xFFFFFFFF); u32(28);
  u32(1); u32(20); u16(1); u16(0); u32(262144); u32(20);
  for (uint32_t i = 0; i < kPackets; ++i) {
    const auto d = frame_bytes(i);
    const uint32_t padded = static_cast<uint32_t>((d.size() + 3) & ~size_t{3});
    const uint32_t len = 32 + padded;
    const uint64_t ts = 1700000000000000ull + i;
    u32(6); u32(len); u32(0); u32(static_cast<uint32_t>(ts >> 32)); u32(static_cast<uint32_t>(ts));
    u32(static_cast<uint32_t>(d.size())); u32(static_cast<uint32_t>(d.size()));
    std::fwrite(d.data(), 1, d.size(), f);
    static const uint8_t zero[4] = {0, 0, 0, 0};
    std::fwrite(zero, 1, padded - d.size(), f);
    u32(len);
  }
  std::fclose(f);
}

const Files& files() {
  static Files fs = [] {
    Files r;
    if (const char* p = std::getenv("SEQWATCH_BENCH_CAPTURE"); p != nullptr && *p != '\0') {
      r.pcap = p;
      return r;
    }
    r.pcap = "/tmp/seqwatch-bench-source.pcap";
    r.pcapng = "/tmp/seqwatch-bench-source.pcapng";
    pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
    pcap_dumper_t* d = pcap_dump_open(dead, r.pcap.c_str());
    if (d == nullptr) {
      r.error = std::string("pcap_dump_open: ") + pcap_geterr(dead);
      pcap_close(dead);
      return r;
    }
    for (uint32_t i = 0; i < kPackets; ++i) {
      const auto b = frame_bytes(i);
      pcap_pkthdr h{};
      h.ts.tv_sec = 1700000000 + i / 1000000;
      h.ts.tv_usec = i % 1000000;
      h.caplen = h.len = static_cast<uint32_t>(b.size());
      pcap_dump(reinterpret_cast<u_char*>(d), &h, b.data());
    }
    pcap_dump_close(d);
    pcap_close(dead);
    write_pcapng(r.pcapng);
    r.generated = true;
    return r;
  }();
  return fs;
}

enum class Way { kDefault, kNoReadAhead, kMapped };

template <class Source, Way kWay = Way::kDefault>
void read_all(benchmark::State& state, const std::string& path) {
  uint64_t packets = 0, bytes = 0, sink = 0;
  for (auto _ : state) {
    auto s = [&] {
      if constexpr (kWay == Way::kNoReadAhead) return Source::open(path, false);
      else return Source::open(path);
    }();
    if (!s) {
      state.SkipWithError(s.error().message.c_str());
      return;
    }
    if constexpr (kWay == Way::kMapped) s.value()->set_buffered(false);
    PacketRef burst[kBurstSize];
    for (;;) {
      const uint16_t n = s.value()->rx_burst(burst, kBurstSize);
      if (n == 0) {
        if (s.value()->done()) break;
        continue;
      }
      for (uint16_t i = 0; i < n; ++i) {
        sink += burst[i].data[0];
        bytes += burst[i].caplen;
      }
      packets += n;
    }
  }
  benchmark::DoNotOptimize(sink);
  state.SetItemsProcessed(static_cast<int64_t>(packets));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(packets) * 1e-6, benchmark::Counter::kIsRate);
  state.counters["packets_per_pass"] = static_cast<double>(packets) / static_cast<double>(state.iterations());
}

void BM_ReadLibpcap(benchmark::State& state, bool ng) {
  const Files& f = files();
  if (!f.error.empty() || (ng && f.pcapng.empty())) {
    state.SkipWithError(f.error.empty() ? "no pcapng file (SEQWATCH_BENCH_CAPTURE given)" : f.error.c_str());
    return;
  }
  read_all<seqwatch::PcapFileSource>(state, ng ? f.pcapng : f.pcap);
}

void BM_ReadMmap(benchmark::State& state, bool ng) {
  const Files& f = files();
  if (!f.error.empty() || (ng && f.pcapng.empty())) {
    state.SkipWithError(f.error.empty() ? "no pcapng file (SEQWATCH_BENCH_CAPTURE given)" : f.error.c_str());
    return;
  }
  read_all<seqwatch::MmapFileSource>(state, ng ? f.pcapng : f.pcap);
}

// Read through the mapping instead of the read buffer (as frames retained for -w N are).
void BM_ReadMapped(benchmark::State& state, bool ng) {
  const Files& f = files();
  if (!f.error.empty() || (ng && f.pcapng.empty())) {
    state.SkipWithError(f.error.empty() ? "no pcapng file (SEQWATCH_BENCH_CAPTURE given)" : f.error.c_str());
    return;
  }
  read_all<seqwatch::MmapFileSource, Way::kMapped>(state, ng ? f.pcapng : f.pcap);
}

// Through the read buffer, every window read when it is needed (no read-ahead thread).
void BM_ReadBuffered(benchmark::State& state, bool ng) {
  const Files& f = files();
  if (!f.error.empty() || (ng && f.pcapng.empty())) {
    state.SkipWithError(f.error.empty() ? "no pcapng file (SEQWATCH_BENCH_CAPTURE given)" : f.error.c_str());
    return;
  }
  read_all<seqwatch::MmapFileSource, Way::kNoReadAhead>(state, ng ? f.pcapng : f.pcap);
}

// Real time: reading a file is page-cache and page-fault work, system time included.
BENCHMARK_CAPTURE(BM_ReadLibpcap, pcap, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadMmap, pcap, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadBuffered, pcap, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadMapped, pcap, false)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadLibpcap, pcapng, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadMmap, pcapng, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadBuffered, pcapng, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_ReadMapped, pcapng, true)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);

}  // namespace

BENCHMARK_MAIN();
