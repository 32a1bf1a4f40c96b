// The control-thread side: drains the workers' evidence rings, writes evidence packets
// (with their pcapng comments) and sampled packets through RotatingWriters, and keeps the
// index: one JSON line per (slice, file) pair, appended when that file is completed (a
// failed file's lines are dropped with it, so the index never names a missing file).
// Schema in docs/evidence.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evidence/record.hpp"
#include "evidence/writer.hpp"
#include "flow/flow_key.hpp"
#include "util/result.hpp"

namespace seqwatch::evidence {

struct SinkConfig {
  WriterConfig evidence;               // prefix "evidence" by default
  bool sample_enabled = false;
  WriterConfig sample;                 // set its prefix (e.g. "sample"); dir defaults to evidence.dir
  std::string index_name = "evidence-index.jsonl";  // in evidence.dir
  // Slices kept open at once; beyond it the oldest is dropped (its end record was lost) and
  // its later packets are counted as orphans. The app sets it to every flow slot of every
  // worker, the most that can legitimately be open.
  size_t max_open_slices = 1u << 16;
};

struct SinkCounters {
  uint64_t records = 0;
  uint64_t slices = 0;               // kSliceBegin seen
  uint64_t packets = 0;              // evidence packets written
  uint64_t orphans = 0;              // packets of a slice whose begin was never seen (or dropped): not written
  uint64_t slices_dropped = 0;       // open slices dropped beyond max_open_slices
  uint64_t link_mismatch = 0;        // record's link type differs from the pcap writer's (not written)
  uint64_t samples = 0;
  uint64_t index_lines = 0;
  uint64_t index_lines_lost = 0;     // their file failed, or the index could not be written
  uint64_t index_errors = 0;
};

class EvidenceSink {
 public:
  static Result<std::unique_ptr<EvidenceSink>> create(const SinkConfig& cfg);
  ~EvidenceSink();

  // Consumes up to `max` records of one worker's ring.
  uint32_t drain(RecordRing& ring, uint32_t max = UINT32_MAX);
  // One record, as drain hands it on (the app's budget check passes slice ends alone).
  void on_record(const RecordHeader& r, const uint8_t* data);
  // Forgets an open slice whose later packets were not handed on (the run's byte budget):
  // its index entries stay `complete: false`.
  void cut_slice(uint64_t slice);
  // Rotation by age when no packets arrive: `wall_ns` is the wall clock (RotatingWriter::tick).
  void tick(uint64_t wall_ns);
  // Completes every file and the index (shutdown, SIGTERM).
  void close();
  // Log rotation (SIGHUP): the index is closed and opened again by name at its next line, so
  // an index renamed away (logrotate) is followed by a new one at index_path(). The evidence
  // files themselves are rotated by their own size and age settings.
  void reopen_index();

  // Reports each failure once (per file); default prints to stderr.
  void set_error_handler(std::function<void(const std::string&)> f);

  const SinkCounters& counters() const noexcept { return counters_; }
  const RotatingWriter& evidence_writer() const noexcept { return *evidence_; }
  const RotatingWriter* sample_writer() const noexcept { return sample_.get(); }
  std::string index_path() const;

  // The pcapng comment for an evidence packet:
  // "seqwatch: retransmission,fast_retransmission; trigger=dup_ack_run; slice=0-17 post".
  static std::string comment_for(const RecordHeader& r, uint32_t slice_triggers);
  // The same, appended to `out` (the sink reuses one buffer: no allocation per packet):
  // the head names the verdicts and triggers, the tail the slice and the packet's role.
  static void append_comment(std::string& out, const RecordHeader& r, uint32_t slice_triggers);
  static void append_comment_head(std::string& out, uint32_t verdicts, uint32_t triggers);
  static void append_comment_tail(std::string& out, uint64_t slice, Role role);

 private:
  struct Slice {
    flow::FlowKey key;
    uint64_t trigger_frame = 0;
    uint64_t trigger_ts = 0;
    uint32_t triggers = 0;
    uint32_t flow_id = 0;
    uint8_t worker = 0;
    bool ended = false;
    bool left_out = false;     // a packet of it could not be written (another link type in a pcap file)
    uint64_t file_seq = 0;     // file of the open index entry
    size_t entry = 0;          // its position in pending_[file_seq]
    uint8_t tail_len = 0;      // "; slice=W-N " (the comment's tail but the role), made once
    char tail[31] = {};        // the longest: "; slice=255-72057594037927935 " (30)
  };
  struct Entry {
    Slice meta;                // the slice's flow and trigger (copied: the slice may end first)
    uint64_t slice = 0;
    uint64_t file_seq = 0;
    uint64_t offset = 0;
    uint64_t first_ts = 0, last_ts = 0;
    uint64_t file_first = 0, file_last = 0;
    uint32_t packets = 0, events = 0;  // its frames in FileEntries::frames
    bool continued = false, complete = false;
  };
  // A packet's frame number, for the index line of its entry.
  struct FrameRef {
    uint64_t frame;
    uint32_t entry;  // position in FileEntries::entries
    uint32_t event;  // the packet has verdicts or triggers (event_frames)
  };
  // The index entries of a file not yet completed, and the frames of all of them in one
  // list (written order): one growing array per file instead of two per entry. A completed
  // file's lists go back to spare_ with their capacity, for the next file.
  struct FileEntries {
    std::vector<Entry> entries;
    std::vector<FrameRef> frames;
  };

  explicit EvidenceSink(const SinkConfig& cfg);
  void file_done(const RotatingWriter::FileDone& d);
  // Whether a record of `record_link` can go to `w`: its own link type, or any in a pcapng
  // file (`link` set: the writer adds an interface); a pcap file counts link_mismatch.
  bool link_fits(const RotatingWriter& w, uint16_t record_link, uint32_t& link);
  // One JSON line for entry `e` of the file named by `file_json` (a JSON string), appended to `out`.
  static void append_index_line(std::string& out, const Entry& e, const std::string& file_json,
                                const uint64_t* frames, const uint64_t* event_frames);
  // A completed file's index lines, written and flushed together.
  void write_index_lines(const FileEntries& f, const std::string& file);
  void report(const std::string& msg);

  SinkConfig cfg_;
  std::unique_ptr<RotatingWriter> evidence_;
  std::unique_ptr<RotatingWriter> sample_;
  FILE* index_ = nullptr;
  bool index_reported_ = false;
  bool index_reopened_ = false;  // reopen_index() since the last line: close() makes the file
  std::map<uint64_t, Slice> slices_;  // by slice id (the worker is in its top byte)
  std::map<uint64_t, FileEntries> pending_;  // by file: entries of files not yet done
  std::vector<FileEntries> spare_;           // emptied lists of completed files (capacity kept)
  std::vector<uint64_t> by_entry_;           // write_index_lines' scratch: frames grouped by entry
  std::function<void(const std::string&)> on_error_;
  SinkCounters counters_;
  std::string comment_;               // the latest packet's (pcapng): comment_head_ + tail
  uint64_t comment_slice_ = 0;        // the tail's slice and role
  Role comment_role_ = Role::kNone;
  std::string comment_head_;          // append_comment_head(head_verdicts_, head_triggers_)
  uint32_t head_verdicts_ = 0, head_triggers_ = 0;
  bool head_valid_ = false;
  bool comments_ = false;             // the evidence files are pcapng (they carry comments)
  Slice* last_slice_ = nullptr;       // slices_[last_slice_id_], or nullptr
  uint64_t last_slice_id_ = 0;
  FileEntries* file_entries_ = nullptr;  // pending_[file_entries_seq_], or nullptr
  uint64_t file_entries_seq_ = 0;
};

}  // namespace seqwatch::evidence
