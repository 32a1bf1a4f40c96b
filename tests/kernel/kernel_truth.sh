#!/usr/bin/env bash
# Kernel truth: real Linux TCP through a tbf bottleneck (tools/capture-demo.sh builds the
# client/router/server namespaces, runs iperf3 and records the client's veth), then
# seqwatch must count, for the client's side of every flow, exactly as many segments as
# the client kernel sent (TcpOutSegs + TcpRetransSegs) and exactly TcpRetransSegs
# retransmissions, and as many ACKs carrying a D-SACK as the client kernel received
# (TcpExtTCPDSACKRecv + TcpExtTCPDSACKOfoRecv), as many timeout retransmissions (rto_retx) as
# the client kernel counted timeouts (TcpExtTCPTimeouts), and no more tail-loss probes from the client
# than the client kernel sent (TcpExtTCPLossProbes, which also counts probes carrying new data,
# invisible as probes on the wire). Several bottleneck settings, so losses differ from run to run.
# Usage: kernel_truth.sh SEQWATCH_BINARY   (needs root: network namespaces)
set -euo pipefail
seqwatch=$1
src=${SEQWATCH_SOURCE_DIR:?}
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: creating network namespaces needs root"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
for cfg in "-t 2 -P 2 -r 10mbit" "-t 3 -P 4 -r 30mbit" "-t 2 -P 3 -r 5mbit"; do
  echo "=== bottleneck run: capture-demo.sh $cfg"
  # The capture must itself be complete before it can judge seqwatch: tcpdump must drop
  # nothing (capture-demo.sh checks) and hold every segment the kernel sent, counted
  # independently by tshark (capture-demo.sh prints both). On a busy machine the capture
  # may miss segments sent while tcpdump was stopping: such a run is repeated, not scored.
  complete=0
  for attempt in 1 2 3; do
    if bash "$src/tools/capture-demo.sh" -o "$tmp/cap.pcap" $cfg >"$tmp/capture.log" 2>&1 &&
       awk '/client sent/ {exit !($4 == $NF)}' "$tmp/capture.log"; then
      complete=1
      break
    fi
    echo "capture attempt $attempt incomplete, repeating:"
    grep -E "capture-demo:" "$tmp/capture.log" | tail -3
  done
  if [ "$complete" -ne 1 ]; then
    cat "$tmp/capture.log"
    echo "FAIL: no complete capture in 3 attempts"
    exit 1
  fi
  out=$(awk '$1 == "TcpOutSegs" {print $4}' "$tmp/cap.pcap.nstat")
  retrans=$(awk '$1 == "TcpRetransSegs" {print $4}' "$tmp/cap.pcap.nstat")
  dsack_k=$(awk '$1 == "TcpExtTCPDSACKRecv" || $1 == "TcpExtTCPDSACKOfoRecv" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  probes_k=$(awk '$1 == "TcpExtTCPLossProbes" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  timeouts_k=$(awk '$1 == "TcpExtTCPTimeouts" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  "$seqwatch" analyze "$tmp/cap.pcap" --flows "$tmp/flows.jsonl" --events "$tmp/events.jsonl" >"$tmp/report.txt"
  read -r segs retx dsack probes rto < <(python3 - "$tmp/flows.jsonl" "$tmp/events.jsonl" <<'PY'
import json, sys
segs = retx = dsack = probes = rto = 0
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e["dst"] == "10.199.1.2" and "dsack" in e["verdicts"]:  # D-SACKs the client received
        dsack += 1
    if e["src"] == "10.199.1.2" and "tail_loss_probe" in e["verdicts"]:  # probes the client sent
        probes += 1
for line in open(sys.argv[1]):
    f = json.loads(line)
    if f["client"] == "10.199.1.2":      # the namespace client: every flow it opened
        segs += f["c2s"]["segments"]
        retx += f["c2s"]["retx_segments"]
        rto += f["c2s"]["rto_retx"]
    elif f["server"] == "10.199.1.2":
        segs += f["s2c"]["segments"]
        retx += f["s2c"]["retx_segments"]
        rto += f["s2c"]["rto_retx"]
print(segs, retx, dsack, probes, rto)
PY
)
  echo "kernel: TcpOutSegs $out + TcpRetransSegs $retrans = $((out + retrans)) segments; seqwatch: $segs segments, $retx retransmissions"
  echo "kernel: TcpExtTCPDSACKRecv + TcpExtTCPDSACKOfoRecv = $dsack_k D-SACKs received; seqwatch: $dsack ACKs to the client carry a D-SACK"
  echo "kernel: TcpExtTCPTimeouts = $timeouts_k retransmission timeouts; seqwatch: $rto timeout retransmissions (rto_retx) from the client"
  echo "kernel: TcpExtTCPLossProbes = $probes_k probes sent (new data or the last segment); seqwatch: $probes tail_loss_probe re-sends from the client"
  grep -E "^TcpExt(TCPSpuriousRTOs|TCPLossProbeRecovery) " "$tmp/cap.pcap.nstat" | awk '{print "kernel (for reading): " $1 " " $4}'
  if [ "$segs" -ne $((out + retrans)) ] || [ "$retx" -ne "$retrans" ] || [ "$dsack" -ne "$dsack_k" ] ||
     [ "$rto" -ne "$timeouts_k" ] || [ "$probes" -gt "$probes_k" ]; then
    echo "FAIL: seqwatch disagrees with the client kernel"
    cat "$tmp/report.txt"
    failures=$((failures + 1))
  fi
done

# Live: the same check with seqwatch itself on the client's veth (DPDK net_af_packet,
# `seqwatch run --pipeline pipelines/demo.yaml`), no capture file in between.
for cfg in "-t 2 -P 2 -r 10mbit" "-t 2 -P 3 -r 5mbit"; do
  echo "=== live run: capture-demo.sh -L $cfg"
  rm -rf "$tmp/live"
  if ! SEQWATCH_BIN=$(readlink -f "$seqwatch") bash "$src/tools/capture-demo.sh" -L "$tmp/live" $cfg >"$tmp/live.log" 2>&1; then
    cat "$tmp/live.log"
    echo "FAIL: the live run failed"
    failures=$((failures + 1))
    continue
  fi
  read -r ksegs kretx < <(awk '/^live demo: the client kernel/ {print $8, $10}' "$tmp/live.log")
  read -r ssegs sretx < <(awk '/seqwatch saw/ {print $3, $6}' "$tmp/live.log")
  echo "kernel: $ksegs segments, $kretx retransmissions; seqwatch live: $ssegs segments, $sretx retransmissions"
  if [ -z "$ksegs" ] || [ "$ksegs" != "$ssegs" ] || [ "$kretx" != "$sretx" ]; then
    cat "$tmp/live.log"
    echo "FAIL: live seqwatch disagrees with the client kernel"
    failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] && echo "kernel truth: all runs agree exactly"
exit "$failures"
