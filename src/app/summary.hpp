// Summary and output helpers shared by `analyze` and `run` (control path).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/report.hpp"
#include "event/line_file.hpp"
#include "match/payload_matcher.hpp"
#include "runtime/engine.hpp"
#include "runtime/worker.hpp"
#include "util/result.hpp"

namespace seqwatch::app {

// The decode / TCP shape / payload-rule part of a run's summary.
nlohmann::json summary_json(const runtime::WorkerState& st, const PayloadMatcher* matcher,
                            const std::vector<uint64_t>& rule_hits);
// Two outputs named the same file would overwrite each other: the message naming both
// settings, or "" when every path is distinct ("" paths are outputs turned off; "-" is
// standard output, which two outputs may share as whole lines, and so may /dev/null, a FIFO or
// anything else that exists and is not a regular file).
std::string same_output(const std::vector<std::pair<std::string, std::string>>& setting_and_path);
// libpcap's error when it stops reading a capture, with a hint where the stop is libpcap's
// limit rather than damage (a pcapng file with interfaces of several link types, which
// seqwatch's own reader, `analyze --source auto`, reads whole).
std::string explain_libpcap_stop(const std::string& err);
// An output named the capture being read would truncate it before (or while) it is read:
// the message naming the setting and the input, or "" when no output is an input (the same
// file by path, by symbolic link or by hard link).
std::string output_is_input(const std::vector<std::pair<std::string, std::string>>& setting_and_path,
                            const std::vector<std::string>& inputs);
// A JSON-lines file's counters for the summary (lines written and lost, errors, rotations).
nlohmann::json line_file_json(const event::LineFile& f);
// The summary as indented JSON to `path` ("-" = standard output); false when it failed.
bool write_summary(const std::string& path, const nlohmann::json& j);
// Why a file could not be written at `path` (a folder, its folder missing or not writable,
// a file system that refuses it), found without changing an existing file: checked at the
// start for every output, so that a long run does not end in that error (the summary) and a
// refused start empties no earlier run's file; "" = fine.
std::string output_file_problem(const std::string& path);
// Why files could not be written into the folder `path` (an existing file, no permission,
// a parent that cannot hold it), checked at the start; "" = fine. A folder that does not
// exist is created and removed again to ask the system.
std::string folder_problem(const std::string& path);
// Runs `print` (the human report); false when writing it failed (fmt throws on a write
// error, e.g. standard output piped to a reader that has gone: SIGPIPE is ignored).
template <class F>
bool print_or_fail(F&& print) {
  try {
    print();
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "seqwatch: the report could not be written: %s\n", e.what());
    return false;
  }
}
// The human summary (first part of the report).
void print_summary(std::FILE* out, const std::string& what, const runtime::WorkerState& st, const nlohmann::json& j,
                   uint64_t dropped);

// The whole summary of an engine run: decode, TCP shape, payload rules (summed over
// workers), the retransmission report, workers / rehash, flow table and output counters.
// Adds the verdict counts to `report` first.
nlohmann::json engine_summary(const runtime::Engine& engine, const PayloadMatcher* matcher, RetransReport& report,
                              size_t top_n);
// The human report of an engine run: summary, workers, retransmissions, flow table, losses.
void print_engine_report(std::FILE* out, const std::string& title, const runtime::Engine& engine,
                         const RetransReport& report, const nlohmann::json& j, size_t top_n);

}  // namespace seqwatch::app
