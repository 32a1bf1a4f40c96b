// LineFile: whole lines or nothing, losses counted (line_file.hpp).
#include "event/line_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace seqwatch::event {

LineFile::~LineFile() { close(); }

bool LineFile::open(const std::string& path, bool append, const LineFileOptions& opts, uint64_t now_ns) {
  path_ = path;
  opts_ = opts;
  closed_ = false;
  now_ns_ = now_ns;
  return open_fd(append, now_ns);
}

bool LineFile::open_fd(bool append, uint64_t now_ns) {
  if (is_stdout()) {
    fd_ = STDOUT_FILENO;
    need_open_ = false;
    return true;
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) {
    need_open_ = true;
    failed("cannot open", errno, now_ns);
    return false;
  }
  struct stat st{};
  size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  opened_ns_ = now_ns;
  need_open_ = false;
  return true;
}

void LineFile::close_fd() {
  if (fd_ >= 0 && !is_stdout() && ::close(fd_) != 0) failed("closing", errno, now_ns_);
  fd_ = -1;
}

void LineFile::failed(const std::string& what, int err, uint64_t now_ns) {
  ++c_.write_errors;
  error_ = what + " '" + path_ + "': " + std::strerror(err);
  retry_at_ = std::max<uint64_t>(1, now_ns + opts_.retry_ns);
}

std::string LineFile::take_error() {
  std::string e;
  e.swap(error_);
  return e;
}

void LineFile::write(std::string_view line) {
  const bool newline = !line.empty() && line.back() == '\n';
  const size_t n = line.size() + (newline ? 0 : 1);
  if (buf_.size() + n > opts_.hold_bytes && retry_at_ == 0) write_out();
  if (buf_.size() + n > opts_.hold_bytes && !buf_.empty()) {  // the file cannot take it: counted
    ++c_.lost;
    return;
  }
  buf_.append(line);
  if (!newline) buf_.push_back('\n');
  ++buf_lines_;
  if (buf_.size() >= opts_.flush_bytes && retry_at_ == 0) write_out();
}

// Writes the buffer in pieces that end with a line and keep each file under rotate_bytes
// (a single longer line gets a file of its own). On a failed write the piece's bytes that
// reached the file are cut off again, and the rest of the buffer waits for the retry.
bool LineFile::write_out() {
  if (buf_.empty()) return true;
  if (fd_ < 0 || need_open_) {
    if (fd_ >= 0) close_fd();
    if (!open_fd(true, now_ns_)) return false;
  }
  size_t pos = 0;
  bool ok = true;
  while (pos < buf_.size()) {
    size_t len = buf_.size() - pos;
    if (opts_.rotate_bytes != 0 && !is_stdout() && size_ + len > opts_.rotate_bytes) {
      const size_t room = size_ < opts_.rotate_bytes ? opts_.rotate_bytes - size_ : 0;
      const size_t cut = room == 0 ? std::string::npos : buf_.rfind('\n', pos + room - 1);
      if (cut != std::string::npos && cut >= pos) {
        len = cut + 1 - pos;
      } else if (size_ != 0) {  // not one more line fits: a new file
        rotate(now_ns_);
        if (fd_ < 0) {
          ok = false;
          break;
        }
        continue;
      } else {  // an empty file and a line longer than the limit: the line alone
        len = buf_.find('\n', pos) + 1 - pos;
      }
    }
    size_t done = 0;
    int err = 0;
    while (done < len) {
      const ssize_t w = ::write(fd_, buf_.data() + pos + done, len - done);
      if (w > 0) {
        done += static_cast<size_t>(w);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else {
        err = w < 0 ? errno : ENOSPC;
        break;
      }
    }
    if (err != 0) {
      if (is_stdout()) {  // a pipe or terminal: nothing to cut back, the buffer is lost
        const auto lines = static_cast<uint64_t>(std::count(buf_.begin(), buf_.end(), '\n'));
        c_.lost += lines;
        buf_.clear();
        buf_lines_ = 0;
        failed("writing to", err, now_ns_);
        return false;
      }
      // Cut the piece off again (shrinking a regular file needs no space).
      if (done != 0 && ftruncate(fd_, static_cast<off_t>(size_)) != 0) failed("cutting back", errno, now_ns_);
      failed("writing", err, now_ns_);
      ok = false;
      break;
    }
    const auto lines = static_cast<uint64_t>(std::count(buf_.begin() + pos, buf_.begin() + pos + len, '\n'));
    c_.lines += lines;
    buf_lines_ -= lines;
    size_ += len;
    pos += len;
  }
  buf_.erase(0, pos);
  return ok;
}

void LineFile::rotate(uint64_t now_ns) {
  close_fd();
  for (uint64_t n = 1;; ++n) {
    const std::string to = path_ + "." + std::to_string(n);
    struct stat st{};
    if (::stat(to.c_str(), &st) == 0) continue;
    if (std::rename(path_.c_str(), to.c_str()) == 0) {
      ++c_.rotations;
      open_fd(false, now_ns);
    } else {  // keep writing to the same file rather than lose lines
      failed("rotating", errno, now_ns);
      retry_at_ = 0;  // the file itself is fine
      open_fd(true, now_ns);
    }
    return;
  }
}

void LineFile::tick(uint64_t now_ns) {
  now_ns_ = now_ns;
  if (path_.empty() || closed_) return;
  if (retry_at_ != 0) {
    if (now_ns < retry_at_) return;
    retry_at_ = 0;
  }
  if (!write_out()) return;
  if (opts_.rotate_ns != 0 && fd_ >= 0 && !is_stdout() && size_ != 0 && now_ns - opened_ns_ >= opts_.rotate_ns)
    rotate(now_ns);
}

void LineFile::reopen(uint64_t now_ns) {
  now_ns_ = now_ns;
  if (path_.empty() || closed_ || is_stdout()) return;
  if (retry_at_ == 0) write_out();  // what is buffered belongs to the old file
  close_fd();
  ++c_.reopens;
  retry_at_ = 0;
  open_fd(true, now_ns);
}

bool LineFile::close() {
  if (path_.empty() || closed_) return c_.lost == 0;
  closed_ = true;
  write_out();
  if (!buf_.empty()) {  // the last attempt failed too
    c_.lost += buf_lines_;
    buf_.clear();
    buf_lines_ = 0;
  }
  close_fd();
  return c_.lost == 0;
}

}  // namespace seqwatch::event
