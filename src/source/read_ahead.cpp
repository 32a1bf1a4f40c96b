#include "source/read_ahead.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace seqwatch {

ReadAhead::~ReadAhead() {
  if (!started_) return;
  if (pending_) wait();
  state_.store(kStop, std::memory_order_release);
  state_.notify_one();
  thread_.join();
}

bool ReadAhead::request(uint8_t* dst, uint64_t off, uint64_t len) noexcept {
  if (pending_ || failed_) return false;
  dst_ = dst;
  off_ = off;
  len_ = len;
  if (!started_) {
    try {
      thread_ = std::thread([this] { loop(); });
    } catch (const std::system_error&) {
      failed_ = true;  // no thread (resource limits): the caller reads for itself
      return false;
    }
    started_ = true;
  }
  pending_ = true;
  state_.store(kRequested, std::memory_order_release);
  state_.notify_one();
  return true;
}

ReadAhead::Done ReadAhead::wait() noexcept {
  uint32_t s = state_.load(std::memory_order_acquire);
  if (s == kRequested) ++waits_;
  while (s == kRequested) {
    state_.wait(kRequested, std::memory_order_acquire);
    s = state_.load(std::memory_order_acquire);
  }
  pending_ = false;
  state_.store(kIdle, std::memory_order_relaxed);  // the helper sleeps on kIdle and kReady alike
  return Done{got_, err_};
}

void ReadAhead::loop() noexcept {
  pthread_setname_np(pthread_self(), "sw-read-ahead");  // as `top -H` and /proc/PID/task show it
  for (;;) {
    uint32_t s = state_.load(std::memory_order_acquire);
    if (s == kStop) return;
    if (s != kRequested) {
      state_.wait(s, std::memory_order_acquire);
      continue;
    }
    uint64_t got = 0;
    int err = 0;
    while (got < len_) {
      const ssize_t r = ::pread(fd_, dst_ + got, len_ - got, static_cast<off_t>(off_ + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) err = errno;
      if (r <= 0) break;
      got += static_cast<uint64_t>(r);
    }
    got_ = got;
    err_ = err;
    state_.store(kReady, std::memory_order_release);
    state_.notify_one();
  }
}

}  // namespace seqwatch
