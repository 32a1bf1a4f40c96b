#!/usr/bin/env python3
"""How closely the client's timeout re-sends followed a duplicate ACK (for reading).

Usage: answer_gaps.py EVENTS.jsonl CLIENT_ADDR [N]

Without SACK, seqwatch tells a sender's answer to a duplicate ACK (a fast retransmission)
from its timer by how soon the re-send follows the peer's segment: within 200 us plus twice
the handshake RTT it is an answer (docs/tcp-analysis.md section 14, "Fast, timeout, probe,
recovery"). A sender whose CPU is busy can answer later than that, and such a re-send is
counted as a timeout the kernel did not count. When kernel-truth finds more timeouts than the
kernel's, this names the N marked re-sends that came soonest after a duplicate ACK of the
server in their flow: the likeliest late answers, for the log (CI keeps no capture).
A diagnostic of the kernel runs only, never a rule of the analyzer.

Prints one line: the N closest as frame:+gap_us (after duplicate ACK frame), or "none".
"""
import json
import sys


def usec(ts):
    sec, _, frac = str(ts).partition(".")
    return int(sec) * 1_000_000 + int((frac + "000000")[:6])


def main():
    events, client = sys.argv[1:3]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    last_dup = {}  # flow -> (time, frame) of the server's latest duplicate ACK
    gaps = []
    for line in open(events):
        e = json.loads(line)
        if e.get("type") != "segment":
            continue
        verdicts = e.get("verdicts", [])
        if e["src"] != client:
            if "duplicate_ack" in verdicts:
                last_dup[e["flow"]] = (usec(e["ts"]), e["frame"])
        elif "timeout_retransmission" in verdicts and e["flow"] in last_dup:
            t, frame = last_dup[e["flow"]]
            gaps.append((usec(e["ts"]) - t, e["frame"], frame))
    gaps.sort()
    print(" ".join(f"{f}:+{g}us(dup_ack {d})" for g, f, d in gaps[:n]) or "none")


if __name__ == "__main__":
    main()
