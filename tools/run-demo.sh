#!/usr/bin/env bash
# The main job on the bundled default input: installs what seqwatch needs, builds it,
# and analyses data/demo.pcap (real kernel TCP through a tbf bottleneck, see
# data/README.md) through the DPDK net_pcap port, the same path a live port takes.
# Output: the report on stdout, the JSON summary under out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E "$0" "$@"; fi
bash tools/install-deps.sh
tools/build.sh build -Dbuildtype=release
mkdir -p out/demo
input=${1:-data/demo.pcap}
./build/src/seqwatch analyze "$input" --source dpdk --rules config/rules/default.rules \
  --json out/demo/summary.json --events out/demo/events.jsonl --flows out/demo/flows.jsonl
echo "outputs: out/demo/summary.json, out/demo/events.jsonl, out/demo/flows.jsonl"
