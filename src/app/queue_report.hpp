// `seqwatch run`'s console report of the RX queues and the imbalance / drop events (control
// path; tests/app/report_test.cpp).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>

namespace seqwatch::app {

// From the run's summary (`queues`, `imbalance_events`; docs/events.md): each port's packets
// per RX queue (ports with more than one queue), then each condition raised during the run
// (queue imbalance, core skew: its latest message, when raised and whether cleared) and the
// drops summed per kind, port and cause with their latest message.
void print_queue_report(std::FILE* out, const nlohmann::json& j);

}  // namespace seqwatch::app
