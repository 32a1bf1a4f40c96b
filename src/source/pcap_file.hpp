// Capture-file source: classic pcap (micro- or nanosecond), pcapng, and either of them
// gzip-compressed. The format is sniffed from the file's magic number, never from its
// name. Reading uses libpcap (pcapng included); gzip is decompressed on the fly.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "source/packet_source.hpp"
#include "util/result.hpp"

typedef struct pcap pcap_t;

namespace seqwatch {

// The first four bytes of a capture file, as read in the host's byte order: classic pcap
// (microsecond or nanosecond timestamps) and pcapng's section header block type.
inline constexpr uint32_t kMagicPcapUsec = 0xA1B2C3D4;
inline constexpr uint32_t kMagicPcapNsec = 0xA1B23C4D;
inline constexpr uint32_t kMagicPcapng = 0x0A0D0D0A;

enum class CaptureFormat { kPcap, kPcapNsec, kPcapng };

// What a file's magic number says it is.
struct CaptureKind {
  CaptureFormat format;
  bool gzip;  // the capture is gzip-compressed
};

class PcapFileSource final : public PacketSource {
 public:
  static Result<std::unique_ptr<PcapFileSource>> open(const std::string& path);
  // Reads only the magic number: an error when the file is not a (possibly gzip-compressed)
  // pcap or pcapng file. open() calls it; callers scanning a directory may call it first
  // to tell "not a capture" from "a capture libpcap cannot read".
  static Result<CaptureKind> sniff(const std::string& path);
  ~PcapFileSource() override;
  PcapFileSource(const PcapFileSource&) = delete;
  PcapFileSource& operator=(const PcapFileSource&) = delete;

  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override;
  bool done() const noexcept override { return done_; }
  decode::LinkType link_type() const noexcept override { return link_; }
  std::string describe() const override;

  CaptureFormat format() const noexcept { return format_; }
  bool gzip() const noexcept { return gzip_; }
  // A pipe, FIFO or character device (/dev/stdin): read once, never opened again.
  bool stream() const noexcept { return stream_; }
  uint32_t snaplen() const noexcept { return snaplen_; }
  uint32_t raw_link_type() const noexcept { return raw_link_; }
  // Set when reading stopped on a damaged file rather than at its end.
  const std::string& read_error() const noexcept override { return read_error_; }

 private:
  PcapFileSource() = default;
  std::string path_;
  pcap_t* pcap_ = nullptr;
  FILE* file_ = nullptr;
  decode::LinkType link_ = decode::LinkType::kEthernet;
  uint32_t raw_link_ = 0;
  CaptureFormat format_ = CaptureFormat::kPcap;
  bool gzip_ = false;
  bool stream_ = false;
  bool done_ = false;
  uint32_t snaplen_ = 0;
  uint32_t slot_size_ = 0;
  uint64_t frames_read_ = 0;
  // kBurstSize frames, copied out of libpcap's buffer. Not zero-filled: 32 x 256 KiB slots,
  // of which a frame writes (and makes resident) only its own bytes.
  std::unique_ptr<uint8_t[]> slots_;
  std::string read_error_;
};

}  // namespace seqwatch
