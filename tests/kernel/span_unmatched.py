#!/usr/bin/env python3
"""Which frames of a SPAN-style kernel capture seqwatch judged otherwise than the capture says.

Usage: span_unmatched.py EVENTS.jsonl CLIENT_ADDR FIELDS.tsv
FIELDS.tsv: tshark -T fields over the client's TCP frames: frame.number, frame.time_epoch,
sll.pkttype, ip.id, tcp.seq_raw, tcp.len, tcp.flags.

capture-demo.sh -S captures in the router's namespace on `-i any` (Linux cooked capture v2):
every client segment once as it enters the router (sll.pkttype other than 4) and, unless the
bottleneck dropped it, once as it leaves (pkttype 4, "outgoing"). The entering frames are
exactly the client's transmissions (kernel_truth.sh checks their count against the kernel's),
so every leaving frame is a copy and no entering one is. Prints the frames seqwatch judged
otherwise, at most 10 of each kind, each leaving one with the entering frame of the same
segment and IPv4 ID (IPv6: the same segment) before it and the time between: the diagnosis of
a SPAN run whose counts disagree, from the log alone (docs/tcp-analysis.md section 16).
"""
import json
import sys

OUTGOING = "4"
SHOWN = 10


def main():
    events, client, fields = sys.argv[1:4]
    verdicts = {}
    for line in open(events):
        e = json.loads(line)
        if e.get("type") == "segment" and e["src"] == client:
            verdicts[e["frame"]] = e["verdicts"]
    entered = {}  # (seq, len, flags, ip id) -> (frame, time) of the latest entering frame
    missed, taken = [], []
    for line in open(fields):
        c = line.rstrip("\n").split("\t")
        if len(c) < 7 or not c[0]:
            continue
        frame, t, pkttype = int(c[0]), float(c[1]), c[2]
        key = (c[4], c[5], c[6], c[3])
        copy = "duplicate_packet" in verdicts.get(frame, [])
        if pkttype != OUTGOING:
            entered[key] = (frame, t)
            if copy:
                taken.append(f"frame {frame}: entering the router, taken for a copy (seq {c[4]}, len {c[5]}, IP ID {c[3] or '-'})")
        elif not copy:
            seen = entered.get(key)
            before = f"entering frame {seen[0]}, {1000 * (t - seen[1]):.1f} ms before" if seen else "no entering frame"
            got = ", ".join(verdicts.get(frame, [])) or "no verdict"
            missed.append(f"frame {frame}: leaving the router, analysed ({got}); seq {c[4]}, len {c[5]}, "
                          f"IP ID {c[3] or '-'}; {before}")
    print(f"SPAN check: {len(missed)} leaving frames not taken for copies, {len(taken)} entering frames taken for copies")
    for m in missed[:SHOWN] + taken[:SHOWN]:
        print("  " + m)


if __name__ == "__main__":
    main()
