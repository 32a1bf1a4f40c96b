#!/usr/bin/env bash
# Captures the bundled demo input (data/demo.pcap) from real Linux TCP.
#
# Three network namespaces, client -- router -- server, joined by two veth pairs:
#
#   sw-demo-cli            sw-demo-rtr                       sw-demo-srv
#   swd-cli0 10.199.1.2 -- swd-rtr0 10.199.1.1
#                          swd-rtr1 10.199.2.1 [tbf] -- swd-srv0 10.199.2.2
#   (-6: fd00:199:1::2, fd00:199:1::1, fd00:199:2::1, fd00:199:2::2)
#
# The router forwards, and a tbf qdisc on its server-facing egress (client-facing with -R,
# where the server sends) is the bottleneck: its
# queue is kept short so that iperf3's parallel streams overflow it and the client's kernel
# has to retransmit. tcpdump on the client's veth records both directions (headers only,
# snaplen 128); nstat in the client namespace records the kernel's own TcpOutSegs and
# TcpRetransSegs before and after, written to <out>.nstat as ground truth.
#
# Every address lives only inside the namespaces this script creates; nothing is added to
# the root namespace. Run as root. Safe to re-run: leftovers of an earlier run are removed
# first, and everything created is removed on exit, on failure or on a signal.
#
# With -S the capture is taken as a SPAN session covering both router ports delivers it:
# tcpdump in the router's namespace on `-i any` records every forwarded packet twice, as it
# enters (from the client's or the server's side) and as it leaves (TTL one lower, other
# MAC addresses, the same IP ID and TCP bytes), later by its time in the tbf queue; a packet
# the bottleneck drops, only once. seqwatch must count the client's segments and
# retransmissions exactly as from a plain capture (docs/tcp-analysis.md section 16).
#
# With -L DIR the client's veth is watched LIVE by seqwatch instead of tcpdump:
# `seqwatch run --pipeline pipelines/demo.yaml` on net_af_packet (the veth stands in for a
# SPAN port), stopped with SIGINT when iperf3 ends; its report, events, flow records and
# stats go to DIR, and the kernel's counters are printed beside seqwatch's.
#
# Usage: tools/capture-demo.sh [-o OUT | -L DIR] [-S] [-t SECONDS] [-P STREAMS] [-r RATE]
#                              [-b BURST] [-l LATENCY] [-m MTU] [-F BYTES] [-s SYSCTL=VALUE]... [-i ARG]... [-R] [-6]
#   -o OUT      capture path (default: data/demo.pcap in the repository)
#   -L DIR      live: run seqwatch on the client's veth, outputs in DIR
#   -S          SPAN-style capture on both router ports (every forwarded packet twice)
#   -t SECONDS  iperf3 duration (default 4)
#   -P STREAMS  parallel iperf3 streams, 1-16 (default 3)
#   -r RATE     tbf bottleneck rate (default 20mbit)
#   -b BURST    tbf bucket size (default 16kb)
#   -l LATENCY  tbf queue latency bound (default 12ms)
#   -m MTU      MTU of every veth (default: the kernel's 1500)
#   -F BYTES    with -L: net_af_packet's framesz= and blocksz= (whole frames up to that size;
#               default 2048: longer frames come cut, analysed at their IP length)
#   -s K=V      a TCP sysctl set in the client and server namespaces before the run, e.g.
#               net.ipv4.tcp_sack=0, net.ipv4.tcp_timestamps=0, net.ipv4.tcp_window_scaling=0,
#               net.ipv4.tcp_congestion_control=reno (repeatable; recorded in OUT.nstat)
#   -R          reverse: the server sends, the client only acknowledges (iperf3 -R)
#   -i ARG      one more iperf3 client option (repeatable), e.g. -i --bidir (both sides send),
#               -i -M536 (MSS), -i -l100 -i -N (small writes, no Nagle), -i -w32K (socket buffer)
#   -6          IPv6 between the namespaces (fd00:199:1::2 -> fd00:199:2::2) instead of IPv4
set -euo pipefail

readonly NS_CLI=sw-demo-cli NS_RTR=sw-demo-rtr NS_SRV=sw-demo-srv
readonly IF_CLI=swd-cli0 IF_RTR_CLI=swd-rtr0 IF_RTR_SRV=swd-rtr1 IF_SRV=swd-srv0
readonly SNAPLEN=128  # Ethernet + IP + TCP with options fit; payload is cut
# tbf: a 16 kB bucket lets a short burst through at line rate; a 12 ms latency bound
# (~30 kB queued at 20 Mbit/s) is far below the streams' combined window, so the
# queue overflows in slow start and again each time the windows regrow.
tbf_burst=16kb tbf_latency=12ms
readonly IPERF_PORT=5201

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$repo_root/data/demo.pcap"
seconds=4
streams=3
rate=20mbit
live=""
mtu=""
framesz=""
sysctls=()
reverse=""
family=4
span=""
iperf_args=""

die() { echo "capture-demo: $*" >&2; exit 1; }

while getopts "o:L:t:P:r:b:l:m:F:s:i:R6Sh" opt; do
  case "$opt" in
    o) out=$OPTARG ;;
    L) live=$OPTARG ;;
    t) seconds=$OPTARG ;;
    P) streams=$OPTARG ;;
    r) rate=$OPTARG ;;
    b) tbf_burst=$OPTARG ;;
    l) tbf_latency=$OPTARG ;;
    m) mtu=$OPTARG ;;
    F) framesz=$OPTARG ;;
    s) sysctls+=("$OPTARG") ;;
    R) reverse=-R ;;
    i) iperf_args+=" $OPTARG" ;;
    6) family=6 ;;
    S) span=1 ;;
    h) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option; see -h" ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 && $seconds -le 30 ]] || die "-t wants 1..30 seconds, got '$seconds'"
[[ $streams =~ ^[0-9]+$ && $streams -ge 1 && $streams -le 16 ]] || die "-P wants 1..16 streams, got '$streams'"
[[ -z $mtu || ( $mtu =~ ^[0-9]+$ && $mtu -ge 1280 && $mtu -le 65535 ) ]] || die "-m wants an MTU of 1280..65535, got '$mtu'"
[[ $iperf_args =~ ^[-A-Za-z0-9.=\ ]*$ ]] || die "-i wants iperf3 options (letters, digits, '-', '.', '=', spaces), got '$iperf_args'"
for kv in "${sysctls[@]}"; do
  [[ $kv =~ ^net\.(ipv4|ipv6|core)\.[a-z0-9_.]+=[A-Za-z0-9_\ ]+$ ]] || die "-s wants net.ipv4.KEY=VALUE (or net.ipv6 / net.core), got '$kv'"
done
if [[ $family == 6 ]]; then
  readonly ADDR_CLI=fd00:199:1::2 ADDR_RTR_CLI=fd00:199:1::1 ADDR_RTR_SRV=fd00:199:2::1 ADDR_SRV=fd00:199:2::2
  readonly NET_CLI=fd00:199:1::/64 NET_SRV=fd00:199:2::/64 PLEN=64 IP="ip -6" TSHARK_IP=ipv6
else
  readonly ADDR_CLI=10.199.1.2 ADDR_RTR_CLI=10.199.1.1 ADDR_RTR_SRV=10.199.2.1 ADDR_SRV=10.199.2.2
  readonly NET_CLI=10.199.1.0/24 NET_SRV=10.199.2.0/24 PLEN=24 IP="ip -4" TSHARK_IP=ip
fi
[[ -z $span || -z $live ]] || die "-S and -L exclude each other"
[[ -z $framesz || ( -n $live && $framesz =~ ^[0-9]+$ ) ]] || die "-F wants a frame size in bytes, with -L"
[[ $EUID -eq 0 ]] || die "must run as root (creates network namespaces); try: sudo $0"
seqwatch=${SEQWATCH_BIN:-$repo_root/build/src/seqwatch}  # the binary -L runs
[[ -z $live || -x $seqwatch ]] || die "-L needs a built seqwatch at $seqwatch (tools/build.sh build)"
for tool in ip tc tcpdump iperf3 nstat; do
  command -v "$tool" >/dev/null || die "'$tool' not found; install iproute2, tcpdump and iperf3"
done

# One run at a time on a machine: the namespace names are fixed, and a second run's
# clean-up would tear down the first one's topology (tests and the demo may overlap).
# (The braces keep 2>/dev/null to this one exec: on the exec itself it would silence the
# script's stderr, every error message below included, for the rest of the run.)
{ exec 9>/run/lock/seqwatch-capture-demo.lock; } 2>/dev/null || exec 9>/tmp/seqwatch-capture-demo.lock
flock -w 900 9 || die "another capture-demo run holds the lock for over 15 minutes"

work=$(mktemp -d /tmp/sw-demo.XXXXXX)
pids=()

# Removes everything this script creates. Deleting a namespace removes its veth ends;
# the processes started inside are stopped first so nothing keeps a namespace alive.
cleanup() {
  local pid ns
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for ns in "$NS_CLI" "$NS_RTR" "$NS_SRV"; do
    if ip netns list | grep -qw "^$ns"; then
      # A run killed by SIGKILL leaves its own iperf3 / tcpdump in the namespace.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Leftovers of an interrupted earlier run.
pids=()
cleanup
mkdir -p "$work"

# --- topology ---------------------------------------------------------------------
for ns in "$NS_CLI" "$NS_RTR" "$NS_SRV"; do
  ip netns add "$ns"
  in_ns "$ns" ip link set lo up
done
ip link add "$IF_CLI" netns "$NS_CLI" type veth peer name "$IF_RTR_CLI" netns "$NS_RTR"
ip link add "$IF_RTR_SRV" netns "$NS_RTR" type veth peer name "$IF_SRV" netns "$NS_SRV"

# One MSS per skb on every veth, so the capture holds wire-sized segments rather than
# 64 kB TSO/GSO aggregates (ethtool is not needed for this).
setup_if() {
  local ns=$1 ifname=$2 addr=$3
  in_ns "$ns" ip link set "$ifname" gso_max_segs 1 2>/dev/null \
    || echo "capture-demo: note: cannot set gso_max_segs on $ifname; capture may hold GSO aggregates" >&2
  [[ -z $mtu ]] || in_ns "$ns" ip link set "$ifname" mtu "$mtu"
  # nodad: an IPv6 address is usable at once, not after duplicate address detection. The
  # link-local address the kernel adds when the link comes up would still run it (~1 s), and
  # the router solicits a neighbour from that address only: the first SYN was held ~1 s and
  # forwarded beside the client's re-sent SYN (a CI run over IPv6 without timestamps counted it
  # as a second re-send). accept_dad=0 before the link comes up: no detection there either.
  in_ns "$ns" sysctl -qw "net.ipv6.conf.$ifname.accept_dad=0" 2>/dev/null || true
  in_ns "$ns" $IP addr add "$addr/$PLEN" dev "$ifname" $([[ $family == 6 ]] && echo nodad)
  in_ns "$ns" ip link set "$ifname" up
}
setup_if "$NS_CLI" "$IF_CLI" "$ADDR_CLI"
setup_if "$NS_RTR" "$IF_RTR_CLI" "$ADDR_RTR_CLI"
setup_if "$NS_RTR" "$IF_RTR_SRV" "$ADDR_RTR_SRV"
setup_if "$NS_SRV" "$IF_SRV" "$ADDR_SRV"
in_ns "$NS_CLI" $IP route add "$NET_SRV" via "$ADDR_RTR_CLI"
in_ns "$NS_SRV" $IP route add "$NET_CLI" via "$ADDR_RTR_SRV"
in_ns "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# The bottleneck sits on the data's way: toward the server, or toward the client with -R.
bottleneck_if=$IF_RTR_SRV
[[ -z $reverse ]] || bottleneck_if=$IF_RTR_CLI
in_ns "$NS_RTR" tc qdisc add dev "$bottleneck_if" root tbf rate "$rate" burst "$tbf_burst" latency "$tbf_latency"
for kv in "${sysctls[@]}"; do
  for ns in "$NS_CLI" "$NS_SRV"; do
    in_ns "$ns" sysctl -qw "$kv" || die "cannot set sysctl $kv in $ns"
  done
done

# --- traffic and capture ----------------------------------------------------------
# Background processes are started with `ip netns exec` itself (not the in_ns function):
# it execs the command, so $! is the iperf3 / tcpdump process and not a subshell (which
# would also run with SIGINT ignored, as background jobs of a script do).
ip netns exec "$NS_SRV" iperf3 -s -1 -B "$ADDR_SRV" -p "$IPERF_PORT" >"$work/iperf3-server.log" 2>&1 &
pids+=($!)
if [[ -n $live ]]; then
  # seqwatch on the client's veth through DPDK's net_af_packet PMD, in the client's
  # namespace (where the veth lives). It prints "seqwatch run:" once its port is up.
  mkdir -p "$live"
  live=$(cd "$live" && pwd)
  (cd "$repo_root" && exec ip netns exec "$NS_CLI" "$seqwatch" run --pipeline pipelines/demo.yaml \
     --set "ports.0.devargs=net_af_packet0,iface=$IF_CLI,qpairs=1${framesz:+,framesz=$framesz,blocksz=$framesz}" --out "$live") >"$work/seqwatch.log" 2>&1 &
  sensor_pid=$!
  pids+=("$sensor_pid")
  for _ in $(seq 100); do
    grep -q "^seqwatch run:" "$work/seqwatch.log" && break
    kill -0 "$sensor_pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^seqwatch run:" "$work/seqwatch.log" || die "seqwatch did not start: $(tail -20 "$work/seqwatch.log")"
else
  # -Z root: keep privileges to write into $work (Debian's tcpdump otherwise drops to the
  # tcpdump user). -U: flush per packet so stopping it loses nothing; SIGTERM makes it
  # close the file cleanly. -B: a 16 MiB kernel buffer (default 2 MiB), so a busy machine
  # does not make the kernel drop packets before tcpdump reads them. --immediate-mode:
  # hand every packet over at once; otherwise the packets of the TPACKET_V3 ring block
  # not yet retired when tcpdump is stopped never reach the file (~100 segments per run).
  cap_ns=$NS_CLI cap_if=$IF_CLI
  [[ -z $span ]] || cap_ns=$NS_RTR cap_if=any  # -S: both router ports (Linux cooked capture)
  ip netns exec "$cap_ns" tcpdump -i "$cap_if" -s "$SNAPLEN" -B 16384 -U --immediate-mode -Z root \
    -w "$work/capture.pcap" \
    >"$work/tcpdump.log" 2>&1 &
  tcpdump_pid=$!
  pids+=("$tcpdump_pid")
  for _ in $(seq 50); do
    grep -q "listening on" "$work/tcpdump.log" && break
    sleep 0.1
  done
  grep -q "listening on" "$work/tcpdump.log" || die "tcpdump did not start: $(cat "$work/tcpdump.log")"
fi
for _ in $(seq 50); do
  in_ns "$NS_SRV" ss -Hltn "sport = :$IPERF_PORT" | grep -q . && break
  sleep 0.1
done
# Besides the segment counters: the D-SACKs the client received (TcpExtTCPDSACKRecv: first
# block below the ACK; TcpExtTCPDSACKOfoRecv: inside the second block), and for reading only
# its tail-loss probes (all, and those that recovered a loss), timeouts, spurious timeouts, and re-sends the kernel skipped because the
# original was still in a host queue (TcpExtTCPSpuriousRtxHostQueues: e.g. a SYN waiting for
# neighbour discovery; a timeout counted then never reaches the wire).
NSTAT_KEYS="TcpOutSegs TcpRetransSegs TcpExtTCPDSACKRecv TcpExtTCPDSACKOfoRecv TcpExtTCPLossProbes TcpExtTCPLossProbeRecovery TcpExtTCPTimeouts TcpExtTCPSpuriousRTOs TcpExtTCPSpuriousRtxHostQueues"
nstat_read() {
  in_ns "$NS_CLI" nstat -asz $NSTAT_KEYS | awk '/^Tcp/ {print $1, $2}'
  in_ns "$NS_SRV" nstat -asz $NSTAT_KEYS | awk '/^Tcp/ {print "server." $1, $2}'
}
nstat_read >"$work/nstat.before"
in_ns "$NS_CLI" iperf3 -c "$ADDR_SRV" -p "$IPERF_PORT" -t "$seconds" -P "$streams" $reverse $iperf_args \
  >"$work/iperf3-client.log" 2>&1 || die "iperf3 client failed: $(tail -5 "$work/iperf3-client.log")"
# The connections end after iperf3 does (FINs, their ACKs, late retransmissions backing
# off): wait for the client to fall silent (its segment counters unchanged for a second,
# at most 10 s), read its counters, then give the capture a moment to take in the last
# packets before stopping it.
sent_now() { in_ns "$NS_CLI" nstat -asz TcpOutSegs TcpRetransSegs | awk '/^Tcp/ {n += $2} END {print n + 0}'; }
sleep 1
prev=$(sent_now)
for _ in $(seq 10); do
  sleep 1
  cur=$(sent_now)
  [[ $cur == "$prev" ]] && break
  prev=$cur
done
nstat_read >"$work/nstat.after"
sleep 0.3

if [[ -n $live ]]; then
  kill -INT "$sensor_pid"
  rc=0
  wait "$sensor_pid" || rc=$?
  cat "$work/seqwatch.log"
  [[ $rc -eq 0 ]] || die "seqwatch exited with $rc"
  value() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
  out_segs=$(( $(value "$work/nstat.after" TcpOutSegs) - $(value "$work/nstat.before" TcpOutSegs) ))
  retr_segs=$(( $(value "$work/nstat.after" TcpRetransSegs) - $(value "$work/nstat.before" TcpRetransSegs) ))
  # seqwatch's view of the client's segments, from its flow records.
  read -r seen retx < <(python3 "$repo_root/tools/host-segments.py" "$live/flows.jsonl" "$ADDR_CLI")
  echo
  echo "live demo: the client kernel (nstat) sent $((out_segs + retr_segs)) segments, $retr_segs of them retransmissions"
  echo "           seqwatch saw $seen client segments, $retx retransmitted (live, through net_af_packet)"
  echo "           outputs: $live/{summary.json,events.jsonl,flows.jsonl,stats.jsonl,config.yaml}"
  exit 0
fi
kill -TERM "$tcpdump_pid"
wait "$tcpdump_pid" || true

# --- results ----------------------------------------------------------------------
# A capture with kernel drops would disagree with the nstat counters beside it.
dropped=$(awk '/dropped by kernel/ {print $1}' "$work/tcpdump.log")
[[ ${dropped:-0} -eq 0 ]] || die "tcpdump lost $dropped packets (machine busy?); re-run"
value() { awk -v k="$2" '$1 == k {print $2}' "$1"; }
iperf_retr=$(awk '/SUM.*sender/ {print $(NF-1)}' "$work/iperf3-client.log")
[[ $streams -ge 2 && -n $iperf_retr ]] || iperf_retr=unknown
mkdir -p "$(dirname "$out")"
{
  echo "# Kernel TCP counters of the sending client namespace $NS_CLI, read with"
  echo "# 'ip netns exec $NS_CLI nstat -asz $NSTAT_KEYS' before and after the"
  echo "# iperf3 run (the namespace is fresh, so 'before' is its whole history)."
  echo "# run: iperf3 -c $ADDR_SRV -t $seconds -P $streams $reverse; bottleneck tbf rate $rate burst $tbf_burst latency $tbf_latency on $bottleneck_if${mtu:+; mtu $mtu}"
  [[ -z $span ]] || echo "# capture: SPAN-style, tcpdump -i any in $NS_RTR (every forwarded packet as it enters and as it leaves)"
  [[ ${#sysctls[@]} -eq 0 ]] || echo "# sysctls in client and server: ${sysctls[*]}"
  echo "# iperf3 sender-reported retransmits (TCP_INFO): $iperf_retr"
  echo "# tcpdump: $(grep -E 'captured|dropped by kernel' "$work/tcpdump.log" | paste -sd, - | sed 's/,/, /')"
  echo "# counter before after delta"
  # Client lines first (the ground truth), then the server's (server.KEY), for reading.
  for k in $NSTAT_KEYS $(printf 'server.%s ' $NSTAT_KEYS); do
    b=$(value "$work/nstat.before" "$k"); a=$(value "$work/nstat.after" "$k")
    echo "$k ${b:-0} ${a:-0} $(( ${a:-0} - ${b:-0} ))"
  done
} >"$work/nstat"
mv -f "$work/capture.pcap" "$out"
mv -f "$work/nstat" "$out.nstat"

echo "capture-demo: wrote $out ($(stat -c %s "$out") bytes) and $out.nstat"
grep -v '^#' "$out.nstat" | sed 's/^/  /'
if command -v tshark >/dev/null; then
  retrans=$(tshark -r "$out" -Y tcp.analysis.retransmission 2>/dev/null | wc -l)
  packets=$(tshark -r "$out" 2>/dev/null | wc -l)
  echo "capture-demo: $packets packets, $retrans flagged tcp.analysis.retransmission by tshark"
  if [[ $retrans -eq 0 ]]; then
    [[ -n $reverse ]] || die "the capture holds no retransmission; lower -r or raise -P and re-run"
    echo "capture-demo: note: the capture holds no retransmission"
  fi
  # Linux counts TcpOutSegs for new segments only (__tcp_transmit_skb), TcpRetransSegs for
  # the rest, so together they are every segment the client put on its veth.
  # -S: each client segment as it entered the router (not the outgoing copy, pkttype 4).
  only_in=""
  [[ -z $span ]] || only_in=" && sll.pkttype != 4"
  sent=$(tshark -r "$out" -Y "$TSHARK_IP.src == $ADDR_CLI && tcp$only_in" 2>/dev/null | wc -l)
  out_segs=$(awk '$1 == "TcpOutSegs" {print $4}' "$out.nstat")
  retr_segs=$(awk '$1 == "TcpRetransSegs" {print $4}' "$out.nstat")
  echo "capture-demo: client sent $sent segments in the capture; nstat OutSegs + RetransSegs = $((out_segs + retr_segs))"
fi
