#!/usr/bin/env bash
# Cost of the statistics on the workers (issue 7: <= 1%): `seqwatch run` with
# pipelines/line-rate-bench.yaml on N net_pcap queues (infinite_rx, the trace split per queue
# by tools/pcap-split.py), N workers, two configurations run interleaved --reps times:
#   on:  stats every second (outputs.stats_interval_s=1, stats.jsonl written) and the
#        imbalance diagnosis' packet samples (imbalance.samples=true: 1 packet in 64 handed
#        to the control thread)
#   off: stats every 3600 s, no stats file, imbalance.samples=false
# What stays in both: the workers' own counters and the two TSC reads per poll (busy/idle
# cycles), which have no switch; the control thread reads the counters once a second either way.
# Rate = packets / (last - first packet timestamp) from summary.json; medians printed.
#
# Usage: tools/bench-stats-cost.sh [--build DIR] [--workers N] [--reps N] [--duration S]
#                                  [--packets N] [--results DIR]
# --build DIR accepts a bundle from tools/pack-bundle.sh, as tools/bench-scaling.sh does.
set -uo pipefail
export LC_ALL=C
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"; workers=4; reps=5; duration=6; packets=1000000; results=/tmp/seqwatch-stats-cost
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --packets) packets=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-stats-cost: unknown option $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=tools/bench-lib.sh
source "$root/tools/bench-lib.sh"
use_build bench-stats-cost "$build"
share=()
[ $((workers + 1)) -le "$(nproc)" ] || share=(--set workers.share_cpus=true)
mkdir -p "$results"
shm=$(mktemp -d /dev/shm/seqwatch-stats.XXXXXX)
trap 'rm -rf "$shm"' EXIT

"$GEN" --preset imix-100k --packets "$packets" --seed 1 --usec -q -o "$shm/t.pcap" || exit 1
python3 "$root/tools/pcap-split.py" "$shm/t.pcap" "$workers" "$shm/q" >/dev/null || exit 1
rm -f "$shm/t.pcap"
replay_port "$shm/q" "$workers" "$packets"
# infinite_rx repeats the file byte for byte: copy_window_ms=0 analyses the later passes (as
# retransmissions) instead of skipping them as SPAN copies (docs/tcp-analysis.md section 16).
common=(--pipeline "$root/pipelines/line-rate-bench.yaml" --set ports.0.replay= --set ports.0.rss=off --set "ports.0.devargs=$dev" --set ports.0.rx_queues="$workers"
        --set ports.0.mbufs="$mbufs" --set workers.count="$workers" --set eal.lcores="0-$workers"
        --set eal.memory_mb="$mem" --set tcp.copy_window_ms=0 "${share[@]}" "${eal_extra[@]}" --duration "$duration")
on=(--set outputs.stats_interval_s=1 --set imbalance.window_s=1 --set imbalance.samples=true)
off=(--set outputs.stats_interval_s=3600 --set imbalance.window_s=3600 --set telemetry.stats_file=false
     --set imbalance.samples=false)
: >"$results/rates.tsv"
for ((r = 1; r <= reps; r++)); do
  for mode in on off; do
    out="$results/$mode-$r"; rm -rf "$out"
    if [ "$mode" = on ]; then extra=("${on[@]}"); else extra=("${off[@]}"); fi
    timeout $((duration + 120)) "$SW" run "${common[@]}" "${extra[@]}" --out "$out" >"$out.txt" 2>&1
    rc=$?
    python3 - "$out/summary.json" "$mode" "$r" "$rc" <<'EOF' | tee -a "$results/rates.tsv"
import json, sys
path, mode, r, rc = sys.argv[1:5]
try:
    j = json.load(open(path))
    span = (j['last_ts_ns'] - j['first_ts_ns']) / 1e9
    print(f"{mode}\t{r}\t{j['packets'] / span / 1e6:.3f}\t{rc}")
except Exception as e:
    print(f"{mode}\t{r}\tnan\t{rc} ({e})")
EOF
  done
done
python3 - "$results/rates.tsv" "$workers" <<'EOF' | tee "$results/stats-cost.md"
import statistics, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
by = {}
for mode, r, mpps, rc in rows:
    if mpps != 'nan':
        by.setdefault(mode, []).append(float(mpps))
print(f"| stats | runs | Mpps total, each run | median Mpps |  (N = {sys.argv[2]} workers)")
print("|---|---:|---|---:|")
for mode in ("on", "off"):
    v = by.get(mode, [])
    print(f"| {mode} | {len(v)} | {' / '.join(f'{x:.2f}' for x in v)} | {statistics.median(v) if v else float('nan'):.3f} |")
if by.get("on") and by.get("off"):
    a, b = statistics.median(by["on"]), statistics.median(by["off"])
    print(f"\ncost of the statistics: {(b - a) / b * 100:+.2f}% of the workers' throughput (median off vs on); "
          f"spread of the runs: on {min(by['on']):.2f}-{max(by['on']):.2f}, off {min(by['off']):.2f}-{max(by['off']):.2f} Mpps")
EOF
