// A real Prometheus server (Debian package `prometheus`) scrapes the exporter serving a
// known snapshot; its query API must return the expected series and values. Skipped
// when the prometheus binary is absent.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "fixtures.hpp"
#include "telemetry/exporter.hpp"

namespace seqwatch::telemetry {
namespace {

namespace fs = std::filesystem;

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

std::string prometheus_binary() {
  for (const char* p : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"})
    if (fs::exists(p)) return p;
  return "";
}

// The value of an instant query's single result, or "" while it has none.
std::string query(httplib::Client& cli, const std::string& q) {
  auto res = cli.Get("/api/v1/query", httplib::Params{{"query", q}}, httplib::Headers{});
  if (!res || res->status != 200) return "";
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return "";
  const auto& r = j["data"]["result"];
  if (r.size() != 1) return "";
  return r[0]["value"][1].get<std::string>();
}

TEST(Prometheus, RealServerScrapesTheExporter) {
  const std::string bin = prometheus_binary();
  if (bin.empty()) GTEST_SKIP() << "prometheus is not installed (apt-get install prometheus)";

  SnapshotStore store;
  Snapshot s = testing::make_snapshot(42, {1000, 2000, 3000, 4000}, {100, 200, 300, 400}, 17);
  s.workers[2].busy_ratio = 0.75;
  s.imbalance.push_back({"span0", 4, 10000, 0.4472, 1.6, 3, true});
  store.publish(s);
  auto exp = HttpExporter::start("127.0.0.1", 0, store);
  ASSERT_TRUE(exp) << exp.error().message;
  const uint16_t target = exp.value()->port();

  const fs::path dir = fs::temp_directory_path() / ("seqwatch-prom-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  {
    std::ofstream c(dir / "prometheus.yml");
    c << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
         "scrape_configs:\n  - job_name: seqwatch\n    static_configs:\n      - targets: ['127.0.0.1:"
      << target << "']\n";
  }
  // The port can be taken between free_port() and Prometheus' bind: retry with another.
  pid_t pid = -1;
  uint16_t web = 0;
  for (int attempt = 0; attempt < 3 && pid < 0; ++attempt) {
    web = free_port();
    pid = fork();
    if (pid == 0) {
      const std::string log = (dir / "prometheus.log").string();
      freopen(log.c_str(), "a", stdout);
      freopen(log.c_str(), "a", stderr);
      const std::string cfg = "--config.file=" + (dir / "prometheus.yml").string();
      const std::string data = "--storage.tsdb.path=" + (dir / "data").string();
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(web);
      execl(bin.c_str(), bin.c_str(), cfg.c_str(), data.c_str(), listen.c_str(), "--log.level=warn", nullptr);
      _exit(127);
    }
    // Up when /-/ready answers; gone when the child exited (port taken): retry.
    httplib::Client probe("127.0.0.1", web);
    probe.set_connection_timeout(0, 200000);
    bool ready = false;
    for (int i = 0; i < 150 && !ready; ++i) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) break;
      auto r = probe.Get("/-/ready");
      ready = r && r->status == 200;
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!ready) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }
  ASSERT_GT(pid, 0) << "prometheus did not start; see " << (dir / "prometheus.log");

  httplib::Client cli("127.0.0.1", web);
  cli.set_read_timeout(5, 0);
  // The first scrape lands within a scrape interval or two; wait up to 30 s.
  std::string up;
  for (int i = 0; i < 150 && up != "1"; ++i) {
    up = query(cli, "up{job=\"seqwatch\"}");
    if (up != "1") std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(up, "1") << "target never scraped healthy; see " << (dir / "prometheus.log");
  // The target's last scrape had no parse error.
  if (auto t = cli.Get("/api/v1/targets"); t && t->status == 200) {
    auto j = nlohmann::json::parse(t->body);
    ASSERT_FALSE(j["data"]["activeTargets"].empty());
    EXPECT_EQ(j["data"]["activeTargets"][0]["lastError"], "");
    EXPECT_EQ(j["data"]["activeTargets"][0]["health"], "up");
  }
  EXPECT_EQ(query(cli, "seqwatch_rx_packets_total{port=\"span0\",queue=\"2\"}"), "3000");
  EXPECT_EQ(query(cli, "sum(seqwatch_rx_packets_total)"), "10000");
  EXPECT_EQ(query(cli, "seqwatch_worker_busy_ratio{worker=\"2\"}"), "0.75");
  EXPECT_EQ(query(cli, "seqwatch_port_rx_missed_total{port=\"span0\"}"), "17");
  EXPECT_EQ(query(cli, "seqwatch_tcp_retransmissions_total"), "200");
  EXPECT_EQ(query(cli, "seqwatch_queue_imbalance_cv{port=\"span0\"}"), "0.4472");
  EXPECT_EQ(query(cli, "seqwatch_tcp_verdicts_total{verdict=\"duplicate_ack\"}"), "100");

  kill(pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 50 && waitpid(pid, &st, WNOHANG) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (waitpid(pid, &st, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seqwatch::telemetry
