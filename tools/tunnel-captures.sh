#!/usr/bin/env bash
# Captures real Linux TCP inside the encapsulations this kernel can make, to check seqwatch
# against tshark on captures nobody hand-made (the differential tests take any directory:
# SEQWATCH_CORPUS_DIR=OUT build/tests/corpus/corpus_decode_test, .../corpus_tcp_verdicts_test).
#
# Two network namespaces joined by one veth pair (the underlay, IPv4 and IPv6), and over it
# VXLAN (UDP 4789) carrying IPv4 and IPv6. (This machine's kernel has no VLAN, GRE, IPIP,
# SIT, ip6tnl or ERSPAN devices; where a kernel has them, add them the same way. The
# generator's traces cover them: seqwatch-gen.) A tbf qdisc on
# the underlay's egress drops packets, so the tunnelled iperf3 transfers retransmit. Also
# IPv4 and IPv6 fragments (large pings), IPv4 options (ping -R).
#
# Written to OUT: underlay.pcap (Ethernet, everything), underlay-snap96.pcap (cut at 96 bytes:
# inner headers cut inside tunnels), any.pcap and any.pcapng (tcpdump -i any: Linux SLL2; the pcapng copy by editcap), and
# swt-vxl.pcap (the VXLAN device itself: the inner Ethernet frames).
#
# Every address lives inside the namespaces this script creates. Run as root. Removes what it
# created on exit.
# Usage: tools/tunnel-captures.sh OUT [SECONDS_PER_TRANSFER]
set -euo pipefail
out=${1:?usage: tunnel-captures.sh OUT [SECONDS]}
secs=${2:-1}
readonly A=sw-tun-a B=sw-tun-b
mkdir -p "$out"
out=$(cd "$out" && pwd)

cleanup() {
  for ns in $A $B; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT
cleanup
for tool in ip tc tcpdump iperf3 ping; do command -v "$tool" >/dev/null || { echo "tunnel-captures: '$tool' missing" >&2; exit 1; }; done

a() { ip netns exec $A "$@"; }
b() { ip netns exec $B "$@"; }
ip netns add $A
ip netns add $B
ip link add swt-a netns $A type veth peer name swt-b netns $B
a ip link set lo up; b ip link set lo up
a ip addr add 10.250.0.1/24 dev swt-a; b ip addr add 10.250.0.2/24 dev swt-b
a ip addr add fd00:250::1/64 dev swt-a nodad; b ip addr add fd00:250::2/64 dev swt-b nodad
a ip link set swt-a up; b ip link set swt-b up

# One tunnel on both sides: tun NAME "type ARGS (side a)" "type ARGS (side b)" INNER4 [INNER6]
tun() {
  local name=$1 args_a=$2 args_b=$3 n4=$4 n6=${5:-}
  a ip link add "$name" $args_a
  b ip link add "$name" $args_b
  a ip addr add "$n4.1/24" dev "$name"; b ip addr add "$n4.2/24" dev "$name"
  if [ -n "$n6" ]; then
    a ip addr add "$n6::1/64" dev "$name" nodad; b ip addr add "$n6::2/64" dev "$name" nodad
  fi
  a ip link set "$name" up; b ip link set "$name" up
}
tun swt-vxl "type vxlan id 100 dstport 4789 remote 10.250.0.2 local 10.250.0.1" \
            "type vxlan id 100 dstport 4789 remote 10.250.0.1 local 10.250.0.2" 10.251.7 fd00:251:7
# The loss: a short tbf queue on a's underlay egress.
a tc qdisc add dev swt-a root tbf rate 40mbit burst 16kb latency 8ms

caps=()
cap() {  # cap FILE IFACE [tcpdump options]
  local file=$1 ifc=$2; shift 2
  a tcpdump -Z root -U --immediate-mode -B 16384 -i "$ifc" -w "$out/$file" "$@" >/dev/null 2>&1 &
  caps+=($!)
}
cap underlay.pcap swt-a -s 256
cap underlay-snap96.pcap swt-a -s 96
cap any.pcap any -s 200  # Linux SLL2 (tcpdump 4.99 -i any); also written as pcapng below
cap swt-vxl.pcap swt-vxl -s 200
sleep 1

b iperf3 -s -D --logfile /dev/null
sleep 0.5
run() { a timeout $((secs + 10)) iperf3 -c "$1" -t "$secs" -P 2 "${@:2}" >/dev/null || echo "tunnel-captures: iperf3 to $1 failed" >&2; }
for dst in 10.250.0.2 fd00:250::2 10.251.7.2 fd00:251:7::2; do
  run "$dst"
done
run 10.250.0.2 -R            # the far side sends
a ping -c 2 -s 3000 -i 0.2 10.250.0.2 >/dev/null || true     # IPv4 fragments
a ping -6 -c 2 -s 3000 -i 0.2 fd00:250::2 >/dev/null || true # IPv6 fragments (extension header)
a ping -c 2 -s 3000 -i 0.2 10.251.7.2 >/dev/null || true     # fragments inside VXLAN
a ping -c 2 -R -i 0.2 10.250.0.2 >/dev/null || true          # IPv4 options (record route)
sleep 1
kill -TERM "${caps[@]}" 2>/dev/null || true
wait "${caps[@]}" 2>/dev/null || true
! command -v editcap >/dev/null || editcap -F pcapng "$out/any.pcap" "$out/any.pcapng"
ls -l "$out"
