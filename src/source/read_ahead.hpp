#pragma once

// One read at a time from a file, on a helper thread: while the reader parses one window of
// a capture, the next window's bytes are being copied out of the page cache on another core.
//
// MmapFileSource reads a capture through a buffer filled with pread(): the kernel's copy is
// ~20% of a single-worker `seqwatch analyze` (perf: `_copy_to_iter`), and it runs on the
// worker's core unless it is done ahead. Here it is: request() hands the helper a file range
// and a destination, wait() returns when the bytes are there. The helper blocks on a futex
// (std::atomic::wait) between requests; nothing spins. It inherits the CPU affinity of the
// thread that made the first request.

#include <atomic>
#include <cstdint>
#include <thread>

namespace seqwatch {

class ReadAhead {
 public:
  explicit ReadAhead(int fd) noexcept : fd_(fd) {}
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // Starts reading [off, off + len) into dst (the helper thread is started on the first
  // request). False when a request is already out or the thread cannot be started: the
  // caller reads for itself.
  bool request(uint8_t* dst, uint64_t off, uint64_t len) noexcept;
  bool pending() const noexcept { return pending_; }
  uint64_t pending_off() const noexcept { return off_; }

  struct Done {
    uint64_t got = 0;  // bytes read from off on: fewer than asked at the end of the file or on an error
    int err = 0;       // errno of a failed read, 0 otherwise
  };
  // Waits for the request out (there must be one) to end.
  Done wait() noexcept;

  uint64_t waits() const noexcept { return waits_; }  // requests not done yet when waited for

 private:
  enum State : uint32_t { kIdle, kRequested, kReady, kStop };
  void loop() noexcept;

  int fd_;
  std::thread thread_;
  bool started_ = false;
  bool failed_ = false;   // the thread could not be started: never tried again
  bool pending_ = false;  // the caller's view: a request is out and not yet waited for
  uint64_t waits_ = 0;
  // The request and its result: written by one side before the state store that hands
  // them over (release), read by the other after the load that sees it (acquire).
  uint8_t* dst_ = nullptr;
  uint64_t off_ = 0;
  uint64_t len_ = 0;
  uint64_t got_ = 0;
  int err_ = 0;
  std::atomic<uint32_t> state_{kIdle};
};

}  // namespace seqwatch
