#!/usr/bin/env python3
# Usage: make_wrap_pcap.py OUT MODE WRAPS SEGLEN EVERY [ISN]   (MODE: noack | ack | lagack)
# e.g. make_wrap_pcap.py noack.pcap noack 3.2 64000 5; compare with tests/analysis/verdict_dump.
"""One long TCP flow with periodic reordering (adjacent data segments swapped) across
several 2^32 sequence wraps. Frames are cut to their headers (snaplen), IP lengths carry
the true size. Modes: 'noack' (receiver silent after the handshake, like bench_tcp's ooo1),
'ack' (receiver ACKs: a dup ACK for the early segment, a cumulative ACK after the fill)."""
import struct, sys

def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

CIP, SIP = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CMAC, SMAC = b'\x02\0\0\0\0\x01', b'\x02\0\0\0\0\x02'

def frame(from_client, seq, ack, flags, plen, win=65535, opts=b''):
    src, dst = (CIP, SIP) if from_client else (SIP, CIP)
    sp, dp = (40000, 5001) if from_client else (5001, 40000)
    thl = 20 + len(opts)
    tcp = struct.pack('!HHIIBBHHH', sp, dp, seq & 0xffffffff, ack & 0xffffffff, (thl // 4) << 4, flags, win, 0, 0) + opts
    tot = 20 + thl + plen
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, tot, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    eth = (SMAC + CMAC if from_client else CMAC + SMAC) + b'\x08\x00'
    hdr = eth + ip + tcp
    return hdr, len(eth) + tot

def main():
    out, mode, wraps, seglen, every = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    isn = int(sys.argv[6], 0) if len(sys.argv) > 6 else 0x12345678
    sisn = 0x0BADF00D
    f = open(out, 'wb')
    f.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 128, 1))  # ns pcap, snaplen 128
    t = [1_700_000_000 * 10**9]
    def put(dt_ns, fr):
        t[0] += dt_ns
        hdr, wl = fr
        f.write(struct.pack('<IIII', t[0] // 10**9, t[0] % 10**9, len(hdr), wl) + hdr)
    S, A, P = 0x02, 0x10, 0x08
    put(0, frame(True, isn, 0, S, 0, opts=b'\x02\x04\x05\xb4'))
    put(1_000_000, frame(False, sisn, isn + 1, S | A, 0, opts=b'\x02\x04\x05\xb4'))
    put(1_000_000, frame(True, isn + 1, sisn + 1, A, 0))  # iRTT 2 ms
    seq = isn + 1
    total = int(wraps * 2**32)
    n = 0
    while seq - (isn + 1) < total:
        n += 1
        if n % every == 0:
            # swap: the later segment first, then the earlier one
            put(10_000, frame(True, seq + seglen, sisn + 1, A | P, seglen))
            if mode == 'ack':
                put(2_000, frame(False, sisn + 1, seq, A, 0))        # dup ACK
            put(5_000, frame(True, seq, sisn + 1, A | P, seglen))   # fill (out of order)
            if mode == 'ack':
                put(2_000, frame(False, sisn + 1, seq + 2 * seglen, A, 0))
            seq += 2 * seglen
        else:
            put(10_000, frame(True, seq, sisn + 1, A | P, seglen))
            if mode == 'ack':
                put(2_000, frame(False, sisn + 1, seq + seglen, A, 0))
            if mode == 'lagack' and n % 2 == 0:
                put(2_000, frame(False, sisn + 1, seq, A, 0))  # ACKs up to the previous segment
            seq += seglen
    f.close()
main()
