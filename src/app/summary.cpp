#include "app/summary.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

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
                  {"fragments", d.fragments}, {"tunneled", d.tunneled}, {"tunnels", tunnels}}},
      {"tcp", {{"segments", t.segments}, {"data_segments", t.data_segments}, {"payload_bytes", t.payload_bytes},
               {"syn", t.syn}, {"syn_ack", t.syn_ack}, {"fin", t.fin}, {"rst", t.rst}, {"with_sack", t.with_sack},
               {"with_timestamps", t.with_timestamps}, {"options_cut", t.options_cut}}},
      {"payload_rules", rules},
      {"first_ts_ns", st.first_ts_ns},
      {"last_ts_ns", st.last_ts_ns},
  };
}

// Opens an output for JSON lines: "-" is stdout.
Result<std::FILE*> open_output(const std::string& path) {
  if (path == "-") return stdout;
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return Error{"cannot write '" + path + "': " + std::strerror(errno)};
  return f;
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

}  // namespace seqwatch::app
