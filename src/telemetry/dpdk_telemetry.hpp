// DPDK telemetry commands (rte_telemetry_register_cmd), so `dpdk-telemetry.py` and any
// client of the telemetry socket (<runtime dir>/dpdk_telemetry.v2) see seqwatch's view:
//   /seqwatch/stats    totals: packets, TCP segments, retransmissions, flows, drops, skew
//   /seqwatch/queues   one array per field, one element per RX queue
//   /seqwatch/workers  one array per field, one element per worker
// DPDK telemetry carries integers and strings only: ratios are strings ("0.8231").
// Compiled into the executable (it needs the EAL); the answers come from the store.
#pragma once

#include "telemetry/exporter.hpp"
#include "util/result.hpp"

namespace seqwatch::telemetry {

// Call after rte_eal_init. The commands answer from `store` until
// detach_dpdk_telemetry() (DPDK cannot unregister a command: afterwards they answer
// {"running": 0}). Registering twice in one process only re-points them.
Result<bool> attach_dpdk_telemetry(const SnapshotStore* store);
void detach_dpdk_telemetry();

}  // namespace seqwatch::telemetry
