#!/usr/bin/env python3
"""What seqwatch's flow records say one host sent: its segments and retransmitted segments,
summed over every flow it is the client or the server of.

Usage: host-segments.py FLOWS.jsonl ADDRESS   -> prints "segments retransmitted"
"""
import json
import sys

flows, addr = sys.argv[1], sys.argv[2]
seen = retx = 0
for line in open(flows):
    r = json.loads(line)
    side = "c2s" if r["client"] == addr else "s2c" if r["server"] == addr else None
    if side:
        seen += r[side]["segments"]
        retx += r[side]["retx_segments"]
print(seen, retx)
