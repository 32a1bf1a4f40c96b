// Imbalance math, diagnosis on synthetic samples, Monitor events, the Prometheus
// exposition text, the snapshot JSON round trip and `top` rendering of a known snapshot.
#include <gtest/gtest.h>

#include <random>
// GCC 12 reports a false -Wmaybe-uninitialized inside std::regex's NFA at -O2 with the
// sanitizers (GCC bug 105562); this test file only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Likewise a false -Warray-bounds inside std::map<std::string, ...>'s node construction
// (std::tuple, GCC bug 107087 family), inlined into Monitor::update's callers here.
#pragma GCC diagnostic ignored "-Warray-bounds"
#include <regex>
#include <sstream>

#include "fixtures.hpp"
#include "telemetry/exporter.hpp"
#include "telemetry/imbalance.hpp"
#include "telemetry/top.hpp"

namespace seqwatch::telemetry {
namespace {

using testing::cut_gre_samples;
using testing::gre_samples;
using testing::make_snapshot;

TEST(Imbalance, CoefficientOfVariation) {
  EXPECT_DOUBLE_EQ(coefficient_of_variation({5, 5, 5, 5}), 0.0);
  // mean 2, population stddev sqrt(((0-2)^2*3 + (8-2)^2)/4) = sqrt(12) -> CV sqrt(12)/2
  EXPECT_NEAR(coefficient_of_variation({0, 0, 0, 8}), std::sqrt(12.0) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(coefficient_of_variation({}), 0.0);
  EXPECT_DOUBLE_EQ(coefficient_of_variation({0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(max_over_mean({1, 1, 1, 5}), 2.5);
  EXPECT_DOUBLE_EQ(max_over_mean({0, 0}), 0.0);
}

TEST(Imbalance, HashToQueueMatchesTheRehashStage) {
  // Engine::pick_worker: ((h >> 32) * n) >> 32
  EXPECT_EQ(hash_to_queue(0, 4), 0u);
  EXPECT_EQ(hash_to_queue(~0ull, 4), 3u);
  EXPECT_EQ(hash_to_queue(0x8000000000000000ull, 4), 2u);
  std::mt19937_64 rng(1);
  std::vector<double> q(4);
  for (int i = 0; i < 100000; ++i) q[hash_to_queue(rng(), 4)] += 1;
  EXPECT_LT(coefficient_of_variation(q), 0.02);
}

TEST(Diagnose, GreFewOuterFlowsManyInner) {
  // 3 outer flows (GRE tunnel endpoints) on queues 0, 0, 1 of 4; 5000 inner flows.
  const auto samples = gre_samples(20000, {0, 0, 1}, 5000);
  const Diagnosis d = diagnose(samples, 4);
  EXPECT_EQ(d.samples, 20000u);
  EXPECT_DOUBLE_EQ(d.tunneled_share, 1.0);
  EXPECT_EQ(d.outer_flows, 3u);
  EXPECT_EQ(d.outer_flows_95, 3u);
  EXPECT_GT(d.inner_flows_95, 1000u);
  EXPECT_LT(d.predicted_inner_cv, 0.1);
  EXPECT_LT(d.elephant_share, 0.05);  // many inner flows per queue: no elephant
}

TEST(Diagnose, Elephant) {
  std::mt19937_64 rng(3);
  std::vector<Sample> v;
  for (int i = 0; i < 8000; ++i) v.push_back({rng(), rng(), 100, static_cast<uint8_t>(i % 4), false});
  for (int i = 0; i < 3000; ++i) v.push_back({42, 4242, 1500, 3, false});  // one flow on queue 3
  const Diagnosis d = diagnose(v, 4);
  EXPECT_EQ(d.elephant_queue, 3);
  EXPECT_NEAR(d.elephant_share, 3000.0 / 5000.0, 1e-9);
  EXPECT_DOUBLE_EQ(d.tunneled_share, 0.0);
}

// Tunnels cut before their inner IP header look like a few huge flows (one per tunnel):
// they are counted as cut, and no elephant is made of them.
TEST(Diagnose, TunnelsCutBeforeTheInnerHeaderAreNoElephant) {
  std::vector<Sample> v = cut_gre_samples(6000, {3, 3, 1}, 5000);
  std::mt19937_64 rng(4);
  for (int i = 0; i < 2000; ++i) v.push_back({rng(), rng(), 100, static_cast<uint8_t>(i % 4), false});
  const Diagnosis d = diagnose(v, 4);
  EXPECT_NEAR(d.inner_cut_share, 6000.0 / 8000.0, 1e-9);
  EXPECT_NEAR(d.tunneled_share, 6000.0 / 8000.0, 1e-9);
  EXPECT_EQ(d.inner_cut_queue, 3);
  EXPECT_GT(d.inner_cut_queue_share, 0.85);  // ~4000 cut of ~4500 samples on worker 3
  EXPECT_LT(d.elephant_share, 0.01);
  // Uncut tunnels: nothing counted as cut.
  const Diagnosis whole = diagnose(gre_samples(6000, {3, 3, 1}, 5000), 4);
  EXPECT_DOUBLE_EQ(whole.inner_cut_share, 0.0);
  EXPECT_EQ(whole.inner_cut_queue, -1);
}

std::vector<nlohmann::json> upd(Monitor& m, Snapshot s) { return m.update(s); }

MonitorConfig test_config() {
  MonitorConfig m;
  m.window_s = 10;
  m.stats_interval_s = 1;
  m.min_packets = 10000;
  return m;
}

std::vector<nlohmann::json> of_kind(const std::vector<nlohmann::json>& lines, const std::string& kind) {
  std::vector<nlohmann::json> v;
  for (const auto& l : lines)
    if (l.value("type", "") == "imbalance" && l.value("kind", "") == kind) v.push_back(l);
  return v;
}

// The same imbalance, captured with a snaplen that cuts the inner headers: the software
// rehash cannot help (it would see the same outer addresses), and the message says so.
TEST(Monitor, GreCutBeforeTheInnerHeaderIsNotSentToTheRehash) {
  Monitor m(test_config());
  Snapshot s0 = make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0});
  s0.tunnels = {{"gre", 0}};
  m.update(s0);
  for (const auto& s : cut_gre_samples(20000, {0, 0, 1}, 5000)) m.add_sample(s);
  Snapshot s1 = make_snapshot(11, {820000, 410000, 0, 0}, {9'000'000'000, 4'500'000'000, 0, 0});
  s1.tunneled = s1.packets;
  s1.tunnels = {{"gre", s1.tunneled}};
  const auto lines = m.update(s1);
  const auto ev = of_kind(lines, "queue_imbalance");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["cause"], "tunnel_inner_cut");
  EXPECT_DOUBLE_EQ(ev[0]["diagnosis"]["inner_cut_share"].get<double>(), 1.0);
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("100% of packets are GRE-encapsulated and cut before their inner IP header"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("neither the NIC nor software rehash can spread them"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("enable software rehash"), std::string::npos) << msg;
}

TEST(Monitor, GreImbalanceIsDiagnosedAsTunnelCaused) {
  Monitor m(test_config());
  Snapshot s0 = make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0});
  s0.tunnels = {{"gre", 0}};
  auto first = m.update(s0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["type"], "stats");
  for (const auto& s : gre_samples(20000, {0, 0, 1}, 5000)) m.add_sample(s);
  // Queues 0 and 1 carry everything (2 of the 3 outer flows on queue 0).
  Snapshot s1 = make_snapshot(11, {820000, 410000, 0, 0}, {9'000'000'000, 4'500'000'000, 0, 0});
  s1.tunneled = s1.packets * 82 / 100;
  s1.tunnels = {{"gre", s1.tunneled}};
  const auto lines = m.update(s1);
  const auto ev = of_kind(lines, "queue_imbalance");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["state"], "raised");
  EXPECT_EQ(ev[0]["cause"], "tunnel");
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("100% of packets are GRE-encapsulated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the NIC hashes the outer header"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3 outer flows carry 95% of the traffic"), std::string::npos) << msg;
  EXPECT_NE(msg.find("enable software rehash on port span0 (ports.0.rehash=software)"), std::string::npos) << msg;
  EXPECT_GT(s1.imbalance.at(0).cv, 0.5);
  EXPECT_LT(s1.diagnosis.predicted_inner_cv, 0.1);
  EXPECT_EQ(of_kind(lines, "core_skew").size(), 1u);
  // Still imbalanced one second later: raised once, not again.
  Snapshot s2 = make_snapshot(12, {902000, 451000, 0, 0}, {9'900'000'000, 4'950'000'000, 0, 0});
  s2.tunnels = s1.tunnels;
  EXPECT_TRUE(of_kind(m.update(s2), "queue_imbalance").empty());
  ASSERT_FALSE(m.events().empty());
}

TEST(Monitor, ImbalanceWithoutSamplesNamesNoCause) {
  // imbalance.samples: false: the queues are still judged, but nothing says why.
  Monitor m(test_config());
  Snapshot s0 = make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0});
  m.update(s0);
  Snapshot s1 = make_snapshot(11, {820000, 410000, 0, 0}, {9'000'000'000, 4'500'000'000, 0, 0});
  const auto lines = m.update(s1);
  const auto ev = of_kind(lines, "queue_imbalance");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["state"], "raised");
  EXPECT_EQ(ev[0]["cause"], "unknown");
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("no packet samples"), std::string::npos) << msg;
}

TEST(Monitor, WithSoftwareRehashTheWorkersSpreadBelowCv01) {
  // The same GRE traffic behind the rehash stage: workers get frames by the inner hash.
  Monitor m(test_config());
  const auto samples = gre_samples(20000, {0, 0, 1}, 5000);
  std::vector<uint64_t> per_worker(4);
  for (const auto& s : samples) per_worker[hash_to_queue(s.inner_hash, 4)] += 64;
  upd(m, make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0}, 0, true));
  for (auto s : samples) {
    s.worker = static_cast<uint8_t>(hash_to_queue(s.inner_hash, 4));
    m.add_sample(s);
  }
  Snapshot s1 = make_snapshot(11, per_worker, {1'000'000'000, 1'000'000'000, 1'000'000'000, 1'000'000'000}, 0, true);
  const auto lines = m.update(s1);
  EXPECT_LT(s1.worker_balance.cv, 0.1);
  EXPECT_TRUE(s1.worker_balance.judged);
  EXPECT_TRUE(of_kind(lines, "queue_imbalance").empty());
  EXPECT_TRUE(of_kind(lines, "core_skew").empty());
}

// A run shorter than one stats interval (a short replay): the interval-driven checks never
// come due, so the final update (at shutdown, on the last counters) evaluates, over the whole
// run from the zero counters given to start().
TEST(Monitor, ShortRunIsJudgedAtTheEndFromTheStartCounters) {
  MonitorConfig c = test_config();
  c.stats_interval_s = 10;
  c.min_packets = 1000;
  Monitor m(c);
  m.start(make_snapshot(0, {0, 0, 0, 0}, {0, 0, 0, 0}));
  // The first tick, before most packets: a stats line, nothing to judge yet.
  Snapshot s0 = make_snapshot(0.1, {100, 50, 0, 0}, {1'000'000, 500'000, 0, 0});
  s0.tunnels = {{"gre", 150}};
  const auto first = m.update(s0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0]["type"], "stats");
  EXPECT_FALSE(first[0].contains("final"));
  for (const auto& s : gre_samples(2000, {0, 0, 1}, 5000)) m.add_sample(s);
  // The replay ends 0.4 s in: inside the first interval, so an ordinary update says nothing.
  Snapshot end = make_snapshot(0.4, {82000, 41000, 0, 0}, {300'000'000, 150'000'000, 0, 0});
  end.tunnels = {{"gre", 123000}};
  Snapshot again = end;
  EXPECT_TRUE(m.update(end).empty());
  // The final update judges it, over everything since the start counters.
  const auto lines = m.update(again, true);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0]["type"], "stats");
  EXPECT_EQ(lines[0]["final"], true);
  EXPECT_DOUBLE_EQ(again.window_s, 0.4);
  ASSERT_EQ(again.imbalance.size(), 1u);
  EXPECT_EQ(again.imbalance[0].packets, 123000u);
  const auto ev = of_kind(lines, "queue_imbalance");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["state"], "raised");
  EXPECT_EQ(ev[0]["cause"], "tunnel");
  EXPECT_NE(ev[0]["message"].get<std::string>().find("enable software rehash on port span0"), std::string::npos);
}

// Without start(), the first update only sets the base (the behaviour before a run's start
// counters existed); with it, drops from the very first interval are reported.
TEST(Monitor, StartCountersMakeTheFirstIntervalCount) {
  Monitor without(test_config());
  EXPECT_TRUE(of_kind(upd(without, make_snapshot(1, {1000, 1000}, {100'000'000, 100'000'000}, 300)), "drops").empty());
  Monitor with(test_config());
  with.start(make_snapshot(0, {0, 0}, {0, 0}));
  const auto ev = of_kind(upd(with, make_snapshot(1, {1000, 1000}, {100'000'000, 100'000'000}, 300)), "drops");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["packets"], 300);
}

TEST(Monitor, ElephantFlow) {
  Monitor m(test_config());
  upd(m, make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0}));
  std::mt19937_64 rng(5);
  for (int i = 0; i < 6000; ++i) m.add_sample({rng(), rng(), 100, static_cast<uint8_t>(i % 3), false});
  for (int i = 0; i < 2000; ++i) m.add_sample({rng(), rng(), 100, 3, false});
  for (int i = 0; i < 3000; ++i) m.add_sample({77, 7777, 1500, 3, false});
  Snapshot s1 = make_snapshot(11, {128000, 128000, 128000, 500000}, {1'000'000'000, 1'000'000'000, 1'000'000'000, 2'500'000'000});
  const auto ev = of_kind(m.update(s1), "queue_imbalance");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["cause"], "elephant");
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("one elephant flow carries 60% of queue 3"), std::string::npos) << msg;
}

// Behind the software rehash stage the queues bind no worker: their spread (here all on one
// queue, a GRE tunnel) is shown but not judged, and a busy worker's core skew says why the
// inner hash could not spread its packets (the queue imbalance it pointed to before is never
// raised there): one inner flow too large, or too few flows.
TEST(Monitor, CoreSkewBehindTheRehashNamesTheFlowsNotTheQueues) {
  struct Case {
    const char* what;
    std::string reason, text;
  };
  for (const Case& k : {Case{"elephant", "elephant", "one inner flow carries 60% of its packets"},
                        Case{"few flows", "few_flows", "only 3 flows carry 95% of the traffic"},
                        Case{"cut tunnels", "tunnel_inner_cut", "60% of its packets are tunnelled and the capture cut "
                                                                "them before their inner IP header"}}) {
    Monitor m(test_config());
    upd(m, make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0}, 0, true));
    std::mt19937_64 rng(5);
    if (k.reason == "elephant") {
      for (int i = 0; i < 6000; ++i) m.add_sample({rng(), rng(), 100, static_cast<uint8_t>(i % 3), true});
      for (int i = 0; i < 2000; ++i) m.add_sample({rng(), rng(), 100, 3, true});
      for (int i = 0; i < 3000; ++i) m.add_sample({77, 7777, 1500, 3, true});
    } else if (k.reason == "tunnel_inner_cut") {
      for (int i = 0; i < 6000; ++i) m.add_sample({rng(), rng(), 100, static_cast<uint8_t>(i % 3), true});
      for (int i = 0; i < 2000; ++i) m.add_sample({rng(), rng(), 100, 3, true});
      for (int i = 0; i < 3000; ++i) m.add_sample({77, 77, 1500, 3, true, true});  // one tunnel, cut
    } else {
      for (int i = 0; i < 4000; ++i) m.add_sample({77, 1001, 1500, 3, true});
      for (int i = 0; i < 4000; ++i) m.add_sample({77, 1002, 1500, 3, true});
      for (int i = 0; i < 1000; ++i) m.add_sample({77, 1003, 1500, 1, true});
    }
    Snapshot s1 = make_snapshot(11, {128000, 128000, 128000, 500000},
                                {1'000'000'000, 1'000'000'000, 1'000'000'000, 2'500'000'000}, 0, true);
    for (QueueStats& q : s1.queues) q.packets = q.queue == 0 ? 884000 : 0;
    const auto lines = m.update(s1);
    EXPECT_TRUE(of_kind(lines, "queue_imbalance").empty()) << k.what;
    ASSERT_EQ(s1.imbalance.size(), 1u);
    EXPECT_GT(s1.imbalance[0].cv, 1.0) << k.what;
    EXPECT_FALSE(s1.imbalance[0].judged) << k.what;
    const auto ev = of_kind(lines, "core_skew");
    ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
    EXPECT_EQ(ev[0]["cause"], "packets") << k.what;
    EXPECT_EQ(ev[0]["reason"], k.reason) << k.what;
    EXPECT_EQ(ev[0]["worker"], 3) << k.what;
    const std::string msg = ev[0]["message"];
    EXPECT_NE(msg.find(k.text), std::string::npos) << msg;
    EXPECT_EQ(msg.find("queue imbalance"), std::string::npos) << msg;
  }
}

TEST(Monitor, UpstreamLossWhileTheSensorDropsIsFlagged) {
  Monitor m(test_config());
  upd(m, make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0}));
  // A window with upstream losses and no sensor drops: nothing to say.
  Snapshot s1 = make_snapshot(2, {100000, 100000, 100000, 100000}, {600'000'000, 600'000'000, 600'000'000, 600'000'000});
  s1.verdicts["loss_upstream"] = 40;
  EXPECT_TRUE(of_kind(m.update(s1), "loss_attribution").empty());
  // Next window: 25 more upstream losses while the port missed 300 packets.
  Snapshot s2 = make_snapshot(3, {200000, 200000, 200000, 200000}, {1'200'000'000, 1'200'000'000, 1'200'000'000,
                                                                     1'200'000'000}, 300);
  s2.verdicts["loss_upstream"] = 65;
  const auto lines = m.update(s2);
  const auto ev = of_kind(lines, "loss_attribution");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["loss_upstream"], 25u);
  EXPECT_EQ(ev[0]["sensor_drops"], 300u);
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("up to 25 of those upstream losses may be the sensor's own"), std::string::npos) << msg;
}

TEST(Monitor, ImissedOnASlowWorker) {
  Monitor m(test_config());
  upd(m, make_snapshot(1, {0, 0, 0, 0}, {0, 0, 0, 0}));
  // Worker 2 busy 97% of its cycles, the others 30%.
  Snapshot s1 = make_snapshot(2, {100000, 100000, 100000, 100000}, {600'000'000, 600'000'000, 1'940'000'000, 600'000'000},
                              5000);
  const auto lines = m.update(s1);
  const auto ev = of_kind(lines, "drops");
  ASSERT_EQ(ev.size(), 1u) << nlohmann::json(lines).dump(1);
  EXPECT_EQ(ev[0]["cause"], "imissed");
  EXPECT_EQ(ev[0]["reason"], "worker_slow");
  const std::string msg = ev[0]["message"];
  EXPECT_NE(msg.find("drops on queue 2 of port span0 are imissed (5000 packets"), std::string::npos) << msg;
  EXPECT_NE(msg.find("the worker is too slow"), std::string::npos) << msg;
}

TEST(Monitor, ImissedWithIdleWorkersBlamesTheRing) {
  Monitor m(test_config());
  upd(m, make_snapshot(1, {0, 0}, {0, 0}));
  const auto ev = of_kind(upd(m, make_snapshot(2, {1000, 1000}, {100'000'000, 100'000'000}, 300)), "drops");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["reason"], "ring_small");
  EXPECT_NE(ev[0]["message"].get<std::string>().find("raise ports.0.rx_descriptors"), std::string::npos);
}

TEST(Monitor, BalancedTrafficRaisesNothingAndStatsLinesFollowTheInterval) {
  MonitorConfig c = test_config();
  c.stats_interval_s = 2;
  Monitor m(c);
  int stats = 0;
  for (int t = 1; t <= 12; ++t) {
    const uint64_t n = 100000ull * t;
    auto lines = upd(m, make_snapshot(t, {n, n, n, n}, {n * 100, n * 100, n * 100, n * 100}));
    for (const auto& l : lines) {
      EXPECT_EQ(l["type"], "stats") << l.dump();
      ++stats;
    }
  }
  EXPECT_EQ(stats, 6);
  EXPECT_TRUE(m.events().empty());
}

TEST(Snapshot, JsonRoundTrip) {
  Snapshot s = make_snapshot(5, {1, 2, 3}, {10, 20, 30}, 7);
  s.retrans = {{"top_flows", nlohmann::json::array({{{"client", "10.0.0.1"}}})}};
  const Snapshot r = snapshot_from_json(nlohmann::json::parse(to_json(s).dump()));
  EXPECT_EQ(to_json(r), to_json(s));
  EXPECT_EQ(r.queues.at(2).packets, 3u);
  EXPECT_EQ(r.ports.at(0).imissed, 7u);
}

TEST(Prometheus, ExpositionFormat) {
  Snapshot s = make_snapshot(5, {10, 20, 30, 40}, {1, 2, 3, 4}, 9);
  s.workers.at(1).filtered = 11;
  s.workers.at(0).payload_events_dropped = 3;
  s.ports[0].port = "sp\"an";  // escaped in label values
  for (auto& q : s.queues) q.port = s.ports[0].port;
  const std::string text = render_prometheus(s);
  EXPECT_NE(text.find("seqwatch_rx_packets_total{port=\"sp\\\"an\",queue=\"3\"} 40\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE seqwatch_rx_packets_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE seqwatch_worker_busy_ratio gauge\n"), std::string::npos);
  EXPECT_NE(text.find("seqwatch_port_rx_missed_total{port=\"sp\\\"an\"} 9\n"), std::string::npos);
  EXPECT_NE(text.find("seqwatch_tcp_retransmissions_total 2\n"), std::string::npos);
  // Packets kept out by the capture filter and payload events lost are exported, per worker.
  EXPECT_NE(text.find("# TYPE seqwatch_worker_capture_filter_dropped_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("seqwatch_worker_capture_filter_dropped_total{worker=\"1\"} 11\n"), std::string::npos) << text;
  EXPECT_NE(text.find("seqwatch_worker_ring_dropped_total{worker=\"0\",ring=\"payload_events\"} 3\n"), std::string::npos);
  // Every line: a comment, or name{labels} value.
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? \S+$)");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++n;
  }
  EXPECT_GT(n, 30);
}

std::string strip_ansi(const std::string& s) { return std::regex_replace(s, std::regex("\x1b\\[[0-9;?]*[A-Za-z]"), ""); }

TEST(Top, RendersAKnownSnapshot) {
  Snapshot a = make_snapshot(10, {1000, 2000, 3000, 4000}, {1, 2, 3, 4});
  Snapshot b = make_snapshot(11, {2000, 4000, 6000, 8000}, {1, 2, 3, 4}, 12);
  b.workers[1].busy_ratio = 0.5;
  b.retrans = {{"top_flows", nlohmann::json::array({{{"client", "10.1.1.1"}, {"cport", 40000}, {"server", "10.2.2.2"},
                                                      {"sport", 443}, {"segments", 1000}, {"retx_segments", 50},
                                                      {"retx_rate", 0.05}, {"rto_retx", 3}, {"dup_acks", 9}}})},
               {"shape", {{"suspect", "congestion"}, {"message", "spread over 9 services and 4 clients, in 3 bursts"}}}};
  const nlohmann::json events = nlohmann::json::array({{{"elapsed_s", 9.0}, {"message", "one elephant flow carries 60% of queue 3"}}});
  TopOptions o;
  o.width = 120;
  const std::string screen = strip_ansi(render_top(b, &a, events, o, "127.0.0.1:9860"));
  EXPECT_NE(screen.find("4 worker(s), 4 queue(s), RSS"), std::string::npos) << screen;
  EXPECT_TRUE(std::regex_search(screen, std::regex(R"(span0/3\s+#+\.*\s+8\.0k\s+4\.0k\s+40\.0%)"))) << screen;
  EXPECT_TRUE(std::regex_search(screen, std::regex(R"(worker 1\s+#+\.+\s+50\.0%)"))) << screen;
  EXPECT_NE(screen.find("imissed 12"), std::string::npos) << screen;
  EXPECT_NE(screen.find("10.1.1.1:40000 -> 10.2.2.2:443"), std::string::npos) << screen;
  EXPECT_NE(screen.find("5.00%"), std::string::npos) << screen;
  EXPECT_NE(screen.find("one elephant flow carries 60% of queue 3"), std::string::npos) << screen;
  EXPECT_NE(screen.find("SHAPE spread over 9 services and 4 clients, in 3 bursts"), std::string::npos) << screen;
}

}  // namespace
}  // namespace seqwatch::telemetry
