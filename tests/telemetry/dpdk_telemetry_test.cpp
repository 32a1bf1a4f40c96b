// The /seqwatch/* DPDK telemetry commands answer over the telemetry socket
// (<runtime dir>/dpdk_telemetry.v2), with the EAL started the way seqwatch starts it
// (--no-shconf), through a raw unix-socket client and through dpdk-telemetry.py.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "telemetry/dpdk_telemetry.hpp"

namespace seqwatch::telemetry {
namespace {

std::string g_prefix;

class Eal : public ::testing::Environment {
 public:
  void SetUp() override {
    g_prefix = "seqwatch-tt" + std::to_string(getpid());
    std::vector<std::string> args = {"t", "-l", "0", "--no-shconf", "--no-huge", "-m", "64", "--no-pci",
                                     "--log-level=3", "--file-prefix=" + g_prefix};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ok = rte_eal_init(static_cast<int>(argv.size()), argv.data()) >= 0;
  }
  void TearDown() override {
    if (ok) rte_eal_cleanup();
  }
  static inline bool ok = false;
};

// Sends one command on a fresh connection; returns the JSON reply.
nlohmann::json ask(const std::string& path, const std::string& cmd) {
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return nullptr;
  }
  std::vector<char> buf(1 << 16);
  const ssize_t hello = read(fd, buf.data(), buf.size());  // the greeting: version, pid, max_output_len
  EXPECT_GT(hello, 0);
  EXPECT_EQ(write(fd, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  const ssize_t n = read(fd, buf.data(), buf.size());
  close(fd);
  if (n <= 0) return nullptr;
  return nlohmann::json::parse(std::string(buf.data(), static_cast<size_t>(n)), nullptr, false);
}

std::string socket_path() { return std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2"; }

TEST(DpdkTelemetry, CommandsAnswerOverTheSocketWithNoShconf) {
  ASSERT_TRUE(Eal::ok) << "rte_eal_init failed";
  ASSERT_TRUE(std::filesystem::exists(socket_path())) << "no telemetry socket at " << socket_path()
                                                      << ": telemetry does not run with these EAL flags";
  SnapshotStore store;
  Snapshot s = testing::make_snapshot(3, {10, 20, 30}, {100, 200, 300}, 4);
  s.workers[1].busy_ratio = 0.5;
  store.publish(s);
  ASSERT_TRUE(attach_dpdk_telemetry(&store));

  auto stats = ask(socket_path(), "/seqwatch/stats");
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  const auto& st = stats["/seqwatch/stats"];
  EXPECT_EQ(st["running"], 1);
  EXPECT_EQ(st["packets"], 60);
  EXPECT_EQ(st["imissed"], 4);
  EXPECT_EQ(st["queues"], 3);

  auto q = ask(socket_path(), "/seqwatch/queues")["/seqwatch/queues"];
  EXPECT_EQ(q["packets"], nlohmann::json({10, 20, 30})) << q.dump();
  EXPECT_EQ(q["port"], nlohmann::json({"span0", "span0", "span0"}));

  auto w = ask(socket_path(), "/seqwatch/workers")["/seqwatch/workers"];
  EXPECT_EQ(w["busy_cycles"], nlohmann::json({100, 200, 300})) << w.dump();
  EXPECT_EQ(w["busy_ratio"][1], "0.5000");

  auto list = ask(socket_path(), "/");
  const std::string all = list.dump();
  EXPECT_NE(all.find("/seqwatch/stats"), std::string::npos) << all;
  EXPECT_NE(all.find("/seqwatch/workers"), std::string::npos);

  // dpdk-telemetry.py (Debian package dpdk-dev) reads commands from stdin.
  const char* py = "/usr/bin/dpdk-telemetry.py";
  if (std::filesystem::exists(py)) {
    const std::string cmd = "echo /seqwatch/queues | " + std::string(py) + " -f " + g_prefix + " 2>&1";
    std::FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    pclose(p);
    EXPECT_NE(out.find("\"/seqwatch/queues\""), std::string::npos) << out;
    EXPECT_NE(out.find("\"span0\""), std::string::npos) << out;
  }

  detach_dpdk_telemetry();
  EXPECT_EQ(ask(socket_path(), "/seqwatch/stats")["/seqwatch/stats"]["running"], 0);
}

const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new Eal);

}  // namespace
}  // namespace seqwatch::telemetry
