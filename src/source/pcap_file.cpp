#include "source/pcap_file.hpp"

#include <pcap/pcap.h>
#include <zlib.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "decode/bytes.hpp"

namespace seqwatch {
namespace {

// libpcap never hands out a frame longer than its maximum snapshot length (262144 since
// libpcap 1.x); each burst slot holds one such frame.
constexpr uint32_t kMaxFrame = 262144;

// libpcap reads through zlib (fopencookie): a gzip file, or a stream (a pipe, /dev/stdin, a
// FIFO, plain or gzip), which can be read once: its first bytes, read to tell the format, are
// handed to libpcap again ahead of the rest (len 0 for a file).
struct StreamHead {
  gzFile gz;
  uint8_t head[4];
  int len = 0;
  int pos = 0;
};
ssize_t stream_read(void* cookie, char* buf, size_t size) {
  auto* s = static_cast<StreamHead*>(cookie);
  size_t k = 0;
  while (s->pos < s->len && k < size) buf[k++] = static_cast<char>(s->head[s->pos++]);
  if (k == size) return static_cast<ssize_t>(k);
  const int n = gzread(s->gz, buf + k, static_cast<unsigned>(size - k));
  if (n < 0) return k != 0 ? static_cast<ssize_t>(k) : -1;
  return static_cast<ssize_t>(k) + n;
}
int stream_close(void* cookie) {
  auto* s = static_cast<StreamHead*>(cookie);
  const int rc = gzclose(s->gz);
  delete s;
  return rc == Z_OK ? 0 : EOF;
}

// Hands `head` (owned) to a FILE for libpcap; nullptr on failure (head closed).
FILE* stream_file(StreamHead* head) {
  cookie_io_functions_t io{stream_read, nullptr, nullptr, stream_close};
  FILE* f = fopencookie(head, "rb", io);
  if (f == nullptr) stream_close(head);
  return f;
}

bool is_stream(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode) || S_ISSOCK(st.st_mode));
}

Result<CaptureKind> kind_of(uint32_t m, bool gzip, const std::string& path) {
  if (m == kMagicPcapUsec || m == __builtin_bswap32(kMagicPcapUsec)) return CaptureKind{CaptureFormat::kPcap, gzip};
  if (m == kMagicPcapNsec || m == __builtin_bswap32(kMagicPcapNsec)) return CaptureKind{CaptureFormat::kPcapNsec, gzip};
  if (m == kMagicPcapng) return CaptureKind{CaptureFormat::kPcapng, gzip};
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", m);
  return Error{"'" + path + "' is neither pcap nor pcapng (magic number 0x" + hex + ")"};
}

Result<uint32_t> sniff_magic(const std::string& path, bool& gzip) {
  // gzopen reads plain files transparently, so one reader answers both questions.
  gzFile gz = gzopen(path.c_str(), "rb");
  if (gz == nullptr) return Error{"cannot open capture file '" + path + "': " + std::strerror(errno)};
  gzip = gzdirect(gz) == 0;
  uint8_t b[4];
  const int n = gzread(gz, b, sizeof b);
  gzip = gzdirect(gz) == 0;
  gzclose(gz);
  if (n != 4) return Error{"'" + path + "' is too short to be a capture file (" + std::to_string(n < 0 ? 0 : n) + " bytes)"};
  return load_be32(b);
}

}  // namespace

Result<CaptureKind> PcapFileSource::sniff(const std::string& path) {
  bool gzip = false;
  auto magic = sniff_magic(path, gzip);
  if (!magic) return magic.error();
  return kind_of(magic.value(), gzip, path);
}

Result<std::unique_ptr<PcapFileSource>> PcapFileSource::open(const std::string& path) {
  std::unique_ptr<PcapFileSource> s(new PcapFileSource());
  s->path_ = path;
  FILE* f = nullptr;
  if (is_stream(path)) {
    // Opened once: `tcpdump -w - | seqwatch analyze /dev/stdin`, or a FIFO.
    auto* head = new StreamHead{gzopen(path.c_str(), "rb"), {}, 0, 0};
    if (head->gz == nullptr) {
      delete head;
      return Error{"cannot open capture stream '" + path + "': " + std::strerror(errno)};
    }
    head->len = gzread(head->gz, head->head, sizeof head->head);
    if (head->len != 4) {
      const int n = head->len < 0 ? 0 : head->len;
      stream_close(head);
      return Error{"'" + path + "' is too short to be a capture (" + std::to_string(n) + " bytes)"};
    }
    auto kind = kind_of(load_be32(head->head), gzdirect(head->gz) == 0, path);
    if (!kind) {
      stream_close(head);
      return kind.error();
    }
    s->format_ = kind.value().format;
    s->gzip_ = kind.value().gzip;
    s->stream_ = true;
    f = stream_file(head);
    if (f == nullptr) return Error{"cannot stream '" + path + "'"};
  } else {
    auto kind = sniff(path);
    if (!kind) return kind.error();
    s->format_ = kind.value().format;
    s->gzip_ = kind.value().gzip;
    if (s->gzip_) {
      gzFile gz = gzopen(path.c_str(), "rb");
      if (gz == nullptr) return Error{"cannot open capture file '" + path + "': " + std::strerror(errno)};
      f = stream_file(new StreamHead{gz, {}, 0, 0});
      if (f == nullptr) return Error{"cannot stream gzip file '" + path + "'"};
    } else {
      f = std::fopen(path.c_str(), "rb");
      if (f == nullptr) return Error{"cannot open capture file '" + path + "': " + std::strerror(errno)};
    }
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  s->pcap_ = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (s->pcap_ == nullptr) {
    std::fclose(f);
    return Error{"libpcap cannot read '" + path + "': " + errbuf};
  }
  s->file_ = f;  // owned by pcap_ from here on; pcap_close closes it
  s->raw_link_ = static_cast<uint32_t>(pcap_datalink_ext(s->pcap_)) & 0x03FFFFFF;
  if (!decode::link_type_from_pcap(static_cast<uint32_t>(pcap_datalink(s->pcap_)), s->link_)) {
    return Error{"'" + path + "' has link type " + std::to_string(pcap_datalink(s->pcap_)) + " (" +
                 (pcap_datalink_val_to_name(pcap_datalink(s->pcap_)) ? pcap_datalink_val_to_name(pcap_datalink(s->pcap_)) : "?") +
                 "), which seqwatch does not decode; supported: Ethernet, raw IP, Linux SLL/SLL2, NFLOG, loopback, PPP, PPPoE, Cisco HDLC, IEEE 802.11 (with or without radiotap)"};
  }
  const int snap = pcap_snapshot(s->pcap_);
  s->snaplen_ = snap > 0 ? static_cast<uint32_t>(snap) : kMaxFrame;
  s->slot_size_ = kMaxFrame;
  s->slots_ = std::make_unique_for_overwrite<uint8_t[]>(static_cast<size_t>(s->slot_size_) * kBurstSize);
  return s;
}

PcapFileSource::~PcapFileSource() {
  if (pcap_ != nullptr) pcap_close(pcap_);
}

uint16_t PcapFileSource::rx_burst(PacketRef* out, uint16_t max) noexcept {
  if (done_) return 0;
  if (max > kBurstSize) max = kBurstSize;
  uint16_t n = 0;
  while (n < max) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(pcap_, &h, &data);
    if (rc != 1) {
      if (rc == PCAP_ERROR) read_error_ = pcap_geterr(pcap_);
      done_ = true;
      break;
    }
    const uint32_t caplen = h->caplen < slot_size_ ? h->caplen : slot_size_;
    uint8_t* slot = slots_.get() + static_cast<size_t>(n) * slot_size_;
    std::memcpy(slot, data, caplen);
    out[n].data = slot;
    out[n].caplen = caplen;
    out[n].wirelen = h->len;
    out[n].ts_ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(h->ts.tv_usec);
    out[n].frame = ++frames_read_;
    ++n;
  }
  return n;
}

std::string PcapFileSource::describe() const {
  std::string f = format_ == CaptureFormat::kPcapng ? "pcapng" : format_ == CaptureFormat::kPcapNsec ? "pcap-ns" : "pcap";
  if (gzip_) f += "+gzip";
  return path_ + " (" + f + ", " + std::string(decode::link_type_name(link_)) + ")";
}

}  // namespace seqwatch
