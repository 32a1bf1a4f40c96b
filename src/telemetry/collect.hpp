// The live side of telemetry, for `seqwatch run`: reads the engine's per-worker state and
// the DPDK ports into a Snapshot, keeps the Monitor (window figures, events), publishes
// to the HTTP exporter and the DPDK telemetry commands. Compiled into the executable
// (it reads runtime::Engine and rte_eth_stats); runs on the control thread only.
//
// Reading counters that workers write, without stopping them, is safe for the same
// reason as the stats lines: every counter is a naturally aligned 64-bit word, so a
// snapshot may mix two bursts but never tears a value.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "runtime/dpdk_source.hpp"
#include "runtime/engine.hpp"
#include "telemetry/exporter.hpp"
#include "telemetry/imbalance.hpp"
#include "telemetry/snapshot.hpp"
#include "util/result.hpp"

namespace seqwatch::telemetry {

// One snapshot of the engine and its queues. `queues` in the order run.cpp opened them
// (configuration order): the k-th distinct DPDK port among them is cfg.ports[k].
Snapshot collect(const runtime::Engine& engine, const std::vector<const runtime::DpdkPortSource*>& queues,
                 const std::vector<config::PortConfig>& ports);

class LiveTelemetry {
 public:
  LiveTelemetry(const config::Config& cfg, const runtime::Engine& engine,
                std::vector<const runtime::DpdkPortSource*> queues);
  ~LiveTelemetry();  // stops the HTTP server, detaches the DPDK commands

  // Starts what telemetry.* enables: the HTTP exporter (/metrics, /api/snapshot) and the
  // DPDK telemetry commands. The error says which listen address failed and why.
  Result<bool> start();
  // The HTTP port actually bound (0 when the exporter is off).
  uint16_t http_port() const noexcept;

  // EngineSinks::on_sample (EngineConfig::flow_samples must be on).
  void add_sample(const runtime::FlowSample& s);

  // Before the engine runs: the zero counters every window and evaluation starts from.
  void begin();

  // Call from EngineSinks::on_tick. At most once per publish period (1 s, or the stats
  // interval when shorter) it collects and publishes a snapshot; `retrans` (may be empty)
  // supplies the retransmission report for it. Returns the JSON lines for the stats file:
  // a stats line every outputs.stats_interval_s and one line per imbalance/drop event.
  std::vector<std::string> tick(double elapsed_s, const std::function<nlohmann::json()>& retrans = {});

  // After the engine has stopped (every worker done, every ring drained): collects the
  // last counters and evaluates them whatever the interval, so imbalance and drops are
  // judged even when the run was shorter than outputs.stats_interval_s (a short replay).
  // Returns the lines for the stats file: a stats line with "final": true, then any events.
  std::vector<std::string> finish(double elapsed_s, const std::function<nlohmann::json()>& retrans = {});

  // Events raised so far (for the final summary).
  nlohmann::json events() const;

 private:
  const config::Config& cfg_;
  const runtime::Engine& engine_;
  std::vector<const runtime::DpdkPortSource*> queues_;
  Monitor monitor_;
  SnapshotStore store_;
  std::unique_ptr<HttpExporter> http_;
  bool dpdk_attached_ = false;
  double period_s_ = 1;
  double last_publish_ = -1e300;
};

}  // namespace seqwatch::telemetry
