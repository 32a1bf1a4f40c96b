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
    regular_ = false;
    return true;
  }
  // A path that is not a regular file (/dev/null, a FIFO, a terminal) is written as it
  // is: never truncated, cut back or rotated (renaming /dev/null away would break the
  // host). Neither is a symbolic link rotated: the link would be renamed, not its file.
  struct stat lst{};
  const bool link = ::lstat(path_.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode);
  const bool exists_irregular = ::stat(path_.c_str(), &lst) == 0 && !S_ISREG(lst.st_mode);
  fd_ = ::open(path_.c_str(),
               O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append || exists_irregular ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) {
    need_open_ = true;
    failed("cannot open", errno, now_ns);
    return false;
  }
  struct stat st{};
  regular_ = fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
  rotatable_ = regular_ && !link;
  size_ = regular_ ? static_cast<uint64_t>(st.st_size) : 0;
  opened_ns_ = now_ns;
  need_open_ = false;
  return true;
}

void LineFile::close_fd() {
  if (fd_ >= 0 && !is_stdout() && ::close(fd_) != 0) {
    close_failed_ = true;  // NFS and quotas report here: what was written may be gone
    failed("closing", errno, now_ns_);
  }
  fd_ = -1;
}

// A failure is reported once (take_error) until a write succeeds again; every failure is
// counted, and the next attempt waits retry_ns.
void LineFile::failed(const std::string& what, int err, uint64_t now_ns) {
  ++c_.write_errors;
  if (!troubled_) error_ += (error_.empty() ? "" : "; ") + what + " '" + path_ + "': " + std::strerror(err);
  troubled_ = true;
  retry_at_ = std::max<uint64_t>(1, now_ns + opts_.retry_ns);
}

std::string LineFile::take_error() {
  std::string e;
  e.swap(error_);
  return e;
}

void LineFile::write(std::string_view line) {
  if (closed_) {  // nothing is written after close(): counted
    ++c_.lost;
    return;
  }
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
    if (opts_.rotate_bytes != 0 && rotatable_ && size_ + len > opts_.rotate_bytes && now_ns_ >= rotate_retry_at_) {
      const size_t room = size_ < opts_.rotate_bytes ? opts_.rotate_bytes - size_ : 0;
      const size_t cut = room == 0 ? std::string::npos : buf_.rfind('\n', pos + room - 1);
      if (cut != std::string::npos && cut >= pos) {
        len = cut + 1 - pos;
      } else if (size_ != 0) {  // not one more line fits: a new file
        rotate(now_ns_);  // if the rename failed, this file goes on past the limit until the retry
        if (fd_ < 0) {      // renamed, but the new file could not be opened (retried)
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
      if (!regular_) {
        // A pipe, terminal or device: what went out cannot be taken back. Those bytes are
        // consumed (the rest of a line begun goes first on the retry, so it completes).
        const auto lines = static_cast<uint64_t>(std::count(buf_.begin() + pos, buf_.begin() + pos + done, '\n'));
        c_.lines += lines;
        buf_lines_ -= lines;
        pos += done;
      } else if (done != 0 && ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
        // Cut the piece off again (shrinking a regular file needs no space).
        failed("cutting back a half-written line of", errno, now_ns_);
      }
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
  if (ok) troubled_ = false;
  return ok;
}

// PATH -> PATH.N (N counts up from the last one used, past names that exist), then a new
// PATH. False when the rename failed: the file stays open and is rotated again retry_ns
// later (writing goes on past the limit meanwhile rather than lose lines).
bool LineFile::rotate(uint64_t now_ns) {
  std::string to;
  struct stat st{};
  do to = path_ + "." + std::to_string(next_n_++);
  while (::lstat(to.c_str(), &st) == 0);
  if (std::rename(path_.c_str(), to.c_str()) != 0) {
    --next_n_;
    ++c_.write_errors;
    if (!rotate_troubled_)  // once, until a rotation succeeds
      error_ += (error_.empty() ? "" : "; ") + std::string("renaming '") + path_ + "' to '" + to + "' to rotate it: " +
                std::strerror(errno) + "; the file grows past the limit meanwhile";
    rotate_troubled_ = true;
    rotate_retry_at_ = now_ns + std::max<uint64_t>(opts_.retry_ns, 1);
    return false;
  }
  rotate_troubled_ = false;
  close_fd();
  ++c_.rotations;
  open_fd(false, now_ns);
  return true;
}

void LineFile::tick(uint64_t now_ns) {
  now_ns_ = now_ns;
  if (path_.empty() || closed_) return;
  if (retry_at_ != 0) {
    if (now_ns < retry_at_) return;
    retry_at_ = 0;
  }
  if (!write_out()) return;
  if (opts_.rotate_ns != 0 && fd_ >= 0 && rotatable_ && size_ != 0 && now_ns >= opened_ns_ + opts_.rotate_ns &&
      now_ns >= rotate_retry_at_)
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
  if (path_.empty() || closed_) return c_.lost == 0 && !close_failed_;
  closed_ = true;
  write_out();
  if (!buf_.empty()) {  // the last attempt failed too
    c_.lost += buf_lines_;
    buf_.clear();
    buf_lines_ = 0;
  }
  close_fd();
  return c_.lost == 0 && !close_failed_;
}

}  // namespace seqwatch::event
