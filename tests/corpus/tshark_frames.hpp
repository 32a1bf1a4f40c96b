// tshark as the reference decoder: one `tshark -T fields` run per capture file, each
// output line turned into a FrameModel.
//
// frame.protocols gives the order of the layers; every other field comes as the list
// of all its occurrences in the frame (-E occurrence=a), so the k-th "ip" in
// frame.protocols owns the k-th ip.src, the k-th "tcp" the k-th tcp.srcport, and so on.
// IP reassembly is off (-o ip.defragment:FALSE, ipv6.defragment:FALSE) so each frame is
// dissected on its own, as seqwatch decodes it; TCP reassembly and sequence analysis are
// off too (they do not change any header field, only add work and reassembly "errors").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "frame_model.hpp"

#include "support/tshark.hpp"

namespace seqwatch::corpus {

using seqwatch::test::tshark_version;            // tests/support/tshark.hpp
using seqwatch::test::tshark_version_is_pinned;

struct TsharkRun {
  std::vector<FrameModel> frames;
  int exit_status = 0;      // tshark's exit code (2 for a file cut short mid-packet)
  std::string stderr_text;  // without tshark's "Running as user root" notice
  std::string error;        // set when tshark could not be run or its output not parsed
};

TsharkRun run_tshark(const std::string& capture_path);

// The -e fields requested, in output column order, and the parser of one output line
// (exposed for the harness's own tests).
const std::vector<std::string>& tshark_field_names();
std::optional<FrameModel> parse_tshark_line(const std::string& line, std::string& error);

}  // namespace seqwatch::corpus
