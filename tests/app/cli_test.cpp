// End-to-end tests of the seqwatch executable: versions (jemalloc really is the
// allocator), `analyze` through the DPDK net_pcap port and through libpcap giving the
// same results, and clear errors for bad input.
#include <gtest/gtest.h>

#include "support/command.hpp"
#include <pcap/pcap.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

using seqwatch::test::CmdResult;
using seqwatch::test::exe;
using seqwatch::test::run;
using seqwatch::test::src_dir;

// Ethernet/IPv4/TCP frame, optionally with payload; `cut` trims the captured bytes.
std::vector<uint8_t> tcp_frame(uint8_t flags, const std::string& payload, uint32_t seq, uint32_t ack, bool reply) {
  std::vector<uint8_t> f(14 + 20 + 20 + payload.size());
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  const uint16_t tot = static_cast<uint16_t>(40 + payload.size());
  ip[2] = static_cast<uint8_t>(tot >> 8);
  ip[3] = static_cast<uint8_t>(tot);
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
  std::copy(reply ? b : a, (reply ? b : a) + 4, ip + 12);
  std::copy(reply ? a : b, (reply ? a : b) + 4, ip + 16);
  uint8_t* t = ip + 20;
  const uint16_t sp = reply ? 80 : 40000, dp = reply ? 40000 : 80;
  t[0] = sp >> 8; t[1] = sp & 0xFF; t[2] = dp >> 8; t[3] = dp & 0xFF;
  for (int i = 0; i < 4; ++i) {
    t[4 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
    t[8 + i] = static_cast<uint8_t>(ack >> (24 - 8 * i));
  }
  t[12] = 0x50;
  t[13] = flags;
  t[14] = 0xFF;
  std::copy(payload.begin(), payload.end(), f.begin() + 54);
  return f;
}

std::string write_pcap(const std::string& name, const std::vector<std::vector<uint8_t>>& frames, uint32_t snap = 65535) {
  const std::string path = seqwatch::test::scratch_dir() + "" + name;
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, static_cast<int>(snap));
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  uint32_t sec = 1700000000;
  for (const auto& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = sec++;
    h.len = static_cast<uint32_t>(f.size());
    h.caplen = std::min<uint32_t>(h.len, snap);
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
  return path;
}

nlohmann::json analyze_json(const std::string& file, const std::string& source, const std::string& extra = "") {
  const std::string out = seqwatch::test::scratch_dir() + "summary-" + source + ".json";
  fs::remove(out);
  const CmdResult r = run(exe() + " analyze '" + file + "' --source " + source + " --json " + out + " " + extra);
  EXPECT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
  std::ifstream in(out);
  if (!in) return {};
  nlohmann::json j = nlohmann::json::parse(in);
  j.erase("source");  // names the source, differs by design
  return j;
}

TEST(Cli, VersionShowsLibrariesAndJemallocAllocator) {
  const CmdResult r = run(exe() + " version");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("DPDK 22.11"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Hyperscan  5."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("libpcap version"), std::string::npos) << r.out;
#ifdef SEQWATCH_SANITIZED
  EXPECT_NE(r.out.find("allocator  system malloc (sanitizer build)"), std::string::npos) << r.out;
#else
  EXPECT_NE(r.out.find("allocator  jemalloc 5."), std::string::npos) << r.out;
#endif
}

TEST(Cli, AnalyzeCountsHandshakeDataAndRulesThroughDpdkAndFile) {
  const auto file = write_pcap("handshake.pcap", {
      tcp_frame(0x02, "", 1000, 0, false),                          // SYN
      tcp_frame(0x12, "", 5000, 1001, true),                        // SYN/ACK
      tcp_frame(0x10, "", 1001, 5001, false),                       // ACK
      tcp_frame(0x18, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1001, 5001, false),
      tcp_frame(0x18, std::string(1000, 'x'), 5001, 1028, true),    // cut by the snaplen below
      tcp_frame(0x04, "", 1028, 0, false),                          // RST
  }, 200);
  for (const char* source : {"dpdk", "file"}) {
    SCOPED_TRACE(source);
    const auto j = analyze_json(file, source, "--rules " + src_dir() + "/config/rules/default.rules");
    ASSERT_FALSE(j.is_null());
    EXPECT_EQ(j["packets"], 6);
    EXPECT_EQ(j["decode"]["tcp"], 6);
    EXPECT_EQ(j["decode"]["errors"], 0);
    EXPECT_EQ(j["decode"]["truncated"], 1);
    EXPECT_EQ(j["tcp"]["syn"], 1);
    EXPECT_EQ(j["tcp"]["syn_ack"], 1);
    EXPECT_EQ(j["tcp"]["rst"], 1);
    EXPECT_EQ(j["tcp"]["data_segments"], 2);
    EXPECT_EQ(j["tcp"]["payload_bytes"], 27 + 1000);  // the cut segment counts its true size
    EXPECT_EQ(j["payload_rules"][0]["id"], 1001);
    EXPECT_EQ(j["payload_rules"][0]["hits"], 1);
    EXPECT_EQ(j["not_delivered"], 0);
  }
}

bool is_capture(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  uint8_t m[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(m), 4);
  const uint32_t be = (uint32_t{m[0]} << 24) | (uint32_t{m[1]} << 16) | (uint32_t{m[2]} << 8) | m[3];
  return be == 0xA1B2C3D4 || be == 0xD4C3B2A1 || be == 0xA1B23C4D || be == 0x4D3CB2A1 || be == 0x0A0D0D0A;
}

// The DPDK port (net_pcap vdev) and the libpcap file source must feed the worker the
// same frames. Frames the port cannot carry (net_pcap drops frames over its 64 KiB
// maximum, e.g. BIG TCP captures) must be reported as not delivered, never lost silently.
TEST(Cli, DpdkPortAndFileReaderAgreeOnEveryCorpusCapture) {
  const char* corpus = std::getenv("SEQWATCH_CORPUS_DIR");
  if (corpus == nullptr || !fs::is_directory(corpus)) GTEST_SKIP() << "corpus not found at " << (corpus ? corpus : "(unset)") << ": ../shared is absent";
  unsigned compared = 0, with_undelivered = 0;
  for (const auto& e : fs::recursive_directory_iterator(corpus)) {
    if (!e.is_regular_file() || !is_capture(e.path())) continue;
    SCOPED_TRACE(e.path().string());
    const auto a = analyze_json(e.path().string(), "dpdk");
    const auto b = analyze_json(e.path().string(), "file");
    ASSERT_TRUE(a.is_object() && b.is_object());
    EXPECT_EQ(b["not_delivered"], 0);
    EXPECT_EQ(a["packets"].get<uint64_t>() + a["not_delivered"].get<uint64_t>(), b["packets"].get<uint64_t>());
    if (a["not_delivered"] != 0) {
      ++with_undelivered;
      continue;
    }
    EXPECT_EQ(a["decode"], b["decode"]);
    EXPECT_EQ(a["tcp"], b["tcp"]);
    // Every flow ended one way, and one only.
    uint64_t ends = 0;
    for (const auto& [k, n] : b["retransmissions"]["connection_ends"].items()) ends += n.get<uint64_t>();
    EXPECT_EQ(ends, b["retransmissions"]["flows"].get<uint64_t>());
    ++compared;
  }
  EXPECT_GT(compared, 100u);
  EXPECT_LE(with_undelivered, 2u);
}

// Events and flow records of `analyze -w N`, without the fields that name the worker
// and the per-worker flow id, sorted: the same multiset for any worker count.
std::vector<std::string> outputs_of(const std::string& file, unsigned workers, std::string& log) {
  const std::string ev = seqwatch::test::scratch_dir() + "w-events.jsonl", fl = seqwatch::test::scratch_dir() + "w-flows.jsonl";
  const CmdResult r = run(exe() + " analyze '" + file + "' -w " + std::to_string(workers) + " --events " + ev +
                          " --flows " + fl);
  EXPECT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
  log = r.out;
  std::vector<std::string> lines;
  for (const std::string& path : {ev, fl}) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line);
      j.erase("flow");
      j.erase("worker");
      lines.push_back(j.dump());
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(Cli, WorkersThroughSoftwareRehashGiveTheSameEventsAsOneWorker) {
  std::vector<std::string> files = {src_dir() + "/data/demo.pcap"};
  const char* corpus = std::getenv("SEQWATCH_CORPUS_DIR");
  if (corpus != nullptr && fs::is_directory(corpus)) {
    for (const auto& e : fs::recursive_directory_iterator(corpus))
      if (e.is_regular_file() && is_capture(e.path())) files.push_back(e.path().string());
  }
  size_t lines = 0;
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    std::string log1, log3;
    const auto one = outputs_of(f, 1, log1);
    const auto three = outputs_of(f, 3, log3);
    EXPECT_EQ(one, three);
    lines += one.size();
  }
  EXPECT_GT(lines, 1000u);
  // The rehash stage really spread the demo's four connections over the workers.
  const auto j = analyze_json(files[0], "file", "-w 3");
  ASSERT_TRUE(j.contains("rehash")) << j.dump();
  unsigned busy = 0;
  for (const auto& n : j["rehash"]["per_worker"]) busy += n.get<uint64_t>() != 0;
  EXPECT_GE(busy, 2u) << j["rehash"].dump();
  EXPECT_EQ(j["rehash"]["dropped_full"], 0);
}

// The report's shape (docs/tcp-analysis.md, "Retransmission shape"): the trace generator's
// uniform loss, 1% of segments over 30 s and ~100 services, is the failing device's shape
// (steady, spread over many servers); one worker and two see the same shape (the timeline
// counts every retransmission event, whichever worker found it), and the report prints it.
TEST(Cli, SteadySpreadLossHasTheShapeOfAFailingLinkOrDevice) {
  const std::string pcap = seqwatch::test::scratch_dir() + "steady-loss.pcap";
  ASSERT_EQ(run(seqwatch::test::gen_exe() + " --rate 2000 --duration 30 --packets 0 --flows 200 --servers 50 "
                "--loss-downstream 0.01 --seed 3 -o " + pcap).rc, 0);
  const auto one = analyze_json(pcap, "auto");
  const auto& shape = one["retransmissions"]["shape"];
  EXPECT_EQ(shape["when"], "persistent") << shape.dump(1);
  EXPECT_EQ(shape["who"], "spread");
  EXPECT_EQ(shape["suspect"], "failing_link_or_device");
  EXPECT_EQ(shape["retx_in_timeline"], one["retransmissions"]["retx_segments"]);
  EXPECT_EQ(analyze_json(pcap, "auto", "-w 2")["retransmissions"]["shape"], shape);
  const CmdResult r = run(exe() + " analyze '" + pcap + "'");
  EXPECT_NE(r.out.find("  shape          spread over "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a failing link or device on the shared path"), std::string::npos) << r.out;
}

// The same at a low loss rate (0.2%: ~160 retransmissions over 60 s, a few a second, most
// 100 ms buckets without one) is still steady, not bursts: a failing link, not congestion.
// And sparse losses that come only in short periods (2% in the first half second of every
// 10 s, fewer retransmissions than the steady ones) are bursty.
TEST(Cli, SparseLossIsJudgedByItsSpacingSteadyOrClustered) {
  const std::string steady = seqwatch::test::scratch_dir() + "sparse-steady-loss.pcap";
  ASSERT_EQ(run(seqwatch::test::gen_exe() + " --rate 2000 --duration 60 --packets 0 --flows 200 --servers 50 "
                "--loss-downstream 0.002 --seed 2 -o " + steady).rc, 0);
  const auto s = analyze_json(steady, "auto")["retransmissions"]["shape"];
  EXPECT_EQ(s["sparse"], true) << s.dump(1);
  EXPECT_EQ(s["when"], "persistent") << s.dump(1);
  EXPECT_EQ(s["suspect"], "failing_link_or_device");
  EXPECT_NE(s["message"].get<std::string>().find("steadily at a low rate"), std::string::npos) << s["message"];
  const std::string bursts = seqwatch::test::scratch_dir() + "sparse-burst-loss.pcap";
  ASSERT_EQ(run(seqwatch::test::gen_exe() + " --rate 2000 --duration 60 --packets 0 --flows 200 --servers 50 "
                "--loss-downstream 0.02 --loss-burst-period 10 --loss-burst-len 0.5 --seed 5 -o " + bursts).rc, 0);
  const auto b = analyze_json(bursts, "auto")["retransmissions"]["shape"];
  EXPECT_EQ(b["sparse"], true) << b.dump(1);
  EXPECT_LT(b["retx_in_timeline"].get<uint64_t>(), s["retx_in_timeline"].get<uint64_t>());
  EXPECT_EQ(b["when"], "bursty") << b.dump(1);
  EXPECT_EQ(b["suspect"], "congestion");
}

// Losses only in the first half second of every 10 s (the generator's --loss-burst-*), over
// ~100 services: congestion's shape, bursty and periodic, the period found.
TEST(Cli, PeriodicLossBurstsHaveTheShapeOfCongestion) {
  const std::string pcap = seqwatch::test::scratch_dir() + "burst-loss.pcap";
  ASSERT_EQ(run(seqwatch::test::gen_exe() + " --rate 2000 --duration 40 --packets 0 --flows 200 --servers 50 "
                "--loss-downstream 0.2 --loss-burst-period 10 --loss-burst-len 0.5 --seed 5 -o " + pcap).rc, 0);
  const auto shape = analyze_json(pcap, "auto")["retransmissions"]["shape"];
  EXPECT_EQ(shape["when"], "bursty") << shape.dump(1);
  EXPECT_EQ(shape["bursts"], 4);
  EXPECT_NEAR(shape["period_s"].get<double>(), 10.0, 0.5);
  EXPECT_EQ(shape["who"], "spread");
  EXPECT_EQ(shape["suspect"], "congestion");
}

// Offline analysis is lossless: with far more events than the event ring holds (the
// load-balancer trace: a duplicate-ACK storm per retransmission), the worker waits for
// the control thread instead of dropping events.
TEST(Cli, AnalyzeLosesNoEventsWhenTheyOutrunTheWriter) {
  const std::string gen = seqwatch::test::gen_exe();
  const std::string pcap = seqwatch::test::scratch_dir() + "lb-storm.pcap", ev = seqwatch::test::scratch_dir() + "lb-storm.jsonl";
  ASSERT_EQ(run(gen + " --preset lb-midsegment --packets 300000 --seed 7 -o " + pcap).rc, 0);
  for (const char* workers : {"1", "2"}) {
    SCOPED_TRACE(workers);
    const auto j = analyze_json(pcap, "auto", std::string("-w ") + workers + " --events " + ev);
    ASSERT_TRUE(j.is_object());
    EXPECT_EQ(j["outputs"]["events_dropped"], 0);
    EXPECT_GT(j["outputs"]["events"].get<uint64_t>(), 65536u);  // more than the ring holds
    std::ifstream in(ev);
    uint64_t lines = 0;
    for (std::string line; std::getline(in, line);) ++lines;
    EXPECT_EQ(lines, j["outputs"]["events"].get<uint64_t>());
  }
}

// A connection whose directions arrive with different VLAN tags (an asymmetric SPAN port)
// is two one-sided flows in a VLAN-keyed table: counted and named in the report, never
// analysed silently as two half-flows; --ignore-vlans joins them.
TEST(Cli, ConnectionsSplitAcrossVlansAreDetectedAndCounted) {
  const char* corpus = std::getenv("SEQWATCH_CORPUS_DIR");
  const std::string f = std::string(corpus ? corpus : "") + "/suricata-verify/tests/bug-4376/syn_retransmit_with_ts.pcap";
  if (corpus == nullptr || !fs::exists(f)) GTEST_SKIP() << "corpus capture not found: " << f;
  const auto split = analyze_json(f, "auto");
  EXPECT_EQ(split["retransmissions"]["split_connections"], 1);
  EXPECT_EQ(split["retransmissions"]["one_sided_flows"], 2);
  const auto joined = analyze_json(f, "auto", "--ignore-vlans");
  EXPECT_EQ(joined["retransmissions"]["split_connections"], 0);
  EXPECT_EQ(joined["retransmissions"]["flows"], 1);
  // Two directions on two VLANs of one connection vs. the same packets mirrored twice:
  // mongo.pcap's VLAN 50 copies are one-sided but their connection is whole on VLAN 300.
  const auto mongo = analyze_json(std::string(corpus) + "/arkime/tests/pcap/mongo.pcap", "auto");
  EXPECT_EQ(mongo["retransmissions"]["split_connections"], 0);
}

// The field notes' ALB 502 case: the server closes an idle keep-alive connection (FIN), the
// client's next request crosses the FIN, and the server's closed socket resets. The report
// names it, with the service, and the RST carries the verdict.
TEST(Cli, AResetAfterTheServersOwnFinIsNamedAsAKeepAliveRace) {
  const auto file = write_pcap("keepalive-race.pcap", {
      tcp_frame(0x02, "", 1000, 0, false),                          // SYN
      tcp_frame(0x12, "", 5000, 1001, true),                        // SYN/ACK
      tcp_frame(0x10, "", 1001, 5001, false),                       // ACK
      tcp_frame(0x18, "GET / HTTP/1.1\r\n\r\n", 1001, 5001, false),
      tcp_frame(0x18, "HTTP/1.1 200 OK\r\n\r\n", 5001, 1019, true),
      tcp_frame(0x10, "", 1019, 5020, false),
      tcp_frame(0x11, "", 5020, 1019, true),                        // FIN: the server's idle close
      tcp_frame(0x18, "GET /2 HTTP/1.1\r\n\r\n", 1019, 5020, false),  // the next request crosses it
      tcp_frame(0x04, "", 5021, 0, true),                           // RST from the closed socket
  });
  const auto j = analyze_json(file, "auto");
  const auto& raf = j["retransmissions"]["reset_after_fin"];
  EXPECT_EQ(raf["by_server"], 1) << raf.dump();
  EXPECT_EQ(raf["by_client"], 0);
  ASSERT_EQ(raf["top_services"].size(), 1u);
  EXPECT_EQ(raf["top_services"][0]["service"], "10.0.0.2:80");
  EXPECT_EQ(raf["top_services"][0]["connections"], 1);
  EXPECT_EQ(j["retransmissions"]["verdicts"]["rst_after_fin"], 1);
  EXPECT_EQ(j["retransmissions"]["connection_ends"]["reset_by_server"], 1);
  const CmdResult r = run(exe() + " analyze '" + file + "'");
  EXPECT_NE(r.out.find("RESET AFTER FIN 1 connection(s) reset by the server after its own FIN while the client still "
                       "sent (most: 10.0.0.2:80, 1)"),
            std::string::npos)
      << r.out;
}

// SYNs re-sent to one service (its SYN queue dropped them) rank the services and name it.
TEST(Cli, SynRetransmissionsAreRankedByService) {
  const auto file = write_pcap("syn-resent.pcap", {
      tcp_frame(0x02, "", 1000, 0, false),    // SYN
      tcp_frame(0x02, "", 1000, 0, false),    // SYN again (1 s later)
      tcp_frame(0x02, "", 1000, 0, false),    // and again
      tcp_frame(0x02, "", 1000, 0, false),    // and again
      tcp_frame(0x12, "", 5000, 1001, true),  // SYN/ACK at last
      tcp_frame(0x10, "", 1001, 5001, false),
  });
  const auto j = analyze_json(file, "auto");
  const auto& syn = j["retransmissions"]["top_services_by_syn_retransmissions"];
  ASSERT_EQ(syn.size(), 1u) << j["retransmissions"].dump();
  EXPECT_EQ(syn[0]["service"], "10.0.0.2:80");
  EXPECT_EQ(syn[0]["syn_retransmissions"], 3);
  EXPECT_EQ(syn[0]["flows"], 1);
  const CmdResult r = run(exe() + " analyze '" + file + "'");
  EXPECT_NE(r.out.find("HANDSHAKE      3 SYN and SYN/ACK retransmission(s), 3 of them (100%) on 10.0.0.2:80 (1 flows): "
                       "that server's handshakes failed"),
            std::string::npos)
      << r.out;
}

// The seeds' full accept queue: the server drops the handshake's ACK and re-sends its SYN/ACK.
TEST(Cli, ASynAckAgainAfterTheHandshakesAckPointsAtTheAcceptQueue) {
  const auto file = write_pcap("accept-queue.pcap", {
      tcp_frame(0x02, "", 1000, 0, false),    // SYN
      tcp_frame(0x12, "", 5000, 1001, true),  // SYN/ACK
      tcp_frame(0x10, "", 1001, 5001, false), // ACK: dropped by the server's full accept queue
      tcp_frame(0x12, "", 5000, 1001, true),  // SYN/ACK again (1 s later: one frame a second)
      tcp_frame(0x10, "", 1001, 5001, false), // ACK again
  });
  const auto j = analyze_json(file, "auto");
  const auto& saa = j["retransmissions"]["synack_after_ack"];
  EXPECT_EQ(saa["connections"], 1) << saa.dump();
  ASSERT_EQ(saa["top_services"].size(), 1u);
  EXPECT_EQ(saa["top_services"][0]["service"], "10.0.0.2:80");
  EXPECT_EQ(j["retransmissions"]["verdicts"]["synack_after_ack"], 1);
  EXPECT_EQ(j["retransmissions"]["verdicts"]["synack_retransmission"], 1);
  // The re-sent SYN/ACK is a handshake re-send of that service too.
  const auto& syn = j["retransmissions"]["top_services_by_syn_retransmissions"];
  ASSERT_EQ(syn.size(), 1u);
  EXPECT_EQ(syn[0]["syn_retransmissions"], 1);
  const CmdResult r = run(exe() + " analyze '" + file + "'");
  EXPECT_NE(r.out.find("HANDSHAKE      1 SYN and SYN/ACK retransmission(s), 1 of them (100%) on 10.0.0.2:80 (1 flows): "
                       "too few to tell"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ACCEPT QUEUE?  1 connection(s) had the server's SYN/ACK again after the client's ACK of it "
                       "passed here (most: 10.0.0.2:80, 1)"),
            std::string::npos)
      << r.out;
}

// A VXLAN capture cut to 64 bytes holds no inner IP header: every packet is counted as a
// tunnel cut before its inner header, and with -w 2 the summary says the software rehash
// could spread them by their outer addresses only. The whole capture has none.
TEST(Cli, TunnelsCutBeforeTheirInnerHeaderAreCountedAndTheRehashSaysSo) {
  // The same packets with a 64-byte snaplen: Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8 +
  // inner Ethernet 14 ends where the inner IP header starts.
  const std::string whole = seqwatch::test::scratch_dir() + "vxlan-whole.pcap";
  const std::string cut = seqwatch::test::scratch_dir() + "vxlan-cut64.pcap";
  for (const auto& [file, snap] : {std::pair{whole, 65535}, std::pair{cut, 64}}) {
    const CmdResult g = run(seqwatch::test::gen_exe() + " --preset gre-imbalance --encap vxlan --outer-pairs 4 "
                            "--packets 20000 --seed 5 -q --snaplen " + std::to_string(snap) + " -o '" + file + "'");
    ASSERT_EQ(g.rc, 0) << g.out;
  }
  const auto j_whole = analyze_json(whole, "auto", "-w 2");
  EXPECT_EQ(j_whole["decode"]["tunneled"], 20000);
  EXPECT_EQ(j_whole["decode"]["tunnel_inner_cut"], 0);
  const auto j_cut = analyze_json(cut, "auto", "-w 2");
  EXPECT_EQ(j_cut["decode"]["tunneled"], 20000);
  EXPECT_EQ(j_cut["decode"]["truncated"], 20000);
  EXPECT_EQ(j_cut["decode"]["tunnel_inner_cut"], 20000);
  const CmdResult r = run(exe() + " analyze '" + cut + "' -w 2");
  EXPECT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
  EXPECT_NE(r.out.find("tunnelled and cut before the inner IP header 20000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("20000 tunnelled packets cut before their inner IP header were spread by their outer "
                       "addresses only"),
            std::string::npos)
      << r.out;
}

// A capture taken on a host with segmentation offloads holds TSO/GSO/GRO aggregates: zeek's
// smb3_multichannel.pcap (4 connections, frames of up to 16,108 payload bytes against MSS
// 1460). Each flow record says so, the summary counts the flows and the report explains what
// its per-segment counts mean there. data/demo.pcap (wire-sized segments) has none.
TEST(Cli, SuperSegmentsFromOffloadsAreReported) {
  const char* corpus = std::getenv("SEQWATCH_CORPUS_DIR");
  const std::string f = std::string(corpus ? corpus : "") + "/zeek/testing/btest/Traces/smb/smb3_multichannel.pcap";
  if (corpus == nullptr || !fs::exists(f)) GTEST_SKIP() << "corpus capture not found: " << f;
  const std::string flows = seqwatch::test::scratch_dir() + "super-flows.jsonl";
  const std::string json = seqwatch::test::scratch_dir() + "super-summary.json";
  const CmdResult r = run(exe() + " analyze '" + f + "' --flows " + flows + " --json " + json);
  ASSERT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
  EXPECT_NE(r.out.find("SUPER-SEGMENTS 4 flows carried segments longer than the receiver's MSS"), std::string::npos) << r.out;
  std::ifstream in(json);
  const auto sum = nlohmann::json::parse(in);
  EXPECT_EQ(sum["super_segment_flows"], 4);
  // The receiver's ACKs of the wire segments inside an aggregate are no ACKs inside a segment.
  EXPECT_EQ(sum["retransmissions"]["verdicts"].value("ack_in_segment", 0), 0);
  std::ifstream fl(flows);
  unsigned records = 0, marked = 0;
  for (std::string line; std::getline(fl, line);) {
    const auto rec = nlohmann::json::parse(line);
    ++records;
    marked += rec["super_segments"].get<bool>();
  }
  EXPECT_EQ(records, 4u);
  EXPECT_EQ(marked, 4u);
  const auto demo = analyze_json(src_dir() + "/data/demo.pcap", "auto");
  EXPECT_EQ(demo["super_segment_flows"], 0);
}

// A SPAN session on both sides of a router whose queue held a segment past
// tcp.copy_window_ms: without an IPv4 ID or timestamps the TTL one lower is the only sign
// of a copy, and it holds for the window only. The segment is analysed as a re-send, but
// counted apart (summary late_hop_matches) and the report names the remedy; with the window
// raised it is a copy (docs/tcp-analysis.md section 16).
TEST(Cli, LateCopiesOneHopOnAreReportedWithTheirRemedy) {
  std::vector<uint8_t> late = tcp_frame(0x18, "hello", 1001, 5001, false);
  late[14 + 8] = 63;  // one routed hop further on, 1 s later (write_pcap: a frame per second)
  const std::string f = write_pcap("late-hop-copy.pcap", {tcp_frame(0x02, "", 1000, 0, false),
                                                          tcp_frame(0x12, "", 5000, 1001, true),
                                                          tcp_frame(0x10, "", 1001, 5001, false),
                                                          tcp_frame(0x18, "hello", 1001, 5001, false), late});
  const auto j = analyze_json(f, "auto");
  EXPECT_EQ(j["late_hop_matches"], 1);
  EXPECT_EQ(j["duplicate_packets"], 0);
  const CmdResult r = run(exe() + " analyze '" + f + "'");
  ASSERT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
  EXPECT_NE(r.out.find("LATE COPIES?   1 TCP segments were the same bytes as one seen more than tcp.copy_window_ms "
                       "before, one routed hop further on"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("raise tcp.copy_window_ms (at most 1000)"), std::string::npos) << r.out;
  const auto k = analyze_json(f, "auto", "--copy-window-ms 1000");
  EXPECT_EQ(k["late_hop_matches"], 0);
  EXPECT_EQ(k["duplicate_packets"], 1);
  const CmdResult q = run(exe() + " analyze '" + f + "' --copy-window-ms 1000");
  EXPECT_EQ(q.out.find("LATE COPIES?"), std::string::npos) << q.out;
  // The same bytes with the same nonzero IPv4 ID on the same path, 1 s later: a mirror's copy
  // that late, or a sender keeping its ID. A re-send by the counts, reported as such a match.
  std::vector<uint8_t> with_id = tcp_frame(0x18, "hello", 1001, 5001, false);
  with_id[14 + 4] = 0x12;
  with_id[14 + 5] = 0x34;
  const std::string g = write_pcap("late-id-copy.pcap", {tcp_frame(0x02, "", 1000, 0, false),
                                                         tcp_frame(0x12, "", 5000, 1001, true),
                                                         tcp_frame(0x10, "", 1001, 5001, false), with_id, with_id});
  const auto m = analyze_json(g, "auto");
  EXPECT_EQ(m["late_id_matches"], 1);
  EXPECT_EQ(m["late_hop_matches"], 0);
  EXPECT_EQ(m["duplicate_packets"], 0);
  const CmdResult s = run(exe() + " analyze '" + g + "'");
  EXPECT_NE(s.out.find("LATE COPIES?   1 TCP segments were the same bytes, IPv4 ID or TSval included"), std::string::npos)
      << s.out;
  EXPECT_EQ(analyze_json(g, "auto", "--copy-window-ms 1000")["duplicate_packets"], 1);
}

// A pcapng file whose interfaces have different link types (what `dumpcap -i any -i eth0`
// or mergecap of an Ethernet and a raw-IP capture writes; libpcap stops reading at the
// second interface): data/demo.pcap with half of its connections moved, Ethernet header
// stripped, to a raw-IP interface. Same frames in the same order, so exactly the events
// and flow records of the Ethernet-only original.
TEST(Cli, PcapngWithInterfacesOfDifferentLinkTypesGivesTheSameEvents) {
  const std::string demo = src_dir() + "/data/demo.pcap";
  const std::string mixed = seqwatch::test::scratch_dir() + "mixed-links.pcapng";
  {
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* p = pcap_open_offline_with_tstamp_precision(demo.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    ASSERT_NE(p, nullptr) << err;
    ASSERT_EQ(pcap_datalink(p), DLT_EN10MB);
    std::vector<uint8_t> out;
    auto u16 = [&](uint16_t v) { out.insert(out.end(), {uint8_t(v), uint8_t(v >> 8)}); };
    auto u32 = [&](uint32_t v) { u16(uint16_t(v)); u16(uint16_t(v >> 16)); };
    u32(0x0A0D0D0A); u32(28); u32(0x1A2B3C4D); u16(1); u16(0); u32(0xFFFFFFFF); u32(0xFFFFFFFF); u32(28);
    for (const uint16_t link : {uint16_t{1}, uint16_t{101}}) {  // Ethernet, raw IP; both in nanoseconds
      u32(1); u32(32); u16(link); u16(0); u32(0);
      u16(9); u16(1); out.insert(out.end(), {9, 0, 0, 0}); u16(0); u16(0);
      u32(32);
    }
    pcap_pkthdr* h = nullptr;
    const u_char* d = nullptr;
    unsigned raw_frames = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
      // One interface per connection: by the parity of the sum of its ports.
      const bool ipv4_tcp = h->caplen >= 14 + 20 + 4 && d[12] == 0x08 && d[13] == 0x00 && d[23] == 6;
      const uint32_t ports = ipv4_tcp ? (d[34] << 8 | d[35]) + (d[36] << 8 | d[37]) : 0;
      const bool raw = ipv4_tcp && (ports & 1);
      raw_frames += raw;
      const uint32_t skip = raw ? 14 : 0;
      const uint32_t cap = h->caplen - skip, wire = h->len - skip;
      const uint32_t len = 32 + ((cap + 3) & ~3u);
      const uint64_t ts = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);  // ns precision
      u32(6); u32(len); u32(raw ? 1 : 0); u32(uint32_t(ts >> 32)); u32(uint32_t(ts)); u32(cap); u32(wire);
      out.insert(out.end(), d + skip, d + h->caplen);
      out.resize(out.size() + ((4 - cap % 4) % 4), 0);
      u32(len);
    }
    pcap_close(p);
    ASSERT_GT(raw_frames, 1000u) << "both interfaces must carry connections";
    std::ofstream(mixed, std::ios::binary).write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
  }
  std::string log_demo, log_mixed;
  const auto want = outputs_of(demo, 1, log_demo);
  const auto got = outputs_of(mixed, 1, log_mixed);
  EXPECT_GT(want.size(), 100u);
  EXPECT_EQ(got, want);
  EXPECT_NE(log_mixed.find("interfaces of several link types"), std::string::npos) << log_mixed;
  // Evidence keeps both link types: the pcapng evidence file gets an interface per link type.
  const std::string evdir = seqwatch::test::scratch_dir() + "mixed-evidence";
  const auto j = analyze_json(mixed, "auto", "--evidence " + evdir);
  ASSERT_TRUE(j.contains("evidence")) << j.dump();
  EXPECT_GT(j["evidence"]["packets_written"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["evidence"]["packets_other_link"], 0);
  EXPECT_EQ(j["evidence"]["packets_written"], j["evidence"]["packets"]);
  // Several workers (the rehash rings carry one link type) and BPF filters (compiled for
  // one) are refused with the reason.
  const CmdResult w2 = run(exe() + " analyze '" + mixed + "' -w 2");
  EXPECT_EQ(w2.rc, 2);
  EXPECT_NE(w2.out.find("holds interfaces of different link types: it runs on one worker"), std::string::npos) << w2.out;
  // A BPF filter: refused (exit 2) before any output exists (until 2026-12-03 exit 1, an
  // empty evidence index left behind).
  const std::string bpf_dir = seqwatch::test::scratch_dir() + "mixed-bpf";
  fs::remove_all(bpf_dir);
  const CmdResult bpf = run(exe() + " extract '" + mixed + "' -o '" + bpf_dir + "' --trigger rst --filter tcp");
  EXPECT_EQ(bpf.rc, 2) << bpf.out;
  EXPECT_NE(bpf.out.find("a BPF filter is compiled for one link type"), std::string::npos) << bpf.out;
  EXPECT_FALSE(fs::exists(bpf_dir)) << bpf.out;
}

TEST(Cli, GzipCaptureIsReadByFileSourceAndRefusedByDpdkWithAReason) {
  const auto plain = write_pcap("gz.pcap", {tcp_frame(0x02, "", 1, 0, false), tcp_frame(0x12, "", 9, 2, true)});
  ASSERT_EQ(run("gzip -kf '" + plain + "'").rc, 0);
  const auto j = analyze_json(plain + ".gz", "auto");
  EXPECT_EQ(j["packets"], 2);
  const CmdResult r = run(exe() + " analyze '" + plain + ".gz' --source dpdk");
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.out.find("gzip-compressed; DPDK's net_pcap cannot read it: use --source file"), std::string::npos) << r.out;
}

TEST(Cli, BadInputsGetClearErrors) {
  const std::string text = seqwatch::test::scratch_dir() + "not-a-capture.pcap";
  std::ofstream(text) << "hello, this is not a capture file\n";
  // Refused like a missing file (exit 2: nothing read or written), whichever reader; until
  // 2026-12-03 a file that was not a capture exited 1 and a missing one 2.
  CmdResult r = run(exe() + " analyze '" + text + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("is neither pcap nor pcapng (magic number 0x68656c6c)"), std::string::npos) << r.out;
  for (const std::string source : {"file", "mmap", "dpdk"}) {
    r = run(exe() + " analyze '" + text + "' --source " + source);
    EXPECT_EQ(r.rc, 2) << source << ": " << r.out;
  }
  const std::string empty = seqwatch::test::scratch_dir() + "empty.pcap";
  std::ofstream(empty).flush();
  r = run(exe() + " analyze '" + empty + "'");
  EXPECT_EQ(r.rc, 2) << r.out;
  r = run(exe() + " extract '" + text + "' -o '" + seqwatch::test::scratch_dir() + "extract-bad' --trigger rst");
  EXPECT_EQ(r.rc, 2) << r.out;

  r = run(exe() + " analyze /nonexistent.pcap");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("nonexistent.pcap"), std::string::npos) << r.out;

  const std::string rules = seqwatch::test::scratch_dir() + "bad.rules";
  std::ofstream(rules) << "5 count /ok/\n77 count /a(/\n";
  const auto cap = write_pcap("one.pcap", {tcp_frame(0x02, "", 1, 0, false)});
  r = run(exe() + " analyze '" + cap + "' --source file --rules '" + rules + "'");
  EXPECT_EQ(r.rc, 2);  // a usage error: nothing read
  EXPECT_NE(r.out.find("--rules: " + rules + ":2: rule 77 /a(/ rejected by Hyperscan"), std::string::npos) << r.out;

  r = run(exe() + " analyze '" + cap + "' --source nic");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("--source"), std::string::npos) << r.out;

  // Two outputs in one file would overwrite each other.
  const std::string same = seqwatch::test::scratch_dir() + "same.jsonl";
  r = run(exe() + " analyze '" + cap + "' --events '" + same + "' --flows '" + same + "'");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--events and --flows name the same file"), std::string::npos) << r.out;
  // Not a file that opening truncates: /dev/null takes both, as stdout ("-") does.
  r = run(exe() + " analyze '" + cap + "' --events /dev/null --flows /dev/null");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("packets"), std::string::npos) << r.out;

  // A summary that could not be written at the end is refused at the start.
  r = run(exe() + " analyze '" + cap + "' --json /nonexistent-dir/s.json");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("--json: '/nonexistent-dir' is not a folder that exists"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("packets"), std::string::npos) << r.out;  // before reading anything
}

// Usage errors exit 2, as configuration errors do (CLI11's own codes were 104..109); --help
// exits 0; a word that is not a command is named, also with --help after it (review 5, R11).
TEST(Cli, UsageErrorsExitTwoAndAnUnknownCommandIsNamed) {
  const auto cap = write_pcap("usage.pcap", {tcp_frame(0x02, "", 1, 0, false)});
  for (const std::string& args : {std::string(" analyze '") + cap + "' --bogus", std::string(" analyze"),
                                  std::string(" analyze /nonexistent.pcap"), std::string(" extract '") + cap + "'",
                                  std::string(" analyze '") + cap + "' -w 0", std::string(" run"), std::string("")}) {
    const CmdResult r = run(exe() + args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
  }
  CmdResult r = run(exe() + " bench --help");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("'bench' is not a seqwatch command (commands: analyze, extract, run, config, top, report, "
                       "version; seqwatch --help)"),
            std::string::npos)
      << r.out;
  r = run(exe() + " bench");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("'bench' is not a seqwatch command"), std::string::npos) << r.out;
  for (const char* help : {" --help", " analyze --help", " run --help"}) {
    r = run(exe() + help);
    EXPECT_EQ(r.rc, 0) << help << "\n" << r.out;
    EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
  }
}

// NaN passed CLI11's range checks (--duration nan ran forever) and -1 wrapped in unsigned
// options; a copy window below 1 us was 0, off (R10, R14).
TEST(Cli, NonFiniteNegativeAndRoundedToZeroOptionValuesAreRefused) {
  const auto cap = write_pcap("values.pcap", {tcp_frame(0x02, "", 1, 0, false)});
  const std::string analyze = exe() + " analyze '" + cap + "' --source file ";
  struct Case {
    std::string cmd, says;
  };
  const std::vector<Case> cases = {
      {analyze + "--idle-timeout nan", "'nan' is not a finite number"},
      {analyze + "--idle-timeout inf", "'inf' is not a finite number"},
      {analyze + "--copy-window-ms nan", "'nan' is not a finite number"},
      {analyze + "--copy-window-ms -1", "--copy-window-ms"},
      {analyze + "--copy-window-ms 0.0001", "0.0001 ms would round to 0"},
      {analyze + "--top -1", "'-1' is negative"},
      {analyze + "--top 18446744073709551615", "--top"},
      {analyze + "--flow-capacity -1", "'-1' is negative"},
      {analyze + "-w -1", "'-1' is negative"},
      {analyze + "--memory-mb -1", "'-1' is negative"},
      {exe() + " extract '" + cap + "' -o " + seqwatch::test::scratch_dir() + "x-neg --trigger rst --sample -1",
       "'-1' is negative"},
      {exe() + " extract '" + cap + "' -o " + seqwatch::test::scratch_dir() + "x-neg --trigger rst -w -1",
       "'-1' is negative"},
      {"timeout 20 " + exe() + " run --pipeline " + src_dir() + "/pipelines/demo.yaml --duration nan",
       "'nan' is not a finite number"},
      {"timeout 20 " + exe() + " run --pipeline " + src_dir() + "/pipelines/demo.yaml --duration -1", "--duration"},
  };
  for (const Case& c : cases) {
    const CmdResult r = run(c.cmd);
    EXPECT_EQ(r.rc, 2) << c.cmd << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.cmd << "\n" << r.out;
  }
  EXPECT_EQ(run(analyze + "--copy-window-ms 0.001 --top 0 --idle-timeout 0.001").rc, 0);
}

// Every real-valued option says what is wrong with its value: --duration 1e-320 read "is not a
// number" (std::stod refused the denormal), as did 1e400; a duration of 0 or -0 ran until a
// signal, as if --duration had been left out; -0 was "negative" for the counts (review 5).
TEST(Cli, RealValuedOptionsSayWhyAValueIsRefused) {
  const auto cap = write_pcap("reals.pcap", {tcp_frame(0x02, "", 1, 0, false)});
  const std::string analyze = exe() + " analyze '" + cap + "' --source file ";
  const std::string run_demo = "timeout 20 " + exe() + " run --pipeline " + src_dir() + "/pipelines/demo.yaml ";
  const std::string not_positive =
      " is not > 0: give the seconds to run, or leave --duration out to run until SIGINT/SIGTERM";
  struct Case {
    std::string cmd, says;
  };
  const std::vector<Case> cases = {
      {run_demo + "--duration 1e-320",
       "--duration: 1e-320 s would round to 0 (the run's clock counts whole nanoseconds): the smallest allowed value "
       "is 1e-09"},
      {run_demo + "--duration 0.0000000004",
       "--duration: 0.0000000004 s would round to 0 (the run's clock counts whole nanoseconds): the smallest allowed "
       "value is 1e-09"},
      {run_demo + "--duration 1e-400", "--duration: '1e-400' is too close to 0 to be held as a number (it would be read as 0)"},
      {run_demo + "--duration 1e400", "--duration: '1e400' is too large to be held as a number"},
      {run_demo + "--duration -0", "--duration: '-0'" + not_positive},
      {run_demo + "--duration -0.0", "--duration: '-0.0'" + not_positive},
      {run_demo + "--duration 0", "--duration: '0'" + not_positive},
      {run_demo + "--duration -1", "--duration: '-1'" + not_positive},
      {run_demo + "--duration 31536001",
       "--duration: 31536001 s is more than a year (31536000 s): leave --duration out to run until SIGINT/SIGTERM"},
      {run_demo + "--duration 5s", "--duration: '5s' is not a number"},
      {analyze + "--idle-timeout 1e-320", "--idle-timeout: Value 1e-320 not in range 0.001000 to 86400.000000"},
      {analyze + "--idle-timeout 1e400", "--idle-timeout: '1e400' is too large to be held as a number"},
      {analyze + "--copy-window-ms 1e-320",
       "--copy-window-ms: 1e-320 ms would round to 0 (it is kept in whole microseconds): use 0 (off) or at least 0.001"},
      {analyze + "--copy-window-ms 1e-400",
       "--copy-window-ms: '1e-400' is too close to 0 to be held as a number (it would be read as 0)"},
      {analyze + "--top -0", "--top: '-0' has a minus sign; whole numbers here are written without one"},
      {analyze + "-w -00", "--workers: '-00' has a minus sign; whole numbers here are written without one"},
  };
  for (const Case& c : cases) {
    const CmdResult r = run(c.cmd);
    EXPECT_EQ(r.rc, 2) << c.cmd << "\n" << r.out;
    EXPECT_NE(r.out.find(c.says), std::string::npos) << c.cmd << "\n" << r.out;
  }
}

// analyze --evidence checks payload triggers against the rules file, as run does (R9), and
// refuses an evidence folder it cannot write into before reading the capture (R4).
TEST(Cli, AnalyzeEvidenceRefusesUndefinedRulesAndUnusableFolders) {
  const auto cap = write_pcap("evidence.pcap", {tcp_frame(0x02, "", 1, 0, false)});
  const std::string rules = src_dir() + "/config/rules/default.rules";
  const std::string ev = seqwatch::test::scratch_dir() + "analyze-ev";
  CmdResult r = run(exe() + " analyze '" + cap + "' --source file --rules " + rules + " --evidence " + ev +
                    " --set 'evidence.triggers=[{type: payload, rule: 9999}]'");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("evidence.triggers[0].rule: rule 9999 is not defined in " + rules), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(ev));

  const std::string file = seqwatch::test::scratch_dir() + "a-file";
  std::ofstream(file) << "x\n";
  r = run(exe() + " analyze '" + cap + "' --source file --evidence " + file + " --set 'evidence.triggers=[{type: rst}]'");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--evidence: '" + file + "' exists and is not a folder"), std::string::npos) << r.out;
  r = run(exe() + " analyze '" + cap + "' --source file --evidence /proc/seqwatch-ev --set 'evidence.triggers=[{type: rst}]'");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--evidence: cannot create '/proc/seqwatch-ev'"), std::string::npos) << r.out;
}

}  // namespace

namespace {

// A capture cut short (tcpdump killed mid-write, a copy that ran out of disk) or damaged
// mid-file: every reader analyses the frames before the damage, writes their events, and
// says that the rest was not read (exit status 1, the reason in the summary), as tshark
// does; nothing is lost silently. A file with no readable frame at all does not make the
// DPDK port wait for one forever.
TEST(Cli, ACutShortCaptureIsAnalysedUpToTheCutAndReported) {
  std::vector<std::vector<uint8_t>> frames = {tcp_frame(0x02, "", 1, 0, false), tcp_frame(0x12, "", 9, 2, true),
                                              tcp_frame(0x10, "", 2, 10, false),
                                              tcp_frame(0x18, std::string(200, 'x'), 2, 10, false)};
  const auto whole = write_pcap("whole.pcap", frames);
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string cut = seqwatch::test::scratch_dir() + "cut.pcap";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 100);  // the last frame's payload cut
  for (const std::string source : {"auto", "file", "dpdk"}) {
    const std::string out = seqwatch::test::scratch_dir() + "cut-" + source + ".json";
    const std::string events = seqwatch::test::scratch_dir() + "cut-" + source + ".jsonl";
    const CmdResult r = run(exe() + " analyze '" + cut + "' --source " + source + " --json " + out + " --events " + events);
    EXPECT_EQ(r.rc, 1) << source << ": " << r.out;
    EXPECT_NE(r.out.find("reading stopped before the end of the file"), std::string::npos) << source << ": " << r.out;
    EXPECT_NE(r.out.find("READ ERROR"), std::string::npos) << source << ": " << r.out;
    std::ifstream js(out);
    const auto j = nlohmann::json::parse(js);
    EXPECT_EQ(j["packets"], 3) << source;
    EXPECT_TRUE(j.contains("read_error") && !j["read_error"].get<std::string>().empty()) << source;
    const CmdResult whole_r = run(exe() + " analyze '" + whole + "' --source " + source);
    EXPECT_EQ(whole_r.rc, 0) << source << ": " << whole_r.out;
    EXPECT_EQ(whole_r.out.find("READ ERROR"), std::string::npos) << source;
  }
  // Nothing readable after the file header: reported, and no wait for a first frame.
  const std::string header_only = seqwatch::test::scratch_dir() + "header-only.pcap";
  std::ofstream(header_only, std::ios::binary) << bytes.substr(0, 24 + 16 + 10);  // a record header, 10 bytes of frame
  for (const std::string source : {"auto", "dpdk"}) {
    const CmdResult r = run("timeout 60 " + exe() + " analyze '" + header_only + "' --source " + source);
    EXPECT_EQ(r.rc, 1) << source << ": " << r.out;
    EXPECT_NE(r.out.find("reading stopped before the end of the file"), std::string::npos) << source << ": " << r.out;
  }
}

// A capture on a pipe (`tcpdump -w - | seqwatch analyze /dev/stdin`), plain or gzip, is read
// once from its start: until 2026-12-03 the format probe's read consumed its first 8 KiB and
// libpcap, opening it again, reported "unknown file format". DPDK's net_pcap, which opens the
// file again, is refused with the reason.
TEST(Cli, ACaptureOnAPipeIsReadOnce) {
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 300; ++i) frames.push_back(tcp_frame(0x18, std::string(100, 'x'), 2 + 100 * i, 10, false));
  const auto pcap = write_pcap("piped.pcap", frames);
  const std::string dir = seqwatch::test::scratch_dir();
  const auto want = analyze_json(pcap, "auto");
  for (const std::string& feed : {"cat '" + pcap + "'", "gzip -c '" + pcap + "'"}) {
    const CmdResult r = run(feed + " | " + exe() + " analyze /dev/stdin --json '" + dir + "piped.json'");
    ASSERT_EQ(r.rc, 0) << feed << ": " << r.out;
    std::ifstream in(dir + "piped.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["packets"], 300) << feed;
    EXPECT_EQ(j["tcp"], want["tcp"]) << feed;
  }
  const CmdResult d = run("cat '" + pcap + "' | " + exe() + " analyze /dev/stdin --source dpdk");
  EXPECT_EQ(d.rc, 2) << d.out;
  EXPECT_NE(d.out.find("is a pipe or device, read once"), std::string::npos) << d.out;
}

// A BPF trigger's `len` is the frame's original length even where the source lost it:
// data/demo.pcap is cut at 128 bytes, and through DPDK's net_pcap (which loses the original
// length) `greater 1000` fires on the same frames as through the file reader (until
// 2026-12-03 it saw the cut length there and fired on none).
TEST(Cli, BpfTriggerLengthIsTheWireLengthThroughEverySource) {
  std::map<std::string, uint64_t> slices;
  for (const std::string source : {"auto", "dpdk"}) {
    const std::string dir = seqwatch::test::scratch_dir() + "bpf-len-" + source;
    fs::remove_all(dir);
    const CmdResult r = run(exe() + " analyze '" + src_dir() + "/data/demo.pcap' --source " + source + " --evidence '" +
                            dir + "' --set 'evidence.triggers=[{type: bpf, expr: \"greater 1000\", post_packets: 0}]' "
                            "--set evidence.history_packets=0");
    ASSERT_EQ(r.rc, 0) << source << ": " << r.out;
    std::ifstream in(dir + "/evidence-index.jsonl");
    for (std::string line; std::getline(in, line);) ++slices[source];
  }
  EXPECT_GT(slices["auto"], 1000u);
  EXPECT_EQ(slices["dpdk"], slices["auto"]);
}

// The capture filter's `len` too: through net_pcap `greater 1000` keeps the same frames of the
// 128-byte-cut demo capture as through the file reader (until 2026-12-04 it saw the cut length
// there and dropped every frame).
TEST(Cli, CaptureFilterLengthIsTheWireLengthThroughEverySource) {
  std::map<std::string, nlohmann::json> sum;
  for (const std::string source : {"auto", "dpdk"}) {
    const std::string dir = seqwatch::test::scratch_dir() + "filter-len-" + source;
    fs::remove_all(dir);
    const CmdResult r = run(exe() + " analyze '" + src_dir() + "/data/demo.pcap' --source " + source + " --evidence '" +
                            dir + "' --set 'evidence.capture_filter=greater 1000' --json '" + dir + ".json'");
    ASSERT_EQ(r.rc, 0) << source << ": " << r.out;
    std::ifstream in(dir + ".json");
    sum[source] = nlohmann::json::parse(in);
  }
  const auto dropped = [&](const std::string& source) {
    for (const auto& f : sum[source]["bpf_filters"])
      if (f.value("role", "") == "capture_filter") return f.value("dropped", uint64_t{0});
    return ~uint64_t{0};
  };
  EXPECT_GT(sum["auto"]["packets"].get<uint64_t>(), 1000u);
  EXPECT_GT(dropped("auto"), 1000u);
  EXPECT_EQ(sum["dpdk"]["packets"], sum["auto"]["packets"]);
  EXPECT_EQ(dropped("dpdk"), dropped("auto"));
  EXPECT_EQ(sum["dpdk"]["tcp"], sum["auto"]["tcp"]);
}

// An output path that names the capture being read (the same path, another spelling of it,
// a hard link) is refused before anything is opened for writing: until 2026-12-03 `--json
// x.pcap` replaced the capture with the summary and `--events x.pcap` truncated it while it
// was mapped (a bus error).
TEST(Cli, AnOutputNamingTheCaptureBeingReadIsRefused) {
  const auto pcap = write_pcap("input.pcap", {tcp_frame(0x02, "", 1, 0, false), tcp_frame(0x12, "", 9, 2, true)});
  const auto size = fs::file_size(pcap);
  const std::string dir = seqwatch::test::scratch_dir();
  const std::string link = dir + "input-link.pcap";
  fs::remove(link);
  fs::create_hard_link(pcap, link);
  for (const std::string opt : {"--json", "--events", "--flows"})
    for (const std::string& out : {pcap, dir + "./input.pcap", link}) {
      const CmdResult r = run(exe() + " analyze '" + pcap + "' " + opt + " '" + out + "'");
      EXPECT_EQ(r.rc, 2) << opt << " " << out << ": " << r.out;
      EXPECT_NE(r.out.find(opt + ": '" + out + "' is the capture being read"), std::string::npos) << r.out;
      EXPECT_EQ(fs::file_size(pcap), size) << opt << " " << out;
    }
  const CmdResult ok = run(exe() + " analyze '" + pcap + "' --json '" + dir + "input.json'");
  EXPECT_EQ(ok.rc, 0) << ok.out;
}

}  // namespace

namespace {

// A payload trigger names a rule of the rules file and fires on its matches whatever the
// rule's action (every shipped rule is `count`; until 2026-12-02 such a trigger was accepted
// and never fired). extract takes the rules file with --rules (its payload:RULE_ID could not
// work before). analyze refuses --set keys it would not honour, and --config / --set
// without --evidence, instead of ignoring them.
TEST(Cli, PayloadTriggersFireOnTheRuleTheyNameAndUnusedSettingsAreRefused) {
  const std::string get = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto cap = write_pcap("http.pcap", {tcp_frame(0x02, "", 1, 0, false), tcp_frame(0x12, "", 9, 2, true),
                                            tcp_frame(0x10, "", 2, 10, false), tcp_frame(0x18, get, 2, 10, false),
                                            tcp_frame(0x10, "", 10, 2 + static_cast<uint32_t>(get.size()), true)});
  const std::string rules = seqwatch::test::scratch_dir() + "count.rules";
  std::ofstream(rules) << "7 count /^GET \\S+ HTTP\\/1\\.[01]\\r\\n/1\n8 count /^SSH-2\\.0-/1\n";
  for (const std::string rule : {"7", "8"}) {
    const std::string out = seqwatch::test::scratch_dir() + "payload-extract-" + rule;
    std::filesystem::remove_all(out);
    const CmdResult r = run(exe() + " extract '" + cap + "' -o '" + out + "' --rules '" + rules +
                            "' --trigger payload:" + rule + " --pre 8");
    ASSERT_EQ(r.rc, 0) << r.out;
    uint64_t packets = 0;
    std::ifstream idx(out + "/evidence-index.jsonl");
    for (std::string l; std::getline(idx, l);) packets += nlohmann::json::parse(l)["packets"].get<uint64_t>();
    EXPECT_EQ(packets, rule == "7" ? 5u : 0u) << r.out;  // the history (4), the trigger's post packet (1)
  }
  // analyze: --rules, or rules.file from --set, is the rules file matched and named.
  auto slice_packets = [](const std::string& dir) {
    uint64_t n = 0;
    std::ifstream idx(dir + "/evidence-index.jsonl");
    for (std::string l; std::getline(idx, l);) n += nlohmann::json::parse(l)["packets"].get<uint64_t>();
    return n;
  };
  const std::string out = seqwatch::test::scratch_dir() + "payload-analyze";
  for (const std::string& how : {"--rules '" + rules + "'", "--set rules.file='" + rules + "'"}) {
    std::filesystem::remove_all(out);
    const CmdResult a = run(exe() + " analyze '" + cap + "' " + how + " --evidence '" + out +
                            "' --set 'evidence.triggers=[{type: payload, rule: 7}]' --set evidence.history_packets=8");
    EXPECT_EQ(a.rc, 0) << a.out;
    EXPECT_EQ(slice_packets(out), 5u) << how << "\n" << a.out;
  }
  CmdResult r = run(exe() + " analyze '" + cap + "' --rules '" + rules + "' --evidence '" + out +
                    "' --set rules.file=/dev/null --set 'evidence.triggers=[{type: payload, rule: 7}]'");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("name different files"), std::string::npos) << r.out;

  r = run(exe() + " analyze '" + cap + "' --set tcp.copy_window_ms=0");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("add --evidence DIR"), std::string::npos) << r.out;
  r = run(exe() + " analyze '" + cap + "' --evidence '" + out + "2' --set flow_table.capacity=16");
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--set flow_table.capacity: analyze takes evidence.* and rules.file"), std::string::npos)
      << r.out;
}

}  // namespace

namespace {

// syn_unanswered at the end of the input: a SYN that waited at least an initial RTO (1 s)
// before the input's newest packet, or was re-sent, was unanswered; one sent just before
// the end had no time to be answered and opens no slice. The slice has no trigger packet:
// its index line says trigger_frame null.
TEST(Cli, ASynCutOffByTheEndOfTheInputIsNotUnanswered) {
  auto syn_from = [](uint8_t port_low) {
    auto f = tcp_frame(0x02, "", 1, 0, false);
    f[14 + 20 + 1] = port_low;  // client port 0x9C00 + port_low
    return f;
  };
  // 1 s apart (write_pcap): the first SYN waits 1 s, the second is the last frame.
  const auto cap = write_pcap("syn-end.pcap", {syn_from(0x40), syn_from(0x41)});
  const std::string out = seqwatch::test::scratch_dir() + "syn-end";
  std::filesystem::remove_all(out);
  const CmdResult r = run(exe() + " extract '" + cap + "' -o '" + out + "' --trigger syn_unanswered");
  ASSERT_EQ(r.rc, 0) << r.out;
  std::vector<nlohmann::json> lines;
  std::ifstream idx(out + "/evidence-index.jsonl");
  for (std::string l; std::getline(idx, l);) lines.push_back(nlohmann::json::parse(l));
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0]["trigger"], nlohmann::json::array({"syn_unanswered"}));
  EXPECT_TRUE(lines[0]["trigger_frame"].is_null()) << lines[0].dump();
  EXPECT_EQ(lines[0]["frames"], nlohmann::json::array({1}));

  // The end is the input's newest packet, whatever worker read it: 8 lone SYNs 0-7 s, an ACK
  // of another connection at 8 s, a SYN at 9 s (the last frame). With 4 workers most SYNs
  // are the last packet their worker saw; they still waited at least 2 s before the end.
  std::vector<std::vector<uint8_t>> frames;
  for (uint8_t k = 0; k < 8; ++k) frames.push_back(syn_from(static_cast<uint8_t>(0x40 + k)));
  auto ack = tcp_frame(0x10, "", 2, 10, false);
  ack[14 + 20 + 1] = 0x50;
  frames.push_back(ack);
  frames.push_back(syn_from(0x48));
  const auto many = write_pcap("syn-end-many.pcap", frames);
  for (const char* workers : {"1", "4"}) {
    const std::string dir = out + "-w" + workers;
    std::filesystem::remove_all(dir);
    const CmdResult w = run(exe() + " extract '" + many + "' -o '" + dir + "' --trigger syn_unanswered -w " + workers);
    ASSERT_EQ(w.rc, 0) << w.out;
    std::ifstream in(dir + "/evidence-index.jsonl");
    size_t slices = 0;
    for (std::string l; std::getline(in, l); ++slices)
      EXPECT_LT(nlohmann::json::parse(l)["frames"][0].get<int>(), 9) << l;  // never the last SYN (frame 10)
    EXPECT_EQ(slices, 8u) << workers << " worker(s)";
  }
}

// Active timeout: the bundled demo (four connections over 4.2 s) with 0.5 s periods. Every
// connection that spans a period boundary gets `active` records (cumulative: their counts
// never go down), the final records and the retransmission report are those of a run
// without the timeout, and 3 workers write the same records as 1.
TEST(Cli, ActiveTimeoutRecordsAreCumulativeAndLeaveFinalRecordsAndReportAlone) {
  const std::string demo = src_dir() + "/data/demo.pcap";
  auto flows = [&](const std::string& extra, nlohmann::json& summary) {
    const std::string fl = seqwatch::test::scratch_dir() + "active-flows.jsonl";
    const std::string js = seqwatch::test::scratch_dir() + "active-summary.json";
    const CmdResult r = run(exe() + " analyze '" + demo + "' --flows " + fl + " --json " + js + " " + extra);
    EXPECT_TRUE(seqwatch::test::analyze_succeeded(r)) << r.out;
    std::ifstream sj(js);
    summary = nlohmann::json::parse(sj);
    std::vector<nlohmann::json> lines;
    std::ifstream in(fl);
    for (std::string l; std::getline(in, l);) lines.push_back(nlohmann::json::parse(l));
    return lines;
  };
  nlohmann::json s0, s1, s3;
  const auto plain = flows("", s0);
  const auto active = flows("--active-timeout 0.5", s1);
  const auto active3 = flows("--active-timeout 0.5 -w 3", s3);
  ASSERT_FALSE(plain.empty());

  std::vector<std::string> finals, finals_plain;
  std::map<std::string, std::vector<nlohmann::json>> by_flow;  // client port -> records, in order
  size_t n_active = 0;
  for (const auto& j : active) {
    if (j["end"] == "active") {
      ++n_active;
    } else {
      finals.push_back(j.dump());
    }
    by_flow[j["client"].get<std::string>() + ":" + std::to_string(j["cport"].get<int>())].push_back(j);
  }
  for (const auto& j : plain) {
    EXPECT_NE(j["end"], "active");
    finals_plain.push_back(j.dump());
  }
  EXPECT_EQ(finals, finals_plain);
  EXPECT_GE(n_active, 8u);  // 4.2 s of data connections over 0.5 s periods
  EXPECT_EQ(s1["outputs"]["active_flow_records"].get<size_t>(), n_active);
  EXPECT_EQ(s0["outputs"]["active_flow_records"], 0);
  EXPECT_EQ(s1["retransmissions"], s0["retransmissions"]);
  for (const auto& [flow, recs] : by_flow) {
    SCOPED_TRACE(flow);
    for (size_t i = 1; i < recs.size(); ++i) {
      for (const char* dir : {"c2s", "s2c"})
        for (const char* k : {"segments", "data_bytes", "retx_segments", "dup_acks"})
          EXPECT_GE(recs[i][dir][k].get<uint64_t>(), recs[i - 1][dir][k].get<uint64_t>()) << dir << "." << k;
      EXPECT_GE(recs[i]["last_ts"].get<double>(), recs[i - 1]["last_ts"].get<double>());
    }
    EXPECT_NE(recs.back()["end"], "active");
  }
  // Any worker count: the same records (flow numbers and workers aside).
  auto normalized = [](const std::vector<nlohmann::json>& v) {
    std::vector<std::string> out;
    for (nlohmann::json j : v) {
      j.erase("flow");
      j.erase("worker");
      out.push_back(j.dump());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(normalized(active3), normalized(active));
}

// A capture holding one direction only (asymmetric routing, a SPAN session of one
// direction): the client's SYN, its ACK of a SYN/ACK the sensor never saw, data and a
// re-send. The report says the connection is one-sided and why fast and timeout cannot be
// told apart, and does not call it an unanswered SYN; a capture of SYNs alone still does.
TEST(Cli, OneSidedConnectionsAreNamedAndNoUnansweredSyns) {
  const std::string data(100, 'x');
  const auto one_sided = write_pcap("one-sided.pcap", {
      tcp_frame(0x02, "", 1000, 0, false),             // SYN
      tcp_frame(0x10, "", 1001, 5001, false),          // ACK of the unseen SYN/ACK
      tcp_frame(0x18, data, 1001, 5001, false),
      tcp_frame(0x18, data, 1101, 5001, false),
      tcp_frame(0x18, data, 1001, 5001, false),        // re-sent
  });
  const CmdResult r = run(exe() + " analyze '" + one_sided + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("ONE-SIDED      1 connection(s) carried data in one direction only"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", 1 of their segments re-sent"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 0 SYN unanswered"), std::string::npos) << r.out;
  const auto j = analyze_json(one_sided, "file");
  EXPECT_EQ(j["retransmissions"]["one_sided_data"]["flows"], 1);
  EXPECT_EQ(j["retransmissions"]["one_sided_data"]["retx_segments"], 1);
  EXPECT_EQ(j["retransmissions"]["connection_ends"]["syn_unanswered"], 0);
  EXPECT_EQ(j["retransmissions"]["connection_ends"]["open"], 1);

  // The receiver's side alone: its ACKs, duplicates among them; the data is not there.
  const auto acks = write_pcap("acks-only.pcap", {
      tcp_frame(0x12, "", 5000, 1001, true),   // SYN/ACK
      tcp_frame(0x10, "", 5001, 1101, true),
      tcp_frame(0x10, "", 5001, 1101, true),   // duplicate ACKs
      tcp_frame(0x10, "", 5001, 1101, true),
  });
  const CmdResult k = run(exe() + " analyze '" + acks + "'");
  ASSERT_EQ(k.rc, 0) << k.out;
  EXPECT_NE(k.out.find("ONE-SIDED      1 connection(s) seen only as one side's ACKs, the other direction never passed here"),
            std::string::npos) << k.out;
  EXPECT_NE(k.out.find("their 2 duplicate ACKs point to loss in that direction"), std::string::npos) << k.out;
  const auto ja = analyze_json(acks, "file");
  EXPECT_EQ(ja["retransmissions"]["one_sided_acks"]["flows"], 1);
  EXPECT_EQ(ja["retransmissions"]["one_sided_acks"]["dup_acks"], 2);

  const auto syns = write_pcap("syns-only.pcap", {tcp_frame(0x02, "", 1000, 0, false), tcp_frame(0x02, "", 1000, 0, false)});
  const CmdResult s = run(exe() + " analyze '" + syns + "'");
  ASSERT_EQ(s.rc, 0) << s.out;
  EXPECT_EQ(s.out.find("ONE-SIDED"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find(" 1 SYN unanswered"), std::string::npos) << s.out;
}

// A connection the client closed (its FIN) that the server never closed, silent for the
// next 60 s of the capture while another connection goes on: the server's application did
// not close it (CLOSE_WAIT). One whose FIN came at the very end of the capture is not judged.
TEST(Cli, HalfClosedConnectionsLeftOpenPointToCloseWait) {
  std::vector<std::vector<uint8_t>> frames = {
      tcp_frame(0x02, "", 1000, 0, false),      // SYN
      tcp_frame(0x12, "", 5000, 1001, true),    // SYN/ACK
      tcp_frame(0x10, "", 1001, 5001, false),   // ACK
      tcp_frame(0x11, "", 1001, 5001, false),   // FIN from the client
      tcp_frame(0x10, "", 5001, 1002, true),    // the server's ACK of it, and nothing more
  };
  for (uint32_t i = 0; i < 62; ++i) {  // another connection, one packet a second (frames are 1 s apart)
    auto f = tcp_frame(0x10, "", 7000 + i, 9000, false);
    f[34] = 0xA0;  // source port 40960 + ...
    f[35] = 0x01;
    frames.push_back(f);
  }
  frames.push_back(tcp_frame(0x02, "", 3000, 0, false));  // a third connection closed by the client at the end
  frames.back()[35] = 0x02;
  frames.push_back(tcp_frame(0x11, "", 3001, 5001, false));
  frames.back()[35] = 0x02;
  const auto file = write_pcap("close-wait.pcap", frames);
  const CmdResult r = run(exe() + " analyze '" + file + "'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("CLOSE_WAIT?    1 connection(s) closed by the client (its FIN) that the server never closed, "
                       "silent since for 60 s or more (most: 10.0.0.2:80, 1)"),
            std::string::npos) << r.out;
  const auto j = analyze_json(file, "file");
  EXPECT_EQ(j["retransmissions"]["half_closed_lingering"]["by_client"]["connections"], 1);
  EXPECT_EQ(j["retransmissions"]["half_closed_lingering"]["by_server"]["connections"], 0);
  EXPECT_EQ(j["retransmissions"]["connection_ends"]["half_closed_by_client"], 2);
  EXPECT_EQ(j["retransmissions"]["half_closed_lingering"]["silent_s"], 60.0);
  // --close-wait-s 70: the first connection's 61 s of silence are not enough; 0.5: the same
  // one connection (the third one's FIN is the newest packet: no silence after it yet).
  const CmdResult longer = run(exe() + " analyze '" + file + "' --close-wait-s 70");
  ASSERT_EQ(longer.rc, 0) << longer.out;
  EXPECT_EQ(longer.out.find("CLOSE_WAIT?"), std::string::npos) << longer.out;
  const CmdResult shorter = run(exe() + " analyze '" + file + "' --close-wait-s 0.5");
  ASSERT_EQ(shorter.rc, 0) << shorter.out;
  EXPECT_NE(shorter.out.find("CLOSE_WAIT?    1 connection(s) closed by the client (its FIN) that the server never "
                             "closed, silent since for 0.5 s or more"),
            std::string::npos) << shorter.out;
  const CmdResult bad = run(exe() + " analyze '" + file + "' --close-wait-s 0");
  EXPECT_EQ(bad.rc, 2) << bad.out;  // CLI11's range error names the option
  EXPECT_NE(bad.out.find("--close-wait-s"), std::string::npos) << bad.out;
}

}  // namespace
