#include "evidence/writer.hpp"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <stdio_ext.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "util/units.hpp"

namespace seqwatch::evidence {

namespace {

// pcapng (draft-ietf-opsawg-pcapng): block types and option codes used here.
constexpr uint32_t kShb = 0x0A0D0D0A;
constexpr uint32_t kIdb = 0x00000001;
constexpr uint32_t kEpb = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfTsresol = 9;
constexpr uint8_t kTsresolNs = 9;  // 10^-9 s
constexpr uint32_t kPcapFileHeader = 24;
constexpr uint32_t kPcapRecordHeader = 16;
constexpr uint32_t kEpbFixed = 32;  // type, len, iface, ts hi/lo, caplen, origlen, trailing len
constexpr uint32_t kMaxComment = 65000;  // option length is 16 bits
constexpr uint32_t kIdbSize = 32;  // IDB as write_idb() writes it: fixed part, if_tsresol, opt_endofopt

constexpr uint32_t pad4(uint32_t n) { return (n + 3u) & ~3u; }

void put32(std::vector<uint8_t>& b, uint32_t v) {
  const size_t o = b.size();
  b.resize(o + 4);
  std::memcpy(&b[o], &v, 4);
}
void put16(std::vector<uint8_t>& b, uint16_t v) {
  const size_t o = b.size();
  b.resize(o + 2);
  std::memcpy(&b[o], &v, 2);
}
void put_bytes(std::vector<uint8_t>& b, const void* p, size_t n) {
  const size_t o = b.size();
  b.resize(o + pad4(static_cast<uint32_t>(n)), 0);
  if (n) std::memcpy(&b[o], p, n);
}
void put_option(std::vector<uint8_t>& b, uint16_t code, const void* p, size_t n) {
  put16(b, code);
  put16(b, static_cast<uint16_t>(n));
  put_bytes(b, p, n);
}
// Writes the block's total length at both ends.
void seal(std::vector<uint8_t>& b) {
  const uint32_t total = static_cast<uint32_t>(b.size() + 4);
  std::memcpy(&b[4], &total, 4);
  put32(b, total);
}

int dlt_of(decode::LinkType l) { return l == decode::LinkType::kRaw ? DLT_RAW : static_cast<int>(l); }

std::string utc_stamp(uint64_t ts_ns) {
  const time_t t = static_cast<time_t>(ts_ns / kNsPerSec);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}
}  // namespace

RotatingWriter::RotatingWriter(const WriterConfig& cfg) : cfg_(cfg) {}

Result<std::unique_ptr<RotatingWriter>> RotatingWriter::create(const WriterConfig& cfg) {
  if (cfg.dir.empty()) return Error{"evidence writer: no output directory configured"};
  if (cfg.prefix.empty() || cfg.prefix.find('/') != std::string::npos)
    return Error{"evidence writer: file prefix '" + cfg.prefix + "' must be a non-empty name without '/'"};
  if (cfg.rotate.max_bytes != 0 && cfg.rotate.max_bytes < 4096)
    return Error{"evidence writer: rotate max_bytes " + std::to_string(cfg.rotate.max_bytes) + " is below 4096"};
  std::unique_ptr<RotatingWriter> w(new RotatingWriter(cfg));
  if (cfg.format == FileFormat::kPcap) {
    w->dead_ = pcap_open_dead_with_tstamp_precision(dlt_of(cfg.link), static_cast<int>(cfg.snaplen),
                                                    PCAP_TSTAMP_PRECISION_NANO);
    if (w->dead_ == nullptr)
      return Error{"evidence writer: libpcap cannot write link type " + std::to_string(static_cast<int>(cfg.link))};
  }
  w->block_.reserve(1u << 16);
  return w;
}

RotatingWriter::~RotatingWriter() {
  close();
  if (dead_) pcap_close(dead_);
}

void RotatingWriter::fail(const std::string& what, int err) {
  ++counters_.errors;
  if (!reported_ && on_error) {
    on_error(fmt::format("evidence file {}/{}: {}: {}; the file is discarded (no partial file is kept), its "
                         "packets are counted as lost, capture goes on and a new file is tried {} ms (packet time) "
                         "later; further failures are counted, not reported, until a file is completed",
                         cfg_.dir, name_, what, std::strerror(err), cfg_.rotate.retry_ms));
  }
  reported_ = true;
  if (dumper_) {
    pcap_dump_close(dumper_);  // closes file_
    dumper_ = nullptr;
    file_ = nullptr;
  } else if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!partial_.empty()) ::unlink(partial_.c_str());
  counters_.packets -= file_packets_;
  counters_.packets_lost += file_packets_;
  counters_.bytes = bytes_at_open_;  // the bytes of a discarded file were not written
  ++counters_.files_failed;
  failed_ = true;
  // A new file is tried retry_ms of packet time after the newest packet (a disk that was
  // full for a moment loses about that much, not a whole rotation period).
  retry_at_ns_ = std::max(file_start_ns_, newest_ts_ns_) + std::max<uint64_t>(cfg_.rotate.retry_ms * kNsPerMs, 1);
  if (on_file_done) on_file_done(FileDone{seq_, name_, false, file_packets_});
  file_packets_ = 0;
}

bool RotatingWriter::open_file(uint64_t ts_ns) {
  failed_ = false;
  bytes_at_open_ = counters_.bytes;
  file_start_ns_ = ts_ns;
  file_bytes_ = 0;
  file_packets_ = 0;
  const char* ext = cfg_.format == FileFormat::kPcap ? "pcap" : "pcapng";
  std::error_code ec;
  for (;;) {
    ++seq_;
    name_ = fmt::format("{}-{}-{:06}.{}", cfg_.prefix, utc_stamp(ts_ns), seq_, ext);
    // Neither the name nor its partial file of an earlier, interrupted run may exist.
    if (!std::filesystem::exists(std::filesystem::path(cfg_.dir) / name_, ec) &&
        !std::filesystem::exists(std::filesystem::path(cfg_.dir) / (name_ + ".partial"), ec))
      break;
  }
  partial_ = (std::filesystem::path(cfg_.dir) / (name_ + ".partial")).string();
  ++counters_.files_opened;
  std::filesystem::create_directories(cfg_.dir, ec);
  file_ = std::fopen(partial_.c_str(), "wbx");
  if (file_ == nullptr) {
    const int err = errno;
    partial_.clear();  // nothing of ours to delete
    fail("cannot create the file", err);
    return false;
  }
  if (!buffer_) buffer_ = std::make_unique<char[]>(cfg_.buffer_bytes);
  std::setvbuf(file_, buffer_.get(), _IOFBF, cfg_.buffer_bytes);
  // One thread (the control thread) writes a file: stdio's per-call lock is not needed
  // (libpcap's pcap_dump makes two fwrite calls per record). Nothing else touches these
  // streams (no fflush(NULL) or exit() from another thread while a file is open).
  __fsetlocking(file_, FSETLOCKING_BYCALLER);
  if (!write_header()) {
    fail("cannot write the file header", errno ? errno : EIO);
    return false;
  }
  return true;
}

bool RotatingWriter::write_header() {
  if (cfg_.format == FileFormat::kPcap) {
    dumper_ = pcap_dump_fopen(dead_, file_);
    if (dumper_ == nullptr) return false;
    file_bytes_ = kPcapFileHeader;
    return std::ferror(file_) == 0;
  }
  std::vector<uint8_t>& b = block_;
  b.clear();
  put32(b, kShb);
  put32(b, 0);
  put32(b, kByteOrderMagic);
  put16(b, 1);  // major
  put16(b, 0);  // minor
  put32(b, 0xFFFFFFFF);  // section length unknown (-1)
  put32(b, 0xFFFFFFFF);
  static constexpr std::string_view kAppl = "seqwatch";
  put_option(b, kShbUserAppl, kAppl.data(), kAppl.size());
  put_option(b, kOptEnd, nullptr, 0);
  seal(b);
  file_bytes_ = b.size();
  if (std::fwrite(b.data(), 1, b.size(), file_) != b.size()) return false;
  ifaces_.clear();
  return write_idb(static_cast<uint16_t>(cfg_.link));
}

bool RotatingWriter::write_idb(uint16_t link) {
  std::vector<uint8_t>& b = block_;
  b.clear();
  put32(b, kIdb);
  put32(b, 0);
  put16(b, link);  // pcapng carries LINKTYPE_* values
  put16(b, 0);
  put32(b, cfg_.snaplen);
  put_option(b, kIfTsresol, &kTsresolNs, 1);
  put_option(b, kOptEnd, nullptr, 0);
  const uint32_t total = static_cast<uint32_t>(b.size() + 4);
  std::memcpy(&b[4], &total, 4);
  put32(b, total);
  assert(b.size() == kIdbSize);
  if (std::fwrite(b.data(), 1, b.size(), file_) != b.size()) return false;
  file_bytes_ += b.size();
  ifaces_.push_back(link);
  return true;
}

int RotatingWriter::interface_of(uint32_t link) {
  if (link == PacketOut::kWriterLink || link == ifaces_[0]) return 0;
  for (size_t i = 1; i < ifaces_.size(); ++i)
    if (ifaces_[i] == link) return static_cast<int>(i);
  const uint64_t before = file_bytes_;
  if (!write_idb(static_cast<uint16_t>(link))) return -1;
  counters_.bytes += file_bytes_ - before;  // a block in the middle of the file, as the records
  return static_cast<int>(ifaces_.size() - 1);
}

uint64_t RotatingWriter::idb_needed(const PacketOut& p) const noexcept {
  if (cfg_.format != FileFormat::kPcapng || p.link == PacketOut::kWriterLink) return 0;
  for (const uint16_t l : ifaces_)
    if (l == p.link) return 0;
  return kIdbSize;
}

uint64_t RotatingWriter::record_size(const PacketOut& p) const noexcept {
  if (cfg_.format == FileFormat::kPcap) return kPcapRecordHeader + p.caplen;
  const uint32_t c = static_cast<uint32_t>(std::min<size_t>(p.comment.size(), kMaxComment));
  return kEpbFixed + pad4(p.caplen) + (c ? 4 + pad4(c) + 4 : 0);
}

bool RotatingWriter::write_record(const PacketOut& p, uint32_t iface) {
  if (cfg_.format == FileFormat::kPcap) {
    struct pcap_pkthdr h {};
    h.ts.tv_sec = static_cast<time_t>(p.ts_ns / kNsPerSec);
    h.ts.tv_usec = static_cast<suseconds_t>(p.ts_ns % kNsPerSec);  // nanoseconds: the handle is NANO
    h.caplen = p.caplen;
    h.len = p.wirelen;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, p.data);
    return std::ferror(file_) == 0;
  }
  // An enhanced packet block, written straight into the block buffer (every byte set, the
  // padding included): one size computation, no per-field growth of the vector.
  const uint32_t c = static_cast<uint32_t>(std::min<size_t>(p.comment.size(), kMaxComment));
  const uint32_t total = static_cast<uint32_t>(record_size(p));
  std::vector<uint8_t>& b = block_;
  if (b.size() < total) b.resize(total);
  uint8_t* o = b.data();
  auto w32 = [&o](uint32_t v) {
    std::memcpy(o, &v, 4);
    o += 4;
  };
  auto w16 = [&o](uint16_t v) {
    std::memcpy(o, &v, 2);
    o += 2;
  };
  auto bytes = [&o](const void* src, uint32_t n) {
    if (n != 0) std::memcpy(o, src, n);
    std::memset(o + n, 0, pad4(n) - n);
    o += pad4(n);
  };
  w32(kEpb);
  w32(total);
  w32(iface);
  w32(static_cast<uint32_t>(p.ts_ns >> 32));
  w32(static_cast<uint32_t>(p.ts_ns));
  w32(p.caplen);
  w32(p.wirelen);
  bytes(p.data, p.caplen);
  if (c != 0) {
    w16(kOptComment);
    w16(static_cast<uint16_t>(c));
    bytes(p.comment.data(), c);
    w16(kOptEnd);
    w16(0);
  }
  w32(total);
  assert(static_cast<uint32_t>(o - b.data()) == total);
  return std::fwrite(b.data(), 1, total, file_) == total;
}

bool RotatingWriter::write(const PacketOut& p, FilePos* where) {
  if (p.ts_ns > newest_ts_ns_) newest_ts_ns_ = p.ts_ns;
  const bool have = file_ != nullptr;
  if (have) {
    const bool by_size = cfg_.rotate.max_bytes != 0 && file_packets_ != 0 &&
                         file_bytes_ + record_size(p) + idb_needed(p) > cfg_.rotate.max_bytes;
    const bool by_time = cfg_.rotate.max_seconds != 0 && p.ts_ns >= file_start_ns_ &&
                         p.ts_ns - file_start_ns_ >= cfg_.rotate.max_seconds * kNsPerSec;
    if (by_size || by_time) finish_file();
  }
  if (file_ == nullptr) {
    if (failed_ && p.ts_ns < retry_at_ns_ && p.ts_ns >= file_start_ns_) {
      ++counters_.packets_lost;
      return false;
    }
    if (!open_file(p.ts_ns)) {
      ++counters_.packets_lost;
      return false;
    }
  }
  uint32_t iface = 0;
  if (cfg_.format == FileFormat::kPcapng && p.link != PacketOut::kWriterLink) {
    const int i = interface_of(p.link);
    if (i < 0) {
      ++counters_.packets_lost;
      fail("write failed", errno ? errno : EIO);
      return false;
    }
    iface = static_cast<uint32_t>(i);
  }
  const uint64_t off = file_bytes_;
  if (!write_record(p, iface)) {
    ++counters_.packets_lost;
    fail("write failed", errno ? errno : EIO);
    return false;
  }
  file_bytes_ += record_size(p);
  ++file_packets_;
  ++counters_.packets;
  counters_.bytes += record_size(p);
  if (where) *where = FilePos{seq_, off, file_packets_};
  return true;
}

void RotatingWriter::finish_file() {
  if (file_ == nullptr) return;
  errno = 0;
  if (std::fflush(file_) != 0 || std::ferror(file_)) return fail("flush failed", errno ? errno : EIO);
  if (cfg_.fsync_on_close && ::fsync(fileno(file_)) != 0) return fail("fsync failed", errno);
  int rc;
  if (dumper_) {
    pcap_dump_close(dumper_);  // fclose after a successful flush
    dumper_ = nullptr;
    rc = 0;
  } else {
    rc = std::fclose(file_);
  }
  file_ = nullptr;
  if (rc != 0) return fail("close failed", errno);
  const std::string final_path = (std::filesystem::path(cfg_.dir) / name_).string();
  if (std::rename(partial_.c_str(), final_path.c_str()) != 0) return fail("rename failed", errno);
  partial_.clear();
  ++counters_.files_completed;
  reported_ = false;  // the trouble is over: the next failure is reported again
  if (on_file_done) on_file_done(FileDone{seq_, name_, true, file_packets_});
  file_packets_ = 0;
}

void RotatingWriter::tick(uint64_t wall_ns) {
  // The files' clock is packet time, which need not be the wall clock's (a replayed
  // capture, a NIC clock that is not the epoch): the wall clock only says how much time
  // has passed since the newest packet was seen.
  if (newest_ts_ns_ != anchor_ts_ns_ || anchor_wall_ns_ == 0) {
    anchor_ts_ns_ = newest_ts_ns_;
    anchor_wall_ns_ = wall_ns;
  }
  if (file_ == nullptr || cfg_.rotate.max_seconds == 0 || newest_ts_ns_ == 0 || wall_ns < anchor_wall_ns_) return;
  const uint64_t now_ns = anchor_ts_ns_ + (wall_ns - anchor_wall_ns_);
  if (now_ns >= file_start_ns_ && now_ns - file_start_ns_ >= cfg_.rotate.max_seconds * kNsPerSec) finish_file();
}

void RotatingWriter::close() { finish_file(); }

}  // namespace seqwatch::evidence
