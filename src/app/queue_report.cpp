#include "app/queue_report.hpp"

#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

namespace seqwatch::app {

void print_queue_report(std::FILE* out, const nlohmann::json& j) {
  // Packets per RX queue, one line per port.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const nlohmann::json*>> by_port;
  const nlohmann::json queues = j.value("queues", nlohmann::json::array());
  for (const auto& q : queues) {
    const std::string port = q["port"].get<std::string>();
    if (by_port.count(port) == 0) order.push_back(port);
    by_port[port].push_back(&q);
  }
  for (const std::string& port : order) {
    uint64_t total = 0;
    for (const auto* q : by_port[port]) total += (*q)["packets"].get<uint64_t>();
    if (by_port[port].size() < 2) continue;  // one queue: nothing to compare
    std::string line;
    for (const auto* q : by_port[port]) {
      const uint64_t n = (*q)["packets"].get<uint64_t>();
      line += fmt::format("{}q{} {} ({:.1f}%)", line.empty() ? "" : ", ", (*q)["queue"].get<unsigned>(), n,
                          total != 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(total) : 0.0);
    }
    fmt::print(out, "  queues         {}: {}\n", port, line);
  }
  // Conditions (raised / cleared) and drops (summed).
  struct Condition {
    std::string message;
    double raised_s = 0, cleared_s = -1;
  };
  std::vector<std::string> keys;
  std::map<std::string, Condition> conditions;
  struct Drops {
    uint64_t packets = 0, windows = 0;
    std::string message;
  };
  std::vector<std::string> drop_keys;
  std::map<std::string, Drops> drops;
  for (const auto& e : j.value("imbalance_events", nlohmann::json::array())) {
    const std::string kind = e.value("kind", "");
    const double t = e.value("elapsed_s", 0.0);
    if (kind == "queue_imbalance" || kind == "core_skew") {
      const std::string key = kind + "/" + e.value("port", "");
      if (conditions.count(key) == 0) keys.push_back(key);
      Condition& c = conditions[key];
      if (e.value("state", "") == "raised") {
        c.message = e.value("message", "");
        c.raised_s = t;
        c.cleared_s = -1;
      } else {
        c.cleared_s = t;
      }
    } else {
      const std::string key = kind + "/" + e.value("cause", "") + "/" + e.value("port", "");
      if (drops.count(key) == 0) drop_keys.push_back(key);
      Drops& d = drops[key];
      d.packets += e.value("packets", uint64_t{0});
      ++d.windows;
      d.message = e.value("message", "");
    }
  }
  for (const std::string& key : keys) {
    const Condition& c = conditions[key];
    if (c.message.empty()) continue;  // cleared before this list began (kMaxEvents)
    const std::string when = c.cleared_s >= 0 ? fmt::format("raised at {:.1f} s, cleared at {:.1f} s", c.raised_s, c.cleared_s)
                                               : fmt::format("raised at {:.1f} s, still at the end", c.raised_s);
    fmt::print(out, "  {:<14} {}: {}\n", key.rfind("core_skew", 0) == 0 ? "CORE SKEW" : "IMBALANCE", when, c.message);
  }
  for (const std::string& key : drop_keys) {
    const Drops& d = drops[key];
    if (key.rfind("drops/", 0) == 0)
      fmt::print(out, "  DROPS          {} packets in {} window{}; latest: {}\n", d.packets, d.windows,
                 d.windows == 1 ? "" : "s", d.message);
    else
      fmt::print(out, "  {:<14} {} window{}; latest: {}\n", "LOSS OR DROPS", d.windows, d.windows == 1 ? "" : "s",
                 d.message);
  }
}

}  // namespace seqwatch::app
