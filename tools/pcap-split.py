#!/usr/bin/env python3
"""Split a pcap into N files the way a NIC's RSS would spread it over N receive queues.

Each frame goes to file  hash(key) mod N, where the key is the SYMMETRIC 5-tuple of the
first IP header after the link layer (VLAN/QinQ tags skipped): both directions of a
connection land in the same file, and a tunnel (GRE, IPIP, VXLAN) is hashed on its OUTER
header only, as most NICs do. With --by inner the innermost IP header is used instead (what
seqwatch's software rehash does); --by direction puts each direction in its own file (a
deliberately broken split: an asymmetric tap). Frames without IP go to file 0.

Used to replay one capture as a multi-queue port:
  tools/pcap-split.py in.pcap 4 /dev/shm/q        # writes /dev/shm/q0.pcap .. q3.pcap
  seqwatch run ... --set 'ports.0.devargs=net_pcap0,rx_pcap=/dev/shm/q0.pcap,...,rx_pcap=/dev/shm/q3.pcap'
Prints one line per file: frames and share.
"""
import argparse
import struct
import sys
import zlib

ETH_VLAN = (0x8100, 0x88A8, 0x9100)


def ip_key(buf, off, ethertype, inner):
    """Returns (key bytes or None) for the IP header at off; follows tunnels when inner."""
    for _ in range(4):  # at most a few nested headers
        if ethertype == 0x0800 and len(buf) >= off + 20:
            ihl = (buf[off] & 0x0F) * 4
            proto = buf[off + 9]
            src, dst = buf[off + 12:off + 16], buf[off + 16:off + 20]
            frag = struct.unpack_from("!H", buf, off + 6)[0] & 0x3FFF
            l4 = off + ihl
        elif ethertype == 0x86DD and len(buf) >= off + 40:
            proto = buf[off + 6]
            src, dst = buf[off + 8:off + 24], buf[off + 24:off + 40]
            frag = 0
            l4 = off + 40
        else:
            return None
        if inner:
            if proto == 4 or proto == 41:  # IPIP / 6in4
                off, ethertype = l4, (0x0800 if proto == 4 else 0x86DD)
                continue
            if proto == 47 and len(buf) >= l4 + 4:  # GRE: flags, version, protocol
                flags, ptype = struct.unpack_from("!HH", buf, l4)
                nxt = l4 + 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
                if ptype == 0x6558 and len(buf) >= nxt + 14:  # transparent Ethernet bridging
                    ethertype = struct.unpack_from("!H", buf, nxt + 12)[0]
                    off = nxt + 14
                else:
                    off, ethertype = nxt, ptype
                continue
            if proto == 17 and len(buf) >= l4 + 8 + 8 + 14 and struct.unpack_from("!H", buf, l4 + 2)[0] == 4789:
                off = l4 + 16 + 14  # VXLAN: UDP 8 + VXLAN 8 + inner Ethernet 14
                ethertype = struct.unpack_from("!H", buf, off - 2)[0]
                continue
        sp = dp = b""
        if proto in (6, 17, 132) and frag == 0 and len(buf) >= l4 + 4:
            sp, dp = buf[l4:l4 + 2], buf[l4 + 2:l4 + 4]
        return src, sp, dst, dp, bytes([proto])
    return None


def queue_of(frame, n, by):
    if len(frame) < 14:
        return 0
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    off = 14
    while ethertype in ETH_VLAN and len(frame) >= off + 4:
        ethertype = struct.unpack_from("!H", frame, off + 2)[0]
        off += 4
    k = ip_key(frame, off, ethertype, by == "inner")
    if k is None:
        return 0
    src, sp, dst, dp, proto = k
    a, b = src + sp, dst + dp
    if by == "direction":
        return (0 if a < b else 1) % n
    lo, hi = (a, b) if a <= b else (b, a)
    return zlib.crc32(lo + hi + proto) % n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("n", type=int)
    ap.add_argument("prefix", help="output files are PREFIX0.pcap .. PREFIX{N-1}.pcap")
    ap.add_argument("--by", choices=("outer", "inner", "direction"), default="outer")
    a = ap.parse_args()
    if a.n < 1:
        sys.exit("pcap-split: n must be >= 1")
    with open(a.input, "rb") as f:
        ghdr = f.read(24)
        if len(ghdr) < 24:
            sys.exit(f"pcap-split: {a.input}: not a pcap file (too short)")
        magic = ghdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            sys.exit(f"pcap-split: {a.input}: not a classic pcap file (pcapng: convert with editcap -F pcap)")
        linktype = struct.unpack_from(endian + "I", ghdr, 20)[0] & 0x0FFFFFFF
        if linktype != 1:
            sys.exit(f"pcap-split: {a.input}: link type {linktype}; only Ethernet (1) is supported")
        outs = [open(f"{a.prefix}{i}.pcap", "wb") for i in range(a.n)]
        for o in outs:
            o.write(ghdr)
        counts = [0] * a.n
        rec = struct.Struct(endian + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                if h:
                    sys.exit(f"pcap-split: {a.input}: truncated record header at the end")
                break
            caplen = rec.unpack(h)[2]
            data = f.read(caplen)
            if len(data) < caplen:
                sys.exit(f"pcap-split: {a.input}: truncated record at the end")
            q = queue_of(data, a.n, a.by)
            outs[q].write(h)
            outs[q].write(data)
            counts[q] += 1
        for o in outs:
            o.close()
    total = sum(counts) or 1
    for i, c in enumerate(counts):
        print(f"{a.prefix}{i}.pcap\t{c}\t{100.0 * c / total:.1f}%")


if __name__ == "__main__":
    main()
