#!/usr/bin/env bash
# Kernel shapes: real Linux TCP from 4 client addresses to 4 server addresses (each server
# offers 4 services: an iperf3 per client, ports 5301-5304), 16 paced connections, through a
# router that drops chosen data segments. seqwatch's shape diagnosis (docs/tcp-analysis.md
# section 17) must name the cause that was built:
#   link    1 in 32 data segments of every connection lost on the router's server-facing port
#           (a failing link or device on the shared path): persistent, spread,
#           failing_link_or_device;
#   server  the same, only on the way to one server address (a sick server, 4 services on it,
#           none with most of the retransmissions alone): persistent, one_server, that host;
#   client  the same, only from one client address (a sick client): one_client.
#   congestion  no chosen drop: the router's server-facing port is a tbf bottleneck of
#           48 Mbit/s that the 16 connections (32 Mbit/s) fit in, and a fifth client address
#           sends UDP at 48 Mbit/s for 0.3 s every 2.5 s (a periodic batch job): the queue
#           overflows in those bursts only, and every connection loses there: bursty,
#           periodic (period within 10% of 2.5 s), spread, congestion.
#   overload  the same bursts (16 Mbit/s) towards one server address only, whose traffic the
#           router limits to 12 Mbit/s (an htb class; its 4 connections need 8): only that
#           server's connections lose, in bursts (an overloaded server or its VIP): bursty,
#           periodic, one_server, one_server_overloaded, that host.
#   vip     a fifth service on that server address, port 8080 (a VIP / load-balanced service),
#           with one more paced connection from each client (2 Mbit/s, SO_MAX_PACING_RATE);
#           the same bursts go to that service only, through its own 12 Mbit/s class: only
#           its 4 connections lose, the server's other services do not: bursty, periodic,
#           one_service, one_service_overloaded.
# In every run seqwatch's retransmissions must match the senders' own count (TcpRetransSegs
# of the client and server namespaces, nstat; within 3%, or 6: segments re-sent as the
# capture stopped), and, where the router's filter did the dropping, cover the segments it
# dropped (each is sent again; a busy host adds spurious re-sends on top: until 2026-12-05
# the router's count was the reference there, and a CI run on a loaded machine saw 180
# re-sends for 173 drops). Senders are paced by the kernel
# (iperf3 --fq-rate, SO_MAX_PACING_RATE), not by iperf3 -b, which sends in bursts every
# half second and so makes any loss look bursty.
# netem is not available on these kernels, nor tc actions: the drop is an htb class whose
# leaf is a pfifo of 0 packets, chosen by a u32 match on the segment (IP length with bit 10
# set: full-size data segments only; the IPv4 ID's low 5 bits zero: every 32nd packet a
# socket sends, so each connection loses steadily and the 16 at their own phases; the TCP
# checksum would not do: with offload it holds the constant pseudo-header sum). The capture
# is taken on the client's veth, before the drop, so every re-send is seen as a
# retransmission (downstream loss). Tail-loss probes are turned off on the clients
# (tcp_early_retrans=0): paced senders probe after each burst (delayed ACKs), re-sends that
# are no loss and would blur the shape that was built.
# Usage: kernel_shapes.sh SEQWATCH_BINARY   (needs root: network namespaces)
# KERNEL_SHAPES_ONLY="NAME..." runs those scenarios (the sanitizer build: link and vip); KERNEL_SHAPES_KEEP=DIR keeps the captures;
# KS_NS_PREFIX=P names the namespaces P-sh-* (default seqwatch).
set -euo pipefail
seqwatch=$1
src=${SEQWATCH_SOURCE_DIR:?}
. "$src/tests/kernel/lib.sh"
require_root
for tool in ip tc tcpdump iperf3 python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (tools/install-deps.sh installs it)"; exit 1; }
done
NS_C=${KS_NS_PREFIX:-seqwatch}-sh-cli NS_R=${KS_NS_PREFIX:-seqwatch}-sh-rtr NS_S=${KS_NS_PREFIX:-seqwatch}-sh-srv
tmp=$(mktemp -d)
cleanup() { delete_namespaces "$NS_C" "$NS_R" "$NS_S"; }
trap 'cleanup; [ -n "${KERNEL_SHAPES_KEEP:-}" ] && cp "$tmp"/*.pcap "$KERNEL_SHAPES_KEEP"/; rm -rf "$tmp"' EXIT
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

SECONDS_RUN=${KERNEL_SHAPES_SECONDS:-8}
# A sanitizer build runs two of the six scenarios (one steady drop, one burst set-up): the
# traffic takes the time (~80 s for all), and the release build runs them all.
if [ -z "${KERNEL_SHAPES_ONLY+set}" ] && ldd "$seqwatch" 2>/dev/null | grep -q libasan; then
  KERNEL_SHAPES_ONLY="link vip"
  echo "sanitizer build: scenarios $KERNEL_SHAPES_ONLY only"
fi
failures=0
BURST_EVERY_S=2.5
# NAME MATCH_EXTRA EXPECTED_WHO EXPECTED_SUSPECT EXPECTED_TOP_SERVER
# (MATCH_EXTRA "congestion" / "overload" / "vip": a bottleneck and UDP bursts instead of the u32 drop)
run() {
  local name=$1 extra=$2 want_who=$3 want_suspect=$4 want_server=$5
  [ -z "${KERNEL_SHAPES_ONLY:-}" ] || [[ " $KERNEL_SHAPES_ONLY " == *" $name "* ]] || return 0
  echo "=== $name"
  cleanup
  for ns in "$NS_C" "$NS_R" "$NS_S"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
  ip link add sh-cli netns "$NS_C" type veth peer name sh-rc netns "$NS_R"
  ip link add sh-rs netns "$NS_R" type veth peer name sh-srv netns "$NS_S"
  for i in 2 3 4 5 9; do
    in_ns "$NS_C" ip addr add "10.196.1.$i/24" dev sh-cli
    in_ns "$NS_S" ip addr add "10.196.2.$i/24" dev sh-srv
  done
  in_ns "$NS_R" ip addr add 10.196.1.1/24 dev sh-rc
  in_ns "$NS_R" ip addr add 10.196.2.1/24 dev sh-rs
  # One MSS per skb on every veth: wire-sized segments in the capture and at the drop, not
  # 64 kB GSO aggregates (as tools/capture-demo.sh).
  in_ns "$NS_C" ip link set sh-cli gso_max_segs 1
  in_ns "$NS_R" ip link set sh-rc gso_max_segs 1
  in_ns "$NS_R" ip link set sh-rs gso_max_segs 1
  in_ns "$NS_S" ip link set sh-srv gso_max_segs 1
  in_ns "$NS_C" ip link set sh-cli up
  in_ns "$NS_S" ip link set sh-srv up
  in_ns "$NS_R" ip link set sh-rc up
  in_ns "$NS_R" ip link set sh-rs up
  in_ns "$NS_C" ip route add default via 10.196.1.1
  in_ns "$NS_S" ip route add default via 10.196.2.1
  in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$NS_C" sysctl -qw net.ipv4.tcp_early_retrans=0
  local bursts=  # UDP bursts: Mbit/s, destination address and port
  if [ "$extra" = congestion ]; then
    # A bottleneck the connections fit in (a 16 kB bucket, a 64 kB queue: ~11 ms at 48 Mbit/s).
    in_ns "$NS_R" tc qdisc add dev sh-rs root tbf rate 48mbit burst 16kb limit 64kb
    bursts="48 10.196.2.9 9"
  else
    # htb: the default class 1:10 passes.
    in_ns "$NS_R" tc qdisc add dev sh-rs root handle 1: htb default 10 r2q 100000
    in_ns "$NS_R" tc class add dev sh-rs parent 1: classid 1:10 htb rate 10gbit
    if [ "$extra" = overload ] || [ "$extra" = vip ]; then
      # One server's (or one service's) traffic through a 12 Mbit/s class (a 48-packet queue:
      # ~48 ms: the connections' start-up bursts fit, so only the UDP bursts overflow it; with
      # 16 packets CI saw a loss burst at the start, and no period). u32's dport is the
      # transport's: TCP and UDP alike.
      local match="match ip dst 10.196.2.3/32" port=9
      [ "$extra" = overload ] || { match="$match match ip dport 8080 0xffff"; port=8080; }
      in_ns "$NS_R" tc class add dev sh-rs parent 1: classid 1:30 htb rate 12mbit ceil 12mbit quantum 1514
      in_ns "$NS_R" tc qdisc add dev sh-rs parent 1:30 handle 30: pfifo limit 48
      # shellcheck disable=SC2086
      in_ns "$NS_R" tc filter add dev sh-rs parent 1: protocol ip prio 1 u32 $match flowid 1:30
      bursts="16 10.196.2.3 $port"
    else
      # The drop: class 1:20's leaf holds no packet.
      in_ns "$NS_R" tc class add dev sh-rs parent 1: classid 1:20 htb rate 10gbit
      in_ns "$NS_R" tc qdisc add dev sh-rs parent 1:20 handle 20: pfifo limit 0
      # shellcheck disable=SC2086
      in_ns "$NS_R" tc filter add dev sh-rs parent 1: protocol ip prio 1 u32 \
        match u16 0x0400 0x0400 at 2 match u8 0x00 0x1f at 5 $extra flowid 1:20
    fi
  fi
  for s in 2 3 4 5; do
    for c in 2 3 4 5; do
      in_ns "$NS_S" iperf3 -s -D -1 -B "10.196.2.$s" -p "530$((c - 1))" >/dev/null 2>&1
    done
  done
  local vip_server=
  if [ "$extra" = vip ]; then  # the VIP's receiver: reads every connection to the end
    ip netns exec "$NS_S" python3 - <<'PY' &
import socket, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.196.2.3", 8080))
s.listen(16)
s.settimeout(60)  # no client: fail, not hang
def drain(c):
    while c.recv(65536):
        pass
    c.close()
for _ in range(4):
    threading.Thread(target=drain, args=(s.accept()[0],)).start()
PY
    vip_server=$!
  fi
  sleep 0.5
  ip netns exec "$NS_C" tcpdump -i sh-cli -s 128 -U -w "$tmp/$name.pcap" tcp >/dev/null 2>&1 &
  local dump=$!
  sleep 1
  local pids=()
  for s in 2 3 4 5; do
    for c in 2 3 4 5; do
      ip netns exec "$NS_C" iperf3 -c "10.196.2.$s" -B "10.196.1.$c" -p "530$((c - 1))" -b 0 --fq-rate 2M -t "$SECONDS_RUN" \
        >"$tmp/$name-$s-$c.log" 2>&1 &
      pids+=($!)
    done
  done
  if [ "$extra" = vip ]; then  # one more connection per client, to the VIP, paced by the kernel
    ip netns exec "$NS_C" python3 - "$SECONDS_RUN" <<'PY' &
import socket, sys, threading, time
SO_MAX_PACING_RATE = 47
def send(c):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, 2_000_000 // 8)
    s.bind((f"10.196.1.{c}", 0))
    s.connect(("10.196.2.3", 8080))
    end, chunk = time.monotonic() + float(sys.argv[1]), b"v" * 65536
    while time.monotonic() < end:
        s.sendall(chunk)
    s.close()
threads = [threading.Thread(target=send, args=(c,)) for c in (2, 3, 4, 5)]
for t in threads: t.start()
for t in threads: t.join()
PY
    pids+=($!)
  fi
  local udp=
  if [ -n "$bursts" ]; then
    # The batch job: UDP (no re-sends of its own) to a port with no listener, MBIT Mbit/s
    # of 1400-byte datagrams for 0.3 s every BURST_EVERY_S, from 1 s after the start to
    # 1.5 s before the end.
    # shellcheck disable=SC2086
    ip netns exec "$NS_C" python3 - "$BURST_EVERY_S" "$SECONDS_RUN" $bursts <<'PY' &
import socket, sys, time
every, total, mbit, dst, port = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
on, pps = 0.3, mbit * 1e6 / 8 / 1428
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.196.1.9", 0))
payload = b"x" * 1400
t0 = time.monotonic() + 1.0
while time.monotonic() - t0 < total - 2.5:
    now = time.monotonic()
    start = t0 + ((now - t0) // every) * every
    if now < t0 or now >= start + on:
        time.sleep(0.002)
        continue
    sent = 0
    while (n := time.monotonic()) < start + on:
        while sent < int((n - start) * pps):
            s.sendto(payload, (dst, port))
            sent += 1
        time.sleep(0.0005)
PY
    udp=$!
  fi
  local ok=1
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  [ -z "$udp" ] || wait "$udp" || ok=0
  [ -z "$vip_server" ] || wait "$vip_server" || ok=0
  sleep 1
  kill -INT "$dump" 2>/dev/null || true
  wait "$dump" 2>/dev/null || true
  local dropped resent
  # The senders' own count: both namespaces' retransmitted segments (absolute: the
  # namespaces are new, and nstat's history file is shared by every namespace).
  resent=$(( $(in_ns "$NS_C" nstat -z -a TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}') +
             $(in_ns "$NS_S" nstat -z -a TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}') ))
  if [ -n "$bursts" ]; then
    dropped=$resent  # the queues also drop UDP: the senders' count is the loss
    echo "router: $(in_ns "$NS_R" tc -s qdisc show dev sh-rs | awk '/dropped/ {for (i = 1; i <= NF; i++) if ($i == "(dropped") print $(i + 1); exit}' | tr -d ,) packets dropped at the root qdisc (TCP and UDP)"
  else
    dropped=$(in_ns "$NS_R" tc -s qdisc show dev sh-rs | awk '/^qdisc pfifo 20:/ {getline; for (i = 1; i <= NF; i++) if ($i == "(dropped") print $(i + 1)}' | tr -d ,)
  fi
  if [ "$ok" -ne 1 ]; then
    echo "FAIL: an iperf3 client failed"
    tail -3 "$tmp"/"$name"-*.log
    failures=$((failures + 1))
    return
  fi
  "$seqwatch" analyze "$tmp/$name.pcap" --json "$tmp/$name.json" >"$tmp/$name.txt"
  python3 - "$tmp/$name.json" "$want_who" "$want_suspect" "$want_server" "${dropped:-0}" "$extra" "$BURST_EVERY_S" "${resent:-0}" <<'PY' || { failures=$((failures + 1)); cat "$tmp/$name.txt"; keep_failed_capture "$tmp/$name.pcap" /dev/null "kernel-shapes-fail-$name"; }
import json, sys
s = json.load(open(sys.argv[1]))["retransmissions"]
shape, want_who, want_suspect, want_server, dropped = s["shape"], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
congestion, every, resent = sys.argv[6] in ("congestion", "overload", "vip"), float(sys.argv[7]), int(sys.argv[8])
print(f"{'senders re-sent' if congestion else f'router dropped {dropped} segments, senders re-sent'} {resent} segments; seqwatch: {s['retx_segments']} retransmitted, shape when={shape['when']} "
      f"who={shape['who']} suspect={shape['suspect']} top_server={shape['top_server']} "
      f"({shape['top_server_share']:.2f}), top_client={shape['top_client']} ({shape['top_client_share']:.2f}), "
      f"services {shape['services']}, server hosts {shape['server_hosts']}")
print("  " + shape["message"])
bad = []
if dropped < 50: bad.append(f"the router dropped only {dropped} segments: too few to judge a shape")
tolerance = max(6, resent * 3 // 100)
if abs(s["retx_segments"] - resent) > tolerance:
    bad.append(f"{s['retx_segments']} retransmissions for {resent} re-sent by the senders (nstat)")
if s["retx_segments"] + tolerance < dropped:
    bad.append(f"{s['retx_segments']} retransmissions for {dropped} segments the router dropped")
want_when = "bursty" if congestion else "persistent"
if shape["when"] != want_when: bad.append(f"when {shape['when']}, expected {want_when}")
if congestion and abs(shape["period_s"] - every) > 0.1 * every:
    bad.append(f"period {shape['period_s']} s ({shape['bursts']} bursts), expected ~{every} s")
if shape["who"] != want_who: bad.append(f"who {shape['who']}, expected {want_who}")
if shape["suspect"] != want_suspect: bad.append(f"suspect {shape['suspect']}, expected {want_suspect}")
if want_server != "-" and shape["top_server"] != want_server: bad.append(f"top server {shape['top_server']}, expected {want_server}")
if sys.argv[6] == "vip" and shape["top_service"] != "10.196.2.3:8080":
    bad.append(f"top service {shape['top_service']}, expected 10.196.2.3:8080")
for b in bad: print("FAIL: " + b)
sys.exit(1 if bad else 0)
PY
}

run link "" spread failing_link_or_device -
run server "match ip dst 10.196.2.3/32" one_server one_server 10.196.2.3
run client "match ip src 10.196.1.4/32" one_client one_client -
SECONDS_RUN=${KERNEL_SHAPES_SECONDS:-12} run congestion congestion spread congestion -
SECONDS_RUN=${KERNEL_SHAPES_SECONDS:-12} run overload overload one_server one_server_overloaded 10.196.2.3
SECONDS_RUN=${KERNEL_SHAPES_SECONDS:-12} run vip vip one_service one_service_overloaded 10.196.2.3

if [ "$failures" -ne 0 ]; then
  echo "kernel shapes: $failures run(s) failed"
  exit 1
fi
echo "kernel shapes: every run named the cause that was built"
