// JSON-lines output of events and flow records (control path; schema: docs/events.md).
#pragma once

#include <cstdio>
#include <string>

#include "event/records.hpp"

namespace seqwatch::event {

std::string format_address(const flow::FlowKey& key, bool endpoint_b);

class JsonLinesWriter {
 public:
  explicit JsonLinesWriter(std::FILE* out) : out_(out) {}
  void write(const SegmentEvent& e);
  void write(const FlowRecord& r);
  bool ok() const noexcept { return !failed_; }
  uint64_t written() const noexcept { return written_; }
  void flush();

 private:
  void emit(const std::string& line);
  std::FILE* out_;
  bool failed_ = false;
  uint64_t written_ = 0;
};

}  // namespace seqwatch::event
