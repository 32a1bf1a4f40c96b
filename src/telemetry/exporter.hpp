// Publishing the snapshot: a store the control thread writes and the endpoints read, the
// Prometheus text exposition (format 0.0.4) and the HTTP server (cpp-httplib) that
// serves it:
//   GET /metrics        Prometheus text exposition of the latest snapshot
//   GET /api/snapshot   the same snapshot as JSON (what `seqwatch top` polls)
//   GET /api/events     the imbalance / drop events raised so far (JSON array)
// The server runs its own threads; only the control thread publishes, under a mutex.
// Workers never touch any of this.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "telemetry/snapshot.hpp"
#include "util/result.hpp"

namespace httplib {
class Server;
}

namespace seqwatch::telemetry {

class SnapshotStore {
 public:
  void publish(Snapshot s, nlohmann::json events = nlohmann::json::array());
  // The latest snapshot (an empty one before the first publish).
  std::shared_ptr<const Snapshot> latest() const;
  nlohmann::json events() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> latest_ = std::make_shared<Snapshot>();
  nlohmann::json events_ = nlohmann::json::array();
};

// Prometheus text exposition of `s`: counters end in _total, ratios are gauges, labels
// port / queue / worker / verdict / reason. docs/observability.md lists every metric.
std::string render_prometheus(const Snapshot& s);

class HttpExporter {
 public:
  // Binds listen:port (port 0: any free port, see port()) and starts serving `store`.
  // The error names the address and what to do (port taken, not an IP literal).
  static Result<std::unique_ptr<HttpExporter>> start(const std::string& listen, uint16_t port,
                                                     const SnapshotStore& store);
  ~HttpExporter();
  uint16_t port() const noexcept { return port_; }

 private:
  HttpExporter() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace seqwatch::telemetry
