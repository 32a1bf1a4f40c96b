#!/usr/bin/env python3
"""Per-segment check of seqwatch's timeout verdicts against the sending kernel's own timer.

Usage: kernel_rto_match.py TRACE EVENTS CLIENT_ADDR

TRACE is the ftrace text of one kernel run (events tcp:tcp_cong_state_set and
tcp:tcp_retransmit_skb, recorded by tools/kernel-rto-trace.sh); EVENTS the
`seqwatch analyze --events` output of that run's capture. The kernel enters the loss state
(cong_state 4) when its retransmission timer fires, then re-sends the head: the first
retransmission of that socket after such an entry (within 2 ms) is a timeout's. The k-th
re-send of a client port in the trace is paired with the k-th re-send of that port on the
wire (segments seqwatch marks retransmission or out_of_order, or tail_loss_probe, from the
client); both counts must be equal (the capture is complete). Prints one line of totals and
one line per disagreement; exits 1 if any."""
import json
import re
import sys

LINE = re.compile(r" (\d+\.\d+): (tcp_cong_state_set|tcp_retransmit_skb): .*?sport=(\d+) .*?saddr=(\S+) .*?saddrv6=(\S+)")


def kernel_resends(trace, client):
    resends, entered = {}, {}
    for line in open(trace):
        m = LINE.search(line)
        if not m or client not in (m.group(4), m.group(5)):
            continue
        t, event, port = float(m.group(1)), m.group(2), int(m.group(3))
        if event == "tcp_cong_state_set":
            state = re.search(r"cong_state=(\d+)", line)
            entered[port] = (t, state is not None and state.group(1) == "4")
        elif "err=0" in line:  # a re-send that left (an error sends nothing)
            since = entered.pop(port, None)  # only the first re-send after the entry
            resends.setdefault(port, []).append(since is not None and since[1] and t - since[0] < 0.002)
    return resends


def wire_resends(events, client):
    resends = {}
    for line in open(events):
        e = json.loads(line)
        if e.get("type") != "segment" or e["src"] != client or e["len"] == 0:
            continue
        v = e["verdicts"]
        if "retransmission" in v or "out_of_order" in v or "tail_loss_probe" in v:
            resends.setdefault(e["sport"], []).append((e["frame"], "timeout_retransmission" in v))
    return resends


def main():
    trace, events, client = sys.argv[1:4]
    kern, wire = kernel_resends(trace, client), wire_resends(events, client)
    agree = kernel_rto = seqwatch_rto = 0
    problems = []
    for port in sorted(set(kern) | set(wire)):
        k, w = kern.get(port, []), wire.get(port, [])
        if len(k) != len(w):
            problems.append(f"port {port}: {len(k)} re-sends in the trace, {len(w)} on the wire: not paired")
            continue
        for is_rto, (frame, marked) in zip(k, w):
            kernel_rto += is_rto
            seqwatch_rto += marked
            if is_rto == marked:
                agree += is_rto
            else:
                problems.append(f"port {port} frame {frame}: kernel {'timeout' if is_rto else 'no timeout'}, "
                                f"seqwatch {'timeout_retransmission' if marked else 'no timeout'}")
    print(f"timeouts: kernel {kernel_rto}, seqwatch {seqwatch_rto}, the same segments {agree}; disagreements {len(problems)}")
    for p in problems:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
