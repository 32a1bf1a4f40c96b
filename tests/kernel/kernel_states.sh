#!/usr/bin/env bash
# Kernel states: real Linux TCP in two network namespaces made to show the states the
# analysis names (tests/kernel/states_peer.py: a zero window with the sender's window probes,
# keep-alives, SYNs answered by RST, a SYN that never gets a SYN/ACK, a reset by the client, a
# request crossing the server's idle close (keep-alive race), a handshake ACK dropped by a full
# accept queue, a missing window scale),
# recorded on the client's veth. For each run seqwatch must
#   * count the client's segments, retransmissions and timeouts as the client kernel did
#     (TcpOutSegs + TcpRetransSegs, TcpRetransSegs, TcpExtTCPTimeouts);
#   * give `keep_alive` to exactly the probes the client kernel sent (TcpExtTCPKeepAlive +
#     TcpExtTCPWinProbe: Linux sends both one byte below snd_una with no data);
#   * report the refused, the unanswered and the reset connections the client program saw, the server
#     kernel's zero window, its RST for the request that crossed its idle close (the client
#     program's send fails after it) as rst_after_fin on that service, the server kernel's
#     SYN/ACK re-sends (TcpExtTCPSynRetrans, all after an ACK its full accept queue dropped) as
#     synack_after_ack on that service, and `window_scaling_missing` exactly when the server does not
#     offer window scaling (tests/kernel/score_states.py);
#   * report the connections left half-closed (--close-wait-s 3) by the side that closed, as many
#     as `ss` counts in CLOSE_WAIT on the other side's namespace at the end of the capture;
#   * write exactly two evidence slices with the default triggers, the stalled receiver's and the
#     unanswered SYN's (with all its SYNs), in files tshark reads without a complaint;
# and, per packet, every tcp.analysis flag must agree with tshark's on every capture
# (tests/tcp/corpus_tcp_verdicts_test over the captures).
# Usage: kernel_states.sh SEQWATCH_BINARY CORPUS_TCP_VERDICTS_TEST   (needs root)
# KS_NS_PREFIX=P names the namespaces P-st-cli / P-st-srv (default seqwatch: a second copy
# can run beside CI's).
set -euo pipefail
seqwatch=$1
verdicts_test=$2
src=${SEQWATCH_SOURCE_DIR:?}
. "$src/tests/kernel/lib.sh"
require_root
for tool in ip tcpdump tshark nstat ss ping python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool not found (tools/install-deps.sh installs it)"; exit 1; }
done
NS_C=${KS_NS_PREFIX:-seqwatch}-st-cli NS_S=${KS_NS_PREFIX:-seqwatch}-st-srv
tmp=$(mktemp -d)
cleanup() { delete_namespaces "$NS_C" "$NS_S"; }
trap 'cleanup; rm -rf "$tmp"' EXIT
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

failures=0
mkdir -p "$tmp/caps"
# NAME FAMILY CLIENT_ADDR SERVER_ADDR PREFIX SERVER_WSCALE(1|0) SYSCTL...
run() {
  local name=$1 cli=$3 srv=$4 plen=$5 wscale=$6
  shift 6
  local dir=$tmp/$name nodad=""
  [[ $srv != *:* ]] || nodad=nodad
  mkdir -p "$dir"
  echo "=== $name: client $cli, server $srv, server window scaling $wscale${*:+, sysctl $*}"
  cleanup
  ip netns add "$NS_C"
  ip netns add "$NS_S"
  ip link add st-cli netns "$NS_C" type veth peer name st-srv netns "$NS_S"
  local ns ifname addr
  for spec in "$NS_C st-cli $cli" "$NS_S st-srv $srv"; do
    read -r ns ifname addr <<<"$spec"
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip link set "$ifname" gso_max_segs 1  # wire-sized segments in the capture
    in_ns "$ns" ip addr add "$addr/$plen" dev "$ifname" $nodad
    in_ns "$ns" ip link set "$ifname" up
    for kv in "$@"; do in_ns "$ns" sysctl -qw "$kv"; done
  done
  [ "$wscale" = 1 ] || in_ns "$NS_S" sysctl -qw net.ipv4.tcp_window_scaling=0
  # Neighbour resolution first, so no SYN waits in a host queue while its timer runs.
  in_ns "$NS_C" ping -c 1 -W 2 "$srv" >/dev/null
  ip netns exec "$NS_C" tcpdump -U -i st-cli -s 0 -w "$dir/cap.pcap" 2>"$dir/tcpdump.log" &
  local tcpdump_pid=$!
  for _ in $(seq 50); do grep -qs "listening on" "$dir/tcpdump.log" && break; sleep 0.1; done
  grep -qs "listening on" "$dir/tcpdump.log" || { echo "FAIL: $name: tcpdump did not start: $(cat "$dir/tcpdump.log")"; exit 1; }
  # Connections left half-closed, whose sockets outlive the capture (states_peer.py).
  ip netns exec "$NS_S" python3 "$src/tests/kernel/states_peer.py" linger-server "$srv" >"$dir/linger-server.log" 2>&1 &
  local linger_server_pid=$!
  for _ in $(seq 50); do [ "$(in_ns "$NS_S" ss -Hltn | grep -cE ':500[89] ')" -eq 2 ] && break; sleep 0.1; done
  ip netns exec "$NS_C" python3 "$src/tests/kernel/states_peer.py" linger-client "$srv" >"$dir/linger-client.log" 2>&1 &
  local linger_client_pid=$!
  for _ in $(seq 50); do grep -qs ready "$dir/linger-client.log" && grep -qs ready "$dir/linger-server.log" && break; sleep 0.1; done
  ip netns exec "$NS_S" python3 "$src/tests/kernel/states_peer.py" server "$srv" >"$dir/server.log" 2>&1 &
  local server_pid=$!
  for _ in $(seq 50); do
    [ "$(in_ns "$NS_S" ss -Hltn | grep -cE ':500[124567] ')" -eq 6 ] && break
    sleep 0.1
  done
  in_ns "$NS_C" timeout 60 python3 "$src/tests/kernel/states_peer.py" client "$srv" >"$dir/client.log" 2>&1 ||
    { cat "$dir/client.log"; echo "FAIL: $name: client program failed"; failures=$((failures + 1)); }
  wait "$server_pid" || { cat "$dir/server.log"; echo "FAIL: $name: server program failed"; failures=$((failures + 1)); }
  sleep 0.5
  { in_ns "$NS_C" nstat -asz | awk '/^Tcp/ {print $1, $2}'
    in_ns "$NS_S" nstat -asz | awk '/^Tcp/ {print "server." $1, $2}'
    # Sockets in CLOSE_WAIT (their application never closed) on each side.
    echo "ss.close_wait $(in_ns "$NS_C" ss -Htn state close-wait | wc -l)"
    echo "server.ss.close_wait $(in_ns "$NS_S" ss -Htn state close-wait | wc -l)"; } >"$dir/nstat"
  sleep 0.3
  kill -INT "$tcpdump_pid"
  wait "$tcpdump_pid" || true
  kill "$linger_client_pid" "$linger_server_pid" 2>/dev/null || true
  wait "$linger_client_pid" "$linger_server_pid" 2>/dev/null || true
  local dropped
  dropped=$(awk '/dropped by kernel/ {print $1}' "$dir/tcpdump.log")
  [[ ${dropped:-0} -eq 0 ]] || { echo "FAIL: $name: tcpdump dropped $dropped packets"; failures=$((failures + 1)); return; }
  cp "$dir/cap.pcap" "$tmp/caps/$name.pcap"

  # --close-wait-s 3: the half-closed connections' FINs come in the run's first second, the
  # capture ends ~8 s later.
  "$seqwatch" analyze "$dir/cap.pcap" --json "$dir/summary.json" --events "$dir/events.jsonl" \
    --flows "$dir/flows.jsonl" --evidence "$dir/evidence" --close-wait-s 3 >"$dir/report.txt"
  tshark -r "$dir/cap.pcap" -Y "tcp && !icmp && !icmpv6" -E occurrence=l -T fields -e frame.number -e ip.src -e ipv6.src \
    -e tcp.srcport -e tcp.dstport -e tcp.flags -e tcp.seq_raw -e tcp.ack_raw -e tcp.len >"$dir/tcp.tsv" 2>/dev/null
  local segs retx dsack probes rto upstream copies late _rto_events
  read -r segs retx dsack probes rto upstream copies late _rto_events < <(python3 "$src/tests/kernel/score_capture.py" \
    "$dir/flows.jsonl" "$dir/events.jsonl" "$cli" "$dir/tcp.tsv")
  value() { awk -v k="$1" '$1 == k {print $2}' "$dir/nstat"; }
  local out retrans timeouts hostq ok=1
  out=$(value TcpOutSegs); retrans=$(value TcpRetransSegs)
  timeouts=$(value TcpExtTCPTimeouts); hostq=$(value TcpExtTCPSpuriousRtxHostQueues)
  echo "kernel: TcpOutSegs $out + TcpRetransSegs $retrans = $((out + retrans)) segments, TcpExtTCPTimeouts $timeouts ($hostq skipped in a host queue)"
  echo "seqwatch: $segs client segments, $retx retransmitted, $rto timeout retransmissions"
  # A timeout whose re-send the kernel skipped (original still in a host queue) is not on the wire.
  if [ "$segs" -ne $((out + retrans)) ] || [ "$retx" -ne "$retrans" ] ||
     [ "$rto" -gt "$timeouts" ] || [ "$rto" -lt $((timeouts - hostq)) ]; then
    ok=0
  fi
  python3 "$src/tests/kernel/score_states.py" "$dir/summary.json" "$dir/events.jsonl" "$dir/flows.jsonl" \
    "$cli" "$dir/client.log" "$dir/nstat" "$wscale" "$dir/evidence/evidence-index.jsonl" || ok=0
  local f
  for f in "$dir"/evidence/*.pcapng; do  # every evidence file reads cleanly
    tshark -r "$f" -q >/dev/null 2>"$dir/tshark.err" && ! grep -v "Running as user" "$dir/tshark.err" | grep -q . ||
      { echo "FAIL: tshark cannot read $f cleanly: $(cat "$dir/tshark.err")"; ok=0; }
  done
  if [ "$ok" -ne 1 ]; then
    echo "FAIL: $name: seqwatch disagrees with the kernels or the client program"
    echo "client program's outcomes:"; cat "$dir/client.log"
    cat "$dir/report.txt"
    failures=$((failures + 1))
    keep_failed_capture "$dir/cap.pcap" "$dir/nstat" "kernel-states-fail-$name"
  fi
  cleanup
}

run ipv4 4 10.198.7.1 10.198.7.2 24 1
run ipv6-no-wscale-no-ts 6 fd00:198:7::1 fd00:198:7::2 64 0 net.ipv4.tcp_timestamps=0
run ipv4-no-sack 4 10.198.7.1 10.198.7.2 24 1 net.ipv4.tcp_sack=0

echo "=== tshark side by side, per packet, on the $(ls "$tmp/caps" | wc -l) captures"
if SEQWATCH_CORPUS_DIR="$tmp/caps" SEQWATCH_BUILD_DIR="$tmp" "$verdicts_test" \
     --gtest_filter='CorpusTcpVerdicts.*:-*AllowListIsCurrent' >"$tmp/verdicts.log" 2>&1; then
  sed -n '/TCP verdicts vs/,/disagreements/p' "$tmp/verdicts.log"
else
  cat "$tmp/verdicts.log"
  echo "FAIL: tcp.analysis flags differ from tshark's"
  failures=$((failures + 1))
fi
if [ -n "${KERNEL_STATES_KEEP:-}" ]; then mkdir -p "$KERNEL_STATES_KEEP" && cp "$tmp"/caps/*.pcap "$KERNEL_STATES_KEEP/"; fi
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "PASS"
