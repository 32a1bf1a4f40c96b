#!/usr/bin/env python3
"""Where the client's timeout re-sends fall against its kernel's timer tick (for reading).

Usage: timer_phase.py EVENTS.jsonl CLIENT_ADDR

A Linux sender's retransmission timer is a jiffy timer: it fires on the kernel's tick (HZ=250
here: every 4 ms), so on a capture taken beside the sender every true timeout re-send leaves
within a few hundred microseconds of one phase of that tick, while re-sends clocked by ACKs or
let out by pacing (an hrtimer) fall anywhere. The segments seqwatch marked
timeout_retransmission are folded onto the tick that gathers them best (1, 3.33, 4 or 10 ms),
and those far from its busiest phase are named: each is a re-send seqwatch took for a timeout
that the sender's timer likely did not send. A diagnostic of the kernel runs only (a sensor
elsewhere sees the tick blurred by the path; other hosts have other HZ), never a rule of the
analyzer (docs/tcp-analysis.md section 14).

Prints one line: tick_us counted off_tick (tick_us 0: fewer than MIN_MARKED marked), then one
line per off-tick segment.
"""
import collections
import json
import math
import sys

TICKS_US = (1000, 10000 / 3, 4000, 10000)
NEAR_US = 300  # a timer's re-send leaves within this long after its tick (more flows per tick: later)
MIN_MARKED = 8  # fewer marked segments cannot show which phase is the tick's (4 of them, 2 far apart: either)


def main():
    events, client = sys.argv[1:3]
    marked = []
    for line in open(events):
        e = json.loads(line)
        if e["src"] == client and "timeout_retransmission" in e["verdicts"]:
            sec, _, frac = str(e["ts"]).partition(".")
            marked.append((int(sec) * 1_000_000 + int((frac + "000000")[:6]), e["frame"]))
    if len(marked) < MIN_MARKED:
        print(0, len(marked), 0)  # too few to find the tick's phase
        return
    # The tick whose phases cluster best (mean resultant length of the phase angles).
    def concentration(tick):
        c = sum(math.cos(2 * math.pi * (t % tick) / tick) for t, _ in marked)
        s = sum(math.sin(2 * math.pi * (t % tick) / tick) for t, _ in marked)
        return math.hypot(c, s) / len(marked)
    # A 4 ms tick's phases fold onto a 1 ms tick as well: the longest tick that gathers them
    # nearly as well as the best one.
    best = max(concentration(t) for t in TICKS_US)
    tick = max(t for t in TICKS_US if concentration(t) >= 0.9 * best)
    bins = collections.Counter(int((t % tick) // 50) for t, _ in marked)
    mode = bins.most_common(1)[0][0] * 50
    off = []
    for t, frame in marked:
        after = (t - mode) % tick  # how long after the busiest phase
        if after > NEAR_US + 50 and after < tick - 100:
            off.append((frame, after))
    print(round(tick), len(marked), len(off))
    for frame, after in off:
        print(f"frame {frame}: {after / 1000:.2f} ms after the tick's busiest phase")


if __name__ == "__main__":
    main()
