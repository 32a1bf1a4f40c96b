// MmapFileSource must hand out exactly what PcapFileSource (libpcap) does: same frames,
// bytes, caplen, wirelen, ts_ns and frame numbers, and stop at the same frame with an
// error on a damaged file. Checked on every corpus capture the mmap reader accepts
// (SEQWATCH_CORPUS_DIR) and on hand-made files: both byte orders, µs/ns, pcapng with
// several interfaces and timestamp resolutions, truncated and corrupt records.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/resident.hpp"
#include "source/mmap_file.hpp"
#include "source/pcap_file.hpp"

namespace seqwatch {
namespace {

namespace fs = std::filesystem;

// ---- comparing the two readers ----

struct Outcome {
  uint64_t frames = 0;
  bool mmap_error = false;
  bool pcap_error = false;
  std::string first_diff;  // empty when every packet matched
};

std::string describe_ref(const PacketRef& p) {
  return "caplen " + std::to_string(p.caplen) + " wirelen " + std::to_string(p.wirelen) + " ts " +
         std::to_string(p.ts_ns) + " frame " + std::to_string(p.frame);
}

// Reads both sources in lock step, one packet per call (a burst's data stays valid only
// until the next call, for libpcap's copies as for the mapping).
Outcome compare(MmapFileSource& m, PcapFileSource& p) {
  Outcome o;
  for (;;) {
    PacketRef a{}, b{};
    const uint16_t na = m.rx_burst(&a, 1);
    const uint16_t nb = p.rx_burst(&b, 1);
    if (na != nb) {
      o.first_diff = "after " + std::to_string(o.frames) + " frames: mmap gave " + std::to_string(na) +
                     " packet(s), libpcap " + std::to_string(nb) + " (mmap error '" + m.read_error() +
                     "', libpcap error '" + p.read_error() + "')";
      break;
    }
    if (na == 0) break;
    ++o.frames;
    if (a.caplen != b.caplen || a.wirelen != b.wirelen || a.ts_ns != b.ts_ns || a.frame != b.frame ||
        std::memcmp(a.data, b.data, a.caplen) != 0) {
      o.first_diff = "frame " + std::to_string(o.frames) + ": mmap " + describe_ref(a) + ", libpcap " +
                     describe_ref(b) + (std::memcmp(a.data, b.data, std::min(a.caplen, b.caplen)) ? " (bytes differ)" : "");
      break;
    }
  }
  o.mmap_error = !m.read_error().empty();
  o.pcap_error = !p.read_error().empty();
  return o;
}

// ---- hand-made files ----

struct TempDir {
  fs::path dir;
  TempDir() {
    char tmpl[] = "/tmp/seqwatch-mmap-test-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    const std::string path = (dir / name).string();
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
};

class Bytes {
 public:
  explicit Bytes(bool big_endian) : be_(big_endian) {}
  Bytes& u8(uint8_t v) { b_.push_back(v); return *this; }
  Bytes& u16(uint16_t v) {
    if (be_) { u8(uint8_t(v >> 8)); u8(uint8_t(v)); } else { u8(uint8_t(v)); u8(uint8_t(v >> 8)); }
    return *this;
  }
  Bytes& u32(uint32_t v) {
    if (be_) { u16(uint16_t(v >> 16)); u16(uint16_t(v)); } else { u16(uint16_t(v)); u16(uint16_t(v >> 16)); }
    return *this;
  }
  Bytes& u64(uint64_t v) {
    if (be_) { u32(uint32_t(v >> 32)); u32(uint32_t(v)); } else { u32(uint32_t(v)); u32(uint32_t(v >> 32)); }
    return *this;
  }
  Bytes& raw(const std::vector<uint8_t>& v) { b_.insert(b_.end(), v.begin(), v.end()); return *this; }
  Bytes& pad4() { while (b_.size() % 4) u8(0); return *this; }
  size_t size() const { return b_.size(); }
  void put32(size_t at, uint32_t v) {
    Bytes t(be_);
    t.u32(v);
    std::memcpy(&b_[at], t.b_.data(), 4);
  }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  bool be_;
  std::vector<uint8_t> b_;
};

// An Ethernet/IPv4/TCP-looking frame of `n` bytes whose content depends on `seed`.
std::vector<uint8_t> frame(size_t n, uint8_t seed) {
  std::vector<uint8_t> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = static_cast<uint8_t>(seed * 31 + i);
  if (n >= 14) { f[12] = 0x08; f[13] = 0x00; }
  return f;
}

Bytes pcap_header(bool be, bool nsec, uint32_t snaplen = 65535, uint32_t linktype = 1) {
  Bytes b(be);
  b.u32(nsec ? 0xA1B23C4D : 0xA1B2C3D4).u16(2).u16(4).u32(0).u32(0).u32(snaplen).u32(linktype);
  return b;
}

void pcap_record(Bytes& b, uint32_t sec, uint32_t frac, const std::vector<uint8_t>& data, uint32_t wirelen = 0) {
  b.u32(sec).u32(frac).u32(static_cast<uint32_t>(data.size())).u32(wirelen ? wirelen : static_cast<uint32_t>(data.size()));
  b.raw(data);
}

void ng_shb(Bytes& b) { b.u32(0x0A0D0D0A).u32(28).u32(0x1A2B3C4D).u16(1).u16(0).u64(~0ull).u32(28); }

void ng_idb(Bytes& b, uint16_t linktype, uint32_t snaplen, int tsresol = -1) {
  const uint32_t len = 20 + (tsresol >= 0 ? 12 : 0);
  b.u32(1).u32(len).u16(linktype).u16(0).u32(snaplen);
  if (tsresol >= 0) b.u16(9).u16(1).u8(static_cast<uint8_t>(tsresol)).u8(0).u8(0).u8(0).u16(0).u16(0);
  b.u32(len);
}

void ng_epb(Bytes& b, uint32_t iface, uint64_t ts, const std::vector<uint8_t>& data, uint32_t wirelen = 0) {
  const uint32_t len = static_cast<uint32_t>(32 + ((data.size() + 3) & ~size_t{3}));
  b.u32(6).u32(len).u32(iface).u32(uint32_t(ts >> 32)).u32(uint32_t(ts)).u32(static_cast<uint32_t>(data.size()));
  b.u32(wirelen ? wirelen : static_cast<uint32_t>(data.size())).raw(data).pad4().u32(len);
}

void ng_spb(Bytes& b, const std::vector<uint8_t>& data) {
  const uint32_t len = static_cast<uint32_t>(16 + ((data.size() + 3) & ~size_t{3}));
  b.u32(3).u32(len).u32(static_cast<uint32_t>(data.size())).raw(data).pad4().u32(len);
}

struct Opened {
  std::unique_ptr<MmapFileSource> m;
  std::unique_ptr<PcapFileSource> p;
};

Opened open_both(const std::string& path, bool read_ahead = true) {
  Opened o;
  auto m = MmapFileSource::open(path, read_ahead);
  EXPECT_TRUE(m.ok()) << path << ": " << (m.ok() ? "" : m.error().message);
  if (m.ok()) o.m = std::move(m.value());
  auto p = PcapFileSource::open(path);
  EXPECT_TRUE(p.ok()) << path << ": " << (p.ok() ? "" : p.error().message);
  if (p.ok()) o.p = std::move(p.value());
  return o;
}

class MmapFileTest : public ::testing::Test {
 protected:
  TempDir tmp;
};

TEST_F(MmapFileTest, ClassicPcapBothByteOrdersMicroAndNano) {
  for (bool be : {false, true}) {
    for (bool nsec : {false, true}) {
      Bytes b = pcap_header(be, nsec, 96);
      pcap_record(b, 1700000000, nsec ? 123456789 : 123456, frame(60, 1));
      pcap_record(b, 1700000001, 5, frame(96, 2), 1514);
      pcap_record(b, 1700000002, 7, frame(200, 3));  // caplen > snaplen 96: cut to 96, as libpcap does
      pcap_record(b, 0x80000001u, 9, frame(14, 4));  // tv_sec read as signed 32 bits
      const std::string path = tmp.write("p.pcap", b.bytes());
      Opened o = open_both(path);
      ASSERT_TRUE(o.m && o.p);
      EXPECT_EQ(o.m->format(), nsec ? CaptureFormat::kPcapNsec : CaptureFormat::kPcap);
      const Outcome r = compare(*o.m, *o.p);
      EXPECT_EQ(r.first_diff, "") << "be=" << be << " nsec=" << nsec;
      EXPECT_EQ(r.frames, 4u);
      EXPECT_FALSE(r.mmap_error);
      EXPECT_EQ(o.m->dropped(), 0u);
    }
  }
}

TEST_F(MmapFileTest, DataPointsIntoTheMapping) {
  Bytes b = pcap_header(false, false);
  pcap_record(b, 1, 2, frame(100, 9));
  auto m = MmapFileSource::open(tmp.write("z.pcap", b.bytes()));
  ASSERT_TRUE(m.ok());
  PacketRef r[kBurstSize];
  ASSERT_EQ(m.value()->rx_burst(r, kBurstSize), 1);
  EXPECT_EQ(r[0].caplen, 100u);
  EXPECT_EQ(r[0].ts_ns, 1000002000u);
  EXPECT_EQ(r[0].frame, 1u);
  EXPECT_EQ(m.value()->rx_burst(r, kBurstSize), 0);
  EXPECT_TRUE(m.value()->done());
}

using test::resident_kib;

// A capture of `mib` MiB: 1400-byte frames whose bytes depend on their number.
std::string large_capture(const TempDir& tmp, unsigned mib, uint32_t& frames) {
  Bytes b = pcap_header(false, false);
  frames = 0;
  while (b.bytes().size() < (size_t{mib} << 20)) {
    ++frames;
    pcap_record(b, frames, 0, frame(1400, static_cast<uint8_t>(frames)));
  }
  return tmp.write("large.pcap", b.bytes());
}

// Read pages leave the process: however large the file, the mapping's resident part stays
// a few windows wide (page cache pages counted in maxrss otherwise: a 450 MiB capture made
// a 555 MiB process). The mapping stays valid: a dropped frame reads back unchanged.
TEST_F(MmapFileTest, ReadPagesLeaveTheProcess) {
  uint32_t frames = 0;
  auto m = MmapFileSource::open(large_capture(tmp, 64, frames));
  ASSERT_TRUE(m.ok());
  MmapFileSource& src = *m.value();
  src.set_buffered(false);  // read through the mapping (pcapng, retained frames)
  PacketRef r[kBurstSize];
  const uint8_t* first = nullptr;
  uint64_t read = 0, peak = 0;
  while (const uint16_t n = src.rx_burst(r, kBurstSize)) {
    if (first == nullptr) first = r[0].data;
    for (uint16_t i = 0; i < n; ++i) ASSERT_EQ(r[i].data[20], static_cast<uint8_t>(r[i].frame * 31 + 20));
    read += n;
    src.release();
    peak = std::max(peak, resident_kib(first));
  }
  EXPECT_EQ(read, frames);
  EXPECT_TRUE(src.done());
  EXPECT_LE(peak, 24u * 1024) << "KiB resident of a 64 MiB file";
  EXPECT_LE(resident_kib(first), 24u * 1024);
  EXPECT_EQ(std::memcmp(first, frame(1400, 1).data(), 1400), 0);
  EXPECT_FALSE(src.buffered());
}

// A capture of a little over four read windows whose records are of every size the buffer must cope
// with: the smallest, Ethernet, jumbo, 64 KiB (GRO) and one of the maximum snapshot
// (262,144 bytes) each refill away, so records straddle the buffer's end again and again.
std::string mixed_capture(const TempDir& tmp, uint32_t& frames, size_t& cut_at) {
  static const size_t sizes[] = {60, 1514, 9014, 65535, 333, 60, 60, 1514, 4000, 262144, 97};
  Bytes b = pcap_header(false, true, 262144);
  frames = 0;
  cut_at = 0;
  for (size_t i = 0; b.size() < 4 * MmapFileSource::kWindowBytes + 12345; ++i) {
    ++frames;
    const size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
    if (cut_at == 0 && b.size() > 2 * MmapFileSource::kWindowBytes + 1000 && n >= 9014) cut_at = b.size() + 16 + n / 2;
    pcap_record(b, frames, frames * 7, frame(n, static_cast<uint8_t>(frames)));
  }
  return tmp.write("mixed.pcap", b.bytes());
}

// Read through the buffer (each next window read ahead on the helper thread, or every
// window read when needed) and through the mapping, the file (of several windows) gives
// libpcap's `frames` frames.
void expect_like_libpcap_both_ways(const std::string& path, uint32_t frames) {
  enum Way { kAhead, kBuffered, kMapped };
  for (const Way way : {kAhead, kBuffered, kMapped}) {
    const char* name = way == kAhead ? "buffered, read ahead" : way == kBuffered ? "buffered" : "mapped";
    Opened o = open_both(path, way == kAhead);  // pcapng: its walk at open() too
    ASSERT_TRUE(o.m && o.p);
    o.m->set_buffered(way != kMapped);
    const Outcome r = compare(*o.m, *o.p);
    EXPECT_EQ(r.first_diff, "") << name;
    EXPECT_EQ(r.frames, frames) << name;
    EXPECT_FALSE(r.mmap_error) << o.m->read_error();
    EXPECT_EQ(o.m->buffered(), way != kMapped);
    EXPECT_TRUE(o.m->done());
    if (way == kAhead) EXPECT_GE(o.m->read_ahead_windows(), 2u) << "the windows after the first come from the read-ahead";
    else EXPECT_EQ(o.m->read_ahead_windows(), 0u) << name;
  }
}

// Frames libpcap delivers before the end or the damage.
uint64_t libpcap_frames(const std::string& path) {
  auto p = PcapFileSource::open(path);
  EXPECT_TRUE(p.ok()) << path;
  uint64_t good = 0;
  PacketRef one{};
  while (p.ok() && p.value()->rx_burst(&one, 1) == 1) ++good;
  return good;
}

// Buffered reading (the default for classic pcap): the same frames as libpcap's and as the
// mapping's, whatever the record sizes and wherever the buffer's refills fall.
TEST_F(MmapFileTest, BufferedAndMappedReadTheSameAsLibpcap) {
  uint32_t frames = 0;
  size_t cut_at = 0;
  const std::string path = mixed_capture(tmp, frames, cut_at);
  expect_like_libpcap_both_ways(path, frames);
}

void expect_damaged_stop(const std::string& path, uint64_t good_frames);

// The buffered pcapng reader refills its window when the next block, by its own length, does
// not fit in what is left (a section header, whose length may be in another byte order: when
// a largest block does not). Blocks of every kind and size, in a pseudo-random order, so that
// each kind straddles the window's end somewhere: EPBs of 60 B to 256 KiB, SPBs, statistics and
// name-resolution blocks, and every ~700 KiB a new section with its interfaces (one carrying
// an if_tsresol option). Every frame as libpcap reads it, buffered and mapped.
TEST_F(MmapFileTest, BufferedPcapngBlocksOfEveryKindStraddleTheWindow) {
  static const size_t sizes[] = {60, 66, 1514, 590, 9014, 54, 65535, 262144, 1, 1448, 4000, 131071};
  Bytes b(false);
  uint32_t frames = 0, state = 12345;
  const auto next = [&state] { return state = state * 1103515245u + 12345u, state >> 8; };
  size_t section_at = 0;
  while (b.size() < 6 * MmapFileSource::kWindowBytes + 333) {
    if (b.size() >= section_at) {
      ng_shb(b);
      ng_idb(b, 1, 262144);
      ng_idb(b, 1, 262144, 9);
      section_at = b.size() + (size_t{700} << 10) + next() % 4096;
    }
    switch (next() % 8) {
      case 0:
        b.u32(5).u32(16).u32(0).u32(16);  // interface statistics, no options
        break;
      case 1: {  // name resolution: one IPv4 record, then the end record, padded
        const uint32_t len = 8 + 4 + 12 + 4 + 4;  // header, record header + value, end record, trailer
        b.u32(4).u32(len).u16(1).u16(12).u32(0x0A000001).raw({'h', 'o', 's', 't', 0, 0, 0, 0}).u16(0).u16(0).u32(len);
        break;
      }
      case 2:
        ++frames;
        ng_spb(b, frame(sizes[next() % 12] % 2000 + 60, static_cast<uint8_t>(frames)));
        break;
      default:
        ++frames;
        ng_epb(b, next() % 2, 1000ull * frames, frame(sizes[next() % 12], static_cast<uint8_t>(frames)));
    }
  }
  expect_like_libpcap_both_ways(tmp.write("blocks.pcapng", b.bytes()), frames);
}

// The same for pcapng: EPBs of every size (the largest a 262,144-byte frame), SPBs, and a
// second interface with nanosecond timestamps; blocks straddle the buffer's end again and
// again, and the validating walk at open() reads through the buffer as well.
TEST_F(MmapFileTest, BufferedPcapngReadsTheSameAsLibpcap) {
  static const size_t sizes[] = {60, 1514, 9014, 65535, 333, 60, 4000, 262144, 97};
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 262144);
  ng_idb(b, 1, 262144, 9);
  uint32_t frames = 0;
  for (size_t i = 0; b.size() < 4 * MmapFileSource::kWindowBytes + 777; ++i) {
    ++frames;
    const size_t n = sizes[i % (sizeof sizes / sizeof sizes[0])];
    ng_epb(b, static_cast<uint32_t>(i % 2), 1000000ull * frames + i, frame(n, static_cast<uint8_t>(frames)));
  }
  const std::string path = tmp.write("mixed.pcapng", b.bytes());
  expect_like_libpcap_both_ways(path, frames);
  // Full bursts, each frame checked before the next call; and the file cut in a block.
  auto m = MmapFileSource::open(path);
  ASSERT_TRUE(m.ok());
  PacketRef r[kBurstSize];
  uint64_t read = 0, empty = 0;
  while (!m.value()->done()) {
    const uint16_t n = m.value()->rx_burst(r, kBurstSize);
    empty += n == 0 && !m.value()->done();
    for (uint16_t i = 0; i < n; ++i) {
      const std::vector<uint8_t> want = frame(r[i].caplen, static_cast<uint8_t>(r[i].frame));
      ASSERT_EQ(std::memcmp(r[i].data, want.data(), r[i].caplen), 0) << "frame " << r[i].frame;
    }
    read += n;
  }
  EXPECT_EQ(read, frames);
  EXPECT_EQ(empty, 0u);
  fs::resize_file(path, 3 * MmapFileSource::kWindowBytes + 5000);
  const uint64_t good = libpcap_frames(path);
  ASSERT_GT(good, 40u);
  expect_damaged_stop(path, good);
}

// The frames of a burst come in order after the `read` before them, each with the bytes the
// test's capture gave it (frame(caplen, number)).
::testing::AssertionResult burst_intact(const PacketRef* r, uint16_t n, uint64_t read) {
  for (uint16_t i = 0; i < n; ++i) {
    if (r[i].frame != read + i + 1)
      return ::testing::AssertionFailure() << "frame " << r[i].frame << " where " << read + i + 1 << " was due";
    const std::vector<uint8_t> want = frame(r[i].caplen, static_cast<uint8_t>(r[i].frame));
    if (std::memcmp(r[i].data, want.data(), r[i].caplen) != 0)
      return ::testing::AssertionFailure() << "frame " << r[i].frame << ": bytes differ";
  }
  return ::testing::AssertionSuccess();
}

// Full bursts: a burst ends early where the buffer ends, never empty before the end of the
// file, and every frame's bytes are intact until the next call.
TEST_F(MmapFileTest, BufferedBurstsEndAtTheBufferNeverEmptyBeforeTheEnd) {
  uint32_t frames = 0;
  size_t cut_at = 0;
  auto m = MmapFileSource::open(mixed_capture(tmp, frames, cut_at));
  ASSERT_TRUE(m.ok());
  MmapFileSource& src = *m.value();
  PacketRef r[kBurstSize];
  uint64_t read = 0, empty = 0, short_bursts = 0;
  while (!src.done()) {
    const uint16_t n = src.rx_burst(r, kBurstSize);
    if (n == 0) {
      empty += !src.done();
      continue;
    }
    short_bursts += n < kBurstSize;
    ASSERT_TRUE(burst_intact(r, n, read));
    read += n;
    src.release();
  }
  EXPECT_TRUE(src.buffered());
  EXPECT_EQ(read, frames);
  EXPECT_EQ(empty, 0u);
  EXPECT_GE(short_bursts, 2u);  // the buffer's end cut bursts short
  EXPECT_EQ(src.read_error(), "");
}

// A large file cut in the middle of a record past the first refills: the same frames and
// the same stop as libpcap's, either way of reading.
TEST_F(MmapFileTest, BufferedTruncatedLargeFileStopsWhereLibpcapDoes) {
  uint32_t frames = 0;
  size_t cut_at = 0;
  const std::string path = mixed_capture(tmp, frames, cut_at);
  ASSERT_GT(cut_at, 0u);
  fs::resize_file(path, cut_at);
  const uint64_t good = libpcap_frames(path);
  ASSERT_GT(good, 40u);
  expect_damaged_stop(path, good);
  auto m = MmapFileSource::open(path);
  ASSERT_TRUE(m.ok());
  m.value()->set_buffered(false);
  PacketRef r[kBurstSize];
  uint64_t read = 0;
  while (const uint16_t n = m.value()->rx_burst(r, kBurstSize)) read += n;
  EXPECT_EQ(read, good);
  EXPECT_EQ(m.value()->dropped(), 1u);
}

// The file cut while it is read, with the next window already read ahead (or being read):
// every frame delivered is intact, and reading stops at the cut with the truncation reported,
// never past what the file held. (Frames the read-ahead took before the cut may come out:
// they were in the file when read.)
TEST_F(MmapFileTest, FileCutWhileReadAheadStopsWithIntactFrames) {
  uint32_t frames = 0;
  size_t cut_at = 0;
  const std::string path = mixed_capture(tmp, frames, cut_at);
  auto m = MmapFileSource::open(path);
  ASSERT_TRUE(m.ok());
  MmapFileSource& src = *m.value();
  PacketRef r[kBurstSize];
  uint64_t read = 0;
  bool cut = false;
  while (!src.done()) {
    const uint16_t n = src.rx_burst(r, kBurstSize);
    ASSERT_TRUE(burst_intact(r, n, read));
    read += n;
    src.release();
    if (!cut && src.read_ahead_windows() >= 1) {  // past the first refill: a window is out ahead
      fs::resize_file(path, cut_at);
      cut = true;
    }
  }
  ASSERT_TRUE(cut);
  const uint64_t good = libpcap_frames(path);  // what the cut file holds
  EXPECT_GE(read, good);
  EXPECT_LT(read, frames);
  EXPECT_EQ(src.dropped(), 1u);
  EXPECT_NE(src.read_error().find("truncated"), std::string::npos) << src.read_error();
}

// Retained frames need the mapping, and the buffer is preferred: retaining is refused
// (the caller copies frames) unless mapped reading was chosen before the first burst.
TEST_F(MmapFileTest, RetainingFramesNeedsMappedReading) {
  uint32_t frames = 0;
  size_t cut_at = 0;
  const std::string path = mixed_capture(tmp, frames, cut_at);
  PacketRef r[kBurstSize];
  auto a = MmapFileSource::open(path);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a.value()->retain_frames(true));  // default: buffered, frames copied by the caller
  ASSERT_GT(a.value()->rx_burst(r, kBurstSize), 0);
  EXPECT_TRUE(a.value()->buffered());
  EXPECT_FALSE(a.value()->retain_frames(true));
  EXPECT_FALSE(a.value()->retain_frames(false));  // "not retaining", as asked
  auto b = MmapFileSource::open(path);
  ASSERT_TRUE(b.ok());
  b.value()->set_buffered(false);
  ASSERT_TRUE(b.value()->retain_frames(true));
  ASSERT_GT(b.value()->rx_burst(r, kBurstSize), 0);
  EXPECT_FALSE(b.value()->buffered());
}

// retain_frames(): frames stay (for a stage that passes them on by address) until
// drop_before() lets go of them.
TEST_F(MmapFileTest, RetainedFramesStayUntilDropped) {
  uint32_t frames = 0;
  auto m = MmapFileSource::open(large_capture(tmp, 48, frames));
  ASSERT_TRUE(m.ok());
  MmapFileSource& src = *m.value();
  EXPECT_EQ(src.read_mark(), 24u);  // after the file header
  src.set_buffered(false);
  ASSERT_TRUE(src.retain_frames(true));
  PacketRef r[kBurstSize];
  const uint8_t* first = nullptr;
  uint64_t read = 0;
  while (const uint16_t n = src.rx_burst(r, kBurstSize)) {
    if (first == nullptr) first = r[0].data;
    read += n;
    src.release();
  }
  ASSERT_EQ(read, frames);
  EXPECT_EQ(src.read_mark(), src.file_size());
  EXPECT_GE(resident_kib(first), 40u * 1024) << "retained frames were given back";
  src.drop_before(src.read_mark() / 2);
  const uint64_t half = resident_kib(first);
  EXPECT_LE(half, 30u * 1024);
  EXPECT_GE(half, 20u * 1024);
  src.drop_before(src.read_mark());
  EXPECT_LE(resident_kib(first), 4u * 1024);
  EXPECT_EQ(std::memcmp(first, frame(1400, 1).data(), 1400), 0);
}

// A damaged record: both readers deliver the same frames before it and report an error;
// the mmap reader counts it in dropped().
void expect_damaged_stop(const std::string& path, uint64_t good_frames) {
  Opened o = open_both(path);
  ASSERT_TRUE(o.m && o.p);
  const Outcome r = compare(*o.m, *o.p);
  EXPECT_EQ(r.first_diff, "") << path;
  EXPECT_EQ(r.frames, good_frames) << path;
  EXPECT_TRUE(r.mmap_error) << path;
  EXPECT_TRUE(r.pcap_error) << path << ": libpcap saw no error";
  EXPECT_EQ(o.m->dropped(), 1u) << path;
  EXPECT_TRUE(o.m->done());
}

TEST_F(MmapFileTest, TruncatedLastRecordData) {
  Bytes b = pcap_header(false, false);
  pcap_record(b, 1, 0, frame(100, 1));
  pcap_record(b, 2, 0, frame(100, 2));
  std::vector<uint8_t> bytes = b.bytes();
  bytes.resize(bytes.size() - 30);
  expect_damaged_stop(tmp.write("t1.pcap", bytes), 1);
}

TEST_F(MmapFileTest, TruncatedLastRecordHeader) {
  Bytes b = pcap_header(true, true);
  pcap_record(b, 1, 0, frame(100, 1));
  pcap_record(b, 2, 0, frame(100, 2));
  std::vector<uint8_t> bytes = b.bytes();
  bytes.resize(bytes.size() - 100 - 7);  // 9 of 16 header bytes left
  expect_damaged_stop(tmp.write("t2.pcap", bytes), 1);
}

TEST_F(MmapFileTest, RecordLongerThanTheMaximumSnapshot) {
  Bytes b = pcap_header(false, false, 0);
  pcap_record(b, 1, 0, frame(64, 1));
  const size_t at = b.size();
  pcap_record(b, 2, 0, frame(64, 2));
  b.put32(at + 8, 300000);  // caplen beyond 262144, and beyond the file
  expect_damaged_stop(tmp.write("t3.pcap", b.bytes()), 1);
}

TEST_F(MmapFileTest, CaplenRunningPastTheFile) {
  Bytes b = pcap_header(false, true);
  pcap_record(b, 1, 0, frame(64, 1));
  pcap_record(b, 1, 1, frame(64, 2));
  const size_t at = b.size();
  pcap_record(b, 2, 0, frame(64, 3));
  b.put32(at + 8, 5000);
  expect_damaged_stop(tmp.write("t4.pcap", b.bytes()), 2);
}

TEST_F(MmapFileTest, PcapngInterfacesWithTheirOwnResolution) {
  for (bool be : {false, true}) {
    Bytes b(be);
    ng_shb(b);
    ng_idb(b, 1, 0);          // µs (default), snaplen 0 = maximum
    ng_epb(b, 0, 1700000000123456ull, frame(60, 1));
    b.u32(5).u32(16).u32(0).u32(16);  // an unknown block: skipped
    ng_idb(b, 1, 0, 9);       // ns
    ng_epb(b, 1, 1700000000123456789ull, frame(61, 2), 1000);
    ng_spb(b, frame(62, 3));  // no timestamp
    ng_idb(b, 1, 0, 0x80 | 20);  // 2^-20 s
    ng_epb(b, 2, (1700000000ull << 20) + 12345, frame(63, 4));
    ng_epb(b, 0, 1700000001000000ull, frame(1500, 5));
    const std::string path = tmp.write(be ? "be.pcapng" : "le.pcapng", b.bytes());
    Opened o = open_both(path);
    ASSERT_TRUE(o.m && o.p);
    const Outcome r = compare(*o.m, *o.p);
    EXPECT_EQ(r.first_diff, "") << "be=" << be;
    EXPECT_EQ(r.frames, 5u);
    EXPECT_FALSE(r.mmap_error);
    EXPECT_FALSE(r.pcap_error);
  }
}

// Custom blocks (copyable and not) and systemd journal export blocks are records with a
// frame number of their own in tshark: the packets after them keep tshark's numbers (a
// segment event's `frame` lines up with tshark's). libpcap skips them without a trace, so
// `--source file` / `dpdk` number packets only (docs/events.md).
TEST_F(MmapFileTest, PcapngCustomAndJournalBlocksTakeAFrameNumber) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_epb(b, 0, 5, frame(60, 1));                   // frame 1
  b.u32(0x00000BAD).u32(20).u32(32473).u32(0).u32(20);  // custom block, PEN 32473: frame 2
  ng_epb(b, 0, 6, frame(60, 2));                   // frame 3
  b.u32(0x40000BAD).u32(16).u32(32473).u32(16);    // frame 4
  b.u32(9).u32(16).u32(0).u32(16);                 // journal export: frame 5
  b.u32(5).u32(16).u32(0).u32(16);                 // interface statistics: no frame
  ng_epb(b, 0, 7, frame(60, 3));                   // frame 6
  auto m = MmapFileSource::open(tmp.write("custom.pcapng", b.bytes()));
  ASSERT_TRUE(m) << m.error().message;
  std::vector<uint64_t> frames;
  PacketRef p{};
  while (m.value()->rx_burst(&p, 1) == 1) frames.push_back(p.frame);
  EXPECT_EQ(frames, (std::vector<uint64_t>{1, 3, 6}));
  EXPECT_EQ(m.value()->read_error(), "");
}

TEST_F(MmapFileTest, PcapngSecondSectionResetsInterfaces) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0, 9);
  ng_epb(b, 0, 5, frame(60, 1));
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_epb(b, 0, 5, frame(60, 2));
  Opened o = open_both(tmp.write("sections.pcapng", b.bytes()));
  ASSERT_TRUE(o.m && o.p);
  const Outcome r = compare(*o.m, *o.p);
  EXPECT_EQ(r.first_diff, "");
  EXPECT_EQ(r.frames, 2u);
}

// Each section of a pcapng file has its own byte order (a merge of captures written on a
// little- and a big-endian host, pcapng-test-generator's test202). libpcap stops at the
// second section's header; read here whole, each frame as the one-section file holding it.
TEST_F(MmapFileTest, PcapngSectionsInDifferentByteOrders) {
  Bytes le(false), be(true);
  ng_shb(le);
  ng_idb(le, 1, 0);
  ng_epb(le, 0, 1700000000000001ull, frame(60, 1));
  ng_shb(be);
  ng_idb(be, 1, 0, 9);
  ng_epb(be, 0, 1700000000000000002ull, frame(61, 2), 1000);
  ng_epb(be, 0, 1700000000000000003ull, frame(62, 3));
  std::vector<uint8_t> both = le.bytes();
  both.insert(both.end(), be.bytes().begin(), be.bytes().end());
  auto m = MmapFileSource::open(tmp.write("le-be.pcapng", both));
  ASSERT_TRUE(m) << m.error().message;
  std::vector<PacketRef> got;
  PacketRef p{};
  while (m.value()->rx_burst(&p, 1) == 1) got.push_back(p);
  EXPECT_EQ(m.value()->read_error(), "");
  ASSERT_EQ(got.size(), 3u);
  const std::vector<uint8_t> f2 = frame(61, 2);
  EXPECT_EQ(got[0].ts_ns, 1700000000000001000ull);
  EXPECT_EQ(got[1].ts_ns, 1700000000000000002ull);
  EXPECT_EQ(got[1].caplen, 61u);
  EXPECT_EQ(got[1].wirelen, 1000u);
  EXPECT_EQ(std::vector<uint8_t>(got[1].data, got[1].data + got[1].caplen), f2);
  EXPECT_EQ(got[2].frame, 3u);
  // The big-endian section alone reads the same as libpcap reads it.
  Opened o = open_both(tmp.write("be.pcapng", be.bytes()));
  ASSERT_TRUE(o.m && o.p);
  EXPECT_EQ(compare(*o.m, *o.p).first_diff, "");
}

// A pcapng file with no interface description holds no packets: an empty capture, not an
// error (libpcap refuses it). Its custom blocks still take tshark's frame numbers.
TEST_F(MmapFileTest, PcapngWithoutInterfacesIsEmpty) {
  for (bool custom : {false, true}) {
    Bytes b(false);
    ng_shb(b);
    if (custom) b.u32(0x00000BAD).u32(20).u32(32473).u32(0).u32(20);
    auto m = MmapFileSource::open(tmp.write(custom ? "custom-only.pcapng" : "shb-only.pcapng", b.bytes()));
    ASSERT_TRUE(m) << m.error().message;
    PacketRef p{};
    EXPECT_EQ(m.value()->rx_burst(&p, 1), 0u);
    EXPECT_EQ(m.value()->read_error(), "");
    EXPECT_EQ(m.value()->frames_read(), custom ? 1u : 0u);  // the custom block is frame 1
  }
}

// A gzip-compressed pcapng file is inflated into memory and read whole, as the same file
// uncompressed (libpcap, streaming it, stops at the second link type); a compressed classic
// pcap is left to libpcap; a cut gzip stream stops at the cut block with a read error.
TEST_F(MmapFileTest, GzipPcapngReadsLikeTheUncompressedFile) {
  // keep: 0 = the whole gzip file, k = its first 1/k.
  auto gz = [&](const std::string& name, const std::vector<uint8_t>& bytes, size_t keep) {
    const std::string path = (tmp.dir / name).string();
    gzFile z = gzopen(path.c_str(), "wb");
    EXPECT_NE(z, nullptr);
    EXPECT_EQ(gzwrite(z, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
    gzclose(z);
    if (keep != 0) std::filesystem::resize_file(path, std::filesystem::file_size(path) / keep);
    return path;
  };
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_idb(b, 101, 0);
  for (uint32_t i = 0; i < 200; ++i) ng_epb(b, i % 2, 1000 + i, frame(400 + i, static_cast<uint8_t>(i)));
  const std::string plain = tmp.write("mixed.pcapng", b.bytes());
  auto read_all = [](MmapFileSource& s) {
    std::vector<std::string> out;
    std::array<PacketRef, kBurstSize> r;
    while (uint16_t n = s.rx_burst(r.data(), kBurstSize))
      for (uint16_t i = 0; i < n; ++i)
        out.push_back(describe_ref(r[i]) + " link " + std::to_string(int(s.link_type())) + " " +
                      std::string(reinterpret_cast<const char*>(r[i].data), r[i].caplen));
    return out;
  };
  auto m0 = MmapFileSource::open(plain);
  auto m1 = MmapFileSource::open(gz("mixed.pcapng.gz", b.bytes(), 0));
  ASSERT_TRUE(m0 && m1) << (m1 ? "" : m1.error().message);
  EXPECT_TRUE(m1.value()->gzip());
  const std::vector<std::string> want = read_all(*m0.value());
  EXPECT_EQ(want.size(), 200u);
  EXPECT_EQ(read_all(*m1.value()), want);
  EXPECT_EQ(m1.value()->read_error(), "");

  auto cut = MmapFileSource::open(gz("cut.pcapng.gz", b.bytes(), 2));  // half the compressed stream
  ASSERT_TRUE(cut) << cut.error().message;
  const size_t got = read_all(*cut.value()).size();
  EXPECT_GT(got, 0u);
  EXPECT_LT(got, 200u);
  EXPECT_NE(cut.value()->read_error(), "");

  Bytes p = pcap_header(false, false);
  pcap_record(p, 1, 2, frame(60, 1));
  EXPECT_FALSE(MmapFileSource::open(gz("classic.pcap.gz", p.bytes(), 0)).ok()) << "left to libpcap";
}

TEST_F(MmapFileTest, PcapngTruncatedLastBlock) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_epb(b, 0, 1, frame(100, 1));
  ng_epb(b, 0, 2, frame(100, 2));
  std::vector<uint8_t> bytes = b.bytes();
  bytes.resize(bytes.size() - 50);
  expect_damaged_stop(tmp.write("t5.pcapng", bytes), 1);
}

TEST_F(MmapFileTest, PcapngCaplenBeyondItsBlock) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_epb(b, 0, 1, frame(100, 1));
  const size_t at = b.size();
  ng_epb(b, 0, 2, frame(100, 2));
  b.put32(at + 20, 200);  // caplen 200 in a block with room for 100
  ng_epb(b, 0, 3, frame(100, 3));
  expect_damaged_stop(tmp.write("t6.pcapng", b.bytes()), 1);
}

TEST_F(MmapFileTest, PcapngUnknownInterface) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);
  ng_epb(b, 0, 1, frame(100, 1));
  ng_epb(b, 3, 2, frame(100, 2));
  expect_damaged_stop(tmp.write("t7.pcapng", b.bytes()), 1);
}

// Interfaces of different link types (libpcap refuses such a file): every burst holds one
// link type, link_type() names it, each interface's snapshot length cuts its own frames,
// frame numbers run on across the bursts.
TEST_F(MmapFileTest, PcapngMixedLinkTypesComeInBurstsOfOneLinkType) {
  Bytes b(false);
  ng_shb(b);
  ng_idb(b, 1, 0);     // 0: Ethernet, no snaplen
  ng_idb(b, 101, 80);  // 1: raw IP, snaplen 80
  ng_idb(b, 1, 0);     // 2: Ethernet again
  // Interfaces per frame: 0 0 1 1 1 2 0 1 (the 2 and the 0 share a link type: one burst).
  const uint32_t ifs[] = {0, 0, 1, 1, 1, 2, 0, 1};
  for (uint32_t i = 0; i < 8; ++i) ng_epb(b, ifs[i], 1000 + i, frame(100 + i, static_cast<uint8_t>(i)));
  const std::string path = tmp.write("mixed.pcapng", b.bytes());
  {  // libpcap stops at the second interface's description ("different from the type of the first")
    auto p = PcapFileSource::open(path);
    uint64_t read = 0;
    std::array<PacketRef, kBurstSize> r;
    if (p.ok()) {
      while (uint16_t n = p.value()->rx_burst(r.data(), kBurstSize)) read += n;
    }
    EXPECT_LT(read, 8u) << "libpcap reads such files now";
  }
  auto m = MmapFileSource::open(path);
  ASSERT_TRUE(m.ok()) << m.error().message;
  MmapFileSource& src = *m.value();
  EXPECT_TRUE(src.mixed_link_types());
  EXPECT_EQ(src.link_type(), decode::LinkType::kEthernet);  // before the first burst: the first interface's
  std::vector<std::pair<decode::LinkType, std::vector<uint64_t>>> bursts;
  std::vector<uint32_t> caplens;
  std::array<PacketRef, kBurstSize> refs;
  while (uint16_t n = src.rx_burst(refs.data(), kBurstSize)) {
    std::vector<uint64_t> frames;
    for (uint16_t i = 0; i < n; ++i) {
      frames.push_back(refs[i].frame);
      caplens.push_back(refs[i].caplen);
      EXPECT_EQ(refs[i].data[0], static_cast<uint8_t>((refs[i].frame - 1) * 31)) << "frame " << refs[i].frame;
    }
    bursts.emplace_back(src.link_type(), frames);
  }
  EXPECT_TRUE(src.done());
  EXPECT_EQ(src.dropped(), 0u);
  ASSERT_EQ(bursts.size(), 4u);
  EXPECT_EQ(bursts[0], (std::pair{decode::LinkType::kEthernet, std::vector<uint64_t>{1, 2}}));
  EXPECT_EQ(bursts[1], (std::pair{decode::LinkType::kRaw, std::vector<uint64_t>{3, 4, 5}}));
  EXPECT_EQ(bursts[2], (std::pair{decode::LinkType::kEthernet, std::vector<uint64_t>{6, 7}}));
  EXPECT_EQ(bursts[3], (std::pair{decode::LinkType::kRaw, std::vector<uint64_t>{8}}));
  EXPECT_EQ(caplens, (std::vector<uint32_t>{100, 101, 80, 80, 80, 105, 106, 80}));

  // One link type over several interfaces is not mixed.
  Bytes one(false);
  ng_shb(one);
  ng_idb(one, 1, 0);
  ng_idb(one, 1, 128);
  ng_epb(one, 0, 1, frame(200, 0));
  ng_epb(one, 1, 2, frame(200, 1));
  auto m1 = MmapFileSource::open(tmp.write("one.pcapng", one.bytes()));
  ASSERT_TRUE(m1.ok()) << m1.error().message;
  EXPECT_FALSE(m1.value()->mixed_link_types());
  EXPECT_EQ(m1.value()->rx_burst(refs.data(), kBurstSize), 2u);
  EXPECT_EQ(refs[0].caplen, 200u);
  EXPECT_EQ(refs[1].caplen, 128u) << "the second interface's snapshot length";
}

TEST_F(MmapFileTest, RefusesWhatItDoesNotHandle) {
  auto refused = [&](const std::string& name, const std::vector<uint8_t>& bytes, const char* why) {
    const std::string path = tmp.write(name, bytes);
    auto r = MmapFileSource::can_open(path);
    EXPECT_FALSE(r.ok()) << name << " should be refused: " << why;
    auto o = MmapFileSource::open(path);
    EXPECT_FALSE(o.ok()) << name;
    if (!o.ok()) {
      EXPECT_FALSE(o.error().message.empty());
    }
  };
  {  // an interface of a link type the decoder does not know, after one it knows
    Bytes b(false);
    ng_shb(b);
    ng_idb(b, 1, 0);
    ng_epb(b, 0, 1, frame(60, 1));
    ng_idb(b, 147, 0);
    refused("mixed-unknown.pcapng", b.bytes(), "second interface's link type unknown");
  }
  {  // a packet before any interface
    Bytes b(false);
    ng_shb(b);
    ng_epb(b, 0, 1, frame(60, 1));
    refused("noidb.pcapng", b.bytes(), "packet before IDB");
  }
  refused("gzip.pcap.gz", {0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 0}, "gzip");
  refused("text.txt", {'h', 'e', 'l', 'l', 'o', '\n'}, "not a capture");
  refused("short.pcap", {0xD4, 0xC3}, "too short");
  refused("header.pcap", {0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0}, "cut file header");
  refused("link.pcap", pcap_header(false, false, 0, 147).bytes(), "unsupported link type");
  refused("swapped-nflog.pcap", pcap_header(true, false, 0, 239).bytes(), "byte-swapped NFLOG");
  {
    Bytes b(false);
    b.u32(0xA1B2CD34).u16(2).u16(4).u32(0).u32(0).u32(65535).u32(1);  // Kuznetzov's modified pcap
    refused("kuznetzov.pcap", b.bytes(), "modified pcap");
  }
  EXPECT_FALSE(MmapFileSource::open((tmp.dir / "missing.pcap").string()).ok());
}

// ---- the corpus ----

bool is_known_text(const fs::path& p) {
  static const char* const kText[] = {".md", ".yaml", ".out", ".log", ".test", ".txt", ".json", ".stdout"};
  const std::string ext = p.extension().string();
  for (const char* t : kText)
    if (ext == t) return true;
  return false;
}

TEST(MmapFileCorpus, SameAsLibpcapOnEveryAcceptedCapture) {
  const char* dir = std::getenv("SEQWATCH_CORPUS_DIR");
  std::error_code ec;
  if (dir == nullptr || *dir == '\0' || !fs::is_directory(dir, ec))
    GTEST_SKIP() << "capture corpus not found: set SEQWATCH_CORPUS_DIR (meson option corpus_dir) to the shared corpus";
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec) || is_known_text(it->path())) continue;
    auto kind = PcapFileSource::sniff(it->path().string());
    if (!kind) continue;
    files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  size_t compared = 0, refused = 0, packets = 0, damaged = 0;
  for (const std::string& path : files) {
    auto m = MmapFileSource::open(path);
    if (!m) {
      ++refused;
      std::printf("  refused (libpcap reads it): %s\n", m.error().message.c_str());
      continue;
    }
    auto p = PcapFileSource::open(path);
    if (!p) {
      // libpcap refuses it at open; the mmap reader must not deliver more than damage allows.
      ADD_FAILURE() << path << ": mmap accepts a file libpcap refuses: " << p.error().message;
      continue;
    }
    const Outcome r = compare(*m.value(), *p.value());
    EXPECT_EQ(r.first_diff, "") << path;
    EXPECT_EQ(r.mmap_error, r.pcap_error) << path << ": mmap '" << m.value()->read_error() << "', libpcap '"
                                          << p.value()->read_error() << "'";
    EXPECT_TRUE(m.value()->done());
    if (m.value()->buffered()) {  // classic pcap: read through the mapping as well
      auto m2 = MmapFileSource::open(path);
      auto p2 = PcapFileSource::open(path);
      ASSERT_TRUE(m2.ok() && p2.ok()) << path;
      m2.value()->set_buffered(false);
      const Outcome r2 = compare(*m2.value(), *p2.value());
      EXPECT_EQ(r2.first_diff, "") << path << " (mapped)";
      EXPECT_EQ(r2.mmap_error, r2.pcap_error) << path << " (mapped)";
      EXPECT_FALSE(m2.value()->buffered());
    }
    ++compared;
    packets += r.frames;
    damaged += r.mmap_error;
  }
  std::printf("  %zu captures compared (%zu packets, %zu stopped on damage), %zu refused (gzip or unusual)\n",
              compared, packets, damaged, refused);
  EXPECT_GT(compared, 0u);
}

}  // namespace
}  // namespace seqwatch
