#include "gen/pcap_writer.hpp"

#include <cerrno>
#include <cstring>

namespace seqwatch::gen {
namespace {
constexpr size_t kBufferBytes = 1 << 20;
constexpr uint32_t kMagicUsec = 0xA1B2C3D4;
constexpr uint32_t kMagicNsec = 0xA1B23C4D;
constexpr uint32_t kLinktypeEthernet = 1;

inline void put_le32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // host order, as libpcap writes
}  // namespace

PcapWriter::~PcapWriter() { (void)close(); }

std::string PcapWriter::open(const std::string& path, bool nanosecond, uint32_t snaplen) {
  path_ = path;
  nanosecond_ = nanosecond;
  if (path == "-") {
    f_ = stdout;
    owned_ = false;
  } else {
    f_ = std::fopen(path.c_str(), "wb");
    owned_ = true;
    if (!f_) return "cannot open " + path + " for writing: " + std::strerror(errno);
  }
  buf_.resize(kBufferBytes);
  used_ = 0;
  uint8_t h[24];
  put_le32(h, nanosecond ? kMagicNsec : kMagicUsec);
  const uint16_t major = 2, minor = 4;
  std::memcpy(h + 4, &major, 2);
  std::memcpy(h + 6, &minor, 2);
  put_le32(h + 8, 0);
  put_le32(h + 12, 0);
  put_le32(h + 16, snaplen);
  put_le32(h + 20, kLinktypeEthernet);
  std::memcpy(buf_.data(), h, 24);
  used_ = 24;
  return {};
}

void PcapWriter::flush() {
  if (!f_ || used_ == 0) return;
  if (std::fwrite(buf_.data(), 1, used_, f_) != used_ && error_.empty())
    error_ = "write to " + path_ + " failed: " + std::strerror(errno);
  used_ = 0;
}

void PcapWriter::write(const uint8_t* data, uint32_t caplen, uint32_t wirelen, uint64_t ts_ns) {
  if (!f_) return;
  if (used_ + 16 + caplen > buf_.size()) flush();
  if (16 + static_cast<size_t>(caplen) > buf_.size()) buf_.resize(16 + caplen);
  uint8_t* r = buf_.data() + used_;
  const uint64_t sec = ts_ns / 1000000000ull;
  const uint64_t frac = nanosecond_ ? ts_ns % 1000000000ull : (ts_ns % 1000000000ull) / 1000;
  put_le32(r, static_cast<uint32_t>(sec));
  put_le32(r + 4, static_cast<uint32_t>(frac));
  put_le32(r + 8, caplen);
  put_le32(r + 12, wirelen);
  std::memcpy(r + 16, data, caplen);
  used_ += 16 + caplen;
}

std::string PcapWriter::close() {
  if (!f_) return error_;
  flush();
  if (std::fflush(f_) != 0 && error_.empty()) error_ = "flush of " + path_ + " failed: " + std::strerror(errno);
  if (owned_ && std::fclose(f_) != 0 && error_.empty())
    error_ = "close of " + path_ + " failed: " + std::strerror(errno);
  f_ = nullptr;
  return error_;
}

}  // namespace seqwatch::gen
