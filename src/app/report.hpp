// The retransmission report: aggregates flow records (control path) into totals, the
// flows and the server:port services with the most retransmissions, and the clients.
//
// Bounded for a sensor that runs for weeks (docs/events.md, "Report limits"): it keeps the
// `keep_flows` flows with the most retransmissions (not every flow that had one), at most
// `max_endpoints` services and as many clients (endpoints without retransmissions are
// pruned first, then new ones go untracked), and at most `max_endpoints` one-sided flows
// waiting for their other half. Every entry dropped that way is counted and reported; the
// totals always cover every flow.
//
// Active-timeout records (end "active": flows that go on, cumulative counts so far): each
// open flow's latest such line ranks among the top flows (at most `keep_flows`, marked open)
// until its final record replaces it, and the totals, services and clients take what each
// record adds to the flow's previous one, so a connection that lasts for days counts there
// long before it ends (at most `max_endpoints` open flows at a time: the active records of
// any more are counted, and those flows count in full at their final record).
#pragma once

#include <cstdint>
#include <array>
#include <cstring>
#include <absl/container/flat_hash_map.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "app/shape.hpp"
#include "event/records.hpp"
#include "util/lazy_mapping.hpp"

namespace seqwatch::app {

class RetransReport {
 public:
  static constexpr size_t kDefaultKeepFlows = 4096;
  static constexpr size_t kDefaultMaxEndpoints = size_t{1} << 18;
  explicit RetransReport(size_t keep_flows = kDefaultKeepFlows, size_t max_endpoints = kDefaultMaxEndpoints);
  void add(const event::FlowRecord& r);
  // A segment event: a retransmission's time joins the timeline of the report's `shape`.
  void add_event(const event::SegmentEvent& e);
  void add_verdicts(const std::array<uint64_t, tcp::kVerdictBits>& counts);
  // How long a half-closed connection must have been silent before the newest packet to be
  // reported as left half-closed (CLOSE_WAIT?); default kLingerNs. Set before the first add().
  void set_close_wait_ns(uint64_t ns) { linger_ns_ = ns; }
  nlohmann::json to_json(size_t top_n) const;
  void print(std::FILE* out, size_t top_n) const;

 private:
  struct Agg {
    uint64_t flows = 0, segments = 0, retx_segs = 0, fast = 0, spurious = 0, rto = 0, tail_probes = 0, dup_acks = 0;
    uint64_t syn_attempts_extra = 0, midack = 0;
    uint64_t data_bytes = 0, retx_bytes = 0;  // payload bytes sent and re-sent
  };
  // An endpoint in binary form (formatted only for the rows printed): a map keyed by
  // strings cost more than the whole analysis on a 100k-flow capture.
  struct Endpoint {
    std::array<uint8_t, 16> addr{};
    uint16_t port = 0;  // 0 for a client (the report groups clients by address)
    uint8_t family = 0;
    // Word compares (`= default` compares the address with a libc memcmp call).
    bool operator==(const Endpoint& o) const noexcept {
      uint64_t a[2], b[2];
      std::memcpy(a, addr.data(), 16);
      std::memcpy(b, o.addr.data(), 16);
      return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && port == o.port && family == o.family;
    }
    // As three words (combining the std::array hashes it as a byte range, ~3x the work).
    template <class H> friend H AbslHashValue(H h, const Endpoint& e) {
      uint64_t a[2];
      std::memcpy(a, e.addr.data(), 16);
      return H::combine(std::move(h), a[0], a[1], uint32_t{e.port} | uint32_t{e.family} << 16);
    }
  };
  static std::string format(const Endpoint& e, bool with_port);
  struct FlowLine {
    uint32_t flow_id;
    uint8_t worker;
    Endpoint client, server;
    uint16_t cport, sport;
    uint64_t segments, retx_segs, fast, spurious, rto, tail_probes, dup_acks, midack, syn_extra;
    std::string state;
    bool open = false;  // from an active-timeout record: the flow goes on
  };
  static void fold(Agg& a, const event::FlowRecord& r, int dir);
  // A flow record's counts as an aggregate of one flow.
  static Agg agg_of(const event::FlowRecord& r);
  // a += d, and what `now` has more than `before` (counts are cumulative: never less).
  static void add_agg(Agg& a, const Agg& d);
  static Agg more_than(const Agg& now, const Agg& before);
  // The flow's client (initiator address) and service (the other side's address:port).
  static std::pair<Endpoint, Endpoint> endpoints_of(const event::FlowRecord& r);
  // Adds `d` to the totals, the flow's service and its client.
  void count_in(const event::FlowRecord& r, const Agg& d);
  // The top-flows line of a record (client, server, ports, counters of both directions).
  static FlowLine line_of(const event::FlowRecord& r, uint64_t syn_extra);
  static uint64_t syn_extra_of(const event::FlowRecord& r) noexcept;
  // An active-timeout record: the flow's line among the open flows (see the class comment).
  void add_open(const event::FlowRecord& r);
  static uint64_t flow_key(uint8_t worker, uint32_t flow_id) noexcept { return uint64_t{worker} << 32 | flow_id; }
  // Ranks flow lines: more retransmissions first, then the lower flow id.
  static bool ranks_before(const FlowLine& x, const FlowLine& y) noexcept {
    return x.retx_segs != y.retx_segs ? x.retx_segs > y.retx_segs : x.flow_id < y.flow_id;
  }
  // What every flow adds to its endpoint. Most endpoints never retransmit (the 1M-frame
  // bench-peers trace: ~100k clients, 3k of them with retransmissions), so the map holds only
  // these (64 bytes a slot with the key) and the first flow that brings a count of the rest
  // (retransmissions, SYN re-sends, ACKs inside a segment) moves the endpoint's counts into a
  // full Agg. Until 2026-12-05 every slot held an Agg (128 bytes): 100k clients made 16 MiB,
  // 24 MiB while the map grew (docs/performance.md, "Report tables").
  struct Tally {
    uint64_t flows = 0, segments = 0, data_bytes = 0, dup_acks = 0;
    uint32_t full = 0;  // 1 + index of the endpoint's Agg in Endpoints::full; 0 = none yet (the counts are here)
  };
  // Flat (open addressing, no node per entry): a 100k-flow capture's ~230k lookups at the end
  // of input cost ~0.1 s with std::unordered_map's nodes.
  using EndpointMap = absl::flat_hash_map<Endpoint, Tally, absl::Hash<Endpoint>, std::equal_to<Endpoint>,
                                          util::HugeAllocator<std::pair<const Endpoint, Tally>>>;
  // Services or clients: their tallies, the full aggregates of those with more than tallies,
  // and the keys of those with retransmissions (the only ones a top list can show: ranking
  // them never walks the whole map).
  struct Endpoints {
    EndpointMap tally;
    std::vector<Agg> full;
    std::vector<uint32_t> free_full;  // indexes in `full` of pruned endpoints, for reuse
    std::vector<Endpoint> retransmitting;
    bool no_room = false;  // pruning no longer frees room: new endpoints go untracked
    // The endpoint's full aggregate; null when it has none (it never retransmitted).
    const Agg* find(const Endpoint& e) const {
      const auto it = tally.find(e);
      return it != tally.end() && it->second.full != 0 ? &full[it->second.full - 1] : nullptr;
    }
    uint64_t retx_of(const Tally& t) const { return t.full != 0 ? full[t.full - 1].retx_segs : 0; }
  };
  // Adds `d` to endpoint `e`'s aggregate, created if there is room (see the class comment;
  // counted when not).
  void add_to(Endpoints& m, const Endpoint& e, const Agg& d);
  struct Limits {
    uint64_t flow_lines_dropped = 0;    // flows with retransmissions that did not make the kept top
    uint64_t endpoints_pruned = 0;      // services/clients without retransmissions removed for room
    uint64_t endpoints_untracked = 0;   // flow records whose service or client found no room
    uint64_t one_sided_forgotten = 0;   // one-sided flows no longer waiting for their other half
    uint64_t open_lines_dropped = 0;    // open flows' lines pushed out by better-ranked ones (keep_flows kept)
    uint64_t open_untracked = 0;        // active records of open flows beyond max_endpoints (counted at their end)
  };
  // One-sided flows (segments in one direction only), by their 4-tuple without VLAN or
  // tunnel context and the side that sent: a connection whose two directions carry
  // different contexts (each direction on its own VLAN: an asymmetric SPAN / tap) shows up
  // as two one-sided flows, one per side. Counted, never merged silently.
  struct Sided {
    std::array<uint8_t, 16> a{}, b{};
    uint16_t port_a = 0, port_b = 0;
    uint8_t family = 0, sender_b = 0;
    bool operator==(const Sided&) const = default;
    template <class H> friend H AbslHashValue(H h, const Sided& k) {
      return H::combine(std::move(h), k.a, k.b, k.port_a, k.port_b, k.family, k.sender_b);
    }
  };
  // A connection whose two directions reached different workers (queues not filled by a
  // symmetric hash) also shows as two one-sided flows, same context, different workers.
  struct SideOf {
    uint64_t context = 0;
    uint8_t worker = 0;
  };
  absl::flat_hash_map<Sided, SideOf> one_sided_;  // -> context and worker of the flow
  // How connections ended, from each flow's final record (docs/events.md, "Connection ends").
  struct Ends {
    uint64_t closed = 0;                 // FIN both ways, no RST
    uint64_t reset_by_client = 0, reset_by_server = 0;  // a RST after the handshake (or midstream)
    uint64_t refused = 0;                // the server answered the SYN with a RST
    uint64_t half_closed_by_client = 0, half_closed_by_server = 0;  // one FIN, the other side never closed
    uint64_t syn_unanswered = 0;         // SYN(s), nothing back
    uint64_t handshake_incomplete = 0;   // SYN/ACK seen, no ACK of it, nothing after
    uint64_t open = 0;                   // no FIN or RST: ended by idle timeout, eviction or end of input
  };
  void count_end(const event::FlowRecord& r);
  Ends ends_;
  // Connections of one kind counted in all and per service, for the services with the most
  // (at most `cap` services followed; the total counts every connection).
  struct ServiceTally {
    uint64_t total = 0;
    absl::flat_hash_map<Endpoint, uint64_t, absl::Hash<Endpoint>> per_service;
    void add(const Endpoint& service, size_t cap);
    // The n services with the most, most first (ties: by name).
    std::vector<std::pair<std::string, uint64_t>> top(size_t n) const;
    nlohmann::json top_json(size_t n) const;
  };
  // Flow records with rst_after_fin (the resetting side had closed first and reset data of
  // the other): by the server, the keep-alive race behind a proxy's 502s.
  uint64_t reset_after_fin_by_client_ = 0;
  ServiceTally reset_after_fin_by_server_;
  // Flow records with synack_after_ack: the server did not take the handshake's ACK (its
  // accept queue was full, or the ACK was lost past the sensor).
  ServiceTally synack_after_ack_;
  // Half-closed connections left that way: one side's FIN, the other never closed, and the
  // connection silent since for linger_ns_ (tcp.close_wait_s, default kLingerNs) or more
  // (idle-expired, or that long before the newest packet of any record): CLOSE_WAIT piling
  // up on the side that never closed (its application did not call close). A record not yet
  // that far behind the newest packet waits in half_closed_ (at most max_endpoints; full: the
  // entries judgeable by then are tallied and dropped, then the record is counted not
  // judged) until print / to_json.
  static constexpr uint64_t kLingerNs = 60'000'000'000ull;  // Linux's FIN_WAIT2 timeout (tcp_fin_timeout)
  uint64_t linger_ns_ = kLingerNs;
  struct HalfClosed {
    uint64_t last_ts_ns = 0;
    Endpoint service;
    bool by_client = false;  // the client sent the FIN (the server never closed)
  };
  std::vector<HalfClosed> half_closed_;
  // Receivers that held their connections back, from the final records: a side advertising a
  // zero window (its application stopped reading), by that side ([0] the client, [1] the
  // server) and service, with the longest episode total of a flow; and connections without
  // window scaling (both SYNs seen, one lacked the option: the window stays under 64 KiB).
  std::array<ServiceTally, 2> zero_window_;
  std::array<uint64_t, 2> zero_window_longest_ms_{};  // [server side]
  ServiceTally no_wscale_;
  uint64_t half_closed_untracked_ = 0;  // beyond max_endpoints: not judged (counted)
  uint64_t newest_ts_ns_ = 0;           // newest packet time of any record
  std::array<ServiceTally, 2> lingering_;  // [by_client]: judged lingering
  // The lingering half-closed connections by who closed ([0] the server, [1] the client).
  std::array<ServiceTally, 2> lingering() const;
  uint64_t split_connections_ = 0;
  uint64_t split_across_workers_ = 0;
  uint64_t one_sided_flows_ = 0;
  // One-sided flows that carried data (the receiver's direction never passed the sensor:
  // asymmetric routing, a SPAN session of one direction), and their re-sent segments and
  // timeouts: fast vs timeout cannot be told there without the receiver's ACKs.
  uint64_t one_sided_data_flows_ = 0;
  uint64_t one_sided_retx_ = 0;
  uint64_t one_sided_rto_ = 0;
  // One-sided flows of pure ACKs (the receiver's side of a transfer whose data never passed
  // the sensor): retransmissions cannot be counted there; their duplicate ACKs are the trace.
  uint64_t one_sided_ack_flows_ = 0;
  uint64_t one_sided_dup_acks_ = 0;
  Agg total_;
  Endpoints servers_;  // ip:port of the side that did not initiate
  Endpoints clients_;  // initiator IP
  std::vector<FlowLine> flows_;         // flows with retransmissions or handshake trouble: a heap, worst first
  absl::flat_hash_map<uint64_t, FlowLine> open_;  // flow_key -> latest line of an open flow (active records)
  absl::flat_hash_map<uint64_t, Agg> open_counted_;  // flow_key -> what an open flow's active records counted so far
  RetxTimeline timeline_;  // retransmissions and open flows over packet time (shape)
  // Who shares the retransmissions, for the shape.
  RetxWho who() const;
  size_t keep_flows_;
  size_t max_endpoints_;
  Limits limits_;
  std::array<uint64_t, tcp::kVerdictBits> verdicts_{};
};

}  // namespace seqwatch::app
