#!/usr/bin/env bash
# Kernel truth: real Linux TCP through a tbf bottleneck (tools/capture-demo.sh builds the
# client/router/server namespaces, runs iperf3 and records the client's veth), then
# seqwatch must count, for the client's side of every flow, exactly as many segments as
# the client kernel sent (TcpOutSegs + TcpRetransSegs) and exactly TcpRetransSegs
# retransmissions, and as many ACKs carrying a D-SACK as the client kernel received
# (TcpExtTCPDSACKRecv + TcpExtTCPDSACKOfoRecv; those arriving after the client's socket is gone,
# in TIME_WAIT or closed, are counted by no socket and set apart: score_capture.py), as many
# timeout retransmissions (rto_retx) as
# the client kernel counted timeouts (TcpExtTCPTimeouts; fewer, or without SACK up to one in
# fifty more, only as explained below), and no more tail-loss probes from the client
# than the client kernel sent (TcpExtTCPLossProbes, which also counts probes carrying new data,
# invisible as probes on the wire). Several bottleneck settings, so losses differ from run to run.
# Each non-SPAN run is checked again on the client's segments alone (a one-sided capture).
# Usage: kernel_truth.sh SEQWATCH_BINARY   (needs root: network namespaces)
# KERNEL_TRUTH_RUNS="cfg;cfg;..." replaces the capture runs' settings (capture-demo.sh
# options, e.g. "-t 3 -P 8 -r 50mbit;-6 -s net.ipv4.tcp_sack=0"), KERNEL_TRUTH_LIVE="..."
# the live runs' ("none" for no live run); KERNEL_TRUTH_KEEP=DIR keeps every capture there.
set -euo pipefail
seqwatch=$1
src=${SEQWATCH_SOURCE_DIR:?}
. "$src/tests/kernel/lib.sh"
require_root
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
# Runs: IPv4 at three bottlenecks; IPv6; no SACK (losses recovered by duplicate ACKs and
# timeouts alone: most timeouts come while duplicate ACKs still arrive); the server sending
# (the client only acknowledges); a SPAN-style capture on both router ports (-S: every
# forwarded packet twice, the outgoing copy up to ~30 ms behind, its time in the tbf queue),
# and the same over IPv6 without timestamps (no IPv4 ID, no TSval: the TTL alone tells a
# copy one routed hop on from a re-send), and over a deep queue (-l 300ms: the outgoing copy
# up to ~300 ms behind, past the 100 ms copy window; the IPv4 ID and TSval, one hop on, still
# tell it at any age; until 2026-12-06, 2,464 client segments for the kernel's 2,321).
# Last, a sender with a lowered minimum RTO (20 ms): its timeouts come 40 ms after the ACK
# last moved, not 200 (docs/tcp-analysis.md section 14, "Timers shorter than 200 ms";
# net.ipv4.tcp_rto_min_us exists from Linux 6.11: skipped, and said, before). Not the same
# without SACK: there only flows whose sender was seen timing out without loss evidence are
# caught (63/63, 53/54, 60/63; 36/54 in the sanitizer build under CI load).
default_runs="-t 2 -P 2 -r 10mbit;-t 3 -P 4 -r 30mbit;-t 2 -P 3 -r 5mbit;-6 -t 2 -P 3 -r 10mbit;-s net.ipv4.tcp_sack=0 -t 3 -P 6 -r 10mbit;-R -t 2 -P 2 -r 10mbit;-S -t 2 -P 2 -r 10mbit;-S -6 -s net.ipv4.tcp_timestamps=0 -t 2 -P 3 -r 10mbit;-S -l 300ms -t 3 -P 3 -r 5mbit;-t 3 -P 3 -r 10mbit -s net.ipv4.tcp_rto_min_us=20000"
IFS=';' read -r -a runs <<<"${KERNEL_TRUTH_RUNS:-$default_runs}"
# Live runs: two bottlenecks, and MTU 9000: net_af_packet's PACKET_MMAP frames (2048 bytes)
# cut jumbo frames, and the segment must still count at its IP length (until 2026-12-03 the
# cut length was taken for the wire's: 846 "previous segment not captured", 163 of 169
# retransmissions); and MTU 9000 with framesz=16384 (-F), where the port's mbufs must be
# sized to take the frames whole (no frame cut: the report's snaplen-cut count is 0).
IFS=';' read -r -a live_runs <<<"${KERNEL_TRUTH_LIVE:--t 2 -P 2 -r 10mbit;-t 2 -P 3 -r 5mbit;-t 2 -P 2 -m 9000 -r 30mbit;-t 2 -P 2 -m 9000 -F 16384 -r 30mbit}"
[ "${live_runs[0]}" != none ] || live_runs=()
# The client's address in the flow records and events (capture-demo.sh's namespaces).
client_addr() { case " $1 " in *" -6 "*) echo fd00:199:1::2 ;; *) echo 10.199.1.2 ;; esac; }
# A sysctl this kernel does not have: the run is not possible here (said, not scored).
missing_sysctl() {
  local prev= w
  for w in $1; do
    if [ "$prev" = -s ] && [ ! -e "/proc/sys/$(echo "${w%%=*}" | tr . /)" ]; then echo "${w%%=*}"; return 0; fi
    prev=$w
  done
  return 1
}
for cfg in "${runs[@]}"; do
  if missing=$(missing_sysctl "$cfg"); then
    echo "=== bottleneck run: capture-demo.sh $cfg: NOT RUN, this kernel ($(uname -r)) has no $missing"
    continue
  fi
  client=$(client_addr "$cfg")
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
    failures=$((failures + 1))
    continue  # the other settings still run (a sweep of many: one bad setting ends none)
  fi
  span=0
  case " $cfg " in *" -S "*) span=1 ;; esac
  mkdir -p "$tmp/caps"
  # For tcptrace, below (not the SPAN-style capture: Linux cooked capture v2, which tcptrace
  # 6.6.7 cannot read).
  [ "$span" -eq 1 ] || cp "$tmp/cap.pcap" "$tmp/caps/run$(ls "$tmp/caps" | wc -l).pcap"
  if [ -n "${KERNEL_TRUTH_KEEP:-}" ]; then  # keep the captures (for tshark / tcptrace side by side)
    mkdir -p "$KERNEL_TRUTH_KEEP"
    kept=$((${kept:-0} + 1))  # numbered: a setting given twice keeps both captures
    name=$kept$(echo "$cfg" | tr -c 'A-Za-z0-9.=_-' _)
    cp "$tmp/cap.pcap" "$KERNEL_TRUTH_KEEP/$name.pcap" && cp "$tmp/cap.pcap.nstat" "$KERNEL_TRUTH_KEEP/$name.pcap.nstat"
  fi
  out=$(awk '$1 == "TcpOutSegs" {print $4}' "$tmp/cap.pcap.nstat")
  retrans=$(awk '$1 == "TcpRetransSegs" {print $4}' "$tmp/cap.pcap.nstat")
  dsack_k=$(awk '$1 == "TcpExtTCPDSACKRecv" || $1 == "TcpExtTCPDSACKOfoRecv" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  probes_k=$(awk '$1 == "TcpExtTCPLossProbes" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  timeouts_k=$(awk '$1 == "TcpExtTCPTimeouts" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  "$seqwatch" analyze "$tmp/cap.pcap" --flows "$tmp/flows.jsonl" --events "$tmp/events.jsonl" >"$tmp/report.txt"
  # The capture's TCP headers, for the client socket's end (score_capture.py: D-SACKs that
  # arrive after it are counted by no socket).
  tshark -r "$tmp/cap.pcap" -Y "tcp && !icmp && !icmpv6" -E occurrence=l -T fields -e frame.number -e ip.src -e ipv6.src \
    -e tcp.srcport -e tcp.dstport -e tcp.flags -e tcp.seq_raw -e tcp.ack_raw -e tcp.len >"$tmp/tcp.tsv" 2>/dev/null
  read -r segs retx dsack probes rto upstream copies late_dsack rto_events < <(python3 "$src/tests/kernel/score_capture.py" \
    "$tmp/flows.jsonl" "$tmp/events.jsonl" "$client" "$tmp/tcp.tsv")
  if [ "$span" -eq 1 ]; then
    # The router's ingress is upstream of every drop (the tbf queue is on its egress), so a
    # gap in the client's segments there is reordering on the veth between client and
    # router (seen in such runs: two segments swapped 0.1 ms apart), not loss; filling it
    # is a retransmission by Wireshark's rule (the first RTT, the handshake's, is shorter
    # than the swap), not by the kernel's. Those are set apart; every other re-send counts.
    echo "SPAN-style capture: $copies client segments recognised as copies (duplicate_packet); $upstream retransmissions fill a gap the router's ingress saw (reordering before the router)"
    retx=$((retx - upstream))
  fi
  echo "kernel: TcpOutSegs $out + TcpRetransSegs $retrans = $((out + retrans)) segments; seqwatch: $segs segments, $retx retransmissions"
  echo "kernel: TcpExtTCPDSACKRecv + TcpExtTCPDSACKOfoRecv = $dsack_k D-SACKs received; seqwatch: $dsack ACKs to the client carry a D-SACK"
  [ "$late_dsack" -eq 0 ] || echo "note: $late_dsack more D-SACK(s) reached the client after its socket was gone (it acknowledged the server's FIN and the server its own, or a RST): counted by no socket, set apart"
  echo "kernel: TcpExtTCPTimeouts = $timeouts_k retransmission timeouts; seqwatch: $rto timeout retransmissions (rto_retx) from the client"
  # Timeouts are told from the wire by their timing (docs/tcp-analysis.md, "Fast, timeout,
  # probe, recovery"), and some kernel timeouts cannot be seen there, so seqwatch may
  # count fewer (and more only without SACK, below): (1) the kernel counts the timeout when
  # its timer fires, then skips the re-send while the original is still in a host queue
  # (TcpExtTCPSpuriousRtxHostQueues: in IPv6 runs the first SYN waits ~1 s for neighbour
  # discovery); (2) a timeout that fires
  # within kClockedUs (10 ms) of a duplicate ACK looks like a re-send clocked by that ACK
  # (seen about once per hundred timeouts in runs without SACK). Allowed: the host-queue
  # skips plus one in ten (at least one). A sender whose minimum RTO was lowered adds a
  # third kind: (3) a timeout sooner after the ACK moved than any 20 ms timer (most likely:
  # a tail-loss probe that could not go out, after which Linux re-arms the retransmission
  # timer from the head's own send time, not from the ACK: tcp_rearm_rto), and its backed-off
  # successors in loss recovery amid SACKs; seqwatch keeps no send time per segment and
  # cannot tell those from recovery re-sends. Seen four times, all under CPU load: CI's
  # sanitizer build (3 of the kernel's 5; on 2026-12-06 4 of 7, three short), the release
  # build in our own CI run beside the sanitizer build's compilation (1 of 3), and a run beside
  # busy loops (4 of 6; on the wire the two left are a head re-sent 13.5 ms after the ACK moved
  # and 37.7 ms after its own send, then the same head 56 ms later, its backoff), where 121
  # other runs, traced with ftrace (tools/kernel-rto-trace.sh; 103 of this setting, beside busy
  # loops or a compilation), matched the kernel's timeouts segment for segment. There: one in
  # two (at least two; one in five until the 4-of-7 run). What the setting is here for stays
  # checked: a 20 ms timer's timeouts, 40 ms after the ACK moved, are told as timeouts at all
  # (a rule that waited for 200 ms would miss most), and never more than the kernel's. A run
  # short of more than the host-queue skips keeps its capture beside the build's logs, for
  # reading.
  # docs/tcp-analysis.md, "Timers shorter than 200 ms".
  hostq_k=$(awk '$1 == "TcpExtTCPSpuriousRtxHostQueues" {n += $4} END {print n + 0}' "$tmp/cap.pcap.nstat")
  case " $cfg " in
    *tcp_rto_min_us=*) rto_slack=$(((timeouts_k + 1) / 2)); [ "$rto_slack" -ge 2 ] || rto_slack=2 ;;
    *) rto_slack=$(((timeouts_k + 9) / 10)) ;;
  esac
  rto_min=$((timeouts_k - hostq_k - rto_slack))
  [ "$rto_min" -ge 0 ] || rto_min=0
  # More than the kernel's: only without SACK, at most one in fifty (at least one). There a
  # re-send answering a duplicate ACK is told from the timer's by an answer window of 200 us
  # plus twice the handshake RTT, and a sender whose CPU is busy answers later: CI's sanitizer
  # build under load counted one such late answer as a timeout (2026-12-06: 51 for the
  # kernel's 50, the re-send 274 us after the 43rd duplicate ACK; later 59 for 58, of a class
  # the log could not tell). The wire cannot tell a late answer from the timer
  # (docs/tcp-analysis.md section 14); the re-sends that came soonest after a duplicate ACK
  # are printed, and how many left off the timer tick, for reading.
  rto_max=$timeouts_k
  case " $cfg " in *tcp_sack=0*) rto_max=$((timeouts_k + (timeouts_k + 49) / 50)) ;; esac
  if [ "$rto" -gt "$timeouts_k" ]; then
    echo "note: $((rto - timeouts_k)) more timeout(s) than the kernel's; accepted up to $rto_max (more only without SACK: a late answer to a duplicate ACK)"
    echo "for reading: marked timeouts soonest after a duplicate ACK: $(python3 "$src/tests/kernel/answer_gaps.py" "$tmp/events.jsonl" "$client" 3 || true)"
  fi
  if [ "$rto" -lt "$timeouts_k" ]; then
    echo "note: $((timeouts_k - rto)) kernel timeout(s) not seen as such on the wire ($hostq_k re-send(s) skipped in a host queue); accepted down to $rto_min"
    if [ "$rto" -lt $((timeouts_k - hostq_k)) ]; then  # short beyond the host-queue skips
      notes=$((${notes:-0} + 1))
      keep_failed_capture "$tmp/cap.pcap" "$tmp/cap.pcap.nstat" "kernel-truth-timeouts-short-$notes"
    fi
  fi
  # For reading: the client's timer fires on its kernel's tick, so a segment marked as a
  # timeout far off that tick was likely sent by something else (tests/kernel/timer_phase.py).
  # (Read whole, then the first line: a reader that stops after one line breaks the pipe.)
  phase=$(python3 "$src/tests/kernel/timer_phase.py" "$tmp/events.jsonl" "$client") || true  # for reading only
  read -r tick_us _ off_tick <<<"${phase%%$'\n'*}"
  [ "${tick_us:-0}" -eq 0 ] ||
    echo "for reading: $off_tick of the $rto_events segments marked timeout_retransmission left off the client's ${tick_us} us timer tick"
  echo "kernel: TcpExtTCPLossProbes = $probes_k probes sent (new data or the last segment); seqwatch: $probes tail_loss_probe re-sends from the client"
  grep -E "^TcpExt(TCPSpuriousRTOs|TCPLossProbeRecovery|TCPSpuriousRtxHostQueues) " "$tmp/cap.pcap.nstat" | awk '{print "kernel (for reading): " $1 " " $4}'
  # The events mark each segment counted as a timeout (timeout_retransmission): as many as
  # the flow records count.
  [ "$rto_events" -eq "$rto" ] || echo "FAIL: $rto_events segments marked timeout_retransmission, $rto counted in the flow records"
  if [ "$segs" -ne $((out + retrans)) ] || [ "$retx" -ne "$retrans" ] || [ "$dsack" -ne "$dsack_k" ] ||
     [ "$rto" -gt "$rto_max" ] || [ "$rto" -lt "$rto_min" ] || [ "$probes" -gt "$probes_k" ] ||
     [ "$rto_events" -ne "$rto" ]; then
    echo "FAIL: seqwatch disagrees with the client kernel"
    cat "$tmp/report.txt"
    if [ "$span" -eq 1 ]; then  # which frames: the log alone must tell (CI keeps no capture)
      case $client in *:*) src_field=ipv6.src ;; *) src_field=ip.src ;; esac
      tshark -r "$tmp/cap.pcap" -Y "tcp && !icmp && !icmpv6 && $src_field == $client" -E occurrence=l -T fields \
        -e frame.number -e frame.time_epoch -e sll.pkttype -e ip.id -e tcp.seq_raw -e tcp.len -e tcp.flags \
        >"$tmp/span.tsv" 2>/dev/null || true
      python3 "$src/tests/kernel/span_unmatched.py" "$tmp/events.jsonl" "$client" "$tmp/span.tsv" || true
    fi
    failures=$((failures + 1))
    keep_failed_capture "$tmp/cap.pcap" "$tmp/cap.pcap.nstat" "kernel-truth-fail-$failures"
  fi
  # The same run seen one-sided (asymmetric routing, a SPAN session of one direction): only
  # the client's segments. Segments and retransmissions must still be the kernel's exactly;
  # without the server's ACKs fast recovery cannot be told from a timeout, so seqwatch may
  # count fewer timeouts, never more (docs/tcp-analysis.md section 14, "One-sided captures");
  # no connection that carried data is an unanswered SYN, and the report says why. Copies
  # are analysed (--copy-window-ms 0): two identical ACKs 4 us apart (an IPv6 client
  # answering a re-sent SYN/ACK) are copies to the eye when the SYN/ACKs between them are not
  # in the capture. Not for the SPAN-style runs (every segment twice).
  if [ "$span" -eq 0 ]; then
    case $client in *:*) src_field=ipv6.src ;; *) src_field=ip.src ;; esac
    tshark -r "$tmp/cap.pcap" -Y "$src_field == $client" -w "$tmp/oneway.pcap" 2>"$tmp/tshark.err" ||
      { cat "$tmp/tshark.err"; echo "FAIL: tshark could not write the one-sided copy"; exit 1; }
    "$seqwatch" analyze "$tmp/oneway.pcap" --copy-window-ms 0 --flows "$tmp/oneway.jsonl" --json "$tmp/oneway.json" \
      >"$tmp/oneway.txt"
    read -r osegs oretx orto < <(python3 - "$tmp/oneway.jsonl" "$client" <<'PY'
import json, sys
segs = retx = rto = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") != "flow":
        continue
    d = r["c2s"] if r["client"] == sys.argv[2] else r["s2c"]
    segs += d["segments"]; retx += d["retx_segments"]; rto += d["rto_retx"]
print(segs, retx, rto)
PY
    )
    unanswered=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["retransmissions"]["connection_ends"]["syn_unanswered"])' "$tmp/oneway.json")
    echo "one-sided (client's segments only): seqwatch $osegs segments, $oretx retransmissions, $orto timeouts (kernel $timeouts_k), $unanswered SYN unanswered"
    if [ "$osegs" -ne $((out + retrans)) ] || [ "$oretx" -ne "$retrans" ] || [ "$orto" -gt "$timeouts_k" ] ||
       [ "$unanswered" -ne 0 ] || { [ "$oretx" -ne 0 ] && ! grep -q "ONE-SIDED" "$tmp/oneway.txt"; }; then
      echo "FAIL: seqwatch on the one-sided capture disagrees with the client kernel"
      cat "$tmp/oneway.txt"
      failures=$((failures + 1))
      keep_failed_capture "$tmp/oneway.pcap" "$tmp/cap.pcap.nstat" "kernel-truth-oneway-fail-$failures"
    fi
  fi
done

# tcptrace, the second opinion, on the same captures: per direction of every connection,
# packets, data bytes, retransmitted packets and bytes and D-SACKs agree with seqwatch
# (tests/tcp/tcptrace_flows_test.cpp's rules, docs/tcp-analysis.md section 15; with these
# few directions its 99.9% threshold means every one).
tt_test="${SEQWATCH_BUILD_DIR:-}/tests/tcp/tcptrace_flows_test"
ncaps=$(ls "$tmp/caps" 2>/dev/null | wc -l)
if [ "$ncaps" -gt 0 ] && [ -x "$tt_test" ] && command -v tcptrace >/dev/null; then
  echo "=== tcptrace side by side on the $ncaps captures"
  if SEQWATCH_CORPUS_DIR="$tmp/caps" SEQWATCH_REPORT_DIR="$tmp" "$tt_test" --gtest_filter='*CorpusAgrees' \
       >"$tmp/tcptrace.log" 2>&1; then
    grep -E '^\[tcptrace\] [a-z_]+:' "$tmp/tcptrace.log"
  else
    cat "$tmp/tcptrace.log" "$tmp/corpus-tcptrace-flows-report.txt" 2>/dev/null
    echo "FAIL: seqwatch's flow records disagree with tcptrace"
    failures=$((failures + 1))
  fi
fi

# Live: the same check with seqwatch itself on the client's veth (DPDK net_af_packet,
# `seqwatch run --pipeline pipelines/demo.yaml`), no capture file in between.
for cfg in "${live_runs[@]}"; do
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
  cut=$(awk '/snaplen-cut/ {print $2; exit}' "$tmp/live.log" | tr -d ,)
  echo "frames cut by the capture: ${cut:-?}"
  if [[ " $cfg " == *" -F "* ]] && [ "$cut" != 0 ]; then
    cat "$tmp/live.log"
    echo "FAIL: with -F the af_packet port must deliver whole frames"
    failures=$((failures + 1))
  fi
done
[ "$failures" -eq 0 ] && echo "kernel truth: all runs agree (segments, retransmissions and D-SACKs exactly; tcptrace too)"
exit "$failures"
