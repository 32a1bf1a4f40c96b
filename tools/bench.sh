#!/usr/bin/env bash
# End-to-end bench (issue 8): replays an in-memory trace through N workers and prints Mpps per
# worker and in total, cycles per packet and drops, for each N of --workers.
#
# "In-memory replay" here = `seqwatch analyze FILE -w N` on a capture in /dev/shm (tmpfs: the
# file is RAM, read through the default zero-copy mmap source, no disk I/O), whole process
# timed. With N >= 2 the reader thread feeds the workers through the software rehash stage
# (inner 5-tuple); it is one more busy thread besides the N workers.
#
# Usage: tools/bench.sh [--workers 1,2,4,8] [--reps N] [--file PCAP] [--packets N] [--seed N]
#                       [--build DIR] [--ghz G] [--workdir DIR] [--keep] [--out FILE.md] [-- ARGS]
#   --workers LIST  worker counts, comma-separated (default 1,2)
#   --reps N        repetitions per N, interleaved (default 5); medians reported
#   --file PCAP     replay this capture (copied to /dev/shm first when not already there);
#                   default: generate the same trace as tools/bench-peers.sh (imix-100k + lossy
#                   impairments, seed 1, 1M frames)
#   --ghz G         clock for cycles/packet (default: the kernel's TSC frequency)
#   -- ARGS         passed to every `seqwatch analyze` (e.g. -- --flow-capacity 131072)
# Cycles/packet: the summary JSON (`analyze --json`) does not carry the workers' busy TSC
# (WorkerState::busy_tsc exists but is not exported there), so two estimates are printed:
#   cpu   = (user + sys CPU seconds of the whole process, all threads) x GHz / packets
#   wall  = wall seconds x GHz x (N workers) / packets   (worker-core cycles, idle included)
# Both include start-up (EAL-free, but the flow table allocation), the reader and the summary;
# the start-up wall time alone is measured on a 100-frame file with the same flags and shown.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
build=""; workers="1,2"; reps=5; file=""; packets=1000000; seed=1; ghz=""; workdir=""; keep=0; out=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --workers|-w) workers=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --packets) packets=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --ghz) ghz=$2; shift 2 ;;
    --workdir) workdir=$2; keep=1; shift 2 ;;
    --keep) keep=1; shift ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$build" ]; then
  if [ -x "$root/build-peers/src/seqwatch" ]; then build="$root/build-peers"; else build="$root/build"; fi
fi
SW="$build/src/seqwatch"; GEN="$build/src/gen/seqwatch-gen"
[ -x "$SW" ] || { echo "bench: $SW missing: ninja -C $build src/seqwatch src/gen/seqwatch-gen" >&2; exit 1; }
TIME=${TIME:-/usr/bin/time}
[ -x "$TIME" ] || { echo "bench: GNU time missing: tools/install-deps.sh (package 'time')" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

if [ -z "$ghz" ]; then
  mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p' | head -1 || true)
  [ -n "$mhz" ] || mhz=$(awk -F: '/^cpu MHz/{gsub(/ /,"",$2); print $2; exit}' /proc/cpuinfo)
  ghz=$(awk -v m="$mhz" 'BEGIN{printf "%.3f", m / 1000}')
fi

if [ -z "$workdir" ]; then workdir=$(mktemp -d /dev/shm/seqwatch-bench.XXXXXX); fi
mkdir -p "$workdir"
[ "$keep" = 1 ] || trap 'rm -rf "$workdir"' EXIT

if [ -z "$file" ]; then
  [ -x "$GEN" ] || { echo "bench: $GEN missing" >&2; exit 1; }
  file="$workdir/imix-lossy-$packets.pcap"
  gencmd=("$GEN" --preset imix-100k --packets "$packets" --seed "$seed"
          --loss-downstream 0.01 --loss-upstream 0.005 --reorder 0.005 --duplicate 0.003 --usec -o "$file")
  log "generating: ${gencmd[*]}"
  "${gencmd[@]}" 2>&1 | sed 's/^/  /' >&2
elif [ "$(df -P "$file" | awk 'NR==2{print $6}')" != /dev/shm ]; then
  cp "$file" "$workdir/"; file="$workdir/$(basename "$file")"
  log "copied the capture to $file (tmpfs)"
fi
# start-up cost: the same flags on a 100-frame file
tiny="$workdir/tiny.pcap"
if [ -x "$GEN" ]; then "$GEN" --flows 10 --packets 100 --seed "$seed" --usec -q -o "$tiny"; fi

IFS=, read -r -a ns <<<"$workers"
res="$workdir/bench.tsv"; : >"$res"
load0=$(cut -d' ' -f1-3 /proc/loadavg); t0=$(date -u +'%Y-%m-%d %H:%M UTC')
for n in "${ns[@]}"; do
  [ $((n + 1)) -le "$(nproc)" ] || log "note: -w $n on $(nproc) CPUs: $n workers + the reader share the cores (oversubscribed)"
done
for ((r = 1; r <= reps; r++)); do
  for n in "${ns[@]}"; do
    j="$workdir/w$n-r$r.json"
    if ! $TIME -o "$workdir/time.txt" -f '%e %M %U %S' "$SW" analyze "$file" -w "$n" --json "$j" "${extra[@]}" \
         >/dev/null 2>"$workdir/stderr.txt"; then
      log "FAILED: -w $n"; cat "$workdir/stderr.txt" >&2; exit 1
    fi
    read -r wall rss usr sys <"$workdir/time.txt"
    st=""
    if [ -f "$tiny" ]; then
      $TIME -o "$workdir/time.txt" -f '%e' "$SW" analyze "$tiny" -w "$n" "${extra[@]}" >/dev/null 2>&1
      st=$(cat "$workdir/time.txt")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$r" "$wall" "$rss" "$usr" "$sys" "$j" "${st:-0}" >>"$res"
    log "rep $r  -w $n: $wall s"
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$res" "$ghz" "$t0" "$load0" "$load1" "$file" "${extra[*]:-}" <<'EOF' | tee "${out:-/dev/null}"
import json, os, statistics, sys
res, ghz, t0, load0, load1, file, extra = sys.argv[1:8]
ghz = float(ghz)
by = {}
for line in open(res):
    n, r, wall, rss, usr, sys_, j, st = line.rstrip('\n').split('\t')
    by.setdefault(int(n), []).append(dict(wall=float(wall), rss=int(rss), cpu=float(usr) + float(sys_),
                                          j=json.load(open(j)), st=float(st)))
med = statistics.median
print(f"Run {t0}; load average {load0} at start, {load1} at end; {os.cpu_count()} CPUs; "
      f"clock {ghz:.3f} GHz (TSC). Command: `seqwatch analyze {file} -w N {extra}`.\n".replace('  ', ' '))
print("| workers | median wall s | start-up s | packets | flows | Mpps total | Mpps total excl. start-up | "
      "Mpps per worker | CPU s | cycles/pkt (cpu) | cycles/pkt (wall x N) | not_delivered | "
      "rehash dropped_full | rehash dropped_oversize | events/records dropped | flows evicted | peak RSS MiB |")
print("|---:|" + "---:|" * 16)
for n in sorted(by):
    rs = by[n]
    wall = med([x['wall'] for x in rs]); cpu = med([x['cpu'] for x in rs]); st = med([x['st'] for x in rs])
    j = rs[0]['j']; pk = j['packets']
    per = j.get('rehash', {}).get('per_worker') or [pk]
    mp = pk / wall / 1e6
    mpx = pk / (wall - st) / 1e6 if wall > st else float('nan')
    perw = ' / '.join(f"{p / wall / 1e6:.2f}" for p in per)
    drops = lambda k: max(x['j'].get(k, 0) for x in rs)
    rh = lambda k: max(x['j'].get('rehash', {}).get(k, 0) for x in rs)
    ev = max(x['j']['outputs']['events_dropped'] + x['j']['outputs']['flow_records_dropped'] for x in rs)
    print(f"| {n} | {wall:.2f} | {st:.2f} | {pk} | {j['flow_table']['inserts']} | {mp:.2f} | {mpx:.2f} | {perw} | "
          f"{cpu:.2f} | {cpu * ghz * 1e9 / pk:.0f} | {wall * ghz * 1e9 * n / pk:.0f} | {drops('not_delivered')} | "
          f"{rh('dropped_full')} | {rh('dropped_oversize')} | {ev} | "
          f"{max(x['j']['flow_table']['evicted'] for x in rs)} | {max(x['rss'] for x in rs) / 1024:.0f} |")
EOF
