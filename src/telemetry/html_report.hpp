// `seqwatch report RUN_DIR`: one self-contained HTML file describing a run folder
// (summary.json, stats.jsonl, flows.jsonl, events.jsonl, evidence/evidence-index.jsonl;
// each optional). Charts are inline SVG drawn here, styles inline, a few lines of inline
// JavaScript for sorting tables; nothing is fetched from the network, so the file can be
// mailed or opened on an air-gapped host. Links to evidence files are relative to the
// run folder (open the report from there).
#pragma once

#include <string>

namespace seqwatch::telemetry {

// Writes the report of `run_dir` to `out` ("" = RUN_DIR/report.html). Returns 0, or 1
// with a message on stderr when the folder holds nothing to report or `out` cannot be
// written.
int html_report_main(const std::string& run_dir, const std::string& out);

// The HTML itself (for tests).
std::string render_html_report(const std::string& run_dir);

}  // namespace seqwatch::telemetry
