// CLI commands. Each returns the process exit code.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace seqwatch::app {

// Says "seqwatch: error: MSG" on stderr; returns exit status 1.
inline int fail(const std::string& msg) {
  std::fprintf(stderr, "seqwatch: error: %s\n", msg.c_str());
  return 1;
}

struct AnalyzeOptions {
  std::string file;
  std::string source = "auto";  // auto | dpdk | file
  std::string rules;            // payload rules file ("" = none)
  std::string json_out;         // write the summary as JSON here ("" = no)
  std::string events_out;       // segment events as JSON lines ("-" = stdout, "" = none)
  std::string flows_out;        // flow records as JSON lines ("-" = stdout, "" = none)
  uint32_t flow_capacity = 1u << 20;
  double idle_timeout_s = 3600.0;
  double active_timeout_s = 0.0;  // 0 = off
  size_t top = 10;
  bool ignore_vlans = false;
  double copy_window_ms = 100;  // exact copies within this window: duplicate_packet, not analysed (0 = off)
  double close_wait_s = 60;     // a half-closed connection silent this long: reported as left half-closed
  unsigned memory_mb = 512;
  unsigned workers = 1;         // > 1: software rehash over this many workers
  // Evidence (analyze --evidence DIR, and `extract`): the evidence.* section of a
  // configuration (defaults, --config file, --set overrides) written into this folder.
  std::string evidence_dir;     // "" = no evidence
  std::string config;           // optional configuration file (its evidence section is used)
  std::vector<std::string> sets;  // --set key.path=value overrides
  // `extract`: no per-worker rate budget and no per-flow budget on the slices (everything
  // the triggers ask for; the appliance's budgets protect a live control thread and disk).
  bool evidence_unbudgeted = false;
  // Overrides `extract` built from its flags: a message about one names the flag the user
  // typed ("--trim 5: ...") instead of the generated --set.
  struct SetWords {
    std::string set;    // as in `sets`: "evidence.trim=5"
    std::string key;    // the key path the messages name: "evidence.trim", "evidence.triggers[1]"
    std::string words;  // "--trim 5"
  };
  std::vector<SetWords> set_words;
};

// `extract`: trimmed evidence slices from a capture; the flags become evidence.* settings.
struct ExtractOptions {
  std::string file;
  std::string out_dir;
  std::vector<std::string> triggers;  // rst | ack_inside_segment | syn_unanswered | dup_ack_run:N |
                                      // retransmission_storm:N/MS | zero_window:MS | payload:ID
  std::vector<std::string> bpf;       // trigger BPF expressions
  std::vector<std::string> flows;     // "A:P-B:P": both directions of one connection
  std::string filter;                 // capture filter (BPF)
  int pre = -1, post = -1;            // history K / post-trigger M (-1 = config default)
  std::string trim;                   // "headers" or a byte count
  std::string format;                 // pcap | pcapng
  uint32_t sample_one_in = 0;
  bool ignore_vlans = false;
  unsigned workers = 1;
  std::string rules;                  // payload rules file (payload:RULE_ID triggers name its ids)
};

struct RunOptions {
  std::string pipeline;           // pipelines/NAME.yaml (overlay on the defaults)
  std::string config;             // optional base file (config/seqwatch.yaml holds the defaults)
  std::vector<std::string> sets;  // --set key.path=value
  std::string out_dir;            // overrides outputs.dir (no run subfolder)
  double duration_s = 0;          // stop after this long (0 = until SIGINT/SIGTERM)
  bool show_config = false;       // print the effective configuration and exit
};

int analyze(const AnalyzeOptions& opts);
int run_pipeline(const RunOptions& opts);
int extract(const ExtractOptions& opts);
int version();

}  // namespace seqwatch::app
