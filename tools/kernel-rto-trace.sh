#!/usr/bin/env bash
# Kernel truth, segment by segment, for timeouts: runs kernel_truth.sh's capture runs one by
# one with the kernel's own TCP tracepoints on (ftrace: tcp:tcp_cong_state_set,
# tcp:tcp_retransmit_skb), then checks that the segments seqwatch marks
# timeout_retransmission are exactly the client kernel's timeout re-sends
# (tools/kernel_rto_match.py). The kernel counters (TcpExtTCPTimeouts) only give totals,
# where a miss and a false mark cancel out; this names each segment. An investigation tool,
# not a test: ftrace is global to the machine, so run nothing else with TCP retransmissions
# beside it (no CI, no other kernel suite).
# Usage: tools/kernel-rto-trace.sh [-b BUILD_DIR] [-o OUT_DIR] [-n ROUNDS] [-c "cfg;cfg;..."]
#   -c: capture-demo.sh options per run (default: kernel_truth.sh's own runs); each run
#   keeps its capture, trace, events and verdict under OUT_DIR/rN. Needs root.
# Exit status: 1 if any run disagreed (or failed kernel_truth.sh's own checks).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cfgs=$(sed -n 's/^default_runs="\(.*\)"$/\1/p' "$src/tests/kernel/kernel_truth.sh")
build=$src/build out=/tmp/seqwatch-rto-trace rounds=1
while getopts "b:o:n:c:" opt; do
  case $opt in
    b) build=$(cd "$OPTARG" && pwd) ;;
    o) out=$OPTARG ;;
    n) rounds=$OPTARG ;;
    c) cfgs=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "kernel-rto-trace: needs root (network namespaces, ftrace)" >&2; exit 2; }
[ -x "$build/src/seqwatch" ] || { echo "kernel-rto-trace: no $build/src/seqwatch (build first)" >&2; exit 2; }
T=/sys/kernel/tracing
[ -e "$T/trace" ] || mount -t tracefs nodev "$T" ||
  { echo "kernel-rto-trace: cannot mount tracefs on $T" >&2; exit 2; }
[ -e "$T/events/tcp/tcp_cong_state_set" ] ||
  { echo "kernel-rto-trace: this kernel ($(uname -r)) has no tcp:tcp_cong_state_set tracepoint" >&2; exit 2; }
IFS=';' read -r -a runs <<<"$cfgs"
events="$T/events/tcp/tcp_cong_state_set/enable $T/events/tcp/tcp_retransmit_skb/enable"
stop_tracing() { echo 0 >"$T/tracing_on"; for e in $events; do echo 0 >"$e"; done; }
buffer_kb=$(cat "$T/buffer_size_kb")
trap 'stop_tracing; echo "$buffer_kb" >"$T/buffer_size_kb"' EXIT  # leave ftrace as found
echo 16384 >"$T/buffer_size_kb"
mkdir -p "$out"
n=0 bad=0
for round in $(seq 1 "$rounds"); do
  for cfg in "${runs[@]}"; do
    n=$((n + 1)); dir=$out/r$n; rm -rf "$dir"; mkdir -p "$dir"; echo "$cfg" >"$dir/cfg.txt"
    echo 0 >"$T/tracing_on"; : >"$T/trace"
    for e in $events; do echo 1 >"$e"; done
    echo 1 >"$T/tracing_on"
    rc=0
    SEQWATCH_SOURCE_DIR=$src SEQWATCH_BUILD_DIR=$build KERNEL_TRUTH_RUNS="$cfg" KERNEL_TRUTH_LIVE=none \
      KERNEL_TRUTH_KEEP=$dir bash "$src/tests/kernel/kernel_truth.sh" "$build/src/seqwatch" >"$dir/kernel_truth.log" 2>&1 || rc=$?
    stop_tracing
    cp "$T/trace" "$dir/trace.txt"
    [ "$(grep -c 'LOST EVENTS' "$dir/trace.txt")" -eq 0 ] || echo "r$n: the trace lost events (raise buffer_size_kb)"
    pcap=$(ls "$dir"/*.pcap 2>/dev/null | head -1)
    if [ -z "$pcap" ]; then
      echo "r$n $cfg: no capture (see $dir/kernel_truth.log)"; bad=$((bad + 1)); continue
    fi
    client=10.199.1.2
    case " $cfg " in *" -6 "*) client=fd00:199:1::2 ;; esac
    "$build/src/seqwatch" analyze "$pcap" --events "$dir/events.jsonl" --flows "$dir/flows.jsonl" >"$dir/report.txt"
    verdict=$(python3 "$src/tools/kernel_rto_match.py" "$dir/trace.txt" "$dir/events.jsonl" "$client") || rc=1
    echo "r$n $cfg: $verdict"
    [ "$rc" -eq 0 ] || bad=$((bad + 1))
  done
done
echo "kernel-rto-trace: $n runs, $bad with a disagreement or a failed check (files: $out)"
[ "$bad" -eq 0 ]
