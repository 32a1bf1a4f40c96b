#!/usr/bin/env python3
"""Both ends of the kernel-states scenarios (tests/kernel/kernel_states.sh): real Linux TCP
made to show the connection states the analysis names, each on its own server port.

Usage: states_peer.py server|client|linger-server|linger-client SERVER_ADDR

  5001  zero window: the server's receive buffer is tiny (SO_RCVBUF 2048) and it reads
        nothing for 2.5 s, then 1000 bytes every 0.3 s, then the rest; the client sends
        120,000 bytes. The client kernel's zero-window probes (seq = snd_una - 1, no data)
        are keep-alives by Wireshark's rule.
  5002  keep-alive: the client sets SO_KEEPALIVE with a 1 s idle time and interval, sends
        5 bytes and stays silent for 5 s.
  5003  nobody listens: each of 3 SYNs is answered by a RST.
  5005  reset by the client: the client sends 1,000 bytes, then closes with SO_LINGER 0
        (a RST instead of a FIN).
  5006  keep-alive race (the field notes' ALB 502 case): the server answers one request, then
        closes the idle connection after 0.3 s (FIN); the client, unaware, sends its next
        request 0.6 s in, and the server kernel answers the closed socket's data with a RST
        (the client's next send fails with EPIPE: what a proxy turns into a 502).
  5007  full accept queue: the server listens with a backlog of 0 and never accepts; the client
        opens a connection whose handshake ACK waits (TCP_QUICKACK 0: up to 200 ms), and 5 ms
        later a second one that ACKs at once and fills the accept queue; the first ACK finds
        it full, the kernel drops it (ListenOverflows) and re-sends that connection's SYN/ACK
        on its timer (TcpExtTCPSynRetrans). Both are closed with a RST (SO_LINGER 0).
  5004  SYN unanswered: the server listens with a backlog of 0 and never accepts; the
        first connection fills the accept queue, so the kernel drops the second
        connection's SYNs (and their retransmissions) until the client gives up after 4 s.

Left half-closed (linger-server and linger-client, started before the others and killed
after the capture ends, so their sockets outlive it):
  5008  the client opens 4 connections, sends 100 bytes on each and shuts its side down
        (SHUT_WR: a FIN); the server reads to the end and never closes: 4 sockets in
        CLOSE_WAIT on the server (ss), FIN_WAIT2 on the client.
  5009  the server sends 100 bytes on each of 2 connections and shuts its side down; the
        client reads to the end and never closes: 2 sockets in CLOSE_WAIT on the client.

The client prints one line per outcome: "refused 5003" for each RST-answered SYN,
"timeout 5004" when the second connection to 5004 timed out, "reset 5005" when it reset its
connection to 5005, "race 5006 reset" when its request on 5006 sent after the server's FIN
was reset ("race 5006 not reset" otherwise).
"""
import socket
import struct
import sys
import threading
import time

ROLE, SRV = sys.argv[1], sys.argv[2]
FAM = socket.AF_INET6 if ":" in SRV else socket.AF_INET
_say_lock = threading.Lock()


def say(line):
    """One whole line per outcome: print() from several threads can interleave a line's text
    with another's ("refused 5003reset 5005"), so each line is written at once, under a lock."""
    with _say_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def listener(port, backlog=1, rcvbuf=None):
    s = socket.socket(FAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by the accepted socket
    s.bind((SRV, port))
    s.listen(backlog)
    return s


def zero_window_server(s):
    c, _ = s.accept()
    time.sleep(2.5)
    for _ in range(10):
        c.recv(1000)
        time.sleep(0.3)
    while c.recv(65536):
        pass
    c.close()


def keepalive_server(s):
    c, _ = s.accept()
    c.recv(100)
    time.sleep(6)
    c.close()


def reset_server(s):
    c, _ = s.accept()
    try:
        while c.recv(65536):
            pass
    except ConnectionResetError:
        pass
    c.close()


def race_server(s):
    c, _ = s.accept()
    c.recv(100)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    time.sleep(0.3)
    c.close()  # the idle close: FIN, and the socket is gone (data after it gets a RST)
    time.sleep(1)


def accept_queue_server(s):
    time.sleep(4.5)  # never accepts
    s.close()


def full_queue_server(s):
    time.sleep(8)  # never accepts; closing the listener resets the queued connection
    s.close()


def zero_window_client():
    c = socket.create_connection((SRV, 5001))
    c.sendall(b"x" * 120000)
    c.close()


def keepalive_client():
    c = socket.socket(FAM)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    c.connect((SRV, 5002))
    c.send(b"hello")
    time.sleep(5)
    c.close()


def refused_client():
    for _ in range(3):
        try:
            socket.create_connection((SRV, 5003), timeout=2).close()
            say("connected 5003")
        except ConnectionRefusedError:
            say("refused 5003")
        time.sleep(0.2)


def reset_client():
    c = socket.create_connection((SRV, 5005))
    c.sendall(b"y" * 1000)
    time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    say("reset 5005")


def race_client():
    c = socket.create_connection((SRV, 5006))
    c.sendall(b"GET /1 HTTP/1.1\r\n\r\n")
    c.recv(100)
    time.sleep(0.6)  # the server's FIN arrives meanwhile; this program has not read it
    c.sendall(b"GET /2 HTTP/1.1\r\n\r\n")
    time.sleep(0.2)  # the RST is back by now; a send reports it (recv sees the FIN first)
    try:
        c.send(b"x")
        say("race 5006 not reset")
    except (BrokenPipeError, ConnectionResetError):
        say("race 5006 reset")
    c.close()


def accept_queue_client():
    # The first connection's handshake ACK waits (TCP_QUICKACK 0: up to 200 ms); the second,
    # opened 5 ms later, ACKs at once and fills the queue; the first ACK then finds it full.
    first = socket.socket(FAM)
    first.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    first.setblocking(False)
    first.connect_ex((SRV, 5007))
    time.sleep(0.005)
    second = socket.create_connection((SRV, 5007))
    time.sleep(3.5)  # the server's SYN/ACK timer: 1 s, then 3 s
    for c in (first, second):  # a RST, not a FIN the server would never answer (its re-sends)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()


def unanswered_client():
    first = socket.create_connection((SRV, 5004), timeout=4)
    time.sleep(0.2)
    try:
        socket.create_connection((SRV, 5004), timeout=4).close()
        say("connected 5004")
    except (socket.timeout, TimeoutError):
        say("timeout 5004")
    first.close()


LINGER_CLIENT_CLOSES, LINGER_SERVER_CLOSES = 4, 2


def linger_server():
    a, b = listener(5008, backlog=8), listener(5009, backlog=8)
    kept = []
    for _ in range(LINGER_CLIENT_CLOSES):
        c, _ = a.accept()
        while c.recv(65536):  # to the client's FIN
            pass
        kept.append(c)  # never closed: CLOSE_WAIT
    for _ in range(LINGER_SERVER_CLOSES):
        c, _ = b.accept()
        c.sendall(b"s" * 100)
        c.shutdown(socket.SHUT_WR)
        kept.append(c)
    say("linger server ready")
    time.sleep(600)  # killed after the capture


def linger_client():
    kept = []
    for _ in range(LINGER_CLIENT_CLOSES):
        c = socket.create_connection((SRV, 5008))
        c.sendall(b"c" * 100)
        c.shutdown(socket.SHUT_WR)
        kept.append(c)
    for _ in range(LINGER_SERVER_CLOSES):
        c = socket.create_connection((SRV, 5009))
        while c.recv(65536):  # to the server's FIN
            pass
        kept.append(c)  # never closed: CLOSE_WAIT
    say("linger client ready")
    time.sleep(600)  # killed after the capture


def run(targets):
    threads = [threading.Thread(target=t, args=a) for t, a in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if ROLE == "linger-server":
    linger_server()
elif ROLE == "linger-client":
    linger_client()
elif ROLE == "server":
    run([(zero_window_server, (listener(5001, rcvbuf=2048),)),
         (keepalive_server, (listener(5002),)),
         (reset_server, (listener(5005),)),
         (race_server, (listener(5006),)),
         (accept_queue_server, (listener(5007, backlog=0),)),
         (full_queue_server, (listener(5004, backlog=0),))])
else:
    run([(zero_window_client, ()), (keepalive_client, ()), (refused_client, ()), (reset_client, ()),
         (race_client, ()), (accept_queue_client, ()), (unanswered_client, ())])
