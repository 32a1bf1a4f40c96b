// JSON-lines output of events and flow records (control path; schema: docs/events.md).
#pragma once

#include <cstdio>
#include <string>

#include "event/line_file.hpp"
#include "event/records.hpp"

namespace seqwatch::event {

std::string format_address(const flow::FlowKey& key, bool endpoint_b);

// Formats events and flow records as JSON lines (docs/events.md) into a LineFile.
class JsonLinesWriter {
 public:
  explicit JsonLinesWriter(LineFile& out) : out_(out) {}
  void write(const SegmentEvent& e);
  void write(const FlowRecord& r);

 private:
  LineFile& out_;
};

}  // namespace seqwatch::event
