#include "telemetry/snapshot.hpp"

#include <fmt/format.h>

#include <cmath>

namespace seqwatch::telemetry {

namespace {
nlohmann::json base(const Snapshot& s) {
  return nlohmann::json{{"v", 1},
                        {"time", s.time},
                        {"elapsed_s", s.elapsed_s},
                        {"window_s", s.window_s},
                        {"rehash", s.rehash},
                        {"ports", s.ports},
                        {"queues", s.queues},
                        {"workers", s.workers},
                        {"rehash_packets", s.rehash_packets},
                        {"rehash_dropped_full", s.rehash_dropped_full},
                        {"rehash_dropped_oversize", s.rehash_dropped_oversize},
                        {"packets", s.packets},
                        {"tunneled", s.tunneled},
                        {"tunnels", s.tunnels},
                        {"tcp_segments", s.tcp_segments},
                        {"retransmissions", s.retransmissions},
                        {"verdicts", s.verdicts},
                        {"flows", s.flows},
                        {"imbalance", s.imbalance},
                        {"worker_balance", s.worker_balance},
                        {"core_skew", s.core_skew},
                        {"core_skew_judged", s.core_skew_judged},
                        {"diagnosis", s.diagnosis}};
}

template <typename T>
void get(const nlohmann::json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) it->get_to(out);
}
}  // namespace

nlohmann::json to_json(const Snapshot& s) {
  nlohmann::json j = base(s);
  j["retrans"] = s.retrans;
  return j;
}

nlohmann::json stats_line(const Snapshot& s) {
  nlohmann::json j = base(s);
  j["type"] = "stats";
  return j;
}

Snapshot snapshot_from_json(const nlohmann::json& j) {
  Snapshot s;
  get(j, "time", s.time);
  get(j, "elapsed_s", s.elapsed_s);
  get(j, "window_s", s.window_s);
  get(j, "rehash", s.rehash);
  get(j, "ports", s.ports);
  get(j, "queues", s.queues);
  get(j, "workers", s.workers);
  get(j, "rehash_packets", s.rehash_packets);
  get(j, "rehash_dropped_full", s.rehash_dropped_full);
  get(j, "rehash_dropped_oversize", s.rehash_dropped_oversize);
  get(j, "packets", s.packets);
  get(j, "tunneled", s.tunneled);
  get(j, "tunnels", s.tunnels);
  get(j, "tcp_segments", s.tcp_segments);
  get(j, "retransmissions", s.retransmissions);
  get(j, "verdicts", s.verdicts);
  get(j, "flows", s.flows);
  get(j, "imbalance", s.imbalance);
  get(j, "worker_balance", s.worker_balance);
  get(j, "core_skew", s.core_skew);
  get(j, "core_skew_judged", s.core_skew_judged);
  get(j, "diagnosis", s.diagnosis);
  if (auto it = j.find("retrans"); it != j.end()) s.retrans = *it;
  return s;
}

std::string si(double v) {
  const char* unit[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (std::abs(v) >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  if (u == 0) return std::abs(v - std::round(v)) < 1e-9 ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
  return fmt::format("{:.1f}{}", v, unit[u]);
}

}  // namespace seqwatch::telemetry
