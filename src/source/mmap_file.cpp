#include "source/mmap_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace seqwatch {
namespace {

// libpcap's MAXIMUM_SNAPLEN: no record may be longer; a header snaplen of 0 or above it
// means "this maximum" (pcap_adjust_snapshot). The same for every link type seqwatch decodes.
constexpr uint32_t kMaxSnap = 262144;

constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;

// Pages are faulted in ahead of the reader in windows of this size with
// MADV_POPULATE_READ (one call per window instead of one page fault per 4 KiB page);
// kernels without it (before 5.14) fault page by page.
constexpr uint64_t kPopulateWindow = 8ull << 20;
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

// Read pages are given back (MADV_DONTNEED) in stretches of at least this size: one call
// per stretch, and never the window the reader is in.
constexpr uint64_t kDropStretch = 4ull << 20;
constexpr uint64_t kPage = 4096;

// The read buffers: two of kBufferHead + kBufferBytes. The file is read kBufferBytes
// (2 MiB) at a time, the next window ahead on a helper thread (ReadAhead) into the buffer
// not in use, after a head room that takes what was left of the current window: a record
// (or pcapng block) that straddles the two windows is copied there and is then whole. A
// classic pcap's window is refilled when less than kRefillBelow is left in it, or when the
// burst's first record does not fit in what is left (a record up to the maximum snapshot
// always fits a refilled window). Until 2026-12-05 the window was refilled with a largest
// record's worth (256 KiB) kept, moving it each time: a quarter of the file was copied twice
// (callgrind: 150 M of 1,506 M instructions of `seqwatch analyze` on a 1M-frame trace).
// 1 MiB until 2026-12-06, when the reader found the helper's window not yet read at 112-202 of
// 450 refills on the Intel VM (the helper shares its core with the control thread); with 2 MiB,
// 2-76 of 225 and `analyze` 6-10% faster, for 2 MiB more resident (docs/performance.md).
constexpr uint64_t kBufferBytes = MmapFileSource::kWindowBytes;
constexpr uint64_t kBufferHead = 512ull << 10;
constexpr uint64_t kBufferCap = kBufferHead + kBufferBytes;
constexpr uint64_t kRefillBelow = 32ull << 10;
constexpr uint64_t kPrefetchAhead = 2048;  // bytes of a read-ahead window asked for ahead of the reader

// A gzip-compressed pcapng file is inflated into memory (a memfd, read like a file) up to
// this size; a larger one is left to libpcap, which streams it.
constexpr uint64_t kInflateMax = 1ull << 30;

constexpr uint64_t kPcapFileHeader = 24;
constexpr uint64_t kPcapRecordHeader = 16;

// pcapng block types (draft-ietf-opsawg-pcapng).
constexpr uint32_t kBlockShb = 0x0A0D0D0A;
constexpr uint32_t kBlockIdb = 1;
constexpr uint32_t kBlockPb = 2;  // obsolete Packet Block
constexpr uint32_t kBlockSpb = 3;
constexpr uint32_t kBlockEpb = 6;
constexpr uint32_t kBlockJournal = 9;                // systemd journal export block
constexpr uint32_t kBlockCustom = 0x00000BAD;        // custom block, copyable
constexpr uint32_t kBlockCustomNoCopy = 0x40000BAD;  // custom block, not to be copied
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptIfTsresol = 9;
constexpr uint16_t kOptIfTsoffset = 14;
// libpcap refuses blocks above MAX_BLOCKSIZE_FOR_SNAPLEN(262144): header + EPB fields +
// snapshot + 128 KiB of options + trailer. Same limit, same verdict.
constexpr uint64_t kMaxBlock = 8 + 20 + kMaxSnap + 131072 + 4;
static_assert(kMaxBlock + kPcapRecordHeader < kBufferBytes, "a largest block or record must fit the read buffer");
static_assert(kMaxBlock + kPcapRecordHeader < kBufferHead, "what is left of a window must fit the next one's head room");

// Link types whose pseudo-header libpcap rewrites in byte-swapped files (NFLOG TLV lengths,
// SLL/SLL2 CAN headers): a zero-copy reader cannot, so such files go to libpcap.
bool needs_swap_fixup(uint32_t linktype) { return linktype == 239 || linktype == 113 || linktype == 276; }

inline uint16_t rd16(const uint8_t* p, bool swap) noexcept {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swap ? __builtin_bswap16(v) : v;
}
inline uint32_t rd32(const uint8_t* p, bool swap) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return swap ? __builtin_bswap32(v) : v;
}
inline uint64_t rd64(const uint8_t* p, bool swap) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swap ? __builtin_bswap64(v) : v;
}

std::string num(uint64_t v) { return std::to_string(v); }

// Inflates the gzip file open as `fd` into a new memfd when what it holds is pcapng and
// inflates to at most kInflateMax bytes. Returns the memfd, or -1 with `why` set.
int inflate_pcapng(int fd, const std::string& path, std::string& why) {
  const int dup_fd = ::dup(fd);
  if (dup_fd < 0) {
    why = "cannot read '" + path + "': " + std::strerror(errno);
    return -1;
  }
  gzFile gz = gzdopen(dup_fd, "rb");
  if (gz == nullptr) {
    ::close(dup_fd);
    why = "cannot read '" + path + "' through zlib";
    return -1;
  }
  std::unique_ptr<uint8_t[]> buf(new (std::nothrow) uint8_t[1u << 20]);
  int n = buf ? gzread(gz, buf.get(), 1u << 20) : -1;
  if (n < 4 || rd32(buf.get(), false) != kMagicPcapng) {
    gzclose(gz);
    why = "'" + path + "' is gzip-compressed classic pcap or unreadable: the mmap reader reads compressed pcapng "
          "only (use the libpcap source, which streams it)";
    return -1;
  }
  const int mfd = memfd_create("seqwatch-inflated", MFD_CLOEXEC);
  if (mfd < 0) {
    gzclose(gz);
    why = std::string("memfd_create: ") + std::strerror(errno);
    return -1;
  }
  uint64_t total = 0;
  for (; n > 0; n = gzread(gz, buf.get(), 1u << 20)) {
    total += static_cast<uint64_t>(n);
    if (total > kInflateMax) {
      why = "'" + path + "' inflates to more than " + num(kInflateMax >> 20) +
            " MiB: not read into memory (use the libpcap source, which streams it)";
      break;
    }
    for (int done = 0; done < n;) {
      const ssize_t w = ::write(mfd, buf.get() + done, static_cast<size_t>(n - done));
      if (w <= 0) {
        why = std::string("writing the inflated capture to memory: ") + std::strerror(errno);
        break;
      }
      done += static_cast<int>(w);
    }
    if (!why.empty()) break;
  }
  // A damaged or cut gzip stream ends the inflated copy there: the reader then finds the
  // cut block and reports it, as libpcap reading through zlib does.
  gzclose(gz);
  if (!why.empty()) {
    ::close(mfd);
    return -1;
  }
  return mfd;
}

}  // namespace

Result<CaptureKind> MmapFileSource::can_open(const std::string& path) {
  auto s = open(path);
  if (!s) return s.error();
  return CaptureKind{s.value()->format(), s.value()->gzip()};
}

Result<std::unique_ptr<MmapFileSource>> MmapFileSource::open(const std::string& path, bool read_ahead) {
  std::unique_ptr<MmapFileSource> s(new MmapFileSource());
  s->read_ahead_ = read_ahead;
  auto ok = s->setup(path);
  if (!ok) return ok.error();
  return s;
}

MmapFileSource::~MmapFileSource() {
  ahead_.reset();  // waits for a read that is out, before the buffers and the file go
  if (base_ != nullptr) munmap(const_cast<uint8_t*>(base_), map_size_);
  if (fd_ >= 0) ::close(fd_);
}

Result<bool> MmapFileSource::setup(const std::string& path) {
  path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open capture file '" + path + "': " + std::strerror(errno)};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"'" + path + "' is not a regular file: the mmap reader needs one (use the libpcap source)"};
  }
  size_ = static_cast<uint64_t>(st.st_size);
  uint8_t head[2] = {};
  if (size_ >= 2 && ::pread(fd, head, 2, 0) == 2 && head[0] == 0x1F && head[1] == 0x8B) {
    // gzip: pcapng inside is inflated into memory and read from there like a file (libpcap,
    // which streams compressed files, stops at a second link type, a second byte order).
    std::string why;
    const int mfd = inflate_pcapng(fd, path, why);
    ::close(fd);
    if (mfd < 0) return Error{why};
    gzip_ = true;
    return setup_fd(mfd);
  }
  return setup_fd(fd);
}

Result<bool> MmapFileSource::setup_fd(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return Error{"cannot stat '" + path_ + "': " + std::strerror(errno)};
  }
  size_ = static_cast<uint64_t>(st.st_size);
  const std::string& path = path_;
  if (size_ < 4) {
    ::close(fd);
    return Error{"'" + path + "' is too short to be a capture file (" + num(size_) + " bytes)"};
  }
  void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    return Error{"cannot mmap '" + path + "': " + std::strerror(e)};
  }
  fd_ = fd;
  map_size_ = size_;
  base_ = static_cast<const uint8_t*>(m);
  madvise(m, size_, MADV_SEQUENTIAL);

  const uint32_t le = rd32(base_, false);
  if (le == kMagicPcapUsec || le == kMagicPcapNsec || le == __builtin_bswap32(kMagicPcapUsec) ||
      le == __builtin_bswap32(kMagicPcapNsec)) {
    swap_ = le == __builtin_bswap32(kMagicPcapUsec) || le == __builtin_bswap32(kMagicPcapNsec);
    format_ = (le == kMagicPcapNsec || le == __builtin_bswap32(kMagicPcapNsec)) ? CaptureFormat::kPcapNsec : CaptureFormat::kPcap;
    return setup_pcap();
  }
  if (le == kMagicPcapng) {
    format_ = CaptureFormat::kPcapng;
    return setup_pcapng();
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", rd32(base_, true));
  return Error{"'" + path + "' is not a pcap or pcapng file the mmap reader handles (magic number 0x" + hex + ")"};
}

Result<bool> MmapFileSource::setup_pcap() {
  if (size_ < kPcapFileHeader)
    return Error{"'" + path_ + "' is shorter than a pcap file header (" + num(size_) + " bytes)"};
  const uint16_t major = rd16(base_ + 4, swap_);
  if (major != 2) return Error{"'" + path_ + "' is pcap version " + num(major) + ": the mmap reader handles 2.x only"};
  const uint32_t snap = rd32(base_ + 16, swap_);
  const uint32_t linktype = rd32(base_ + 20, swap_) & 0x03FFFFFF;  // upper bits: FCS length
  raw_link_ = linktype;
  if (!decode::link_type_from_pcap(linktype & 0xFFFF, link_))
    return Error{"'" + path_ + "' has link type " + num(linktype) + ", which seqwatch does not decode"};
  if (swap_ && needs_swap_fixup(linktype & 0xFFFF))
    return Error{"'" + path_ + "' is byte-swapped with link type " + num(linktype) +
                 ", whose pseudo-header libpcap must rewrite (use the libpcap source)"};
  snaplen_ = (snap == 0 || snap > kMaxSnap) ? kMaxSnap : snap;
  burst_link_ = link_;
  pos_ = kPcapFileHeader;
  return true;
}

void MmapFileSource::stop(std::string why) noexcept {
  done_ = true;
  ++damaged_;
  read_error_ = std::move(why);
  if (!read_failure_.empty()) read_error_ += " (reading the file failed there: " + read_failure_ + ")";
}

template <bool kSwap, bool kNsec>
uint16_t MmapFileSource::read_pcap(PacketRef* out, uint16_t max) noexcept {
  // The bytes at hand: the whole mapping, or the buffer's window of the file
  // [buf_off_, win_end). A record that does not fit in the window ends the burst early;
  // the next rx_burst() refills first.
  const uint8_t* const win = buffered_ ? win_ : base_;
  const uint64_t win_off = buffered_ ? buf_off_ : 0;
  const uint64_t win_end = buffered_ ? buf_off_ + buf_len_ : size_;
  uint16_t n = 0;
  uint64_t pos = pos_;
  const bool prefetch = buffered_ && ahead_ != nullptr;
  while (n < max) {
    if (prefetch) prefetch_window(pos + kPrefetchAhead);
    const uint64_t left = size_ - pos;
    if (left < kPcapRecordHeader) {
      if (left != 0)
        stop("truncated pcap file: record header of frame " + num(frames_read_ + 1) + " at offset " + num(pos) +
             " has " + num(left) + " of 16 bytes");
      done_ = true;
      break;
    }
    if (win_end - pos < kPcapRecordHeader) break;
    const uint8_t* h = win + (pos - win_off);
    const uint32_t caplen = rd32(h + 8, kSwap);
    if (caplen > kMaxSnap) {
      stop("damaged pcap file: frame " + num(frames_read_ + 1) + " at offset " + num(pos) + " claims " + num(caplen) +
           " captured bytes, more than the maximum " + num(kMaxSnap));
      break;
    }
    if (caplen > left - kPcapRecordHeader) {
      stop("truncated pcap file: frame " + num(frames_read_ + 1) + " at offset " + num(pos) + " claims " + num(caplen) +
           " captured bytes, the file holds " + num(left - kPcapRecordHeader));
      break;
    }
    if (caplen > win_end - pos - kPcapRecordHeader) break;
    // libpcap's quirk, kept for identical output: native-order tv_sec/tv_usec are signed
    // 32-bit fields, byte-swapped ones come out of SWAPLONG unsigned.
    const int64_t sec = kSwap ? int64_t{rd32(h, kSwap)} : int64_t{static_cast<int32_t>(rd32(h, kSwap))};
    const int64_t frac = kSwap ? int64_t{rd32(h + 4, kSwap)} : int64_t{static_cast<int32_t>(rd32(h + 4, kSwap))};
    PacketRef& p = out[n++];
    p.data = h + kPcapRecordHeader;
    p.caplen = caplen < snaplen_ ? caplen : snaplen_;
    p.wirelen = rd32(h + 12, kSwap);
    p.ts_ns = static_cast<uint64_t>(sec) * 1000000000ull + static_cast<uint64_t>(kNsec ? frac : frac * 1000);
    p.frame = ++frames_read_;
    pos += kPcapRecordHeader + caplen;
  }
  pos_ = pos;
  return n;
}

// ---- pcapng ----

Result<bool> MmapFileSource::setup_pcapng() {
  // Walk every block once: refuse what libpcap would treat differently, find where damage
  // (if any) stops the reading. Reading then repeats the same parse up to valid_end_.
  // Through the read buffer when one can be had (the mapping's pages are then never
  // touched), else through the mapping.
  uint64_t off = 0;
  PacketRef p{};
  bool saw_idb = false;
  buffered_ = make_buffers();
  buf_off_ = buf_len_ = 0;
  while (off < size_) {
    if (buffered_ && !block_in_window(off)) refill_from(off);
    if (buffered_ && ahead_) prefetch_window(off + kPrefetchAhead);
    uint64_t len = 0;
    std::string why;
    bool unsupported = false;
    const Step st = pcapng_block(off, len, p, why, unsupported);
    if (st == Step::kDamaged) {
      if (unsupported || off == 0) return Error{"'" + path_ + "': " + why + " (use the libpcap source)"};
      if (!saw_idb) return Error{"'" + path_ + "': " + why + " before any interface description (use the libpcap source)"};
      end_error_ = why;
      break;
    }
    if (st == Step::kPacket && !saw_idb)
      return Error{"'" + path_ + "' has a packet block before any interface description block"};
    if (!ifaces_.empty()) saw_idb = true;
    off += len;
  }
  // No interface description at all: a valid pcapng file without packets (a packet block
  // before any interface was refused above), perhaps with custom blocks, which tshark lists
  // as frames and which are counted as such. libpcap refuses the file; it reads as empty.
  valid_end_ = off;
  // Reading starts over from the first section header (start() chooses how).
  ifaces_.clear();
  pos_ = 0;
  frames_read_ = 0;
  buffered_ = false;
  buf_off_ = buf_len_ = 0;
  read_ahead_used_ = 0;  // read_ahead_windows() counts the reading's
  prefetched_ = 0;
  return true;
}

MmapFileSource::Step MmapFileSource::pcapng_block(uint64_t off, uint64_t& len, PacketRef& p, std::string& why,
                                                  bool& unsupported) noexcept {
  const uint64_t left = size_ - off;
  const uint8_t* b = at(off);  // the caller made [off, off + min(kMaxBlock, left)) readable
  if (left < 12) {
    why = "truncated pcapng file: block at offset " + num(off) + " has " + num(left) + " bytes";
    return Step::kDamaged;
  }
  uint32_t type = rd32(b, swap_);
  if (type == kBlockShb) {
    // A section header names its own byte order, which its blocks follow.
    if (left < 28) {
      why = "truncated pcapng file: section header at offset " + num(off);
      return Step::kDamaged;
    }
    const uint32_t bom = rd32(b + 8, false);
    bool swap;
    if (bom == kByteOrderMagic) swap = false;
    else if (bom == __builtin_bswap32(kByteOrderMagic)) swap = true;
    else {
      why = "section header at offset " + num(off) + " has no byte-order magic";
      return Step::kDamaged;
    }
    swap_ = swap;  // each section in its own byte order (a merged file may mix them)
    const uint16_t major = rd16(b + 12, swap_), minor = rd16(b + 14, swap_);
    if (major != 1 || (minor != 0 && minor != 2)) {
      why = "pcapng version " + num(major) + "." + num(minor) + " is not 1.0 or 1.2";
      unsupported = true;
      return Step::kDamaged;
    }
  }
  len = rd32(b + 4, swap_);
  if (len < 12 || len % 4 != 0 || len > kMaxBlock) {
    why = "damaged pcapng file: block at offset " + num(off) + " has length " + num(len);
    return Step::kDamaged;
  }
  if (len > left) {
    why = "truncated pcapng file: block at offset " + num(off) + " of " + num(len) + " bytes, the file holds " + num(left);
    return Step::kDamaged;
  }
  const uint64_t body = len - 12;  // between the 8-byte header and the 4-byte trailer
  const uint8_t* d = b + 8;
  switch (type) {
    case kBlockShb:
      if (len < 28) {
        why = "damaged pcapng file: section header at offset " + num(off) + " is " + num(len) + " bytes";
        return Step::kDamaged;
      }
      ifaces_.clear();
      return Step::kSkip;
    case kBlockIdb: {
      if (body < 8) {
        why = "damaged pcapng file: interface description at offset " + num(off) + " is " + num(len) + " bytes";
        return Step::kDamaged;
      }
      const uint32_t lt = rd16(d, swap_);
      const uint32_t snap = rd32(d + 4, swap_);
      const uint32_t eff_snap = (snap == 0 || snap > kMaxSnap) ? kMaxSnap : snap;
      Interface itf;
      if (!decode::link_type_from_pcap(lt, itf.link)) {
        why = "link type " + num(lt) + ", which seqwatch does not decode";
        unsupported = true;
        return Step::kDamaged;
      }
      if (swap_ && needs_swap_fixup(lt)) {
        why = "byte-swapped link type " + num(lt) + ", whose pseudo-header libpcap must rewrite";
        unsupported = true;
        return Step::kDamaged;
      }
      itf.snaplen = eff_snap;
      if (!seen_link_) {  // the file's first interface: what link_type() starts with
        seen_link_ = true;
        link_ = burst_link_ = itf.link;
        raw_link_ = lt;
        snaplen_ = eff_snap;
      } else if (lt != raw_link_) {
        mixed_ = true;
      }
      bool saw_resol = false;
      uint64_t o = 8;
      while (o + 4 <= body) {
        const uint16_t code = rd16(d + o, swap_), olen = rd16(d + o + 2, swap_);
        if (code == kOptEnd) break;
        const uint64_t padded = (uint64_t{olen} + 3) & ~uint64_t{3};
        if (o + 4 + padded > body) {
          why = "interface description at offset " + num(off) + " has an option running past the block";
          unsupported = true;
          return Step::kDamaged;
        }
        const uint8_t* v = d + o + 4;
        if (code == kOptIfTsresol) {
          if (olen != 1 || saw_resol) {
            why = "unusual if_tsresol option at offset " + num(off);
            unsupported = true;
            return Step::kDamaged;
          }
          saw_resol = true;
          const uint8_t r = v[0];
          const unsigned e = r & 0x7F;
          // Decimal up to 10^19 and binary up to 2^34 convert exactly as libpcap does
          // (frac * 1e9 stays in 64 bits); anything else is left to libpcap.
          if ((r & 0x80) ? e > 34 : e > 19) {
            why = "if_tsresol " + num(r) + " is beyond the mmap reader's range";
            unsupported = true;
            return Step::kDamaged;
          }
          uint64_t u = 1;
          if (r & 0x80) u <<= e;
          else for (unsigned i = 0; i < e; ++i) u *= 10;
          itf.units_per_s = u;
        } else if (code == kOptIfTsoffset) {
          if (olen != 8) {
            why = "unusual if_tsoffset option at offset " + num(off);
            unsupported = true;
            return Step::kDamaged;
          }
          itf.offset_s = static_cast<int64_t>(rd64(v, swap_));
        }
        o += 4 + padded;
      }
      ifaces_.push_back(itf);
      return Step::kSkip;
    }
    case kBlockEpb:
    case kBlockPb: {
      if (body < 20) {
        why = "damaged pcapng file: packet block at offset " + num(off) + " is " + num(len) + " bytes";
        return Step::kDamaged;
      }
      const uint32_t iface = type == kBlockEpb ? rd32(d, swap_) : rd16(d, swap_);
      const uint32_t caplen = rd32(d + 12, swap_);
      if (caplen > body - 20) {
        why = "damaged pcapng file: frame " + num(frames_read_ + 1) + " at offset " + num(off) + " claims " +
              num(caplen) + " captured bytes, its block holds " + num(body - 20);
        return Step::kDamaged;
      }
      if (iface >= ifaces_.size()) {
        why = "damaged pcapng file: frame " + num(frames_read_ + 1) + " names interface " + num(iface) + " of " +
              num(ifaces_.size());
        return Step::kDamaged;
      }
      const Interface& itf = ifaces_[iface];
      const uint64_t t = (uint64_t{rd32(d + 4, swap_)} << 32) | rd32(d + 8, swap_);
      // libpcap's conversion to nanoseconds (sf-pcapng.c), to the same rounding.
      const uint64_t sec = t / itf.units_per_s + static_cast<uint64_t>(itf.offset_s);
      uint64_t frac = t % itf.units_per_s;
      if (itf.units_per_s < 1000000000ull) {
        if (1000000000ull % itf.units_per_s == 0) frac *= 1000000000ull / itf.units_per_s;
        else frac = frac * 1000000000ull / itf.units_per_s;
      } else if (itf.units_per_s > 1000000000ull) {
        if (itf.units_per_s % 1000000000ull == 0) frac /= itf.units_per_s / 1000000000ull;
        else frac = frac * 1000000000ull / itf.units_per_s;
      }
      p.data = d + 20;
      p.caplen = caplen < itf.snaplen ? caplen : itf.snaplen;
      packet_link_ = itf.link;
      p.wirelen = rd32(d + 16, swap_);
      p.ts_ns = sec * 1000000000ull + frac;
      p.frame = ++frames_read_;
      return Step::kPacket;
    }
    case kBlockSpb: {
      if (body < 4) {
        why = "damaged pcapng file: simple packet block at offset " + num(off) + " is " + num(len) + " bytes";
        return Step::kDamaged;
      }
      if (ifaces_.empty()) {
        why = "damaged pcapng file: simple packet block at offset " + num(off) + " before any interface";
        return Step::kDamaged;
      }
      const uint32_t wire = rd32(d, swap_);
      uint64_t caplen = wire < body - 4 ? wire : body - 4;
      if (caplen > ifaces_[0].snaplen) caplen = ifaces_[0].snaplen;  // a simple packet block is interface 0's
      packet_link_ = ifaces_[0].link;
      p.data = d + 4;
      p.caplen = static_cast<uint32_t>(caplen);
      p.wirelen = wire;
      p.ts_ns = 0;  // a simple packet block has no timestamp
      p.frame = ++frames_read_;
      return Step::kPacket;
    }
    case kBlockJournal:
    case kBlockCustom:
    case kBlockCustomNoCopy:
      // Not packets, but records with a frame number of their own in tshark (4.0 lists
      // them as frames): counted, so every later packet's `frame` stays tshark's. (A custom
      // block without its 4-byte enterprise number is refused there, and not counted here.)
      if (type == kBlockJournal || body >= 4) ++frames_read_;
      return Step::kSkip;
    default:
      return Step::kSkip;  // statistics, name resolution, decryption secrets: not needed
  }
}

uint16_t MmapFileSource::read_pcapng(PacketRef* out, uint16_t max) noexcept {
  uint16_t n = 0;
  const bool prefetch = buffered_ && ahead_ != nullptr;
  while (n < max) {
    if (pos_ >= valid_end_) {
      if (!end_error_.empty()) stop(end_error_);
      done_ = true;
      break;
    }
    if (buffered_ && !block_in_window(pos_)) {
      if (n != 0) break;  // the burst's frames point into the buffer: refill at the next call
      refill_from(pos_);
    }
    if (prefetch) prefetch_window(pos_ + kPrefetchAhead);
    uint64_t len = 0;
    std::string why;
    bool unsupported = false;
    // Validated by the walk at open(): the same parse cannot fail here.
    const Step st = pcapng_block(pos_, len, out[n], why, unsupported);
    if (st == Step::kDamaged) {
      stop(why);
      break;
    }
    if (st == Step::kPacket) {
      if (n == 0) {
        burst_link_ = packet_link_;
      } else if (packet_link_ != burst_link_) {  // another link type: the next burst starts here
        --frames_read_;
        break;
      }
      ++n;
    }
    pos_ += len;
  }
  return n;
}

void MmapFileSource::populate_ahead() noexcept {
  // The window after the one being read: page-aligned, clipped to the file.
  const uint64_t from = populated_;
  const uint64_t to = std::min<uint64_t>(size_, from + kPopulateWindow);
  if (from >= to) return;
  madvise(const_cast<uint8_t*>(base_) + from, to - from, MADV_POPULATE_READ);
  populated_ = to;
}

void MmapFileSource::drop_before(uint64_t mark) noexcept {
  const uint64_t to = std::min(mark, pos_) & ~(kPage - 1);
  if (to < dropped_ + kDropStretch) return;
  madvise(const_cast<uint8_t*>(base_) + dropped_, to - dropped_, MADV_DONTNEED);
  dropped_ = to;
}

bool MmapFileSource::make_buffers() noexcept {
  if (!bufs_) bufs_.reset(new (std::nothrow) uint8_t[2 * kBufferCap]);
  if (!bufs_) return false;
  if (ahead_ && ahead_->pending()) ahead_->wait();  // a read into the buffers still out: of no use now
  cur_ = bufs_.get();
  win_ = cur_;
  if (read_ahead_ && !ahead_) ahead_ = std::make_unique<ReadAhead>(fd_);
  return true;
}

void MmapFileSource::start() noexcept {
  started_ = true;
  if (!allow_buffer_ || retain_ || fd_ < 0) {
    ahead_.reset();  // pcapng's walk at open() may have used them
    bufs_.reset();
    cur_ = win_ = nullptr;
    return;
  }
  if (!make_buffers()) return;  // no memory for them: read mapped
  buffered_ = true;
  buf_off_ = pos_;
  buf_len_ = 0;
  posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

bool MmapFileSource::block_in_window(uint64_t off) const noexcept {
  const uint64_t end = buf_off_ + buf_len_;
  if (off < buf_off_ || off > end) return false;
  const uint64_t have = end - off, left = size_ - off;
  // The block's own length when its header is at hand and valid: pcapng_block() reads
  // nothing past it once it has checked that length (12 bytes before). Not for a section
  // header, whose byte order (and so its length) may differ from the one known so far, and
  // which reads 16 bytes first. Otherwise, room for a largest block. (Until 2026-12-05 always
  // the latter: the window was refilled with up to ~400 KiB left, each refill moving that
  // much to the buffer's start.)
  if (have >= 12) {
    const uint8_t* b = win_ + (off - buf_off_);
    const uint32_t len = rd32(b + 4, swap_);
    if (rd32(b, false) != kBlockShb && len >= 12 && len % 4 == 0 && len <= kMaxBlock)
      return have >= std::min<uint64_t>(len, left);
  }
  return have >= std::min<uint64_t>(kMaxBlock, left);
}

void MmapFileSource::prefetch_window(uint64_t upto) noexcept {
  const uint64_t to = std::min(upto, buf_off_ + buf_len_);
  uint64_t pf = std::max(prefetched_, buf_off_);
  for (; pf < to; pf += 64) __builtin_prefetch(win_ + (pf - buf_off_));
  prefetched_ = pf;
}

void MmapFileSource::refill_from(uint64_t from) noexcept {
  // Bytes of the window at and after `from` are kept, the rest read. The next window read
  // ahead (it starts where this one ends) goes after the kept bytes, which are copied to
  // its head room; otherwise (none read ahead, or it is of no use: the reader jumped) the
  // kept bytes move to the current buffer's start and the rest is read here.
  const uint64_t end = buf_off_ + buf_len_;
  const uint64_t keep = from >= buf_off_ && from < end ? end - from : 0;
  uint8_t* const spare = cur_ == bufs_.get() ? bufs_.get() + kBufferCap : bufs_.get();
  bool ahead_used = false;
  if (ahead_ && ahead_->pending()) {
    const uint64_t ahead_off = ahead_->pending_off();
    const ReadAhead::Done d = ahead_->wait();
    // Of use when the reader goes on from inside the window (or from its end).
    if (ahead_off == end && from >= buf_off_ && from <= end && keep <= kBufferHead && d.got != 0) {
      uint8_t* const w = spare + kBufferHead - keep;
      if (keep != 0) std::memcpy(w, win_ + (from - buf_off_), keep);
      cur_ = spare;
      win_ = w;
      buf_off_ = from;
      buf_len_ = keep + d.got;
      ahead_used = true;
      ++read_ahead_used_;
    }
  }
  if (!ahead_used) {
    if (keep != 0) std::memmove(cur_, win_ + (from - buf_off_), keep);
    win_ = cur_;
    buf_off_ = from;
    buf_len_ = keep;
  }
  // What the read ahead left out (a short read: the end of the file, or an error, which
  // reading again here reports), or the whole window.
  const uint64_t room = static_cast<uint64_t>(cur_ + kBufferCap - win_);
  while (buf_len_ < room && buf_off_ + buf_len_ < size_) {
    const uint64_t want = std::min<uint64_t>(room - buf_len_, size_ - buf_off_ - buf_len_);
    const ssize_t got = ::pread(fd_, win_ + buf_len_, want, static_cast<off_t>(buf_off_ + buf_len_));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // The file shrank (or cannot be read on): it ends here; a record cut by that is
      // reported as truncated, a read error as what it is.
      if (got < 0) read_failure_ = std::strerror(errno);
      size_ = buf_off_ + buf_len_;
      break;
    }
    buf_len_ += static_cast<uint64_t>(got);
  }
  // The next window, into the buffer not in use now.
  const uint64_t next = buf_off_ + buf_len_;
  if (ahead_ && next < size_) {
    uint8_t* const other = cur_ == bufs_.get() ? bufs_.get() + kBufferCap : bufs_.get();
    ahead_->request(other + kBufferHead, next, std::min<uint64_t>(kBufferBytes, size_ - next));
  }
}

uint16_t MmapFileSource::rx_burst(PacketRef* out, uint16_t max) noexcept {
  if (done_) return 0;
  if (max > kBurstSize) max = kBurstSize;
  if (!started_) [[unlikely]] start();
  if (buffered_) {
    if (format_ == CaptureFormat::kPcapng) return read_pcapng(out, max);  // keeps its blocks in the window
    if (buf_off_ + buf_len_ - pos_ < kRefillBelow && buf_off_ + buf_len_ < size_) refill_from(pos_);
    for (int pass = 0;; ++pass) {
      if (!read_failure_.empty() && pos_ == size_) {
        stop("cannot read '" + path_ + "' past offset " + num(pos_));
        return 0;
      }
      const uint16_t n =
          swap_ ? (format_ == CaptureFormat::kPcapNsec ? read_pcap<true, true>(out, max) : read_pcap<true, false>(out, max))
                : (format_ == CaptureFormat::kPcapNsec ? read_pcap<false, true>(out, max) : read_pcap<false, false>(out, max));
      // Nothing read and not at the end: the first record did not fit in what was left.
      if (n != 0 || done_ || pass != 0 || pos_ == buf_off_ || buf_off_ + buf_len_ >= size_) return n;
      refill_from(pos_);
    }
  }
  if (pos_ + kPopulateWindow / 2 >= populated_) populate_ahead();
  switch (format_) {
    case CaptureFormat::kPcap: return swap_ ? read_pcap<true, false>(out, max) : read_pcap<false, false>(out, max);
    case CaptureFormat::kPcapNsec: return swap_ ? read_pcap<true, true>(out, max) : read_pcap<false, true>(out, max);
    case CaptureFormat::kPcapng: return read_pcapng(out, max);
  }
  return 0;
}

std::string MmapFileSource::describe() const {
  const char* f = format_ == CaptureFormat::kPcapng ? "pcapng" : format_ == CaptureFormat::kPcapNsec ? "pcap-ns" : "pcap";
  return path_ + " (" + f + (gzip_ ? "+gzip, inflated in memory" : "") + ", " +
         (mixed_ ? "interfaces of several link types, the first " : "") +
         std::string(decode::link_type_name(link_)) + ", mmap)";
}

}  // namespace seqwatch
