// Evidence on the control thread, shared by `run`, `analyze --evidence` and `extract`:
// the configuration mapped onto the evidence library, and the sink that drains every
// worker's evidence ring into rotated pcap/pcapng files plus their index.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>

#include "config/config.hpp"
#include "evidence/sink.hpp"
#include "runtime/engine.hpp"
#include "util/result.hpp"

namespace seqwatch::app {

// config::EvidenceConfig -> the engine's per-worker setup (history, triggers, budgets,
// sampling, trigger filters). `flow_capacity` sizes the history slots (at most 2^15 per
// worker: a slot holds K trimmed packets, see docs/evidence.md).
Result<runtime::EvidenceSetup> evidence_setup(const config::EvidenceConfig& ev, uint32_t flow_capacity);

// BPF filters as native code: where the EAL runs and `evidence.bpf_jit` allows it; otherwise
// the reason, reported with each filter in the summary (`bpf_filters[].why`).
void set_bpf_jit(runtime::EngineConfig& ec, const config::EvidenceConfig& ev);

// The files: pcap or pcapng in `dir`, rotated by size / time, with the index.
// The sink keeps as many open slices as can be open at once: every flow slot of each of
// the `workers` workers (setup.capture.flow_slots each).
evidence::SinkConfig evidence_sink_config(const config::EvidenceConfig& ev, const std::string& dir,
                                          decode::LinkType link, const runtime::EvidenceSetup& setup,
                                          unsigned workers);

class EvidenceOutput {
 public:
  // global_budget_bytes: records beyond it are drained and counted, not written (0 = none).
  static Result<std::unique_ptr<EvidenceOutput>> create(const evidence::SinkConfig& cfg, uint64_t global_budget_bytes);
  uint32_t drain(evidence::RecordRing& ring);
  void tick(uint64_t now_ns) { sink_->tick(now_ns); }
  void close() { sink_->close(); }
  void reopen_index() { sink_->reopen_index(); }  // SIGHUP: log rotation
  nlohmann::json summary(const runtime::Engine& engine) const;
  // One line for the summary: packets, files, and every loss or refusal (never silent).
  std::string describe(const runtime::Engine& engine) const;
  // Everything handed to the files was written: no failed evidence or sample file, no
  // lost index line (the exit status of analyze, extract and run says so).
  bool complete() const;

 private:
  const evidence::WriterCounters& sample_counters() const;
  std::unique_ptr<evidence::EvidenceSink> sink_;
  uint64_t budget_ = 0;
  uint64_t over_budget_ = 0;         // packets refused once the byte budget was spent
  uint64_t over_budget_slices_ = 0;  // slices not opened then
  std::unordered_set<uint64_t> budget_cut_;  // open slices that lost packets to it (complete: false)
  std::string dir_;
};

}  // namespace seqwatch::app
