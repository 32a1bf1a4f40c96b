#include "app/shape.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>

namespace seqwatch::app {

void RetxTimeline::widen() {
  // Twice as wide, aligned on absolute buckets: counts add up; an open-flow change keeps its
  // bucket, rounded so that a flow still covers every new bucket it touched (an end, the
  // bucket after a flow's last, rounds up).
  const uint64_t nbase = base_ / 2;
  const size_t n = static_cast<size_t>((base_ + retx_.size() + 1) / 2 - nbase + 1);
  std::vector<uint64_t> r(n, 0);
  std::vector<int64_t> o(n, 0);
  for (size_t i = 0; i < retx_.size(); ++i) {
    const uint64_t b = base_ + i;
    r[b / 2 - nbase] += retx_[i];
    o[(open_[i] > 0 ? b / 2 : (b + 1) / 2) - nbase] += open_[i];
  }
  width_ns_ *= 2;
  base_ = nbase;
  retx_ = std::move(r);
  open_ = std::move(o);
}

size_t RetxTimeline::slot(uint64_t ts_ns) {
  for (;;) {
    const uint64_t b = ts_ns / width_ns_;
    if (retx_.empty()) {
      base_ = b;
      retx_.assign(1, 0);
      open_.assign(1, 0);
      return 0;
    }
    const uint64_t lo = std::min(base_, b), hi = std::max(base_ + retx_.size() - 1, b);
    if (hi - lo >= kMaxBuckets) {
      widen();
      continue;
    }
    if (b < base_) {  // before the first bucket (a flow record's start): extend to the left
      const size_t more = static_cast<size_t>(base_ - b);
      retx_.insert(retx_.begin(), more, 0);
      open_.insert(open_.begin(), more, 0);
      base_ = b;
    } else if (b >= base_ + retx_.size()) {
      retx_.resize(static_cast<size_t>(b - base_ + 1), 0);
      open_.resize(retx_.size(), 0);
    }
    return static_cast<size_t>(b - base_);
  }
}

void RetxTimeline::add_retx(uint64_t ts_ns) { ++retx_[slot(ts_ns)]; }

void RetxTimeline::add_flow(uint64_t first_ns, uint64_t last_ns) {
  if (last_ns < first_ns) last_ns = first_ns;
  // Most flow records fall inside the buckets there are (records come as flows end, their
  // times near the newest): two divisions, no resizing.
  if (!retx_.empty()) {
    const uint64_t first_b = first_ns / width_ns_, after_b = last_ns / width_ns_ + 1;
    if (first_b >= base_ && after_b - base_ < retx_.size()) {
      ++open_[first_b - base_];
      --open_[after_b - base_];
      return;
    }
  }
  // Room for both ends first, in the width they end up in (room for one may widen).
  uint64_t w;
  do {
    w = width_ns_;
    slot(first_ns);
    slot(last_ns + w);
  } while (w != width_ns_);
  ++open_[slot(first_ns)];
  --open_[slot(last_ns + width_ns_)];
}

RetxTimeline::Series RetxTimeline::series() const {
  Series s;
  s.bucket_s = static_cast<double>(width_ns_) / 1e9;
  if (retx_.empty()) return s;
  // Up to the last bucket with a retransmission or an open flow (the last change of open_
  // ends a flow: the bucket before it).
  size_t span = 0;
  for (size_t i = 0; i < retx_.size(); ++i) {
    if (retx_[i] != 0) span = std::max(span, i + 1);
    if (open_[i] != 0) span = std::max(span, open_[i] > 0 ? i + 1 : i);
  }
  span = std::max<size_t>(span, 1);
  // At most kSeriesBuckets buckets of `merge` stored ones each.
  size_t merge = 1;
  while ((span + merge - 1) / merge > kSeriesBuckets) merge *= 2;
  s.bucket_s *= static_cast<double>(merge);
  const size_t n = (span + merge - 1) / merge;
  s.retx.assign(n, 0);
  s.active.assign(n, false);
  int64_t open = 0;
  for (size_t i = 0; i < span; ++i) {
    open += open_[i];
    s.retx[i / merge] += retx_[i];
    if (retx_[i] != 0 || open > 0) s.active[i / merge] = true;
  }
  return s;
}

namespace {

constexpr uint64_t kMinRetx = 20;           // fewer: no shape to tell
constexpr size_t kMinBuckets = 10;          // fewer buckets with traffic: too short to tell when
constexpr double kPersistentCover = 0.5;    // retransmissions in at least this share of the buckets with traffic ...
constexpr double kBurstyTopTenth = 0.5;     // ... unless the busiest tenth of them holds this share or more
constexpr double kBurstOverMean = 3;        // a burst bucket: at least 3 x the mean (and 3 retransmissions)
constexpr double kPeriodicCv = 0.25;        // bursts at least 3, their spacing this regular: periodic
constexpr size_t kMinRhythmBursts = 4;      // ... or all but one of 5 or more
constexpr double kBurstCalmS = 1.0;         // burst runs closer than this are one burst
constexpr double kConcentrated = 0.8;       // one service / client with this share of the retransmissions ...
constexpr uint64_t kMinPeers = 3;           // ... among at least this many in the capture
constexpr double kSpread = 0.5;             // the top one has less than this share: spread
// Sparse loss (fewer retransmissions than buckets with traffic) is judged by how its buckets
// with retransmissions are spaced, not by coverage and the busiest tenth (below).
constexpr size_t kMinSpaced = 10;           // fewer buckets with retransmissions: clustered
constexpr double kSteadySpacing = 1.3;      // gap CV up to this x a steady loss's: persistent
constexpr double kClusteredSpacing = 1.7;   // from this x on: bursty (between: intermittent)

std::string pct(double x) { return fmt::format("{:.0f}%", 100 * x); }

}  // namespace

nlohmann::json retx_shape(const RetxTimeline::Series& s, const RetxWho& who) {
  using nlohmann::json;
  uint64_t total = 0;
  std::vector<uint64_t> act;  // retransmissions of the buckets with traffic
  std::vector<size_t> act_index;
  for (size_t i = 0; i < s.retx.size(); ++i) {
    total += s.retx[i];
    if (s.active[i]) {
      act.push_back(s.retx[i]);
      act_index.push_back(i);
    }
  }
  json j{{"bucket_s", s.bucket_s}, {"buckets", s.retx.size()}, {"buckets_with_traffic", act.size()},
         {"retx_in_timeline", total}};
  // When.
  std::string when = "too_few";
  double cover = 0, top_tenth = 0, period_s = 0, spacing = 0;
  uint64_t period_off = 0;  // bursts left out of the period (at most 1)
  uint64_t bursts = 0;
  bool sparse = false;
  if (total >= kMinRetx && act.size() < kMinBuckets) {
    when = "too_short";
  } else if (total >= kMinRetx) {
    const auto with = static_cast<double>(std::count_if(act.begin(), act.end(), [](uint64_t n) { return n != 0; }));
    cover = with / static_cast<double>(act.size());
    std::vector<uint64_t> sorted = act;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    const size_t k = (sorted.size() + 9) / 10;
    uint64_t top = 0;
    for (size_t i = 0; i < k; ++i) top += sorted[i];
    top_tenth = static_cast<double>(top) / static_cast<double>(total);
    // Bursts: runs of consecutive burst buckets; their starts, for the period.
    const double mean = static_cast<double>(total) / static_cast<double>(act.size());
    const double burst_min = std::max(3.0, kBurstOverMean * mean);
    // Runs less than kBurstCalmS apart are one burst (a loss episode's re-sends spread over
    // its RTOs, a second or so).
    const auto calm = static_cast<size_t>(std::max(2.0, std::ceil(kBurstCalmS / s.bucket_s)));
    std::vector<size_t> starts;
    size_t last_burst = 0;
    for (size_t i = 0; i < s.retx.size(); ++i) {
      if (static_cast<double>(s.retx[i]) < burst_min) continue;
      if (starts.empty() || i - last_burst > calm) starts.push_back(i);
      last_burst = i;
    }
    bursts = starts.size();
    if (starts.size() >= 3) {
      // The mean gap between the starts, if they are evenly spaced (else 0); `skip`: a start
      // left out.
      auto even_period = [&](size_t skip) {
        std::vector<double> gaps;
        size_t prev = SIZE_MAX;
        for (size_t i = 0; i < starts.size(); ++i) {
          if (i == skip) continue;
          if (prev != SIZE_MAX) gaps.push_back(static_cast<double>(starts[i] - starts[prev]));
          prev = i;
        }
        double m = 0, v = 0;
        for (double g : gaps) m += g / static_cast<double>(gaps.size());
        for (double g : gaps) v += (g - m) * (g - m) / static_cast<double>(gaps.size());
        return m > 0 && std::sqrt(v) / m <= kPeriodicCv ? m : 0.0;
      };
      double m = even_period(SIZE_MAX);
      // One burst off the rhythm (a start-up overshoot, a one-off incident beside a periodic
      // job) hides the others' period, or pulls it (a burst 5 s before six 10 s apart: 9.2 s).
      // With 5 bursts or more (4 or more left: 3 gaps, so a chance spacing rarely passes),
      // the others evenly spaced without a burst whose gap(s) to its neighbours are off that
      // spacing by more than kPeriodicCv give the period.
      for (size_t skip = 0; starts.size() >= kMinRhythmBursts + 1 && skip < starts.size(); ++skip) {
        const double p = even_period(skip);
        if (p == 0) continue;
        auto off = [&](size_t a, size_t b) {
          return std::fabs(static_cast<double>(starts[b] - starts[a]) - p) > kPeriodicCv * p;
        };
        if ((skip > 0 && off(skip - 1, skip)) || (skip + 1 < starts.size() && off(skip, skip + 1))) {
          m = p;
          period_off = 1;
          break;
        }
      }
      period_s = m * s.bucket_s;
    }
    // Sparse loss: on 100 ms buckets a steady loss of a few retransmissions a second covers
    // few buckets and puts all of them in the "busiest tenth" (uniform 0.2% loss over 60 s,
    // 158 retransmissions in 600 buckets, read as bursty congestion until 2026-12-04). There
    // the buckets with retransmissions are what tells: a steady loss hits each bucket with
    // traffic independently with the same chance p, so the gaps between hit buckets
    // (counted in buckets with traffic) are geometric, their coefficient of variation
    // sqrt(1 - p); a clustered loss has many short gaps and a few long ones. A recovery
    // that re-sends several segments at once hits one bucket: counted once, as it should.
    // `spacing` is the gaps' CV over sqrt(1 - p).
    sparse = total < act.size();
    if (sparse) {
      std::vector<double> gaps;
      size_t prev = 0;
      bool seen = false;
      for (size_t i = 0; i < act.size(); ++i) {
        if (act[i] == 0) continue;
        if (seen) gaps.push_back(static_cast<double>(i - prev));
        prev = i;
        seen = true;
      }
      if (gaps.size() + 1 >= kMinSpaced) {
        double m = 0, v = 0;
        for (double g : gaps) m += g / static_cast<double>(gaps.size());
        for (double g : gaps) v += (g - m) * (g - m) / static_cast<double>(gaps.size());
        spacing = std::sqrt(v) / m / std::sqrt(std::max(1 - cover, 0.01));
      }
      const bool clustered = gaps.size() + 1 < kMinSpaced || spacing >= kClusteredSpacing;
      when = period_s > 0 || clustered ? "bursty" : spacing <= kSteadySpacing ? "persistent" : "intermittent";
    } else {
      when = top_tenth >= kBurstyTopTenth ? "bursty" : cover >= kPersistentCover ? "persistent" : "intermittent";
    }
  }
  j["when"] = when;
  j["coverage"] = cover;
  j["top_tenth_share"] = top_tenth;
  j["bursts"] = bursts;
  j["period_s"] = period_s;
  j["bursts_off_period"] = period_off;
  j["sparse"] = sparse;
  j["spacing"] = spacing;
  // Who.
  const double svc_share = who.retx != 0 ? static_cast<double>(who.top_service_retx) / static_cast<double>(who.retx) : 0;
  const double cli_share = who.retx != 0 ? static_cast<double>(who.top_client_retx) / static_cast<double>(who.retx) : 0;
  const double flow_share = who.retx != 0 ? static_cast<double>(who.top_flow_retx) / static_cast<double>(who.retx) : 0;
  const double host_share = who.retx != 0 ? static_cast<double>(who.top_server_retx) / static_cast<double>(who.retx) : 0;
  std::string whom = "unclear";
  if (flow_share >= kConcentrated) whom = "one_flow";
  else if (who.services == 1) whom = "one_service_only";
  else if (who.server_hosts == 1) whom = "one_server_only";
  else if (who.clients == 1) whom = "one_client_only";
  else if (who.clients >= kMinPeers && cli_share >= kConcentrated) whom = "one_client";
  else if (who.services >= kMinPeers && svc_share >= kConcentrated) whom = "one_service";
  // One server host offering several services: each service has a share, the host has them all.
  else if (who.server_hosts >= kMinPeers && host_share >= kConcentrated) whom = "one_server";
  else if (who.services_with_retx >= kMinPeers && svc_share < kSpread && host_share < kSpread &&
           (who.clients < kMinPeers || cli_share < kSpread))
    whom = "spread";
  j["who"] = whom;
  j["services"] = who.services;
  j["services_with_retx"] = who.services_with_retx;
  j["top_service"] = who.top_service;
  j["top_service_share"] = svc_share;
  j["clients"] = who.clients;
  j["clients_with_retx"] = who.clients_with_retx;
  j["top_client"] = who.top_client;
  j["top_client_share"] = cli_share;
  j["top_flow"] = who.top_flow;
  j["top_flow_share"] = flow_share;
  j["server_hosts"] = who.server_hosts;
  j["server_hosts_with_retx"] = who.server_hosts_with_retx;
  j["top_server"] = who.top_server;
  j["top_server_share"] = host_share;

  // The cause that shape points to (the field notes' six).
  const double span_s = s.bucket_s * static_cast<double>(act.size());
  const std::string off = period_off != 0 ? " (one more burst off that rhythm)" : "";
  const std::string in_time =
      sparse && when == "persistent"
          ? fmt::format("steadily at a low rate ({} in {:.0f} s with traffic, spaced like independent losses)", total,
                        span_s)
      : sparse && when == "bursty"
          ? fmt::format("clustered in time{}{}", bursts > 1 ? fmt::format(", in {} bursts", bursts) : std::string(),
                        period_s > 0 ? fmt::format(" every ~{:.3g} s{}", period_s, off) : std::string())
      : sparse && when == "intermittent"
          ? fmt::format("on and off ({} in {:.0f} s with traffic, neither steady nor clustered)", total, span_s)
      : when == "persistent" ? fmt::format("in {} of the {:g} s intervals with traffic, evenly", pct(cover), s.bucket_s)
      : when == "bursty"     ? fmt::format("{} of them in the busiest tenth of the time{}{}", pct(top_tenth),
                                           bursts > 1 ? fmt::format(", in {} bursts", bursts) : std::string(),
                                           period_s > 0 ? fmt::format(" every ~{:.3g} s{}", period_s, off) : std::string())
      : when == "intermittent" ? fmt::format("on and off (in {} of the {:g} s intervals with traffic)", pct(cover),
                                             s.bucket_s)
                               : std::string("over too short a time to tell when");
  auto n_of = [](uint64_t n, const char* what) { return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s"); };
  std::string suspect = "unclear", msg;
  if (when == "too_few") {
    suspect = "none";
    msg = fmt::format("{} retransmissions in the timeline: too few to show a shape", total);
  } else if (whom == "one_flow") {
    suspect = "one_flow";
    msg = fmt::format("one connection, {}, has {} of the retransmissions, {}: its two hosts or its path (one "
                      "connection cannot tell them apart)",
                      who.top_flow, pct(flow_share), in_time);
  } else if (whom == "one_client_only") {
    msg = fmt::format("every connection comes from {}, its retransmissions with {}, {}: a capture of one client; "
                      "spread over its services, the trouble is on its side (its NIC, host or access link) or on a "
                      "path they all share",
                      who.top_client, n_of(who.services_with_retx, "service"), in_time);
  } else if (whom == "one_client") {
    suspect = "one_client";
    msg = fmt::format("client {} has {} of the retransmissions ({} clients in the capture), {}: one sick client (its NIC "
                      "or host), not the path",
                      who.top_client, pct(cli_share), who.clients, in_time);
  } else if (whom == "one_service") {
    suspect = when == "persistent" ? "one_server" : "one_service_overloaded";
    msg = fmt::format("service {} has {} of the retransmissions ({} services in the capture), {}: {}", who.top_service,
                      pct(svc_share), who.services, in_time,
                      when == "persistent" ? "that server (its NIC or host) is failing"
                                           : "that service, or its VIP / load balancer, is overloaded at those times");
  } else if (whom == "one_server") {
    suspect = when == "persistent" ? "one_server" : "one_server_overloaded";
    msg = fmt::format("server {} has {} of the retransmissions, over {} of its services ({} servers in the capture), {}: "
                      "{}",
                      who.top_server, pct(host_share), who.top_server_services, who.server_hosts, in_time,
                      when == "persistent" ? "that server (its NIC or host) is failing, whichever service"
                                           : "that server is overloaded at those times, whichever service");
  } else if (whom == "one_server_only") {
    suspect = "unclear";
    msg = fmt::format("every connection goes to server {} ({} services), {}: a capture of one server cannot tell it "
                      "from the path to it",
                      who.top_server.empty() ? std::string("(one host)") : who.top_server, who.services, in_time);
  } else if (whom == "one_service_only") {
    suspect = "unclear";
    msg = fmt::format("every connection goes to {}, {}: a capture of one service cannot tell that server from the path "
                      "to it",
                      who.top_service, in_time);
  } else if (whom == "spread" && when == "too_short") {
    msg = fmt::format("spread over {} and {} (the top service has {}), {}", n_of(who.services_with_retx, "service"),
                      n_of(who.clients_with_retx, "client"), pct(svc_share), in_time);
  } else if (whom == "spread") {
    const std::string where = fmt::format("spread over {} and {} (the top service has {})",
                                          n_of(who.services_with_retx, "service"), n_of(who.clients_with_retx, "client"),
                                          pct(svc_share));
    if (when == "persistent") {
      suspect = "failing_link_or_device";
      msg = fmt::format("{}, {}: a failing link or device on the shared path (e.g. an interface with CRC errors) hits "
                        "every server behind it",
                        where, in_time);
    } else if (when == "bursty") {
      suspect = "congestion";
      msg = fmt::format("{}, {}: congestion bursts on a shared link{}", where, in_time,
                        period_s > 0 ? " (periodic: a scheduled job, backups, a batch?)" : "");
    } else {
      msg = fmt::format("{}, {}: a shared link or device, neither steady enough for a failing one nor bursty enough for "
                        "congestion",
                        where, in_time);
    }
  } else {
    msg = fmt::format("{} and {} with retransmissions (the top service has {}, the top client {}), {}",
                      n_of(who.services_with_retx, "service"), n_of(who.clients_with_retx, "client"), pct(svc_share),
                      pct(cli_share), in_time);
  }
  j["suspect"] = suspect;
  j["message"] = msg;
  return j;
}

}  // namespace seqwatch::app
