#!/usr/bin/env python3
# Bad-input cases of issue 4 as a pcap (bad.pcap + labels.txt in the current directory), for
# lining seqwatch (tests/analysis/verdict_dump) up against tshark; wrap_badinput_test.cpp holds
# the same sequences with the verdicts tshark 4.0.17 gave.
import struct, random
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
CIP, SIP = bytes([10,0,0,1]), bytes([10,0,0,2])
def frame(cport, from_client, seq, ack, flags, plen, win=1000, opts=b''):
    src, dst = (CIP, SIP) if from_client else (SIP, CIP)
    sp, dp = (cport, 80) if from_client else (80, cport)
    while len(opts) % 4: opts += b'\x01'
    thl = 20 + len(opts)
    tcp = struct.pack('!HHIIBBHHH', sp, dp, seq & 0xffffffff, ack & 0xffffffff, (thl//4) << 4, flags, win, 0, 0) + opts
    tot = 20 + thl + plen
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, tot, 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00' + ip + tcp, 14 + tot
F_,S_,R_,P_,A_,U_ = 1,2,4,8,0x10,0x20
out = open('bad.pcap','wb'); out.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 128, 1))
T = [1_700_000_000 * 10**9]
labels = []
def put(label, fr, dt=1_000_000):
    T[0] += dt; hdr, wl = fr
    out.write(struct.pack('<IIII', T[0] // 10**9, T[0] % 10**9, min(len(hdr), 128), wl) + hdr[:128]); labels.append(label)
def ws(s): return b'\x01\x03\x03' + bytes([s])
def mss(m): return b'\x02\x04' + struct.pack('!H', m)
def hs(p, ci=1000, si=5000, copts=ws(7)+mss(1460), sopts=ws(7)+mss(1460)):
    put(f'{p} syn', frame(p, True, ci, 0, S_, 0, 64240, copts)); put(f'{p} synack', frame(p, False, si, ci+1, S_|A_, 0, 65160, sopts)); put(f'{p} ack', frame(p, True, ci+1, si+1, A_, 0, 502))
# 1 (port 1001): impossible flags on an established flow
p=1001; hs(p); c, s = 1001, 5001
put('data', frame(p, True, c, s, A_|P_, 100, 502)); put('ack', frame(p, False, s, c+100, A_, 0, 509)); c += 100
put('SYN+FIN+RST same-isn', frame(p, True, 1000, s, S_|F_|R_, 0, 502))
put('SYN+FIN+ACK', frame(p, True, c, s, S_|F_|A_, 0, 502))
put('SYN+RST+ACK', frame(p, True, c, s, S_|R_|A_, 0, 502))
put('null', frame(p, True, c, s, 0, 0, 502))
put('null+data', frame(p, True, c, s, 0, 10, 502))
put('FIN no ACK', frame(p, True, c, s, F_, 0, 502))
put('xmas FPU', frame(p, True, c, s, F_|P_|U_, 0, 502))
put('PSH only data', frame(p, True, c, s, P_, 10, 502))
put('FIN+RST+ACK', frame(p, True, c, s, F_|R_|A_, 0, 502))
put('all flags', frame(p, True, c, s, 0x3f, 0, 502))
# 2 (port 1002): SYN+FIN+RST with a new seq on an established flow (pure SYN -> reused ports?)
p=1002; hs(p); put('data', frame(p, True, 1001, 5001, A_|P_, 100, 502))
put('SYN+FIN+RST new seq', frame(p, True, 777777, 0, S_|F_|R_, 0, 502))
put('data after', frame(p, True, 1101, 5001, A_|P_, 100, 502))
# 3 (port 1003): ACK of data never sent
p=1003; hs(p); put('data', frame(p, True, 1001, 5001, A_|P_, 100, 502))
put('ack beyond', frame(p, False, 5001, 1001+5000, A_, 0, 509)); put('ack beyond again', frame(p, False, 5001, 1001+5000, A_, 0, 509))
put('ack beyond more', frame(p, False, 5001, 1001+9000, A_, 0, 509))
put('data', frame(p, True, 1101, 5001, A_|P_, 100, 502))
# 4 (port 1004): ack before any data (server ACKs bytes client never sent right after handshake)
p=1004; hs(p); put('ack before data', frame(p, False, 5001, 1001+1460, A_, 0, 509))
put('data', frame(p, True, 1001, 5001, A_|P_, 100, 502))
# 5 (port 1005): seq jumps of 2 GiB
p=1005; hs(p); c=1001
put('data', frame(p, True, c, 5001, A_|P_, 100, 502)); c+=100
put('+2^31', frame(p, True, c + 2**31, 5001, A_|P_, 100, 502))
put('data at old', frame(p, True, c, 5001, A_|P_, 100, 502))
put('+2^31-1', frame(p, True, c + 2**31 - 1, 5001, A_|P_, 100, 502))
put('data at old2', frame(p, True, c+100, 5001, A_|P_, 100, 502))
put('-2^31+1 (back)', frame(p, True, c - 2**31 + 1, 5001, A_|P_, 100, 502))
put('ack jump +2^31', frame(p, False, 5001, c + 2**31, A_, 0, 509))
put('ack jump back', frame(p, False, 5001, c - 2**30, A_, 0, 509))
put('data', frame(p, True, c+200, 5001, A_|P_, 100, 502))
# 6 (port 1006): SYN with payload, SYN/ACK with payload
p=1006
put('syn+payload', frame(p, True, 1000, 0, S_, 20, 64240, ws(7)+mss(1460)))
put('synack+payload', frame(p, False, 5000, 1021, S_|A_, 30, 65160, ws(7)+mss(1460)))
put('ack', frame(p, True, 1021, 5031, A_, 0, 502))
put('data', frame(p, True, 1021, 5031, A_|P_, 100, 502))
put('syn+payload rexmit', frame(p, True, 1000, 0, S_, 20, 64240, ws(7)+mss(1460)))
# 7 (port 1007): wscale 15 / 255, window full at shift 14
p=1007; hs(p, copts=ws(15)+mss(1460), sopts=ws(255)+mss(1460))
put('srv ack win 1', frame(p, False, 5001, 1001, A_, 0, 1))   # 1 << 14 = 16384
put('cli data to edge', frame(p, True, 1001, 5001, A_|P_, 16384, 502))
put('cli ack win 2', frame(p, True, 1001+16384, 5001, A_, 0, 2))
put('srv data to edge', frame(p, False, 5001, 1001+16384, A_|P_, 32768, 1))
# 8 (port 1008): MSS 0
p=1008; hs(p, copts=ws(7)+mss(0), sopts=ws(7)+mss(0))
put('data', frame(p, True, 1001, 5001, A_|P_, 100, 502)); put('ack', frame(p, False, 5001, 1101, A_, 0, 509))
# 9 (port 1009): RST flood with random seqs, interleaved with a clean neighbour (port 1010)
hs(1010, ci=90000, si=95000); hs(1009)
put('data', frame(1009, True, 1001, 5001, A_|P_, 100, 502))
rnd = random.Random(4)
cn, sn = 90001, 95001
for i in range(40):
    put('rst flood', frame(1009, i % 2 == 0, rnd.getrandbits(32), rnd.getrandbits(32), R_ | (A_ if i % 3 else 0), 0, 0), 1000)
    put('neighbour data', frame(1010, True, cn, sn, A_|P_, 100, 502), 1000); cn += 100
    put('neighbour ack', frame(1010, False, sn, cn, A_, 0, 509), 1000)
out.close()
open('labels.txt','w').write('\n'.join(f'{i+1}\t{l}' for i, l in enumerate(labels)) + '\n')
