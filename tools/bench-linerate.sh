#!/usr/bin/env bash
# Line-rate figures of the live worker path (issue 5 "Performance"): `seqwatch run` with
# pipelines/line-rate-bench.yaml (full TCP analysis per packet, nothing written per packet)
# on the replay port (ports[].replay: the trace looped from memory through net_ring, TCP
# sequence numbers shifted per pass), for each worker count:
#   1. the maximum: replay_rate_pps 0 (the feeder waits for room, nothing is lost);
#   2. the drop check: the same trace paced at LOAD (default 0.8; a list such as
#      0.7,0.8,0.9,0.95 finds where the first drops appear) x the measured maximum, where a
#      frame that finds its queue full is dropped and counted as imissed.
# Rates come from the workers' packet counters in the stats lines (one per second), from
# the first line after WARMUP seconds to the last, so the flow table's first-touch page
# faults at start are left out of the rate (drops during the warm-up are reported apart).
#
#   tools/bench-linerate.sh [--build DIR] [--packets N] [--preset P] [--workers 1,2]
#                           [--duration S] [--warmup S] [--load F[,F...]] [--reps R]
#                           [--descriptors D] [--out FILE]
#
# Defaults: build, 1000000 frames of imix-100k (~114k concurrent connections), 1 worker,
# 10 s runs, 3 s warm-up, load 0.8, 3 repetitions (medians), the pipeline's 32768
# descriptors per queue (the replay ring size: how long a worker may stall before frames
# are dropped). With more workers than this
# machine has CPUs besides the main lcore, workers.share_cpus is set and the figures are
# not per-core. The feeder thread is not pinned: on a 2-CPU machine it shares the main
# lcore's CPU with the control thread.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=build packets=1000000 preset=imix-100k workers=1 duration=10 warmup=3 load=0.8 reps=3 desc=32768 out=""
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --packets) packets=$2; shift 2 ;;
    --preset) preset=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --load) load=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --descriptors) desc=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-linerate: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $build in /*) ;; *) build=$root/$build ;; esac
SW=$build/src/seqwatch GEN=$build/src/gen/seqwatch-gen
for x in "$SW" "$GEN"; do [ -x "$x" ] || { echo "bench-linerate: $x not built (tools/build.sh build)" >&2; exit 2; }; done
shm=$(mktemp -d /dev/shm/seqwatch-linerate.XXXXXX)
trap 'rm -rf "$shm"' EXIT
log() { echo "bench-linerate: $*" >&2; }

trace=$shm/trace.pcap
log "generating $packets frames of $preset"
"$GEN" --preset "$preset" --packets "$packets" --seed 1 -q -o "$trace" || exit 1
mem=$(( 512 + packets / 4000 ))  # ~200 bytes of mbuf header per frame, plus the rest
cpus=$(nproc)

# run N RATE OUTDIR: one run; prints nothing, leaves OUTDIR/stats.jsonl and summary.json.
run() {
  local n=$1 rate=$2 dir=$3 share=()
  [ $((n + 1)) -gt "$cpus" ] && share=(--set workers.share_cpus=true)
  rm -rf "$dir"
  timeout $((duration + 180)) "$SW" run --pipeline "$root/pipelines/line-rate-bench.yaml" \
    --set "ports.0.replay=$trace" --set ports.0.replay_rate_pps="$rate" --set workers.count="$n" \
    --set eal.lcores="0-$n" --set eal.memory_mb="$mem" --set ports.0.rx_descriptors="$desc" "${share[@]}" \
    --out "$dir" --duration "$duration" >"$dir.log" 2>&1 || { log "run failed: $dir.log"; tail -5 "$dir.log" >&2; }
}

# measure DIR: "mpps_total mpps_per_worker_list cycles busy flows imissed_steady imissed_all ring_drops"
measure() {
  python3 - "$1" "$warmup" "$root/tools" <<'EOF'
import sys
d, warm = sys.argv[1], float(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from stats_window import stats_lines, window
try:
    lines = stats_lines(d + "/stats.jsonl")
except OSError:
    print("nan - nan nan 0 -1 -1 -1"); sys.exit()
a = next((l for l in lines if l["elapsed_s"] >= warm), None)
b = lines[-1] if lines else None
if a is None or b is None or b["elapsed_s"] - a["elapsed_s"] < 1:
    print("nan - nan nan 0 -1 -1 -1"); sys.exit()
w = window(lines, a, b)
per, cyc, busy, flows = w["per_worker"], w["cycles"], w["busy"], w["flows"]
im_all = sum(p["imissed"] for p in b["ports"])
im_steady = im_all - sum(p["imissed"] for p in a["ports"])
ring = sum(w["events_dropped"] + w["records_dropped"] for w in b["workers"])
print(f"{sum(per):.3f} {'/'.join(f'{x:.2f}' for x in per)} {cyc:.0f} {busy:.0f} {flows:.0f} {im_steady} {im_all} {ring}")
EOF
}

median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:] if x!='nan']; print(f'{statistics.median(v):.3f}' if v else 'nan')" "$@"; }

{
  echo "host: $cpus CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernel $(uname -r)"
  echo "date: $(date -u +'%Y-%m-%d %H:%M UTC'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg); commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
  echo "trace: $packets frames of seqwatch-gen --preset $preset --seed 1; ${duration} s runs, rates after ${warmup} s; $reps repetitions, medians; $desc descriptors per queue"
  echo
  echo "| workers | max Mpps total (reps) | per worker | cycles/pkt (busy) | busy % | connections per worker | paced at | delivered Mpps | imissed after warm-up | imissed in warm-up | ring drops |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  IFS=, read -r -a ns <<<"$workers"
  for n in "${ns[@]}"; do
    maxes=() last=""
    for r in $(seq 1 "$reps"); do
      log "-w $n: maximum, rep $r"
      run "$n" 0 "$shm/max-w$n-r$r"
      m=$(measure "$shm/max-w$n-r$r"); maxes+=("${m%% *}"); last=$m
    done
    mx=$(median "${maxes[@]}")
    read -r _ per cyc busy flows _ _ _ <<<"$last"
    IFS=, read -r -a loads <<<"$load"
    first=1
    for l in "${loads[@]}"; do
      rate=$(python3 -c "print(int(float('$mx') * 1e6 * float('$l')))" 2>/dev/null || echo 0)
      delivered=() steady=() warmd=() rings=()
      for r in $(seq 1 "$reps"); do
        log "-w $n: paced at $rate frames/s ($l of the maximum), rep $r"
        run "$n" "$rate" "$shm/pace-w$n-r$r"
        read -r d _ _ _ _ s a g <<<"$(measure "$shm/pace-w$n-r$r")"
        delivered+=("$d"); steady+=("$s"); warmd+=("$((a - s))"); rings+=("$g")
      done
      if [ $first = 1 ]; then
        echo "| $n | $mx (${maxes[*]}) | $per | $cyc | $busy | $flows | $rate ($l) | $(median "${delivered[@]}") | ${steady[*]} | ${warmd[*]} | ${rings[*]} |"
      else
        echo "| | | | | | | $rate ($l) | $(median "${delivered[@]}") | ${steady[*]} | ${warmd[*]} | ${rings[*]} |"
      fi
      first=0
    done
  done
} | tee ${out:+"$out"}
