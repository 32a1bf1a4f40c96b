// Summary and output helpers shared by `analyze` and `run` (control path).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "match/payload_matcher.hpp"
#include "runtime/worker.hpp"
#include "util/result.hpp"

namespace seqwatch::app {

// The decode / TCP shape / payload-rule part of a run's summary.
nlohmann::json summary_json(const runtime::WorkerState& st, const PayloadMatcher* matcher,
                            const std::vector<uint64_t>& rule_hits);
// Opens an output for JSON lines: "-" is stdout.
Result<std::FILE*> open_output(const std::string& path);
// The human summary (first part of the report).
void print_summary(std::FILE* out, const std::string& what, const runtime::WorkerState& st, const nlohmann::json& j,
                   uint64_t dropped);

}  // namespace seqwatch::app
