// Capture-file source without a copy per frame: every PacketRef points into the file's
// bytes, so reading costs one record-header parse per packet.
//
// Two ways to hold those bytes. Read burst by burst (the default, whenever frames need not
// outlive the burst: release() after each), the file goes through 2 MiB windows filled
// with pread(): the same few pages for the whole file, hot in the TLB, and no page-table
// work per 4 KiB of capture (pcapng's validating walk at open() too). Two buffers take turns:
// while the reader parses one window, a helper thread (ReadAhead, `sw-read-ahead`) copies the
// next into the other, so the kernel's copy (~1/5 of a single-worker `analyze`) runs on
// another core (set_read_ahead(false): each window is read on the reader's thread when
// needed). The file is
// otherwise mmap'ed (MADV_SEQUENTIAL), after set_buffered(false), and only then may frames
// be retained (retain_frames(): a stage that passes frames on by address). Mapping costs a page-table entry, a TLB
// miss and, under a shadow-paging hypervisor, a hypervisor fault per 4 KiB page touched: on
// the 2026-12-04 VM reading a 451 MiB capture took 260-300 ms mapped and 70-90 ms through
// the buffer (docs/performance.md, "Capture reading"). libpcap's reader copies every frame
// and runs at ~3 Mpps.
//
// Handles uncompressed classic pcap (either byte order, micro- or nanosecond magic) and
// pcapng (SHB, IDB, EPB, SPB and the obsolete PB; other blocks are skipped). A pcapng file
// may hold interfaces of different link types (`dumpcap -i any -i eth0`, mergecap of an
// Ethernet and a Linux-cooked capture), which libpcap refuses to read: each burst then
// holds frames of one link type only, and link_type() names the latest burst's
// (mixed_link_types() says so); each interface's snapshot length applies to its frames.
// A gzip-compressed pcapng file is inflated into memory first (a memfd, up to 1 GiB, then
// read as a file), so that it reads whole as the uncompressed one does.
// Everything else is refused by can_open()/open() with a reason, so the caller falls back
// to PcapFileSource (libpcap): gzip-compressed classic pcap (libpcap streams it, and reads
// it whole: one link type) or pcapng inflating past 1 GiB, pcap variants (Kuznetzov/Navtel
// magic, version other than 2.x), link types the decoder does not know, pcapng versions
// other than 1.0/1.2, unusual if_tsresol values, blocks over 16 MiB. Read here and not by
// libpcap: pcapng sections in different byte orders (each section's blocks in its own), and
// a pcapng file without any interface description (no packets: an empty capture; tshark's
// frames for its custom blocks are counted).
//
// Damage is not refused but reported: every record length is checked against the bytes
// left in the file (and, for pcapng, against its block) before anything is read. Reading
// stops at the first damaged record (a truncated last record, a record longer than the
// maximum snapshot, a block length that runs past the file, an unknown interface id); the
// packets before it are delivered, the stop is counted in dropped() and described by
// read_error(), as libpcap reports the same files. A file that shrinks while it is read
// ends where the reads stop and is reported as truncated there. Frame bytes, caplen,
// wirelen, ts_ns and frame numbers equal PcapFileSource's for every file both accept, read
// either way (tests/source/mmap_file_test.cpp checks it on the whole corpus).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "source/packet_source.hpp"
#include "source/pcap_file.hpp"
#include "source/read_ahead.hpp"
#include "util/result.hpp"

namespace seqwatch {

class MmapFileSource final : public PacketSource {
 public:
  // The buffered reader's window: the file is read this many bytes at a time (mmap_file.cpp).
  static constexpr uint64_t kWindowBytes = 2ull << 20;
  // Decides from the file's headers (and, for pcapng, every block header) whether this
  // reader handles it; the error says why not. open() runs the same checks.
  static Result<CaptureKind> can_open(const std::string& path);
  // read_ahead: see set_read_ahead() (given here, it applies to pcapng's walk at open() too).
  static Result<std::unique_ptr<MmapFileSource>> open(const std::string& path, bool read_ahead = true);
  ~MmapFileSource() override;
  MmapFileSource(const MmapFileSource&) = delete;
  MmapFileSource& operator=(const MmapFileSource&) = delete;

  uint16_t rx_burst(PacketRef* out, uint16_t max) noexcept override;
  bool done() const noexcept override { return done_; }
  // The link type of the latest burst's frames (before the first burst: the first
  // interface's); with one link type in the file, always that one.
  decode::LinkType link_type() const noexcept override { return burst_link_; }
  bool mixed_link_types() const noexcept override { return mixed_; }
  std::string describe() const override;
  // Damaged records that stopped the reading (0 or 1).
  uint64_t dropped() const noexcept override { return damaged_; }
  // The file's pages leave the process once read: release() (or, with retain_frames(),
  // drop_before()) gives back whole 4 MiB stretches behind the reader with MADV_DONTNEED,
  // so resident memory stays a few windows wide however large the file (the mapping
  // itself stays: a page touched again is read back from the page cache, unchanged).
  void release() noexcept override {
    if (!retain_ && !buffered_) drop_before(pos_);
  }
  // Retaining frames needs the mapping, and the buffer is preferred: refused (false, the
  // caller copies frames) unless set_buffered(false) came first. Copying out of the buffer
  // beat passing frames of the mapping by address on the 2026-12-04 VM: `analyze -w 2` of
  // the 1M-frame peers trace 1.16 -> 0.70 s (docs/performance.md, "Scaling over workers").
  bool retain_frames(bool on) noexcept override {
    if (on && (allow_buffer_ || (started_ && buffered_))) return false;
    retain_ = on;
    return on;
  }
  // Before the first burst: whether the file may be read through the buffer (default
  // true); false reads it mapped, and frames may then be retained.
  void set_buffered(bool on) noexcept {
    if (!started_) allow_buffer_ = on;
  }
  bool buffered() const noexcept { return buffered_; }
  // Before the first burst: whether the buffered reader has the next window read ahead on a
  // helper thread (default true), or reads every window itself when it needs it.
  void set_read_ahead(bool on) noexcept {
    if (started_) return;
    read_ahead_ = on;
    if (!on) ahead_.reset();
  }
  // Windows that came from the read-ahead (the others were read when needed).
  uint64_t read_ahead_windows() const noexcept { return read_ahead_used_; }
  // Frame numbers handed out so far: packets, and the pcapng records tshark lists as frames.
  uint64_t frames_read() const noexcept { return frames_read_; }
  uint64_t read_mark() const noexcept override { return pos_; }
  void drop_before(uint64_t mark) noexcept override;

  CaptureFormat format() const noexcept { return format_; }
  bool gzip() const noexcept { return gzip_; }  // inflated from a gzip file
  uint32_t snaplen() const noexcept { return snaplen_; }  // the first interface's (pcapng)
  uint32_t raw_link_type() const noexcept { return raw_link_; }  // the first interface's (pcapng)
  uint64_t file_size() const noexcept { return size_; }
  // Set when reading stopped on a damaged record rather than at the end of the file.
  const std::string& read_error() const noexcept override { return read_error_; }

 private:
  struct Interface {
    uint64_t units_per_s = 1000000;  // if_tsresol
    int64_t offset_s = 0;            // if_tsoffset
    decode::LinkType link = decode::LinkType::kEthernet;
    uint32_t snaplen = 0;            // effective, as snaplen_
  };
  enum class Step : uint8_t { kPacket, kSkip, kDamaged };

  MmapFileSource() = default;
  Result<bool> setup(const std::string& path);
  Result<bool> setup_fd(int fd);  // the file (or the inflated memfd) open as fd: map it
  Result<bool> setup_pcap();
  Result<bool> setup_pcapng();
  // Parses the pcapng block at `off`: updates the section state (SHB, IDB), fills `p` for a
  // packet block, sets `len` to the block's length. kDamaged sets `why`; an unsupported
  // property sets `unsupported` as well.
  Step pcapng_block(uint64_t off, uint64_t& len, PacketRef& p, std::string& why, bool& unsupported) noexcept;
  template <bool kSwap, bool kNsec>
  uint16_t read_pcap(PacketRef* out, uint16_t max) noexcept;
  uint16_t read_pcapng(PacketRef* out, uint16_t max) noexcept;
  void stop(std::string why) noexcept;
  void populate_ahead() noexcept;
  void start() noexcept;  // the first rx_burst: mapped or buffered
  // Buffered: moves the window's bytes from `from` on to the buffer's start and fills the
  // rest from the file.
  void refill_from(uint64_t from) noexcept;
  // Buffered: whether the pcapng block at `off` lies in the window (its own length when its
  // header is there and valid, else any length up to kMaxBlock, or to the end of the file).
  bool block_in_window(uint64_t off) const noexcept;
  const uint8_t* at(uint64_t off) const noexcept { return buffered_ ? win_ + (off - buf_off_) : base_ + off; }
  bool make_buffers() noexcept;  // the two read buffers (and the read-ahead): false without memory
  // A window the read-ahead thread wrote lies in the other core's cache, where each record's
  // header (which says where the next one is) would be a miss in a dependent chain: every line
  // of the window up to `upto` not asked for yet is prefetched, ahead of the reader.
  void prefetch_window(uint64_t upto) noexcept;

  std::string path_;
  bool gzip_ = false;  // the file was gzip-compressed pcapng, inflated into a memfd
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
  uint64_t populated_ = 0;  // page-aligned end of the part faulted in ahead of pos_
  uint64_t dropped_ = 0;    // page-aligned end of the part given back behind pos_
  bool retain_ = false;
  bool started_ = false;
  bool allow_buffer_ = true;
  bool buffered_ = false;
  int fd_ = -1;                  // kept open for buffered reading
  std::unique_ptr<uint8_t[]> bufs_;  // two read buffers (see kBufferCap)
  uint8_t* cur_ = nullptr;          // the one in use
  uint8_t* win_ = nullptr;          // file byte buf_off_ in it
  std::unique_ptr<ReadAhead> ahead_;  // reads the next window into the other (read_ahead_)
  bool read_ahead_ = true;
  uint64_t read_ahead_used_ = 0;
  uint64_t prefetched_ = 0;         // file offset up to which read_pcap() prefetched
  uint64_t buf_off_ = 0;         // file offset of buf_[0]
  uint64_t buf_len_ = 0;         // bytes of the file in buf_
  uint64_t map_size_ = 0;        // the mapping's length (size_ may shrink: a file cut while read)
  std::string read_failure_;     // a failed pread(): the file ends there, and the stop says why
  decode::LinkType link_ = decode::LinkType::kEthernet;  // the first interface's
  decode::LinkType burst_link_ = decode::LinkType::kEthernet;
  decode::LinkType packet_link_ = decode::LinkType::kEthernet;  // pcapng_block's latest packet's
  bool mixed_ = false;
  uint32_t raw_link_ = 0;
  CaptureFormat format_ = CaptureFormat::kPcap;
  bool swap_ = false;
  bool done_ = false;
  uint32_t snaplen_ = 0;  // effective: records longer than this are cut to it, as libpcap does
  uint64_t frames_read_ = 0;
  uint64_t damaged_ = 0;
  std::string read_error_;
  // pcapng: the current section's interfaces; the walk at open() finds where reading
  // must stop (valid_end_) and why (end_error_).
  std::vector<Interface> ifaces_;
  bool seen_link_ = false;
  uint64_t valid_end_ = 0;
  std::string end_error_;
};

}  // namespace seqwatch
