#!/usr/bin/env python3
"""What seqwatch said about the kernel-truth client, to set beside the client kernel's counters.

Usage: score_capture.py FLOWS.jsonl EVENTS.jsonl CLIENT_ADDR TCP_FIELDS.tsv
TCP_FIELDS.tsv: tshark -T fields over the capture's TCP frames: frame.number, ip.src,
ipv6.src, tcp.srcport, tcp.dstport, tcp.flags, tcp.seq_raw, tcp.ack_raw, tcp.len (innermost
occurrence of each).

Prints one line: segments retransmissions dsacks probes rto upstream copies late_dsacks
rto_events (the client's segments marked timeout_retransmission in the events: rto, the flow
records' count, from the segments themselves).

D-SACKs: the client kernel counts those its socket processes (TcpExtTCPDSACKRecv +
TcpExtTCPDSACKOfoRecv). Once the client has acknowledged the server's FIN (its own ACK covers
it: the FIN reached the socket, not only the capture point) and the server has acknowledged
the client's FIN, or a RST passed, the client's socket is gone (TIME_WAIT or closed): an ACK
with a D-SACK arriving after that is answered by the time-wait socket or a RST, and counted
nowhere. Such D-SACKs (seqwatch reports them: they are on the wire) are set apart as
late_dsacks. A new SYN from the client on the same ports opens a new connection: its
D-SACKs count again.
"""
import json
import sys

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def after(a, b):
    """Sequence number a is at or after b (mod 2^32)."""
    return (a - b) % 2**32 < 2**31


def socket_gone_spans(tsv, client):
    """(client port, server port) -> [(first frame, last frame or None)] while the client's socket is gone."""
    spans = {}
    state = {}  # key -> {client FIN end, server FIN end, client FIN acked, server FIN acked}
    for line in open(tsv):
        c = line.rstrip("\n").split("\t")
        if len(c) < 9 or not c[0]:
            continue
        num = int(c[0])
        src = c[1] or c[2]
        sport, dport = int(c[3]), int(c[4])
        flags, seq, ack, ln = int(c[5], 0), int(c[6]), int(c[7]), int(c[8] or 0)
        from_client = src == client
        key = (sport, dport) if from_client else (dport, sport)
        key_spans = spans.setdefault(key, [])
        gone = bool(key_spans) and key_spans[-1][1] is None
        if from_client and flags & SYN and not flags & ACK:  # a new connection on these ports
            if gone:
                key_spans[-1] = (key_spans[-1][0], num)
            state.pop(key, None)
            continue
        if gone:
            continue
        st = state.setdefault(key, {"cfin": None, "sfin": None, "cfin_acked": False, "sfin_acked": False})
        if flags & RST:
            key_spans.append((num, None))
            state.pop(key, None)
            continue
        mine, theirs = ("cfin", "sfin") if from_client else ("sfin", "cfin")
        if flags & FIN:
            st[mine] = (seq + ln + 1) % 2**32
        if st[theirs] is not None and flags & ACK and after(ack, st[theirs]):
            st[theirs + "_acked"] = True
        if st["cfin_acked"] and st["sfin_acked"]:
            key_spans.append((num, None))
            state.pop(key, None)
    return spans


def in_spans(spans, frame):
    return any(first < frame and (last is None or frame < last) for first, last in spans)


def main():
    flows, events, client, tsv = sys.argv[1:5]
    gone = socket_gone_spans(tsv, client)
    segs = retx = dsack = probes = rto = upstream = copies = late = rto_events = 0
    for line in open(events):
        e = json.loads(line)
        if e["dst"] == client and "dsack" in e["verdicts"]:  # D-SACKs the client received
            if in_spans(gone.get((e["dport"], e["sport"]), []), e["frame"]):
                late += 1
            else:
                dsack += 1
        if e["src"] == client and "tail_loss_probe" in e["verdicts"]:  # probes the client sent
            probes += 1
        if e["src"] == client and "retransmission" in e["verdicts"] and "loss_upstream" in e["verdicts"]:
            upstream += 1  # fills a gap the sensor saw in the client's segments
        if e["src"] == client and "duplicate_packet" in e["verdicts"]:
            copies += 1
        if e["src"] == client and "timeout_retransmission" in e["verdicts"]:
            rto_events += 1
    for line in open(flows):
        f = json.loads(line)
        if f["client"] == client:  # the namespace client: every flow it opened
            segs += f["c2s"]["segments"]
            retx += f["c2s"]["retx_segments"]
            rto += f["c2s"]["rto_retx"]
        elif f["server"] == client:
            segs += f["s2c"]["segments"]
            retx += f["s2c"]["retx_segments"]
            rto += f["s2c"]["rto_retx"]
    print(segs, retx, dsack, probes, rto, upstream, copies, late, rto_events)


if __name__ == "__main__":
    main()
