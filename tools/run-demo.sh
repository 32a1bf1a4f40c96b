#!/usr/bin/env bash
# The main job: installs what seqwatch needs, builds it, and runs the appliance
# (`seqwatch run --pipeline pipelines/demo.yaml`) on the bundled default input,
# data/demo.pcap (real Linux TCP through a lossy bottleneck, data/README.md), attached as a
# DPDK net_pcap port: the same path a NIC queue takes. It prints the retransmission report
# and, beside seqwatch's count, the client kernel's own counters recorded with the capture
# (data/demo.pcap.nstat), and writes everything under out/demo/.
#
# Usage: tools/run-demo.sh [--replay FILE | --live]
#   --replay FILE  the same on another capture (no kernel counters to compare with)
#   --live         build client / router (tc tbf) / server network namespaces, push iperf3
#                  traffic through them and run seqwatch LIVE on the client's veth through
#                  DPDK's net_af_packet PMD, as on a SPAN port (tools/capture-demo.sh -L)
set -euo pipefail
mode=replay input=data/demo.pcap
case "${1:-}" in
  "") ;;
  --replay) [ -n "${2:-}" ] && input=$(realpath "$2") ;;
  --live) mode=live ;;
  *) echo "usage: tools/run-demo.sh [--replay FILE | --live]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$PWD/tools/run-demo.sh" "$@"; fi
bash tools/install-deps.sh
tools/build.sh build -Dbuildtype=release
rm -rf out/demo

if [ "$mode" = live ]; then
  if ! ip netns add sw-demo-probe 2>/dev/null; then
    echo "run-demo: cannot create network namespaces here (no CAP_NET_ADMIN?); run it without --live" >&2
    exit 1
  fi
  ip netns del sw-demo-probe
  exec tools/capture-demo.sh -L out/demo -t 5
fi

./build/src/seqwatch run --pipeline pipelines/demo.yaml \
  --set "ports.0.devargs=net_pcap0,rx_pcap=$input" --out out/demo
if [ "$input" = data/demo.pcap ]; then
  # The client's segments as seqwatch saw them, beside the client kernel's counters.
  read -r seen retx < <(python3 tools/host-segments.py out/demo/flows.jsonl 10.199.1.2)
  out=$(awk '$1 == "TcpOutSegs" {print $4}' data/demo.pcap.nstat)
  retr=$(awk '$1 == "TcpRetransSegs" {print $4}' data/demo.pcap.nstat)
  echo
  echo "client kernel (nstat, recorded with the capture): $((out + retr)) segments sent, $retr of them retransmissions"
  echo "seqwatch:                                          $seen client segments, $retx retransmitted"
fi
echo "outputs: out/demo/{summary.json,events.jsonl,flows.jsonl,stats.jsonl,config.yaml,evidence/}"
