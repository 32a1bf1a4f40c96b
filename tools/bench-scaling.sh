#!/usr/bin/env bash
# Worker scaling (issue 8 "Scaling", issue 5 line-rate-bench figures): 1, 2, 4, 8 ... workers
# on a machine with enough cores, two ways:
#   1. offline: `seqwatch analyze FILE -w N` on a 2M-frame IMIX trace in tmpfs (tools/bench.sh):
#      one reader thread decodes and spreads frames over N workers (software rehash);
#   2. live runtime: `seqwatch run --pipeline pipelines/line-rate-bench.yaml` with N RX queues
#      and N workers for --duration seconds; Mpps per worker from the workers' own counters in
#      stats.jsonl, after a warm-up second. --port replay (default): seqwatch's replay port
#      (the trace looped from memory through net_ring, spread over the queues by the symmetric
#      flow hash, TCP sequence numbers shifted per pass); --port pcap: a net_pcap port with
#      one file per queue (split by tools/pcap-split.py), infinite_rx=1, where every segment
#      after the first pass repeats sequence numbers (the runs of 2026-11-30).
# Results: a Markdown table per part on stdout and under RESULTS (default /tmp/seqwatch-scaling).
#
# Usage: tools/bench-scaling.sh [--workers 1,2,4,8] [--build DIR] [--results DIR]
#                               [--packets N] [--run-packets N] [--duration S] [--reps N]
#                               [--port replay|pcap]
# --build DIR: a build folder (DIR/src/seqwatch, DIR/src/gen/seqwatch-gen). A machine without
# the project's dependencies can run a bundle made by tools/pack-bundle.sh: pass it as --build;
# its lib/ goes on LD_LIBRARY_PATH, its pmds/ is handed to the EAL (-d) and its bin/time is
# used for tools/bench.sh.
set -uo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"; results=/tmp/seqwatch-scaling; workers=1,2,4,8; packets=2000000; run_packets=1000000
duration=8; reps=3; port=replay
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --packets) packets=$2; shift 2 ;;
    --run-packets) run_packets=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-scaling: unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=tools/bench-lib.sh
source "$root/tools/bench-lib.sh"
use_build bench-scaling "$build"
mkdir -p "$results"
shm=$(mktemp -d /dev/shm/seqwatch-scaling.XXXXXX)
trap 'rm -rf "$shm"' EXIT
log() { echo "bench-scaling: $*" >&2; }

{
  echo "host: $(nproc) CPUs, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "kernel: $(uname -r); date: $(date -u +'%Y-%m-%d %H:%M UTC'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "seqwatch: $("$SW" version 2>/dev/null | head -1)"
} | tee "$results/host.txt"

# 1. offline analyze -w N
log "part 1: analyze -w {$workers}, $packets frames, $reps reps"
"$root/tools/bench.sh" --build "$build" --workers "$workers" --reps "$reps" --packets "$packets" \
  --workdir "$shm/bench" --out "$results/analyze-scaling.md" 2>"$results/analyze-scaling.log"
echo "part 1 exit: $?"
rm -rf "$shm/bench"

# 2. run, line-rate-bench, N queues x N workers
log "part 2: run line-rate-bench, $run_packets frames split over N queues, ${duration}s each"
"$GEN" --preset imix-100k --packets "$run_packets" --seed 1 --usec -q -o "$shm/lrb.pcap" || exit 1
IFS=, read -r -a ns <<<"$workers"
for n in "${ns[@]}"; do
  if [ "$port" = pcap ]; then
    python3 "$root/tools/pcap-split.py" "$shm/lrb.pcap" "$n" "$shm/q$n-" >"$results/run-w$n.split.txt" || exit 1
    replay_port "$shm/q$n-" "$n" "$run_packets"
    # infinite_rx repeats every frame byte for byte (same IP ID, sequence numbers, times):
    # with the copy check (docs/tcp-analysis.md section 16) every later pass would be exact
    # copies, skipped unanalysed; the window at 0 analyses them as retransmissions, as the
    # figures in docs/performance.md taken with this port were.
    port_sets=(--set ports.0.replay= --set ports.0.rss=off --set "ports.0.devargs=$dev" --set ports.0.mbufs="$mbufs"
               --set tcp.copy_window_ms=0)
  else
    mem=$(( 512 + run_packets / 4000 ))  # ~200 bytes of mbuf header per frame, plus the rest
    port_sets=(--set "ports.0.replay=$shm/lrb.pcap" --set ports.0.rss=symmetric)
  fi
  out="$results/run-w$n"; rm -rf "$out"
  timeout $((duration + 180)) "$SW" run --pipeline "$root/pipelines/line-rate-bench.yaml" \
    "${port_sets[@]}" --set ports.0.rx_queues="$n" \
    --set workers.count="$n" --set eal.lcores="0-$n" --set eal.memory_mb="$mem" \
    --set flow_table.capacity=262144 "${eal_extra[@]}" \
    --out "$out" --duration "$duration" >"$results/run-w$n.txt" 2>&1
  echo "part 2 -w $n exit: $?"
  rm -f "$shm"/q"$n"-*.pcap
done

python3 - "$results" "$workers" "$run_packets" "$root/tools" "$port" <<'EOF' | tee "$results/run-scaling.md"
import json, os, sys
res, workers, frames = sys.argv[1], [int(x) for x in sys.argv[2].split(',')], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
port_name = ("net_pcap infinite_rx (one file per queue)" if sys.argv[5] == "pcap"
             else "replay port (net_ring, sequence numbers shifted per pass)")
from stats_window import window
print(f"`seqwatch run --pipeline pipelines/line-rate-bench.yaml`, {port_name}, N queues x N workers, "
      f"{frames} IMIX frames (imix-100k, 100k flows in all) split by symmetric 5-tuple over the N queues; "
      "rates from the workers' packet counters between the first stats line and the last.\n")
print("| workers | flows per worker | Mpps total | Mpps per worker (each) | cycles/pkt (busy) | busy % | imissed | rx_nombuf | events dropped |")
print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
for n in workers:
    p = os.path.join(res, f"run-w{n}", "stats.jsonl")
    try:
        lines = [json.loads(l) for l in open(p) if l.strip()]
    except OSError:
        print(f"| {n} | run failed: see run-w{n}.txt | | | | | | | |"); continue
    lines = [l for l in lines if l.get('type') == 'stats']
    if len(lines) < 3:
        print(f"| {n} | too few stats lines ({len(lines)}) | | | | | | | |"); continue
    a, b = lines[1], lines[-1]
    w = window(lines, a, b, clock='time')
    per, cpp, busy, flows = w['per_worker'], w['cycles'], w['busy'], w['flows']
    im = sum(pt['imissed'] for pt in b['ports']); nb = sum(pt['rx_nombuf'] for pt in b['ports'])
    ev = sum(w['events_dropped'] + w['records_dropped'] for w in b['workers'])
    print(f"| {n} | {flows:.0f} | {sum(per):.2f} | {' / '.join(f'{x:.2f}' for x in per)} | {cpp:.0f} | {busy:.0f} | {im} | {nb} | {ev} |")
EOF
