// Queue imbalance, core skew and their diagnosis (control path only).
//
// Figures: packets per RX queue over the imbalance window -> coefficient of variation
// (population stddev / mean) and busiest / mean; busy cycles per worker -> core skew
// (busiest / mean). Crossing a threshold of config::ImbalanceConfig raises an event once
// (and a "cleared" event when it ends), with a diagnosis computed from the workers' flow
// samples (1 packet in runtime::kSampleEvery: outer hash, inner hash, tunnelled, worker):
//   * tunnel: most packets are tunnelled, few outer flows carry the traffic, and the
//     inner hash, spread over the same number of queues the way the software rehash
//     does it, would give a low CV -> "enable software rehash on port P";
//   * elephant: one inner flow carries most of one queue -> no hash can split it;
//   * few flows: a handful of inner flows carry 95% of the traffic;
//   * hash: none of these; the NIC's hash spreads the flows unevenly.
// Drops (imissed, rx_nombuf, ierrors, rehash ring full, event ring full) are events on
// every evaluation that saw new ones, with the reason read from the workers' busy ratio.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "flow/flow_key.hpp"
#include "telemetry/snapshot.hpp"

namespace seqwatch::telemetry {

// runtime::FlowSample without the runtime headers.
struct Sample {
  uint64_t outer_hash = 0;
  uint64_t inner_hash = 0;
  uint32_t wirelen = 0;
  uint8_t worker = 0;
  bool tunneled = false;
  bool inner_cut = false;  // tunnelled, cut before the inner IP header (inner_hash is then the outer pair's)
};

// Population coefficient of variation (0 for fewer than two values or a zero mean).
double coefficient_of_variation(const std::vector<double>& v);
// max / mean (0 for an empty or all-zero vector).
double max_over_mean(const std::vector<double>& v);
// The queue (worker) a hash lands on among n, exactly as the software rehash stage picks
// a worker (runtime::Engine::pick_worker): bits 32..63 scaled to n.
inline unsigned hash_to_queue(uint64_t h, unsigned n) noexcept { return flow::spread_index(h, n); }

// Computes Diagnosis from samples: tunnel share, outer/inner flow counts (all and the
// fewest carrying 95%), the CV the inner and outer hashes would give over `queues`, and
// the largest single inner flow's share of the worker (= RSS queue) it was sampled on
// (workers with fewer than kMinQueueSamples samples are not judged).
inline constexpr uint64_t kMinQueueSamples = 32;
Diagnosis diagnose(const std::vector<Sample>& samples, unsigned queues);

struct MonitorConfig {
  double window_s = 10;
  double stats_interval_s = 10;
  double queue_cv_threshold = 0.5;
  double max_mean_threshold = 2.0;
  double core_skew_threshold = 1.5;
  uint64_t min_packets = 10000;
  // One inner flow carrying more than this share of a queue's packets is an elephant.
  double elephant_share = 0.5;
  // A worker busier than this is "too slow" when its port misses packets.
  double slow_busy_ratio = 0.9;
  // Samples kept for the diagnosis (the oldest beyond it are forgotten): 65536 samples
  // are 4M packets at 1 in 64, enough for a 10 s window at 400 kpps, 1.5 MiB of memory.
  size_t max_samples = 1u << 16;
};
MonitorConfig monitor_config(const config::Config& cfg);

// Keeps the window's history, derives the window figures into each snapshot and raises
// the events. One instance on the control thread; not thread-safe.
class Monitor {
 public:
  explicit Monitor(MonitorConfig cfg) : cfg_(cfg) {}

  void add_sample(const Sample& s);
  // The counters at the start of the run (elapsed_s 0, before any packet): the base of the
  // first window and of the first evaluation, so a run shorter than one stats interval is
  // still judged over all its packets (see update's `final`).
  void start(const Snapshot& s);
  // Fills the window figures of `s` (worker busy_ratio / cycles_per_packet / pps,
  // imbalance, worker_balance, core_skew, diagnosis) from the history, and every
  // stats_interval_s evaluates the thresholds. Returns the JSON lines for the stats file:
  // a stats line each interval plus one line per event raised or cleared.
  // `final` (the end of the run: the last counters, after the workers stopped) evaluates
  // whatever time has passed since the last evaluation and marks the stats line "final".
  std::vector<nlohmann::json> update(Snapshot& s, bool final = false);

  // Every event raised so far (most recent last, at most kMaxEvents kept).
  const std::deque<nlohmann::json>& events() const noexcept { return events_; }
  static constexpr size_t kMaxEvents = 256;

 private:
  struct TimedSample {
    double t;
    Sample s;
  };
  const Snapshot& window_base(double now) const;
  void derive(Snapshot& s, const Snapshot& base) const;
  void evaluate(const Snapshot& s, const Snapshot& prev, std::vector<nlohmann::json>& out);
  std::pair<std::string, std::string> rehash_skew_reason(const Diagnosis& d, unsigned worker, unsigned workers) const;
  void emit(const Snapshot& s, nlohmann::json ev, std::vector<nlohmann::json>& out);

  MonitorConfig cfg_;
  std::deque<Snapshot> history_;           // counters only (retrans dropped)
  std::deque<TimedSample> samples_;
  double now_ = 0;                          // elapsed_s of the last update
  double last_eval_ = -1e300;
  Snapshot last_eval_snap_;
  bool have_eval_ = false;
  std::map<std::string, bool> active_;     // raised conditions, by key
  std::deque<nlohmann::json> events_;
};

}  // namespace seqwatch::telemetry
