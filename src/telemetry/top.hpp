// `seqwatch top`: a live terminal view of a running instance, read from its
// /api/snapshot endpoint once per interval. Plain ANSI (cursor home + clear, bold, reverse
// bars), 80 columns or wider; works in tmux and over ssh.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "telemetry/snapshot.hpp"

namespace seqwatch::telemetry {

struct TopOptions {
  std::string endpoint = "127.0.0.1:9860";  // host:port of telemetry.prometheus (or http://host:port)
  double interval_s = 1.0;
  unsigned iterations = 0;  // 0 = until interrupted
  bool color = true;        // ANSI attributes (off: plain text, e.g. piped)
  unsigned width = 0;       // 0 = the terminal's width (80 when unknown)
};

// One screen. `prev` (may be null) gives the rates; `events` is /api/events' array.
std::string render_top(const Snapshot& now, const Snapshot* prev, const nlohmann::json& events,
                       const TopOptions& o, const std::string& source);

// Polls the endpoint and redraws until SIGINT or `iterations`. Returns 0, or 1 when the
// endpoint never answered.
int top_main(const TopOptions& o);

}  // namespace seqwatch::telemetry
