// Robustness: the decoder on damaged input.
//
// Seeds are the valid frames of frame_catalog.hpp (every protocol the decoder follows).
// From them a fixed-seed std::mt19937 derives mutants: byte flips, truncation, boundary
// values written into the very length / header-length / next-protocol fields the parsers
// trust (the builder records where they are), insertions, deletions and splices of two
// frames. Each mutant is decoded under every link type from a heap buffer of exactly its
// length, so under AddressSanitizer any read past caplen hits a redzone. Only invariants
// that must hold for arbitrary bytes are asserted (decode_test_util.hpp), plus three
// properties of decode() itself: it never writes the frame, its result does not depend on
// what the PacketView held before (workers reuse views), and its straight-line path for
// Ethernet[/802.1Q]/IPv4/TCP gives the view the general parser chain gives
// (decode::detail::decode_general) for every input, taken or not.
//
// The capture files under SEQWATCH_CORPUS_DIR are decoded the same way, whole and cut at
// several lengths.
//
// SEQWATCH_MUTANTS=<n> overrides the number of random mutants (default kDefaultMutants),
// for longer runs by hand; the seed stays fixed so a failure reproduces.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "decode_test_util.hpp"
#include "frame_catalog.hpp"
#include "source/pcap_file.hpp"

namespace seqwatch::test {
namespace {

using decode::DecodeStatus;
using decode::LinkType;
using decode::PacketView;

constexpr uint32_t kSeed = 0x5EC0DE01u;
// 1M mutants x 10 link types = 10M decodes (x3: fresh view, reused view, general path): ~3 s in a
// release build, ~15 s under ASAN+UBSAN.
constexpr size_t kDefaultMutants = 1000000;
constexpr size_t kRandomBuffers = 20000;
constexpr size_t kMaxReports = 10;  // detailed failure reports; later failures are only counted

// Every supported link type plus one decode() must reject.
std::vector<LinkType> link_types() {
  std::vector<LinkType> v(kAllLinkTypes.begin(), kAllLinkTypes.end());
  v.push_back(static_cast<LinkType>(147));  // LINKTYPE_USER0: unsupported
  return v;
}

std::string hex(const uint8_t* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  const size_t shown = std::min<size_t>(n, 256);
  for (size_t i = 0; i < shown; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  if (shown < n) s += "...";
  return s;
}

// Decodes inputs under every link type and checks them; keeps failure and status counts.
class Checker {
 public:
  Checker() : links_(link_types()) {
    // A "reused" view full of leftovers: every field set to something a decode could leave.
    std::memset(static_cast<void*>(&reused_), 0xA5, sizeof reused_);
    reused_.frame = nullptr;
  }

  // Decodes data[0..n) under every link type (or only `only`, when given).
  void check(const uint8_t* data, size_t n, const std::string& what, const LinkType* only = nullptr) {
    const auto len = static_cast<uint32_t>(n);
    std::unique_ptr<uint8_t[]> buf(new uint8_t[len]);  // exactly caplen: over-reads hit a redzone
    if (len != 0) std::memcpy(buf.get(), data, len);
    const std::span<const LinkType> links = only ? std::span<const LinkType>(only, 1) : std::span<const LinkType>(links_);
    for (const LinkType lt : links) {
      PacketView fresh;
      const DecodeStatus s = decode::decode(buf.get(), len, lt, fresh);
      ++decodes_;
      if (s < DecodeStatus::kCount) ++status_[static_cast<size_t>(s)];
      std::string bad;
      if (s != fresh.status) bad = "returned status differs from view.status";
      if (bad.empty()) bad = invariant_violation(fresh, buf.get(), len);
      if (bad.empty() && len != 0 && std::memcmp(buf.get(), data, len) != 0) bad = "decode() wrote into the frame";
      if (bad.empty()) {
        decode::decode(buf.get(), len, lt, reused_);
        const std::string diff = view_difference(fresh, reused_);
        if (!diff.empty()) bad = "result depends on the view's previous contents: " + diff;
      }
      if (bad.empty()) {
        PacketView general;
        decode::detail::decode_general(buf.get(), len, lt, general);
        const std::string diff = view_difference(general, fresh);
        if (!diff.empty()) bad = "the straight-line path and the general path disagree: " + diff;
      }
      if (!bad.empty()) report(bad, what, lt, buf.get(), len);
    }
  }

  size_t failures() const { return failures_; }
  uint64_t decodes() const { return decodes_; }
  std::string histogram() const {
    std::string s;
    for (size_t i = 0; i < status_.size(); ++i) {
      if (status_[i] == 0) continue;
      s += "  " + std::string(decode::decode_status_name(static_cast<DecodeStatus>(i))) + ": " +
           std::to_string(status_[i]) + "\n";
    }
    return s;
  }

 private:
  void report(const std::string& bad, const std::string& what, LinkType lt, const uint8_t* p, uint32_t len) {
    if (++failures_ > kMaxReports) return;
    ADD_FAILURE() << bad << "\n  input: " << what << "\n  link type: " << decode::link_type_name(lt) << " ("
                  << static_cast<unsigned>(lt) << ")\n  caplen: " << len << "\n  bytes: " << hex(p, len);
  }

  std::vector<LinkType> links_;
  PacketView reused_;
  size_t failures_ = 0;
  uint64_t decodes_ = 0;
  std::array<uint64_t, static_cast<size_t>(DecodeStatus::kCount)> status_{};
};

// ---- mutators ------------------------------------------------------------------------

// Values worth writing into a length or type field: boundaries around the header sizes
// the parsers compare against, sign and width boundaries, and protocol numbers (so a
// mutant switches to another parser rather than only breaking this one).
constexpr uint32_t kInteresting[] = {
    0,      1,      2,      3,      4,      5,      6,      7,      8,      9,      12,     14,
    15,     16,     19,     20,     21,     24,     28,     39,     40,     41,     43,     44,
    47,     50,     51,     58,     59,     60,     63,     64,     0x45,   0x4F,   0x60,   0x7F,
    0x80,   0xC2,   0xF0,   0xFF,   0x100,  0x0800, 0x86DD, 0x8100, 0x88A8, 0x9100, 0x8847, 0x8864,
    0x6558, 0x88BE, 0x22EB, 0x880B, 0x8909, 0x0021, 0x0057, 0x2001, 0x3081, 0x7FFF, 0x8000, 0xFFFE,
    0xFFFF, 0x10000, 0xFFFFFFD8u, 0xFFFFFFF0u, 0xFFFFFFFFu, 0x7FFFFFFFu};

class Mutator {
 public:
  explicit Mutator(const std::vector<CatalogFrame>& seeds) : seeds_(seeds), rng_(kSeed) {}

  // Fills `out` with one mutant and returns what was done to it.
  std::string next(Bytes& out) {
    const CatalogFrame& base = seeds_[pick(seeds_.size())];
    out = base.bytes;
    std::string what = base.name;
    const unsigned rounds = 1 + static_cast<unsigned>(pick(4) == 0 ? pick(3) + 1 : 0);
    for (unsigned r = 0; r < rounds; ++r) what += " " + mutate(base, out);
    return what;
  }

 private:
  size_t pick(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  uint8_t byte() { return static_cast<uint8_t>(rng_()); }

  std::string mutate(const CatalogFrame& base, Bytes& f) {
    switch (pick(7)) {
      case 0: {  // flip bits in 1..4 bytes
        const size_t k = 1 + pick(4);
        for (size_t i = 0; i < k && !f.empty(); ++i) f[pick(f.size())] ^= static_cast<uint8_t>(1 + pick(255));
        return "flip" + std::to_string(k);
      }
      case 1: {  // truncate
        const size_t n = pick(f.size() + 1);
        f.resize(n);
        return "cut" + std::to_string(n);
      }
      case 2:
      case 3: {  // a trusted field gets a boundary value (twice as likely: the best mutator)
        if (base.fields.empty()) return "nofield";
        const auto& field = base.fields[pick(base.fields.size())];
        uint32_t v = pick(5) == 0 ? static_cast<uint32_t>(rng_()) : kInteresting[pick(std::size(kInteresting))];
        if (pick(3) == 0) v += static_cast<uint32_t>(pick(5)) - 2u;  // off by up to two
        for (unsigned i = 0; i < field.width && field.off + i < f.size(); ++i) {
          f[field.off + i] = static_cast<uint8_t>(v >> (8 * (field.width - 1 - i)));
        }
        std::string what = "field@" + std::to_string(field.off) + "=" + std::to_string(v);
        // A lying length is most dangerous when the capture also ends early: a third of
        // the time, cut somewhere after the field.
        if (pick(3) == 0 && field.off + field.width < f.size()) {
          const size_t n = field.off + field.width + pick(f.size() - field.off - field.width);
          f.resize(n);
          what += " cut" + std::to_string(n);
        }
        return what;
      }
      case 4: {  // insert 1..16 random bytes
        const size_t at = pick(f.size() + 1);
        const size_t k = 1 + pick(16);
        Bytes ins(k);
        for (auto& b : ins) b = byte();
        f.insert(f.begin() + static_cast<std::ptrdiff_t>(at), ins.begin(), ins.end());
        return "ins" + std::to_string(k) + "@" + std::to_string(at);
      }
      case 5: {  // delete 1..16 bytes
        if (f.empty()) return "del0";
        const size_t at = pick(f.size());
        const size_t k = std::min(1 + pick(16), f.size() - at);
        f.erase(f.begin() + static_cast<std::ptrdiff_t>(at), f.begin() + static_cast<std::ptrdiff_t>(at + k));
        return "del" + std::to_string(k) + "@" + std::to_string(at);
      }
      default: {  // splice: this frame's head, another frame's tail
        const CatalogFrame& other = seeds_[pick(seeds_.size())];
        const size_t head = pick(f.size() + 1);
        const size_t from = pick(other.bytes.size() + 1);
        f.resize(head);
        f.insert(f.end(), other.bytes.begin() + static_cast<std::ptrdiff_t>(from), other.bytes.end());
        return "splice:" + other.name + "@" + std::to_string(head) + "/" + std::to_string(from);
      }
    }
  }

  const std::vector<CatalogFrame>& seeds_;
  std::mt19937 rng_;
};

size_t mutant_count() {
  if (const char* e = std::getenv("SEQWATCH_MUTANTS")) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(e, &end, 10);
    if (end != e && *end == '\0') return static_cast<size_t>(n);
  }
  return kDefaultMutants;
}

// ---- tests ---------------------------------------------------------------------------

TEST(Mutation, EveryPrefixOfEverySeedUnderEveryLinkType) {
  Checker c;
  for (const CatalogFrame& f : frame_catalog()) {
    for (size_t n = 0; n <= f.bytes.size(); ++n) c.check(f.bytes.data(), n, f.name + " cut" + std::to_string(n));
  }
  EXPECT_EQ(c.failures(), 0u);
}

TEST(Mutation, RandomMutantsOfEverySeed) {
  const std::vector<CatalogFrame> seeds = frame_catalog();
  ASSERT_FALSE(seeds.empty());
  Mutator m(seeds);
  Checker c;
  const size_t count = mutant_count();
  Bytes mutant;
  for (size_t i = 0; i < count; ++i) {
    const std::string what = m.next(mutant);
    c.check(mutant.data(), mutant.size(), "#" + std::to_string(i) + " " + what);
  }
  EXPECT_EQ(c.failures(), 0u);
  std::printf("%zu mutants, %llu decodes; statuses:\n%s", count, static_cast<unsigned long long>(c.decodes()),
              c.histogram().c_str());
}

TEST(Mutation, RandomBytes) {
  std::mt19937 rng(kSeed ^ 0xB17E5u);
  Checker c;
  Bytes buf;
  for (size_t i = 0; i < kRandomBuffers; ++i) {
    buf.resize(rng() % 160);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    // Half of them start like IPv4 / IPv6 so the raw-IP link types get past the first byte.
    if (!buf.empty() && (i & 1)) buf[0] = (i & 2) ? 0x45 : 0x60;
    c.check(buf.data(), buf.size(), "random #" + std::to_string(i));
  }
  EXPECT_EQ(c.failures(), 0u);
}

// ---- capture corpus ------------------------------------------------------------------

std::filesystem::path corpus_dir() {
  if (const char* e = std::getenv("SEQWATCH_CORPUS_DIR"); e != nullptr && *e != '\0') return e;
  return std::filesystem::path(SEQWATCH_SOURCE_ROOT) / ".." / "shared" / "corpus";
}

// Lengths a snaplen cuts frames at: inside and around the common header boundaries.
constexpr uint32_t kCutLengths[] = {0, 1, 4, 13, 14, 15, 16, 18, 20, 22, 24, 28, 34, 38, 40,
                                    42, 46, 50, 54, 58, 62, 66, 68, 74, 78, 82, 86, 94, 96, 128};

TEST(Corpus, EveryCapturedFrameWholeAndCut) {
  const std::filesystem::path dir = corpus_dir();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    GTEST_SKIP() << "capture corpus not found at " << dir
                 << " (set SEQWATCH_CORPUS_DIR or -Dcorpus_dir= to a directory of pcap/pcapng files)";
  }
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());

  Checker c;
  std::mt19937 rng(kSeed ^ 0xC0A5u);
  size_t captures = 0, frames = 0, unreadable = 0;
  std::vector<PacketRef> burst(kBurstSize);
  for (const auto& path : files) {
    auto src = PcapFileSource::open(path.string());
    if (!src) {  // not a capture, or a link type seqwatch does not decode
      ++unreadable;
      continue;
    }
    ++captures;
    PcapFileSource& s = *src.value();
    const std::string name = path.lexically_relative(dir).string();
    const LinkType link = s.link_type();
    while (!s.done()) {
      const uint16_t n = s.rx_burst(burst.data(), kBurstSize);
      if (n == 0) break;
      for (uint16_t i = 0; i < n; ++i) {
        const PacketRef& p = burst[i];
        ++frames;
        const std::string what = name + " frame " + std::to_string(frames);
        c.check(p.data, p.caplen, what);  // whole, under every link type
        // Cut, under the file's own link type.
        for (const uint32_t cut : kCutLengths) {
          if (cut < p.caplen) c.check(p.data, cut, what + " cut" + std::to_string(cut), &link);
        }
        if (p.caplen > 1) {
          c.check(p.data, p.caplen - 1, what + " cut-1", &link);
          const uint32_t r = static_cast<uint32_t>(rng() % p.caplen);
          c.check(p.data, r, what + " cut" + std::to_string(r), &link);
        }
      }
    }
  }
  if (captures == 0) GTEST_SKIP() << "no readable capture file under " << dir;
  EXPECT_EQ(c.failures(), 0u);
  std::printf("%zu capture files (%zu other files skipped), %zu frames, %llu decodes; statuses:\n%s", captures,
              unreadable, frames, static_cast<unsigned long long>(c.decodes()), c.histogram().c_str());
}

}  // namespace
}  // namespace seqwatch::test
