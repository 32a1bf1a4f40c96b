// Evidence file writers (control thread only): classic pcap through libpcap with
// nanosecond timestamps, and pcapng through a small writer of our own (SHB, one IDB with
// if_tsresol = 9, one EPB per packet carrying an opt_comment).
//
// RotatingWriter owns the file life cycle (docs/evidence.md, "Files"):
//  * a file is written as NAME.partial and renamed to NAME only after a successful
//    flush + fsync + close, so a NAME file is always complete; rotation by size and/or
//    packet time closes one file and opens the next;
//  * any write error (disk full, I/O error) or an open error (directory unwritable) puts
//    the writer in a failed state for that file: the partial file is deleted, the error is
//    reported once (on_error) and counted, the file's packets count as lost, and packets
//    keep being counted (not written) until a new file is tried after retry_ms.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decode/packet_view.hpp"
#include "util/result.hpp"

typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

namespace seqwatch::evidence {

enum class FileFormat : uint8_t { kPcap, kPcapng };

struct RotationConfig {
  uint64_t max_bytes = 0;         // start a new file before this size is exceeded (0 = no limit)
  uint64_t max_seconds = 0;       // packet time covered by one file (0 = no limit)
  uint64_t retry_ms = 1000;       // failed file: packet time until a new file is tried
};

struct WriterConfig {
  std::string dir;
  std::string prefix = "evidence";
  FileFormat format = FileFormat::kPcapng;
  decode::LinkType link = decode::LinkType::kEthernet;
  uint32_t snaplen = 65535;       // written in the file header
  RotationConfig rotate;
  bool fsync_on_close = true;     // complete files survive a power cut too
  uint32_t buffer_bytes = 1u << 20;  // stdio buffer: batched writes
};

struct WriterCounters {
  uint64_t files_opened = 0;
  uint64_t files_completed = 0;   // renamed to their final name
  uint64_t files_failed = 0;      // open/write/close/rename failed: partial deleted
  uint64_t errors = 0;            // every failing call (reported once per file)
  uint64_t packets = 0;           // packets in completed or current files
  uint64_t bytes = 0;
  uint64_t packets_lost = 0;      // written to a failed file, or arriving while failed
};

struct PacketOut {
  uint64_t ts_ns = 0;
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;
  uint32_t wirelen = 0;
  std::string_view comment;       // pcapng only; empty = no comment
  // pcapng only: the frame's link type when it differs from WriterConfig::link (an input
  // with interfaces of several link types); the file gets an interface of that type
  // before its first such packet. kWriterLink = the writer's own.
  static constexpr uint32_t kWriterLink = 0xFFFFFFFF;
  uint32_t link = kWriterLink;
};

// Where a packet landed.
struct FilePos {
  uint64_t file_seq = 0;          // which file (1-based, per writer)
  uint64_t offset = 0;            // byte offset of its record / block in the file
  uint64_t frame = 0;             // 1-based packet number in the file (Wireshark's frame number)
};

class RotatingWriter {
 public:
  // A file the writer finished with: completed (name is final) or failed (gone).
  struct FileDone {
    uint64_t file_seq;
    std::string name;             // file name (no directory)
    bool ok;
    uint64_t packets;
  };

  static Result<std::unique_ptr<RotatingWriter>> create(const WriterConfig& cfg);
  ~RotatingWriter();
  RotatingWriter(const RotatingWriter&) = delete;
  RotatingWriter& operator=(const RotatingWriter&) = delete;

  // Writes one packet (rotating first when due). False when it could not be written
  // (failed state; counted in packets_lost).
  bool write(const PacketOut& p, FilePos* where = nullptr);
  // Completes the current file (flush, fsync, rename). Safe to call twice.
  void close();
  // Closes the current file when its time is up (idle periods). `wall_ns` is the wall
  // clock: the files keep packet time, and the wall clock only measures the time since
  // the newest packet.
  void tick(uint64_t wall_ns);

  std::function<void(const FileDone&)> on_file_done;
  std::function<void(const std::string&)> on_error;  // one message per failed file

  const WriterCounters& counters() const noexcept { return counters_; }
  bool failed() const noexcept { return failed_; }
  const std::string& current_name() const noexcept { return name_; }
  const WriterConfig& config() const noexcept { return cfg_; }

 private:
  explicit RotatingWriter(const WriterConfig& cfg);
  bool open_file(uint64_t ts_ns);
  void finish_file();
  void fail(const std::string& what, int err);
  bool write_header();
  // Appends an interface description block of `link` to the current pcapng file.
  bool write_idb(uint16_t link);
  // pcapng: the interface id of `link` in the current file, writing its IDB first if it
  // has none yet (-1: the write failed).
  int interface_of(uint32_t link);
  bool write_record(const PacketOut& p, uint32_t iface);
  uint64_t record_size(const PacketOut& p) const noexcept;
  // pcapng: the bytes of the interface block `p` needs before it in the current file (0
  // when its link type has one), so that rotation by size counts it.
  uint64_t idb_needed(const PacketOut& p) const noexcept;

  WriterConfig cfg_;
  WriterCounters counters_;
  FILE* file_ = nullptr;
  pcap_t* dead_ = nullptr;        // pcap format: libpcap's handle for the dumper
  pcap_dumper_t* dumper_ = nullptr;
  std::unique_ptr<char[]> buffer_;
  std::vector<uint8_t> block_;    // pcapng block scratch, reused
  std::vector<uint16_t> ifaces_;  // pcapng: link type of each interface of the current file
  std::string name_;              // current file name (final, without .partial)
  std::string partial_;           // full path of the partial file
  uint64_t seq_ = 0;
  uint64_t file_start_ns_ = 0;
  uint64_t file_bytes_ = 0;
  uint64_t file_packets_ = 0;
  bool failed_ = false;
  bool reported_ = false;         // a failure was reported since the last completed file
  uint64_t bytes_at_open_ = 0;    // counters_.bytes when the current file was opened
  uint64_t retry_at_ns_ = 0;
  uint64_t newest_ts_ns_ = 0;     // newest packet time written
  uint64_t anchor_ts_ns_ = 0;     // tick: newest_ts_ns_ when the wall clock read anchor_wall_ns_
  uint64_t anchor_wall_ns_ = 0;
};

}  // namespace seqwatch::evidence
