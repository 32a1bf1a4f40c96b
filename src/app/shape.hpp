// The shape of a run's retransmissions (control path). The field notes' causes of loss differ
// in it (docs/tcp-analysis.md, "Retransmission shape"): a failing link or device hits every
// server behind it all the time; congestion comes in short bursts, often periodic, again on
// many servers; a sick client or server is one host; an overloaded server or VIP / load
// balancer is one service, in bursts. So the report says WHEN (retransmissions per time
// bucket against the buckets in which connections were open), HOW OFTEN (bursts, and whether
// they recur at a regular period) and WHO (how many services and clients share them), and
// the cause that shape points to.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace seqwatch::app {

// Retransmissions and open connections over packet time, in buckets of 100 ms that double
// in width whenever the run spans more than kMaxBuckets of them (memory stays bounded for a
// sensor that runs for weeks). series() merges them into at most kSeriesBuckets.
class RetxTimeline {
 public:
  static constexpr uint64_t kMaxBuckets = 8192;
  static constexpr size_t kSeriesBuckets = 600;

  void add_retx(uint64_t ts_ns);
  // A flow's lifetime [first, last] (packet time): its buckets had traffic.
  void add_flow(uint64_t first_ns, uint64_t last_ns);

  struct Series {
    double bucket_s = 1;
    std::vector<uint64_t> retx;  // per bucket, first bucket to last
    std::vector<bool> active;    // a connection was open (or a retransmission seen) in it
  };
  Series series() const;

 private:
  // Makes room for absolute bucket `b` (ts / width): extends the span or, past kMaxBuckets,
  // widens the buckets; returns b's index into the vectors (in the width after that).
  size_t slot(uint64_t ts_ns);
  void widen();
  uint64_t width_ns_ = 100'000'000;
  uint64_t base_ = 0;              // absolute bucket of index 0
  std::vector<uint64_t> retx_;     // retransmissions per bucket
  std::vector<int64_t> open_;      // change in open flows: +1 at a flow's first bucket, -1 after its last
};

// Who shares the retransmissions (from the report's services and clients).
struct RetxWho {
  uint64_t retx = 0;                   // retransmitted segments, all flows
  uint64_t services = 0;               // server:port seen
  uint64_t services_with_retx = 0;
  uint64_t top_service_retx = 0;
  std::string top_service;
  uint64_t clients = 0;                // client addresses seen
  uint64_t clients_with_retx = 0;
  uint64_t top_client_retx = 0;
  std::string top_client;
  uint64_t top_flow_retx = 0;          // the connection with the most
  std::string top_flow;                // "client:port -> server:port"
  // Server hosts (the services' addresses, ports left out): one sick server that offers
  // several services spreads its retransmissions over them, and is still one host.
  uint64_t server_hosts = 0;
  uint64_t server_hosts_with_retx = 0;
  uint64_t top_server_retx = 0;
  std::string top_server;              // address
  uint64_t top_server_services = 0;    // services of that host with retransmissions
};

// The shape and the cause it points to, as the report's `shape` object (docs/events.md).
nlohmann::json retx_shape(const RetxTimeline::Series& s, const RetxWho& who);

}  // namespace seqwatch::app
