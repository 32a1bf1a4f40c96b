#include "app/summary.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <fcntl.h>
#include <unistd.h>

#include "decode/decoder.hpp"

namespace seqwatch::app {

nlohmann::json summary_json(const runtime::WorkerState& st, const PayloadMatcher* matcher,
                            const std::vector<uint64_t>& rule_hits) {
  using nlohmann::json;
  const auto& d = st.decode;
  json errors = json::object();
  for (size_t i = 1; i < d.status.size(); ++i)
    if (d.status[i] != 0) errors[std::string(decode::decode_status_name(static_cast<decode::DecodeStatus>(i)))] = d.status[i];
  json tunnels = json::object();
  for (size_t i = 1; i < d.tunnels.size(); ++i)
    if (d.tunnels[i] != 0) tunnels[std::string(decode::tunnel_type_name(static_cast<decode::TunnelType>(i)))] = d.tunnels[i];
  json rules = json::array();
  if (matcher != nullptr) {
    for (size_t i = 0; i < matcher->rules().size() && i < rule_hits.size(); ++i)
      rules.push_back({{"id", matcher->rules()[i].id}, {"hits", rule_hits[i]}});
  }
  const auto& t = st.tcp;
  return json{
      {"packets", d.packets},
      {"decode", {{"ok", d.status[0]}, {"errors", d.errors()}, {"error_types", errors}, {"non_ip", d.non_ip},
                  {"tcp", d.tcp}, {"udp", d.udp}, {"other_l4", d.other_l4}, {"truncated", d.truncated}, {"ip_len_clipped", d.ip_len_clipped},
                  {"fragments", d.fragments}, {"tunneled", d.tunneled}, {"tunnels", tunnels},
                  {"tunnel_inner_cut", d.tunnel_inner_cut}}},
      {"tcp", {{"segments", t.segments}, {"data_segments", t.data_segments}, {"payload_bytes", t.payload_bytes},
               {"syn", t.syn}, {"syn_ack", t.syn_ack}, {"fin", t.fin}, {"rst", t.rst}, {"with_sack", t.with_sack},
               {"with_timestamps", t.with_timestamps}, {"options_cut", t.options_cut}}},
      {"payload_rules", rules},
      {"first_ts_ns", st.first_ts_ns},
      {"last_ts_ns", st.last_ts_ns},
  };
}

std::string same_output(const std::vector<std::pair<std::string, std::string>>& setting_and_path) {
  // Only a file that opening truncates can be overwritten: a regular file, or one that does not
  // exist yet. Outputs may share /dev/null, a FIFO or a terminal as they share stdout ("-").
  auto shareable = [](const std::string& p) {
    std::error_code ec;
    const auto st = std::filesystem::status(p, ec);
    return p.empty() || p == "-" || (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st));
  };
  for (size_t i = 0; i < setting_and_path.size(); ++i) {
    const auto& [a, pa] = setting_and_path[i];
    if (shareable(pa)) continue;
    for (size_t k = i + 1; k < setting_and_path.size(); ++k) {
      const auto& [b, pb] = setting_and_path[k];
      if (shareable(pb)) continue;
      std::error_code ea, eb;
      const auto ca = std::filesystem::weakly_canonical(pa, ea), cb = std::filesystem::weakly_canonical(pb, eb);
      if (ea || eb ? pa == pb : ca == cb)
        return a + " and " + b + " name the same file '" + pa + "': each would overwrite the other; give them different paths";
    }
  }
  return "";
}

std::string explain_libpcap_stop(const std::string& err) {
  if (err.find("different from the type of the first interface") == std::string::npos) return err;
  return err + " (a valid pcapng file with interfaces of several link types: seqwatch analyze --source auto reads it "
               "whole)";
}

std::string output_is_input(const std::vector<std::pair<std::string, std::string>>& setting_and_path,
                            const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  for (const auto& [setting, out] : setting_and_path) {
    if (out.empty() || out == "-") continue;
    for (const std::string& in : inputs) {
      std::error_code ec;
      bool same = fs::exists(out, ec) && fs::exists(in, ec) && fs::equivalent(out, in, ec) && !ec;
      if (!same) {
        std::error_code eo, ei;
        const auto co = fs::weakly_canonical(out, eo), ci = fs::weakly_canonical(in, ei);
        same = eo || ei ? out == in : co == ci;
      }
      if (same)
        return setting + ": '" + out + "' is the capture being read" + (out == in ? "" : " ('" + in + "')") +
               ": writing it would destroy the input; give another path";
    }
  }
  return "";
}

nlohmann::json line_file_json(const event::LineFile& f) {
  const auto& c = f.counters();
  return {{"path", f.path()}, {"lines", c.lines}, {"lines_lost", c.lost}, {"write_errors", c.write_errors},
          {"rotations", c.rotations}, {"reopens", c.reopens}};
}

std::string output_file_problem(const std::string& path) {
  if (path == "-") return {};
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) return fmt::format("'{}' is a folder; name a file", path);
  if (!std::filesystem::is_directory(dir, ec)) return fmt::format("'{}' is not a folder that exists", dir.string());
  if (::access(dir.c_str(), W_OK) != 0) return fmt::format("cannot write into '{}': {}", dir.string(), std::strerror(errno));
  // Root passes access() where the file system itself refuses (/proc, a read-only mount):
  // the file is tried, and removed again when this made it.
  if (std::filesystem::exists(p, ec)) {
    if (::access(path.c_str(), W_OK) != 0) return fmt::format("cannot write '{}': {}", path, std::strerror(errno));
    return {};
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return fmt::format("cannot create '{}': {}", path, std::strerror(errno));
  ::close(fd);
  ::unlink(path.c_str());
  return {};
}

std::string folder_problem(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  std::error_code ec;
  if (fs::exists(p, ec)) {
    if (!fs::is_directory(p, ec)) return fmt::format("'{}' exists and is not a folder", path);
    if (::access(p.c_str(), W_OK | X_OK) != 0) return fmt::format("cannot write into '{}': {}", path, std::strerror(errno));
    return {};
  }
  // Created and removed again: the system's own reason is the one reported.
  fs::path top = p;  // the outermost folder the probe creates
  while (top.has_parent_path() && top.parent_path() != top && !fs::exists(top.parent_path(), ec)) top = top.parent_path();
  fs::create_directories(p, ec);
  if (ec) return fmt::format("cannot create '{}': {}", path, ec.message());
  fs::remove_all(top, ec);
  return {};
}

bool write_summary(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  if (path == "-") return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "seqwatch: cannot write the summary to '%s': %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fclose(f) == 0;
  if (!ok) std::fprintf(stderr, "seqwatch: writing the summary to '%s' failed (disk full?)\n", path.c_str());
  return ok;
}

void print_summary(std::FILE* out, const std::string& what, const runtime::WorkerState& st, const nlohmann::json& j,
                   uint64_t dropped) {
  const auto& d = st.decode;
  fmt::print(out, "{}\n", what);
  double secs = st.last_ts_ns > st.first_ts_ns ? static_cast<double>(st.last_ts_ns - st.first_ts_ns) / 1e9 : 0.0;
  fmt::print(out, "  packets        {:>10}   capture span {:.3f} s\n", d.packets, secs);
  fmt::print(out, "  decoded ok     {:>10}   decode errors {}", d.status[0], d.errors());
  if (d.errors() != 0) {
    std::string list;
    for (auto& [k, v] : j["decode"]["error_types"].items()) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", k, v.get<uint64_t>());
    fmt::print(out, " ({})", list);
  }
  fmt::print(out, "\n  layers         TCP {}, UDP {}, other IP {}, non-IP {}\n", d.tcp, d.udp, d.other_l4, d.non_ip);
  fmt::print(out, "                 snaplen-cut {}, IP length clipped to carrier {}, IP fragments {}, tunneled {}",
             d.truncated, d.ip_len_clipped, d.fragments, d.tunneled);
  if (d.tunneled != 0) {
    std::string list;
    for (auto& [k, v] : j["decode"]["tunnels"].items()) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", k, v.get<uint64_t>());
    fmt::print(out, " ({})", list);
  }
  if (d.tunnel_inner_cut != 0)
    fmt::print(out, "\n                 tunnelled and cut before the inner IP header {} (snaplen too short for the "
                    "encapsulation: no inner flow to analyse or to spread by)",
               d.tunnel_inner_cut);
  const auto& t = st.tcp;
  fmt::print(out, "\n  TCP segments   {:>10}   with payload {} ({} bytes)\n", t.segments, t.data_segments, t.payload_bytes);
  fmt::print(out, "                 SYN {}, SYN/ACK {}, FIN {}, RST {}; SACK blocks on {}, timestamps on {}\n", t.syn,
             t.syn_ack, t.fin, t.rst, t.with_sack, t.with_timestamps);
  if (!j["payload_rules"].empty()) {
    fmt::print(out, "  payload rules ");
    for (auto& r : j["payload_rules"]) fmt::print(out, " [{}]={}", r["id"].get<uint32_t>(), r["hits"].get<uint64_t>());
    fmt::print(out, "\n");
  }
  fmt::print(out, "  not delivered  {:>10}\n", dropped);
}

nlohmann::json engine_summary(const runtime::Engine& engine, const PayloadMatcher* matcher, RetransReport& report,
                              size_t top_n) {
  const auto tcnt = engine.merged_tcp();
  const auto fcnt = engine.merged_table();
  report.add_verdicts(tcnt.verdicts);
  std::vector<uint64_t> hits;
  for (unsigned w = 0; w < engine.workers(); ++w) {
    const auto* sc = engine.worker(w).scratch();
    if (sc == nullptr) continue;
    hits.resize(sc->hits().size());
    for (size_t i = 0; i < hits.size(); ++i) hits[i] += sc->hits()[i];
  }
  const runtime::WorkerState st = engine.merged_state();
  nlohmann::json j = summary_json(st, matcher, hits);
  j["retransmissions"] = report.to_json(top_n);
  j["workers"] = engine.workers();
  if (engine.rehashing()) {
    const auto& rh = engine.rehash();
    j["rehash"] = {{"packets", rh.packets}, {"per_worker", rh.per_worker}, {"dropped_full", rh.dropped_full},
                   {"dropped_oversize", rh.dropped_oversize}, {"waits", rh.waits},
                   {"merged_by_time", engine.merging()}};
  }
  uint64_t capacity = 0, carry_slots = 0, buckets = 0;
  for (unsigned w = 0; w < engine.workers(); ++w) {
    capacity += engine.stage(w).table().capacity();
    buckets += engine.stage(w).table().bucket_count();
    carry_slots += engine.stage(w).carry().slots();
  }
  j["flow_table"] = {{"capacity", capacity}, {"workers", engine.workers()}, {"memory_bytes", engine.flow_memory_bytes()},
                     {"buckets_in_use", buckets}, {"bucket_doublings", fcnt.doublings},
                     {"inserts", fcnt.inserts}, {"evicted", fcnt.evicted}, {"expired_idle", fcnt.expired_idle},
                     {"expired_closed", fcnt.expired_closed}, {"reused_ports", tcnt.restarts},
                     {"counter_carry", {{"slots", carry_slots}, {"carries", tcnt.carries},
                                        {"saturated_flows", tcnt.saturated_flows}}}};
  j["outputs"] = {{"events", tcnt.events}, {"events_dropped", tcnt.events_dropped}, {"flow_records", tcnt.records},
                  {"flow_records_dropped", tcnt.records_dropped},
                  {"active_flow_records", tcnt.active_records}, {"payload_events", st.payload_events},
                  {"payload_events_dropped", st.payload_events_dropped}, {"backpressure_waits", st.backpressure}};
  // Exact copies (SPAN duplication): left out of every flow counter above.
  j["duplicate_packets"] = tcnt.copies;
  // The same bytes one routed hop on, past tcp.copy_window_ms, without an ID or TSval: re-sends.
  j["late_hop_matches"] = tcnt.late_hop_matches;
  // The same bytes, IPv4 ID or TSval included, on the same path past the window: re-sends.
  j["late_id_matches"] = tcnt.late_id_matches;
  // Flows whose segments were TSO/GSO/GRO aggregates: their counts are captured frames.
  j["super_segment_flows"] = tcnt.super_segment_flows;
  j["not_delivered"] = engine.input_dropped();
  if (!engine.filters().empty()) {
    nlohmann::json filters = nlohmann::json::array();
    for (const runtime::FilterInfo& f : engine.filters()) {
      nlohmann::json one = {{"role", f.role}, {"expression", f.expression}, {"runs_as", f.runs_as}};
      if (!f.why.empty()) one["why"] = f.why;
      if (f.role == "capture_filter") one["dropped"] = st.filtered;  // packets kept out of the analysis
      filters.push_back(one);
    }
    j["bpf_filters"] = filters;
  }
  return j;
}

void print_engine_report(std::FILE* out, const std::string& title, const runtime::Engine& engine,
                         const RetransReport& report, const nlohmann::json& j, size_t top_n) {
  print_summary(out, title, engine.merged_state(), j, engine.input_dropped());
  if (engine.rehashing()) {
    std::string per;
    for (uint64_t n : engine.rehash().per_worker) per += fmt::format("{}{}", per.empty() ? "" : " / ", n);
    fmt::print(out, "  workers        {} (software rehash on the inner 5-tuple: {} packets per worker)\n",
               engine.workers(), per);
    const uint64_t cut = engine.merged_state().decode.tunnel_inner_cut;
    if (cut != 0)
      fmt::print(out, "                 {} tunnelled packets cut before their inner IP header were spread by their "
                      "outer addresses only: each tunnel's went to one worker\n",
                 cut);
  }
  if (j.contains("bpf_filters")) {
    for (const auto& f : j["bpf_filters"]) {
      if (f["role"] != "capture_filter") continue;
      fmt::print(out, "  capture filter '{}' ({}): {} packets dropped before analysis\n", f["expression"].get<std::string>(),
                 f["runs_as"].get<std::string>(), f["dropped"].get<uint64_t>());
    }
  }
  report.print(out, top_n);
  if (const uint64_t copies = j["duplicate_packets"].get<uint64_t>(); copies != 0) {
    const uint64_t all = copies + engine.merged_tcp().segments;
    fmt::print(out, "  COPIES         {} TCP segments ({:.3f}%) were copies of a segment seen before (same seq, ack, "
                    "window, checksum, SACK, TSval, IP ID; the same transmission by IP ID, TTL or TSval): SPAN/mirror "
                    "duplication or a duplicating network; verdict duplicate_packet, left out of the counts above\n",
               copies, 100.0 * static_cast<double>(copies) / static_cast<double>(all));
  }
  // Segments equal to one seen past tcp.copy_window_ms, analysed as re-sends: the two
  // readings of each kind (docs/tcp-analysis.md section 16).
  const std::pair<const char*, const char*> late_kinds[] = {
      {"late_hop_matches",
       " as one seen more than tcp.copy_window_ms before, one routed hop further on (the other TTL parity), without "
       "an IPv4 ID or timestamps to tell a copy from a re-send: analysed as re-sends. If the capture holds both sides "
       "of a router (a SPAN session on both ports), its queue held them that long: raise tcp.copy_window_ms (at most "
       "1000)"},
      {"late_id_matches",
       ", IPv4 ID or TSval included, as one seen more than tcp.copy_window_ms before on the same path (the same TTL "
       "parity): analysed as re-sends. Either a mirror delivered its second copy that late (raise tcp.copy_window_ms, "
       "at most 1000) or the sender keeps one IPv4 ID (or a coarse TSval clock) and they are re-sends"}};
  for (const auto& [key, what] : late_kinds)
    if (const uint64_t late = j[key].get<uint64_t>(); late != 0)
      fmt::print(out, "  LATE COPIES?   {} TCP segments were the same bytes{}\n", late, what);
  if (const uint64_t sup = j["super_segment_flows"].get<uint64_t>(); sup != 0)
    fmt::print(out, "  SUPER-SEGMENTS {} flows carried segments longer than the receiver's MSS: TSO/GSO aggregates captured "
                    "on the sending host, or GRO ones on the receiving host. Their segment counts and retransmission rates "
                    "count captured frames, not wire segments (the payload-byte rate on the TCP flows line is not "
                    "affected). Capture on a SPAN port or with the offloads off (ethtool -K IFACE tso off gso off gro "
                    "off) for wire segments\n",
               sup);
  const auto& ft = j["flow_table"];
  fmt::print(out, "  flow table     {} flows created, {} evicted (table full), {} idle-expired, {} reused ports\n",
             ft["inserts"].get<uint64_t>(), ft["evicted"].get<uint64_t>(), ft["expired_idle"].get<uint64_t>(),
             ft["reused_ports"].get<uint64_t>());
  if (const uint64_t sat = ft["counter_carry"]["saturated_flows"].get<uint64_t>(); sat != 0)
    fmt::print(out, "  SATURATED      {} flows outgrew their 16/32-bit counters and the counter carry table ({} slots) had no "
                    "room: their flow records (counters_saturated) hold lower bounds\n",
               sat, ft["counter_carry"]["slots"].get<uint64_t>());
  if (const uint64_t act = j["outputs"]["active_flow_records"].get<uint64_t>(); act != 0)
    fmt::print(out, "  active records {} (flows still open at an active-timeout period boundary: flow records with end "
                    "\"active\", their counts so far)\n", act);
  const auto& o = j["outputs"];
  const uint64_t ev_lost = o["events_dropped"].get<uint64_t>(), rec_lost = o["flow_records_dropped"].get<uint64_t>();
  const uint64_t pay_lost = o["payload_events_dropped"].get<uint64_t>();
  if (ev_lost + rec_lost + pay_lost != 0)
    fmt::print(out, "  LOST OUTPUT    {} events, {} flow records, {} payload-match events (ring full)\n", ev_lost, rec_lost,
               pay_lost);
}

}  // namespace seqwatch::app
