#!/usr/bin/env bash
# The main job: installs what seqwatch needs, builds it, and runs it LIVE. Three network
# namespaces (client -- router with a tc tbf bottleneck -- server) carry iperf3 traffic;
# seqwatch watches the client's veth through DPDK's net_af_packet PMD as if it were a SPAN
# port (pipelines/demo.yaml), prints the retransmission report and the client kernel's
# own counters beside it, and writes everything under out/demo/.
#
# Where network namespaces cannot be created (a container without CAP_NET_ADMIN), it
# replays the bundled capture data/demo.pcap through the DPDK net_pcap port instead.
# Usage: tools/run-demo.sh [--replay [FILE]]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E "$0" "$@"; fi
bash tools/install-deps.sh
tools/build.sh build -Dbuildtype=release

replay() {
  local input=${1:-data/demo.pcap}
  mkdir -p out/demo
  ./build/src/seqwatch analyze "$input" --source dpdk --rules config/rules/default.rules \
    --json out/demo/summary.json --events out/demo/events.jsonl --flows out/demo/flows.jsonl
  echo "outputs: out/demo/summary.json, out/demo/events.jsonl, out/demo/flows.jsonl"
}

if [ "${1:-}" = "--replay" ]; then
  replay "${2:-}"
  exit 0
fi
if ! ip netns add sw-demo-probe 2>/dev/null; then
  echo "run-demo: cannot create network namespaces here; replaying data/demo.pcap instead" >&2
  replay
  exit 0
fi
ip netns del sw-demo-probe
rm -rf out/demo
tools/capture-demo.sh -L out/demo -t 5
