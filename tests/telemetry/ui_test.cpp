// The views people look at: `top` driven in tmux against a live exporter (capture-pane
// shows the expected rows), and the HTML report of a run folder rendered by headless
// Chromium (charts present, no console errors, screenshot kept as an artifact under
// the build directory: tests/telemetry/report-screenshot.png).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
// GCC 12 reports a false -Wmaybe-uninitialized inside std::regex's NFA at -O2 with the
// sanitizers (GCC bug 105562); this test file only.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#include <thread>

#include "fixtures.hpp"
#include "telemetry/exporter.hpp"
#include "telemetry/html_report.hpp"
#include "telemetry/imbalance.hpp"

namespace seqwatch::telemetry {
namespace {

namespace fs = std::filesystem;

std::string sh(const std::string& cmd, int* rc = nullptr) {
  std::FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  std::string out;
  if (p == nullptr) return out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  if (rc != nullptr) *rc = WEXITSTATUS(st);
  return out;
}

bool have(const char* tool) { return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0; }

fs::path build_dir() {
  const char* b = std::getenv("SEQWATCH_BUILD_DIR");
  return b != nullptr ? fs::path(b) : fs::current_path();
}

TEST(TopInTmux, ShowsQueuesWorkersAndFlows) {
  if (!have("tmux")) GTEST_SKIP() << "tmux is not installed";
  const fs::path top = build_dir() / "tests" / "telemetry" / "top_cli";
  ASSERT_TRUE(fs::exists(top)) << top;
  SnapshotStore store;
  Snapshot s = testing::make_snapshot(20, {1000, 2000, 3000, 4000}, {1, 2, 3, 4}, 0);
  s.workers[3].busy_ratio = 0.9;
  s.retrans = {{"top_flows", nlohmann::json::array({{{"client", "10.9.8.7"}, {"cport", 51000}, {"server", "10.1.2.3"},
                                                      {"sport", 8443}, {"segments", 5000}, {"retx_segments", 250},
                                                      {"retx_rate", 0.05}, {"rto_retx", 4}, {"dup_acks", 12}}})}};
  store.publish(s);
  auto exp = HttpExporter::start("127.0.0.1", 0, store);
  ASSERT_TRUE(exp) << exp.error().message;
  const std::string session = "seqwatch-top-" + std::to_string(getpid());
  const std::string start = "tmux new-session -d -s " + session + " -x 132 -y 45 '" + top.string() + " 127.0.0.1:" +
                            std::to_string(exp.value()->port()) + "'";
  int rc = 0;
  const std::string out = sh(start, &rc);
  ASSERT_EQ(rc, 0) << out;
  // A second snapshot (rates need two) while top runs.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Snapshot s2 = testing::make_snapshot(21, {2000, 4000, 6000, 8000}, {1, 2, 3, 4}, 0);
  s2.workers[3].busy_ratio = 0.9;
  s2.retrans = s.retrans;
  store.publish(s2);
  std::string pane;
  bool seen = false;
  for (int i = 0; i < 40 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    pane = sh("tmux capture-pane -p -t " + session);
    seen = pane.find("8.0k") != std::string::npos && pane.find("10.9.8.7:51000 -> 10.1.2.3:8443") != std::string::npos;
  }
  sh("tmux kill-session -t " + session);
  EXPECT_TRUE(seen) << pane;
  EXPECT_NE(pane.find("seqwatch top"), std::string::npos) << pane;
  EXPECT_TRUE(std::regex_search(pane, std::regex(R"(span0/3\s+#+\.*\s+8\.0k\s+4\.0k\s+40\.0%)"))) << pane;
  EXPECT_TRUE(std::regex_search(pane, std::regex(R"(worker 3\s+#+\.*\s+90\.0%)"))) << pane;
  EXPECT_NE(pane.find("TOP RETRANSMITTING FLOWS"), std::string::npos) << pane;
}

// A run folder as `seqwatch run` leaves it, with stats lines made by the Monitor.
fs::path make_run_folder() {
  const fs::path dir = fs::temp_directory_path() / ("seqwatch-report-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "evidence");
  MonitorConfig c;
  c.stats_interval_s = 1;
  c.min_packets = 1000;
  Monitor m(c);
  {
    std::ofstream st(dir / "stats.jsonl");
    for (int t = 1; t <= 20; ++t) {
      const uint64_t n = 10000ull * t;
      Snapshot s = testing::make_snapshot(t, {n, n / 2, n / 4, t > 10 ? n * 3 : n},
                                          {n * 500, n * 250, n * 120, n * (t > 10 ? 1400 : 500)}, t > 15 ? 100ull * t : 0);
      s.tcp_segments = 4 * n;
      s.retransmissions = 40ull * t * t;
      for (const auto& l : m.update(s)) st << l.dump() << "\n";
    }
  }
  nlohmann::json flows = nlohmann::json::array();
  for (int i = 0; i < 5; ++i)
    flows.push_back({{"flow", i}, {"client", "10.0.0." + std::to_string(i + 1)}, {"cport", 40000 + i},
                     {"server", "10.1.0.1"}, {"sport", 443}, {"segments", 1000 * (i + 1)}, {"retx_segments", 30 * (5 - i)},
                     {"retx_rate", 0.03 * (5 - i) / (i + 1)}, {"fast_retx", 3}, {"rto_retx", 2}, {"dup_acks", 10}});
  nlohmann::json summary = {
      {"packets", 800000},
      {"first_ts_ns", 1700000000000000000},
      {"last_ts_ns", 1700000020000000000},
      {"ports", {{{"port", "span0"}, {"ipackets", 800000}, {"imissed", 2000}, {"ierrors", 0}, {"rx_nombuf", 0}}}},
      {"retransmissions",
       {{"segments", 800000}, {"retx_segments", 16000}, {"retx_rate", 0.02}, {"flows", 5}, {"fast_retx", 9000},
        {"rto_retx", 4000}, {"spurious_retx", 300}, {"syn_retransmissions", 12}, {"dup_acks", 30000},
        {"verdicts", {{"retransmission", 16000}, {"duplicate_ack", 30000}, {"lost_segment", 800}, {"zero_window", 5}}},
        {"top_services", {{{"service", "10.1.0.1:443"}, {"flows", 5}, {"segments", 15000}, {"retx_segments", 450}, {"retx_rate", 0.03}}}},
        {"top_flows", flows},
        {"shape", {{"suspect", "congestion"}, {"message", "spread over 5 services & 5 clients, in 3 bursts every ~5 s"}}}}}};
  std::ofstream(dir / "summary.json") << summary.dump(2);
  std::ofstream(dir / "flows.jsonl") << R"({"v":1,"type":"flow","flow":1,"client":"10.0.0.1","cport":40000,"server":"10.1.0.1","sport":443,"c2s":{"segments":10,"retx_segments":1},"s2c":{"segments":5,"retx_segments":0}})" << "\n";
  {
    std::ofstream ev(dir / "events.jsonl");
    for (int i = 0; i < 50; ++i)
      ev << R"({"v":1,"type":"segment","frame":)" << i << R"(,"ts":)" << 1700000000 + i / 5 << R"(.5,"flow":1,"verdicts":["retransmission"]})" << "\n";
  }
  std::ofstream(dir / "evidence" / "evidence-00001.pcapng") << "x";
  std::ofstream(dir / "evidence" / "evidence-index.jsonl")
      << R"({"file":"evidence-00001.pcapng","slice":"s1","flow":{"a":"10.0.0.1","a_port":40000,"b":"10.1.0.1","b_port":443},"trigger":["retransmission_storm"],"packets":80,"first_time":"2023-11-14T22:13:20Z"})"
      << "\n";
  return dir;
}

// Without a summary the top flows come from flows.jsonl, where a flow with the active timeout
// has several cumulative records: only its newest counts, once.
TEST(HtmlReport, FlowsFileWithActiveRecordsShowsEachFlowOnce) {
  const fs::path dir = fs::path(::testing::TempDir()) / "seqwatch-report-active";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream fl(dir / "flows.jsonl");
    auto rec = [&](int flow, const char* end, int cport, int segs, int retx) {
      fl << R"({"v":1,"type":"flow","flow":)" << flow << R"(,"worker":0,"end":")" << end
         << R"(","client":"10.0.0.1","cport":)" << cport << R"(,"server":"10.1.0.1","sport":443,"c2s":{"segments":)"
         << segs << R"(,"retx_segments":)" << retx << R"(},"s2c":{"segments":5,"retx_segments":0}})" << "\n";
    };
    rec(1, "active", 40000, 100, 3);
    rec(2, "closed", 40001, 50, 2);
    rec(1, "active", 40000, 200, 7);
    rec(1, "closed", 40000, 300, 9);
  }
  ASSERT_EQ(html_report_main(dir.string(), ""), 0);
  std::ifstream f(dir / "report.html");
  const std::string text((std::istreambuf_iterator<char>(f)), {});
  size_t n = 0;
  for (size_t at = text.find("10.0.0.1:40000"); at != std::string::npos; at = text.find("10.0.0.1:40000", at + 1)) ++n;
  EXPECT_EQ(n, 1u);
  EXPECT_NE(text.find("10.0.0.1:40001"), std::string::npos);
  EXPECT_NE(text.find("<td>305</td><td>9</td><td>2.95%</td>"), std::string::npos);  // the final record
}

TEST(HtmlReport, ChromiumRendersChartsWithoutConsoleErrors) {
  const fs::path dir = make_run_folder();
  ASSERT_EQ(html_report_main(dir.string(), ""), 0);
  const fs::path html = dir / "report.html";
  const std::string text = [&] {
    std::ifstream f(html);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }();
  // Self-contained: nothing fetched from the network.
  EXPECT_EQ(text.find("src=\"http"), std::string::npos);
  EXPECT_EQ(text.find("href=\"http"), std::string::npos);
  for (const char* id : {"chart-queues", "chart-workers", "chart-busy", "chart-retx-rate", "chart-verdicts",
                         "chart-services", "chart-queue-totals"})
    EXPECT_NE(text.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(text.find("<a href=\"evidence/evidence-00001.pcapng\">"), std::string::npos);
  EXPECT_NE(text.find("queue_imbalance"), std::string::npos);  // the Monitor raised one at t > 10
  // The shape of the retransmissions, escaped.
  EXPECT_NE(text.find("(congestion): spread over 5 services &amp; 5 clients, in 3 bursts every ~5 s</p>"),
            std::string::npos);

  const char* chromium = have("chromium") ? "chromium" : have("chromium-browser") ? "chromium-browser" : nullptr;
  if (chromium == nullptr) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  const fs::path shot = build_dir() / "tests" / "telemetry" / "report-screenshot.png";
  fs::remove(shot);
  const std::string profile = (dir / "profile").string();
  const std::string common = std::string(chromium) +
                             " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                             " --user-data-dir=" + profile + " --enable-logging=stderr --v=0";
  int rc = 0;
  const std::string dom = sh("timeout 90 " + common + " --dump-dom file://" + html.string(), &rc);
  ASSERT_EQ(rc, 0) << dom;
  // The inline script ran to its end (it counts the charts into the body).
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex(R"re(data-charts="(\d+)")re"))) << dom.substr(0, 2000);
  EXPECT_GE(std::stoi(m[1]), 8);
  // Console messages go to stderr as "CONSOLE(...)" / "Uncaught ...".
  EXPECT_EQ(dom.find("Uncaught"), std::string::npos) << dom;
  EXPECT_FALSE(std::regex_search(dom, std::regex(R"(:CONSOLE\(\d+\)\] .*(Error|error))"))) << dom;
  const std::string out = sh("timeout 90 " + common + " --hide-scrollbars --window-size=1024,3600 --screenshot=" +
                                 shot.string() + " file://" + html.string(), &rc);
  EXPECT_EQ(rc, 0) << out;
  ASSERT_TRUE(fs::exists(shot)) << out;
  EXPECT_GT(fs::file_size(shot), 20000u);  // a blank page compresses to a few KiB
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seqwatch::telemetry
