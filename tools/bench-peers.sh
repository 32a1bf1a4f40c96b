#!/usr/bin/env bash
# seqwatch side by side with its peers (issues 4 and 8), in ONE run on the SAME file:
#   seqwatch analyze (mmap default, --source file, -w 2, --flow-capacity sized to the trace),
#   tshark -q -z conv,tcp, tshark -q -z io,stat,0,tcp.analysis.retransmission,
#   tcptrace -n, tcptrace -l -n.
# Repetitions are interleaved (rep 1 of every command, then rep 2, ...), so a change in machine
# load hits every command alike, each repetition in its own order (a fixed shuffle per
# repetition): a command's run after a peer that has just freed ~900 MiB pays for faulting
# fresh memory back in (0.1-0.2 s here), which a fixed order put on the same command each time. Each run is timed by GNU time: wall s, peak RSS (maxrss), CPU s.
# Prints a markdown table (medians), the ratios seqwatch / peer with the issue's targets, and a
# correctness cross-check: retransmitted frames by seqwatch, tshark and the generator's truth.
#
# Usage: tools/bench-peers.sh [--build DIR] [--reps N] [--tshark-reps N] [--packets N]
#                             [--seed N] [--file PCAP] [--workdir DIR] [--keep] [--out FILE.md]
#   --build DIR       seqwatch build dir (default: build-peers if it exists, else build)
#   --reps N          repetitions of seqwatch and tcptrace commands (default 5)
#   --tshark-reps N   repetitions of the tshark commands (default: --reps)
#   --packets N       frames in the generated trace (default 1000000)
#   --file PCAP       use this capture instead of generating one (no truth cross-check)
#   --workdir DIR     where the trace and outputs go (default: mktemp -d in /dev/shm, else /tmp);
#                     removed at exit unless --keep or given explicitly
#   --out FILE.md     also write the report there
#   --no-peers        seqwatch commands only (quick re-run after a hot-path change)
#   --workers LIST    afterwards, run tools/bench.sh (end-to-end bench, N workers) on the same
#                     file with the same --reps, e.g. --workers 1,2 or --workers 1,2,4,8
# The trace: `seqwatch-gen --preset imix-100k` (100k concurrent flows, IMIX-like sizes, 20% IPv6,
# 1 Mpps) plus the `lossy` preset's impairment rates (downstream loss 1%, upstream loss 0.5%,
# reordering 0.5%, duplicates 0.3%), seed 1, microsecond pcap (tcptrace 6.6.7 predates
# nanosecond pcap). Same options + same seed = byte-identical file on every machine.
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "$0")/.." && pwd)
build=""; reps=5; treps=""; packets=1000000; seed=1; file=""; workdir=""; keep=0; out=""; peers=1; workers=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --tshark-reps) treps=$2; shift 2 ;;
    --packets) packets=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    --workdir) workdir=$2; keep=1; shift 2 ;;
    --keep) keep=1; shift ;;
    --out) out=$2; shift 2 ;;
    --no-peers) peers=0; shift ;;
    --workers) workers=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-peers: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$treps" ] || treps=$reps
if [ -z "$build" ]; then
  if [ -x "$root/build-peers/src/seqwatch" ]; then build="$root/build-peers"; else build="$root/build"; fi
fi
SW="$build/src/seqwatch"; GEN="$build/src/gen/seqwatch-gen"
for b in "$SW" "$GEN"; do
  [ -x "$b" ] || { echo "bench-peers: $b missing: ninja -C $build src/seqwatch src/gen/seqwatch-gen" >&2; exit 1; }
done
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "bench-peers: GNU time missing: tools/install-deps.sh (package 'time')" >&2; exit 1; }
if [ "$peers" = 1 ]; then
  for t in tshark tcptrace; do
    command -v "$t" >/dev/null || { echo "bench-peers: $t missing: tools/install-deps.sh" >&2; exit 1; }
  done
fi

if [ -z "$workdir" ]; then
  if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2{print $4}')" -gt 2000000 ]; then
    workdir=$(mktemp -d /dev/shm/seqwatch-bench.XXXXXX)
  else
    workdir=$(mktemp -d /tmp/seqwatch-bench.XXXXXX)
  fi
fi
mkdir -p "$workdir"
[ "$keep" = 1 ] || trap 'rm -rf "$workdir"' EXIT

log() { echo "bench-peers: $*" >&2; }

# ---- the trace --------------------------------------------------------------------------------
truth=""
if [ -z "$file" ]; then
  file="$workdir/imix-lossy-$packets.pcap"; truth="$workdir/imix-lossy-$packets.truth.json"
  gencmd=("$GEN" --preset imix-100k --packets "$packets" --seed "$seed"
          --loss-downstream 0.01 --loss-upstream 0.005 --reorder 0.005 --duplicate 0.003 --usec
          -o "$file" --truth "$truth")
  log "generating: ${gencmd[*]}"
  "${gencmd[@]}" 2>&1 | sed 's/^/  /' >&2
  gendesc="seqwatch-gen --preset imix-100k --packets $packets --seed $seed --loss-downstream 0.01 --loss-upstream 0.005 --reorder 0.005 --duplicate 0.003 --usec -o FILE --truth TRUTH"
else
  gendesc="(given file)"
fi
fsize=$(stat -c %s "$file")

# ---- one untimed seqwatch run: frame and flow counts (to size the table), verdict totals -------
"$SW" analyze "$file" --json "$workdir/sw.json" >"$workdir/sw.txt" 2>&1
frames=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['packets'])" "$workdir/sw.json")
log "trace $file: $frames frames, $((fsize / 1048576)) MiB"
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
flows=$(jget "$workdir/sw.json" "d['flow_table']['inserts']")
# capacity sized to the trace: every flow of this trace is still in the table at the end (the
# capture spans < 1 s, idle timeout 3600 s, closed linger 60 s). Start at 1.5x the flow count
# (at ~90% load the two-bucket probe window overflows and evicts a few flows) and double until
# a run evicts nothing, so the sized run analyses exactly what the default run does.
cap=$(( (flows * 3 / 2 + 1023) / 1024 * 1024 ))
for _ in 1 2 3 4; do
  "$SW" analyze "$file" --flow-capacity "$cap" --json "$workdir/sw-cap.json" >/dev/null 2>&1
  [ "$(jget "$workdir/sw-cap.json" "d['flow_table']['evicted']")" = 0 ] && break
  cap=$((cap * 2))
done
log "flows in trace: $flows -> --flow-capacity $cap ($(jget "$workdir/sw-cap.json" "d['flow_table']['evicted']") evicted)"

# Where the peak RSS goes (one run each, sampled every 10 ms from /proc/PID/status): anonymous
# memory (flow table pages touched, rings, heap) vs file pages (shared libraries; the capture
# when mmap'ed from a disk file) vs shmem pages (the capture when mmap'ed from tmpfs /dev/shm).
rss_split() {
  local pid a=0 f=0 m=0 k v
  "$@" >/dev/null 2>&1 & pid=$!
  while [ -r "/proc/$pid/status" ]; do
    while read -r k v _; do
      case "$k" in RssAnon:) [ "$v" -gt "$a" ] && a=$v ;; RssFile:) [ "$v" -gt "$f" ] && f=$v ;;
        RssShmem:) [ "$v" -gt "$m" ] && m=$v ;; esac
    done <"/proc/$pid/status" 2>/dev/null || true
    sleep 0.01
  done
  wait "$pid" || true
  echo "$((a / 1024)) $((f / 1024)) $((m / 1024))"
}
rss_lines=""
for v in "" "--flow-capacity $cap" "--source file" "--source file --flow-capacity $cap"; do
  read -r a f m < <(rss_split "$SW" analyze "$file" $v)
  rss_lines+="| \`seqwatch analyze FILE${v:+ $v}\` | $a | $f | $m |"$'\n'
done

# ---- the commands ------------------------------------------------------------------------------
names=(); cmds=(); nreps=()
# commands are shown with `seqwatch` for "$SW"; they run exactly as shown otherwise
add() { names+=("$1"); cmds+=("$2"); nreps+=("$3"); }
add "seqwatch analyze (mmap, default)"          "seqwatch analyze FILE"                                 "$reps"
add "seqwatch analyze --source file (libpcap)"  "seqwatch analyze FILE --source file"                   "$reps"
add "seqwatch analyze -w 2"                     "seqwatch analyze FILE -w 2"                            "$reps"
add "seqwatch analyze --flow-capacity $cap"     "seqwatch analyze FILE --flow-capacity $cap"            "$reps"
add "seqwatch analyze --source file --flow-capacity $cap" "seqwatch analyze FILE --source file --flow-capacity $cap" "$reps"
if [ "$peers" = 1 ]; then
  add "tshark -q -z conv,tcp"                     "tshark -r FILE -q -z conv,tcp"                    "$treps"
  add "tshark -q -z io,stat (tcp.analysis.retransmission)" "tshark -r FILE -q -z io,stat,0,tcp.analysis.retransmission" "$treps"
  add "tcptrace -n"                               "tcptrace -n FILE"                                 "$reps"
  add "tcptrace -l -n"                            "tcptrace -l -n FILE"                              "$reps"
fi

res="$workdir/results.tsv"; : >"$res"
maxr=$reps; [ "$treps" -gt "$maxr" ] && maxr=$treps
load0=$(cut -d' ' -f1-3 /proc/loadavg); t0=$(date -u +'%Y-%m-%d %H:%M UTC')
for ((r = 1; r <= maxr; r++)); do
  order=$(python3 -c 'import random, sys; l = list(range(int(sys.argv[2]))); random.Random(int(sys.argv[1])).shuffle(l); print(*l)' "$r" "${#names[@]}")
  for i in $order; do
    [ "$r" -le "${nreps[$i]}" ] || continue
    c=${cmds[$i]//FILE/$file}; c=${c/#seqwatch /$SW }
    # stdout of the io,stat run is kept (the retransmission count); the rest is discarded
    o=/dev/null; case "${cmds[$i]}" in *io,stat*) o="$workdir/tshark-iostat.txt" ;; esac
    if ! $TIME -o "$workdir/time.txt" -f '%e %M %U %S' $c >"$o" 2>"$workdir/stderr.txt"; then
      log "FAILED: $c"; sed 's/^/  /' "$workdir/stderr.txt" >&2; exit 1
    fi
    read -r wall rss usr sys <"$workdir/time.txt"
    printf '%s\t%d\t%s\t%s\t%s\t%s\n' "$i" "$r" "$wall" "$rss" "$usr" "$sys" >>"$res"
    log "rep $r  ${names[$i]}: ${wall} s, $((rss / 1024)) MiB"
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ------------------------------------------------------------------------------------
export BP_NAMES BP_CMDS BP_REPS BP_SW="$SW" BP_RSS="$rss_lines"
BP_NAMES=$(printf '%s\n' "${names[@]}"); BP_CMDS=$(printf '%s\n' "${cmds[@]}"); BP_REPS=$(printf '%s\n' "${nreps[@]}")
python3 - "$res" "$frames" "$fsize" "$workdir/sw.json" "${truth:-}" "$workdir/tshark-iostat.txt" \
  "$t0" "$load0" "$load1" "$gendesc" "$flows" "$cap" <<'EOF' | tee "${out:-/dev/null}"
import json, os, re, statistics, sys
res, frames, fsize, swj, truth, iostat, t0, load0, load1, gendesc, flows, cap = sys.argv[1:13]
frames, fsize = int(frames), int(fsize)
names = os.environ['BP_NAMES'].split('\n'); cmds = os.environ['BP_CMDS'].split('\n')
runs = {}
for line in open(res):
    i, r, wall, rss, usr, sys_ = line.split('\t')
    runs.setdefault(int(i), []).append((float(wall), int(rss), float(usr) + float(sys_)))
med = lambda xs: statistics.median(xs)
row = {}
for i, rs in sorted(runs.items()):  # the commands' own order, whatever order they ran in
    walls = [x[0] for x in rs]
    row[i] = dict(n=len(rs), wall=med(walls), lo=min(walls), hi=max(walls),
                  cpu=med([x[2] for x in rs]), rss=max(x[1] for x in rs) / 1024.0)
print(f"Run {t0}; load average (1/5/15 min) {load0} at start, {load1} at end; "
      f"{os.cpu_count()} CPUs.")
print(f"`seqwatch` = `{os.environ['BP_SW']}`; FILE = the trace below, in {os.path.dirname(res)}.")
print(f"Trace: {frames} frames, {fsize/1048576:.0f} MiB, {flows} TCP flows (`{gendesc}`).\n")
print("| command | reps | median wall s (min-max) | median packets/s | median CPU s (user+sys) | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|")
for i in sorted(row):
    x = row[i]
    print(f"| `{cmds[i]}` | {x['n']} | {x['wall']:.2f} ({x['lo']:.2f}-{x['hi']:.2f}) | "
          f"{frames/x['wall']:,.0f} | {x['cpu']:.2f} | {x['rss']:.0f} |")
sw = [i for i in row if names[i].startswith('seqwatch')]
peers = [i for i in row if not names[i].startswith('seqwatch')]
if peers:
    print("\nRatios, seqwatch variant vs peer: speed = peer median wall / seqwatch median wall "
          "(CPU-time ratio in brackets); memory = seqwatch peak RSS as % of the peer's.\n")
    print("| seqwatch | " + " | ".join(f"vs `{cmds[p].replace(' FILE', '').replace('-r ', '')}`" for p in peers) + " |")
    print("|---|" + "---:|" * len(peers))
    for s in sw:
        cells = []
        for p in peers:
            cells.append(f"{row[p]['wall']/row[s]['wall']:.1f}x ({row[p]['cpu']/row[s]['cpu']:.1f}x), "
                         f"{100*row[s]['rss']/row[p]['rss']:.1f}% mem")
        print(f"| `{cmds[s].split('analyze FILE')[-1].strip() or '(default)'}` | " + " | ".join(cells) + " |")
    d = sw[0]
    def find(sub):
        return next((p for p in peers if cmds[p].endswith(sub)), None)
    conv, tn = find('conv,tcp'), find('tcptrace -n FILE')
    print("\nTargets (issue 8), seqwatch default command (`seqwatch analyze FILE`):\n")
    def verdict(ok, txt): print(f"- {txt}: **{'met' if ok else 'MISSED'}**")
    if conv is not None:
        r = row[conv]['wall'] / row[d]['wall']
        verdict(r >= 50, f">= 50x faster than `tshark -q -z conv,tcp`: {r:.1f}x"
                + ("" if r >= 50 else f" ({50/r:.1f}x short)"))
        m = 100 * row[d]['rss'] / row[conv]['rss']
        best = min(sw, key=lambda s: row[s]['rss'])
        mb = 100 * row[best]['rss'] / row[conv]['rss']
        verdict(m <= 5, f"peak memory <= 5% of tshark's: {m:.1f}% ({row[d]['rss']:.0f} of {row[conv]['rss']:.0f} MiB)"
                + f"; lowest-memory variant `{cmds[best].split('analyze FILE')[-1].strip()}`: {mb:.1f}%")
    if tn is not None:
        r = row[tn]['wall'] / row[d]['wall']
        verdict(r >= 5, f">= 5x faster than `tcptrace -n`: {r:.1f}x" + ("" if r >= 5 else f" ({5/r:.1f}x short)"))
print("\nPeak RSS split (one run each, /proc/PID/status sampled every 10 ms). RssFile = shared "
      "libraries, plus the capture when the mmap source maps it from a disk file; RssShmem = the "
      "capture when mapped from tmpfs (/dev/shm). Mapped capture pages are the page cache's, "
      "shared, not allocated by seqwatch, but GNU time's maxrss counts them:\n")
print("| command | peak RssAnon MiB | peak RssFile MiB | peak RssShmem MiB |")
print("|---|---:|---:|---:|")
print(os.environ['BP_RSS'], end='')
# correctness cross-check
j = json.load(open(swj)); v = j['retransmissions']['verdicts']
print("\nCross-check, frames flagged (seqwatch `--json` verdicts vs tshark vs generator truth):\n")
tsh = None
if os.path.exists(iostat):
    m = re.search(r'\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|', open(iostat).read())
    tsh = int(m.group(1)) if m else None
tw = json.load(open(truth))['total']['wireshark'] if truth else {}
print("| flag | seqwatch | tshark 4.0 (measured) | generator truth (tshark-checked) | agree |")
print("|---|---:|---:|---:|---|")
for f in ['retransmission', 'fast_retransmission', 'duplicate_ack', 'lost_segment', 'out_of_order',
          'window_update', 'spurious_retransmission', 'zero_window']:
    s = v.get(f, 0); t = tw.get('tcp.analysis.' + f)
    ts = tsh if f == 'retransmission' else None
    shown = str(s)
    if f == 'retransmission' and v.get('duplicate_packet', 0):
        # Exact copies (the generator's --duplicate: the network delivered a packet twice) are
        # duplicate_packet in seqwatch, retransmissions in tshark (docs/tcp-analysis.md section 16).
        s += v['duplicate_packet']
        shown = f"{s} ({v['duplicate_packet']} of them duplicate_packet)"
    ok = all(x is None or x == s for x in (t, ts))
    print(f"| {f} | {shown} | {'' if ts is None else ts} | {'' if t is None else t} | {'yes' if ok else '**NO**'} |")
EOF

if [ -n "$workers" ]; then
  echo
  echo "End-to-end bench (tools/bench.sh --workers $workers --reps $reps, same file):"
  echo
  "$root/tools/bench.sh" --build "$build" --file "$file" --workers "$workers" --reps "$reps" \
    --workdir "$workdir/bench" | tee -a "${out:-/dev/null}"
fi
