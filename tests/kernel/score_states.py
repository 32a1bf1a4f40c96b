#!/usr/bin/env python3
"""Checks seqwatch's view of the kernel-states scenarios (tests/kernel/states_peer.py) against
what the client program saw and what the two kernels counted.

Usage: score_states.py SUMMARY.json EVENTS.jsonl FLOWS.jsonl CLIENT_ADDR CLIENT_LOG NSTAT WSCALE EVIDENCE_INDEX
NSTAT: "Name value" lines of the client's nstat, then "server.Name value" of the server's.
WSCALE: 1 if both kernels offered window scaling, 0 if the server had it turned off.
EVIDENCE_INDEX: the evidence index of the same run with the default triggers (zero window of
500 ms or more, SYN unanswered, retransmission storm).
Prints one line per check ("ok ..." or "FAIL ..."); exits 1 if any check failed.
"""
import json
import sys

summary_path, events_path, flows_path, client, client_log, nstat_path, wscale, index_path = sys.argv[1:9]
summary = json.load(open(summary_path))["retransmissions"]
events = [json.loads(line) for line in open(events_path)]
flows = [json.loads(line) for line in open(flows_path)]
outcomes = open(client_log).read().split("\n")
nstat = {}
for line in open(nstat_path):
    name, value = line.split()
    nstat[name] = int(value)
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed += not ok


def verdict_count(name, src=None, port=None):
    return sum(1 for e in events if name in e["verdicts"]
               and (src is None or e["src"] == src)
               and (port is None or port in (e["sport"], e["dport"])))


refused = outcomes.count("refused 5003")
check(refused == 3, f"client: {refused} of 3 connections to port 5003 refused")
check(verdict_count("syn_refused", port=5003) == refused,
      f"syn_refused verdicts on port 5003: {verdict_count('syn_refused', port=5003)}, refused connections {refused}")
ends = summary["connection_ends"]
check(ends["refused"] == refused, f"connection_ends.refused {ends['refused']}, refused connections {refused}")

timed_out = outcomes.count("timeout 5004")
check(timed_out == 1, f"client: the second connection to port 5004 timed out ({timed_out})")
unanswered = [f for f in flows if f["sport"] == 5004 and f["handshake"]["synack_attempts"] == 0]
check(ends["syn_unanswered"] == timed_out and len(unanswered) == timed_out,
      f"connection_ends.syn_unanswered {ends['syn_unanswered']}, flow records without a SYN/ACK on "
      f"port 5004 {len(unanswered)}, timed-out connections {timed_out}")
if unanswered:
    f = unanswered[0]
    check(f["handshake"]["syn_attempts"] == f["c2s"]["segments"] and
          f["c2s"]["retx_segments"] == f["c2s"]["segments"] - 1 and
          verdict_count("syn_retransmission", src=client, port=f["cport"]) == f["c2s"]["segments"] - 1,
          f"unanswered connection: {f['handshake']['syn_attempts']} SYN attempts, "
          f"{f['c2s']['segments']} segments, {f['c2s']['retx_segments']} retransmitted")

# Handshake re-sends here: the SYNs the full queue on 5004 dropped, and the SYN/ACKs re-sent
# on 5007 after their ACK was dropped. The services ranked by them are those two, each with
# its own verdicts' count.
by_syn = {row["service"].rsplit(":", 1)[1]: row["syn_retransmissions"]
          for row in summary["top_services_by_syn_retransmissions"]}
syn_5004 = verdict_count("syn_retransmission", port=5004)
synack_5007 = verdict_count("synack_retransmission", port=5007)
check(syn_5004 > 0 and synack_5007 > 0 and by_syn == {"5004": syn_5004, "5007": synack_5007} and
      summary["syn_retransmissions"] == verdict_count("syn_retransmission") + verdict_count("synack_retransmission"),
      f"services by handshake re-sends {by_syn}; syn_retransmission on 5004 {syn_5004}, synack_retransmission on "
      f"5007 {synack_5007}; summary syn_retransmissions {summary['syn_retransmissions']}")

resets = outcomes.count("reset 5005")
reset_flows = [f for f in flows if f["sport"] == 5005]
# The accept-queue scenario (5007) closes its two connections with a RST too.
other_client_resets = sum(1 for f in flows if f["sport"] == 5007 and f["rst_from"] == "client")
check(resets == 1 and len(reset_flows) == 1 and reset_flows[0]["state"] == "reset" and
      reset_flows[0]["rst_from"] == "client" and reset_flows[0]["c2s"]["rst"] and
      ends["reset_by_client"] == resets + other_client_resets and
      verdict_count("rst_midstream", src=client, port=5005) == resets,
      f"port 5005: client resets {resets}; flow records {len(reset_flows)} "
      f"({', '.join(f['state'] + ' from ' + str(f['rst_from']) for f in reset_flows)}); "
      f"connection_ends.reset_by_client {ends['reset_by_client']} (5007's: {other_client_resets}); "
      f"rst_midstream from the client "
      f"{verdict_count('rst_midstream', src=client, port=5005)}")

# The keep-alive race on 5006: the server kernel resets its closed socket when the client's
# request arrives after its FIN (one data segment, one RST; the client's next send fails with
# EPIPE); seqwatch marks that RST rst_after_fin, and the report names the service. Nothing
# else ends that way here (the reset on 5005 comes without a FIN of the client's).
races = outcomes.count("race 5006 reset")
raf = summary["reset_after_fin"]
check(races == 1 and verdict_count("rst_after_fin", port=5006) == 1 and verdict_count("rst_after_fin") == 1 and
      raf["by_server"] == 1 and raf["by_client"] == 0 and
      len(raf["top_services"]) == 1 and raf["top_services"][0]["service"].endswith(":5006"),
      f"port 5006: requests reset after the server's FIN (client program) {races}; seqwatch: rst_after_fin "
      f"verdicts {verdict_count('rst_after_fin', port=5006)} on 5006, {verdict_count('rst_after_fin')} in all; "
      f"reset_after_fin {raf}")

# The full accept queue on 5007: the server kernel dropped the second connection's handshake
# ACK (ListenOverflows) and re-sent its SYN/ACK (TcpExtTCPSynRetrans counts SYN/ACK re-sends;
# no other scenario makes any); each re-send came after the client's ACK had passed the
# capture point: synack_after_ack on every one, one connection in the summary.
synack_rtx = nstat["server.TcpExtTCPSynRetrans"]
saa = summary["synack_after_ack"]
check(synack_rtx >= 1 and nstat["server.TcpExtListenOverflows"] >= 1 and
      verdict_count("synack_after_ack", port=5007) == synack_rtx and verdict_count("synack_after_ack") == synack_rtx and
      verdict_count("synack_retransmission") == synack_rtx and saa["connections"] == 1 and
      len(saa["top_services"]) == 1 and saa["top_services"][0]["service"].endswith(":5007"),
      f"port 5007: server kernel re-sent {synack_rtx} SYN/ACK(s), ListenOverflows "
      f"{nstat['server.TcpExtListenOverflows']}; seqwatch: synack_after_ack {verdict_count('synack_after_ack', port=5007)} "
      f"on 5007, {verdict_count('synack_after_ack')} in all, synack_retransmission {verdict_count('synack_retransmission')}; "
      f"summary {saa}")

# Linux sends keep-alives and zero-window probes as a segment one byte below snd_una with no
# data (tcp_xmit_probe_skb), counted in TcpExtTCPKeepAlive and TcpExtTCPWinProbe: both are
# keep-alives by Wireshark's rule.
probes_k = nstat["TcpExtTCPKeepAlive"] + nstat["TcpExtTCPWinProbe"]
probes = verdict_count("keep_alive", src=client)
check(probes == probes_k and nstat["TcpExtTCPKeepAlive"] > 0 and nstat["TcpExtTCPWinProbe"] > 0,
      f"keep_alive verdicts on the client's segments {probes}; client kernel: TcpExtTCPKeepAlive "
      f"{nstat['TcpExtTCPKeepAlive']} + TcpExtTCPWinProbe {nstat['TcpExtTCPWinProbe']} = {probes_k}")

zw_flows = [f for f in flows if f["sport"] == 5001]
zw_ms = sum(f["s2c"]["zero_window_ms"] for f in zw_flows)
zw_verdicts = verdict_count("zero_window", port=5001)
check(nstat["server.TcpExtTCPToZeroWindowAdv"] > 0 and zw_verdicts > 0 and zw_ms >= 1000,
      f"port 5001: server kernel advertised a zero window {nstat['server.TcpExtTCPToZeroWindowAdv']} "
      f"time(s); seqwatch: {zw_verdicts} zero_window verdicts, {zw_ms} ms at zero window "
      f"(the server read nothing for 2.5 s)")

# Evidence: one slice for the stalled receiver, one for the unanswered SYN (all its SYNs), and
# none for anything else (the SYN retransmissions are too few for a retransmission storm).
slices = [json.loads(line) for line in open(index_path)]
zw_slices = [x for x in slices if x["trigger"] == ["zero_window"]]
zw_frames = {e["frame"] for e in events if "zero_window" in e["verdicts"] and e["sport"] == 5001}
check(len(zw_slices) == 1 and zw_slices[0]["flow"]["b_port"] == 5001 and zw_slices[0]["complete"] and
      zw_slices[0]["trigger_frame"] in zw_frames,
      f"evidence: {len(zw_slices)} zero_window slice(s), expected 1 on port 5001 triggered by a zero_window segment")
syn_slices = [x for x in slices if x["trigger"] == ["syn_unanswered"]]
check(len(syn_slices) == 1 and unanswered and syn_slices[0]["flow"]["a_port"] == unanswered[0]["cport"] and
      syn_slices[0]["packets"] == unanswered[0]["handshake"]["syn_attempts"],
      f"evidence: {len(syn_slices)} syn_unanswered slice(s) "
      f"({', '.join(str(x['packets']) + ' packets' for x in syn_slices)}), expected 1 with every SYN of the unanswered connection")
check(len(slices) == 2, f"evidence: {len(slices)} slices in all, expected 2")

# Connections left half-closed (ports 5008, 5009): the side that never closed holds them in
# CLOSE_WAIT, as `ss` counted in each namespace at the end of the capture; seqwatch names the
# side that closed (--close-wait-s 3) and the service.
hl = summary["half_closed_lingering"]
cw_server, cw_client = nstat["server.ss.close_wait"], nstat["ss.close_wait"]
svc = lambda side: sorted(r["service"].rsplit(":", 1)[1] for r in hl[side]["top_services"])
check(cw_server == 4 and cw_client == 2 and hl["by_client"]["connections"] == cw_server and
      hl["by_server"]["connections"] == cw_client and svc("by_client") == ["5008"] and svc("by_server") == ["5009"] and
      hl["not_judged"] == 0,
      f"left half-closed: CLOSE_WAIT sockets (ss) on the server {cw_server}, on the client {cw_client}; seqwatch: "
      f"closed by the client {hl['by_client']['connections']} {svc('by_client')}, by the server "
      f"{hl['by_server']['connections']} {svc('by_server')}, not judged {hl['not_judged']}")

answered = {f["flow"] for f in flows if f["handshake"]["synack_attempts"] > 0}
missing = {e["flow"] for e in events if "window_scaling_missing" in e["verdicts"]}
expected = set() if wscale == "1" else answered
check(missing == expected,
      f"window_scaling_missing on {len(missing)} flow(s), expected {len(expected)} "
      f"({'both ends offer window scaling' if wscale == '1' else 'the server does not'})")
sys.exit(1 if failed else 0)
