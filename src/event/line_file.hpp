// A JSON-lines output file of the control thread (events, flow records, stats lines) that
// never leaves a broken line and never loses a line without counting it.
//
// Lines are gathered in a buffer and written with write(2) as whole lines. When a write
// fails (disk full, file too large, I/O error), whatever part of it reached the file is cut
// off again (ftruncate to the last complete line), the lines stay in the buffer, and the
// write is tried again after `retry_ns`; lines that no longer fit in `hold_bytes` while the
// file cannot be written are dropped and counted in `lost`. The file is rotated by size
// and/or age: the full file is renamed PATH.N (the next free N from 1) and a new PATH begun,
// so `tail -F PATH` follows it. SIGHUP's convention (the file was renamed away by logrotate)
// is `reopen()`: a failed open is retried on every `tick` and counted, never given up.
// "-" is standard output: never truncated, rotated or re-opened; neither is a path that is
// not a regular file (/dev/null, a FIFO) rotated or cut back, nor a symbolic link rotated.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace seqwatch::event {

struct LineFileOptions {
  uint64_t rotate_bytes = 0;               // new file at this size; 0 = never
  uint64_t rotate_ns = 0;                  // or when the file is this old (tick's clock); 0 = never
  size_t flush_bytes = 64 << 10;           // write once the buffer holds this much
  size_t hold_bytes = 8 << 20;             // lines kept while the file cannot be written
  uint64_t retry_ns = 1'000'000'000;       // retry a failed write or open this long after
};

struct LineFileCounters {
  uint64_t lines = 0;         // lines written to a file
  uint64_t lost = 0;          // lines dropped: the file could not be written and the buffer was full
  uint64_t write_errors = 0;  // failed writes, opens and renames
  uint64_t rotations = 0;     // files completed by rotation
  uint64_t reopens = 0;       // files re-opened (SIGHUP)
};

class LineFile {
 public:
  LineFile() = default;
  LineFile(const LineFile&) = delete;
  LineFile& operator=(const LineFile&) = delete;
  ~LineFile();

  // Opens PATH ("-" = standard output), truncating it unless `append`. On failure returns
  // false with `error()` set; the object stays usable (a later reopen may succeed).
  bool open(const std::string& path, bool append, const LineFileOptions& opts, uint64_t now_ns);
  // One complete line; `line` ends with '\n' (added when it does not).
  void write(std::string_view line);
  // Housekeeping on the control thread's clock: retries, rotation by age.
  void tick(uint64_t now_ns);
  // SIGHUP: write what is buffered to the old file, then open PATH again (append).
  void reopen(uint64_t now_ns);
  // Writes everything and closes. True when no line was lost and every write succeeded
  // in the end (the counters say what happened on the way).
  bool close();

  bool is_open() const noexcept { return fd_ >= 0; }
  bool is_stdout() const noexcept { return path_ == "-"; }
  const std::string& path() const noexcept { return path_; }
  const LineFileCounters& counters() const noexcept { return c_; }
  // The latest failure, once: empty when nothing new went wrong since the last call.
  std::string take_error();

 private:
  bool write_out();  // the buffer to the file; false when it failed (buffer kept)
  bool open_fd(bool append, uint64_t now_ns);
  void close_fd();
  bool rotate(uint64_t now_ns);
  void failed(const std::string& what, int err, uint64_t now_ns);

  std::string path_;
  LineFileOptions opts_;
  int fd_ = -1;
  std::string buf_;
  uint64_t buf_lines_ = 0;
  uint64_t size_ = 0;          // bytes of complete lines in the file
  uint64_t opened_ns_ = 0;
  uint64_t now_ns_ = 0;        // latest tick
  uint64_t retry_at_ = 0;      // while failing: next attempt (0 = not failing)
  bool need_open_ = false;     // the file must be (re-)opened before the next write
  bool closed_ = false;
  bool regular_ = false;       // a regular file: a failed write can be cut back
  bool rotatable_ = false;     // a regular file reached by its own name (not a symbolic link)
  bool troubled_ = false;      // failing since the last successful write (reported once)
  bool close_failed_ = false;
  bool rotate_troubled_ = false;  // the latest rotation failed (reported once)
  uint64_t next_n_ = 1;        // rotation: the next PATH.N to try
  uint64_t rotate_retry_at_ = 0;  // a failed rotation is tried again then
  std::string error_;
  LineFileCounters c_;
};

}  // namespace seqwatch::event
