// End-to-end tests of `seqwatch run` with several workers on one multi-queue port, on a
// machine with fewer CPUs than workers (workers.share_cpus). A net_pcap port with one
// rx_pcap= file per RX queue stands in for a NIC: the test splits a generated trace into
// those files the way the NIC's hash would have spread it over its queues.
//
//  * a symmetric flow-hash split (both directions of a connection in one file) gives the
//    same events and flow records as `analyze` with one worker, and no split connection;
//  * a split by direction (each direction of a connection on its own queue) is reported:
//    every connection is seen as two one-sided flows on different workers;
//  * GRE traffic split by the outer IPv4 addresses (a NIC hashing the outer header) over
//    4 queues raises a queue-imbalance event naming the tunnel and suggesting software
//    rehash, judged on the run's last counters even though the replay ends within the
//    first stats interval; the same files with rehash: software spread the workers to a
//    packet CV below 0.1.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "decode/decoder.hpp"
#include "flow/flow_key.hpp"
#include "support/command.hpp"

namespace {

namespace fs = std::filesystem;
using seqwatch::test::CmdResult;
using seqwatch::test::exe;
using seqwatch::test::gen_exe;
using seqwatch::test::run;
namespace decode = seqwatch::decode;
namespace flow = seqwatch::flow;

std::string fresh_dir(const std::string& name) {
  const std::string d = seqwatch::test::scratch_dir() + "mq-" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A generated trace in microsecond pcap: net_pcap stamps microseconds, so `analyze` on the
// same file sees exactly the times the port delivers.
std::string generate(const std::string& dir, const std::string& args) {
  const std::string out = dir + "/trace.pcap";
  const CmdResult g = run(gen_exe() + " " + args + " --usec -q -o '" + out + "'");
  EXPECT_EQ(g.rc, 0) << g.out;
  return out;
}

// The queue a 64-bit hash lands on among n, as the software rehash stage and the
// imbalance diagnosis map hashes (runtime::Engine::pick_worker, telemetry::hash_to_queue).
unsigned to_queue(uint64_t h, unsigned n) { return static_cast<unsigned>(((h >> 32) * n) >> 32); }

// The symmetric flow hash of the rehash stage: the flow key (innermost 5-tuple, context)
// or, without ports, the innermost address pair.
uint64_t flow_hash(const decode::PacketView& v) {
  flow::FlowKey key;
  flow::Dir dir;
  if (v.status == decode::DecodeStatus::kOk && flow::make_key(v, key, dir, true)) return flow::hash_key(key);
  return v.ip_count != 0 ? flow::address_pair_hash(v, v.ip_count - 1u) : 0;
}

struct Split {
  std::vector<std::string> files;
  std::vector<std::vector<uint64_t>> frames;  // per file: the original 1-based frame number of each packet
  uint64_t total = 0;
};

// Writes each packet of `in` to file pick(view) of `n` (same link type, snaplen and
// timestamp precision as the input).
Split split_pcap(const std::string& in, const std::string& dir, unsigned n,
                 const std::function<unsigned(const decode::PacketView&)>& pick) {
  Split s;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(in.c_str(), err);
  EXPECT_NE(p, nullptr) << err;
  if (p == nullptr) return s;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  std::vector<pcap_dumper_t*> out;
  for (unsigned i = 0; i < n; ++i) {
    s.files.push_back(dir + "/q" + std::to_string(i) + ".pcap");
    out.push_back(pcap_dump_open(p, s.files.back().c_str()));
    EXPECT_NE(out.back(), nullptr) << pcap_geterr(p);
  }
  s.frames.resize(n);
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    ++s.total;
    decode::PacketView v;
    decode::decode(d, h->caplen, decode::LinkType::kEthernet, v);
    const unsigned q = pick(v);
    pcap_dump(reinterpret_cast<u_char*>(out[q]), h, d);
    s.frames[q].push_back(s.total);
  }
  for (auto* o : out) pcap_dump_close(o);
  pcap_close(p);
  return s;
}

// A pipeline: one net_pcap port with one RX queue per file, `workers` workers (sharing the
// CPUs when this machine has fewer), no RSS, no HTTP endpoint.
std::string write_pipeline(const std::string& dir, const Split& s, unsigned workers, const std::string& rehash,
                           const std::string& extra = "") {
  std::string devargs = "net_pcap0";
  for (const auto& f : s.files) devargs += ",rx_pcap=" + f;
  const std::string path = dir + "/pipeline-" + rehash + ".yaml";
  std::ofstream y(path);
  y << "eal:\n  lcores: \"0-" << workers << "\"\n  memory_mb: 512\n  no_huge: true\n  file_prefix: swmqtest\n"
    << "ports:\n  - name: mq0\n    devargs: " << devargs << "\n    rx_queues: " << s.files.size()
    << "\n    rss: off\n    rehash: " << rehash << "\n    rx_descriptors: 1024\n"
    << "workers:\n  count: " << workers << "\n  share_cpus: true\n"
    << "flow_table:\n  capacity: 65536\n  idle_timeout_s: 3600\n"
    << "evidence:\n  enabled: false\n"
    << "telemetry:\n  prometheus:\n    enabled: false\n  dpdk_telemetry: false\n"
    << extra;
  return path;
}

CmdResult seqwatch_run(const std::string& pipeline, const std::string& out) {
  return run(exe() + " run --pipeline '" + pipeline + "' --out '" + out + "'");
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::vector<nlohmann::json> v;
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  for (std::string line; std::getline(in, line);) {
    v.push_back(nlohmann::json::parse(line, nullptr, false));
    EXPECT_FALSE(v.back().is_discarded()) << path << ": not JSON: " << line;
  }
  return v;
}

// JSON lines without the per-worker fields (flow number, worker), sorted. With `split`,
// the frame numbers of worker w's events (positions in queue w's file) are mapped back to
// the original trace's frame numbers first.
std::vector<std::string> normalised(const std::string& path, const Split* split = nullptr) {
  std::vector<std::string> out;
  for (nlohmann::json j : read_lines(path)) {
    if (split != nullptr && j.contains("worker")) {
      const auto& frames = split->frames.at(j["worker"].get<size_t>());
      for (const char* k : {"frame", "dupack_frame"})
        if (j.contains(k)) j[k] = frames.at(j[k].get<size_t>() - 1);
    }
    j.erase("flow");
    j.erase("worker");
    out.push_back(j.dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// `analyze` with one worker on the unsplit trace: the reference.
struct Reference {
  std::vector<std::string> events, flows;
  nlohmann::json summary;
};
Reference analyze(const std::string& trace, const std::string& dir) {
  Reference r;
  const std::string ev = dir + "/ref-events.jsonl", fl = dir + "/ref-flows.jsonl", js = dir + "/ref-summary.json";
  const CmdResult a = run(exe() + " analyze '" + trace + "' -w 1 --flow-capacity 65536 --idle-timeout 3600 --events " +
                          ev + " --flows " + fl + " --json " + js);
  EXPECT_EQ(a.rc, 0) << a.out;
  r.events = normalised(ev);
  r.flows = normalised(fl);
  r.summary = read_json(js);
  return r;
}

// The warning `run` prints once when workers share CPUs (workers.share_cpus and more
// worker lcores than this machine has CPUs).
void expect_share_warning(const std::string& out, unsigned workers) {
  const unsigned cpus = std::thread::hardware_concurrency();
  if (workers >= cpus) {
    EXPECT_EQ(count_of(out, "warning: workers.share_cpus: the " + std::to_string(workers) + " workers share"), 1u) << out;
    EXPECT_NE(out.find("not per-core figures"), std::string::npos) << out;
  } else {
    EXPECT_EQ(out.find("workers.share_cpus"), std::string::npos) << out;
  }
}

TEST(MultiQueue, SymmetricSplitOverTwoQueuesMatchesAnalyzeAndABadSplitIsReported) {
  const std::string dir = fresh_dir("lossy");
  const std::string trace = generate(dir, "--preset lossy --packets 20000");
  const Reference ref = analyze(trace, dir);
  ASSERT_GT(ref.events.size(), 100u);
  ASSERT_GT(ref.flows.size(), 500u);
  ASSERT_EQ(ref.summary["retransmissions"]["split_across_workers"], 0);

  // Good: both directions of a connection on one queue (the symmetric flow hash).
  {
    const std::string good = dir + "/good";
    fs::create_directories(good);
    const Split s = split_pcap(trace, good, 2, [](const decode::PacketView& v) { return to_queue(flow_hash(v), 2); });
    ASSERT_EQ(s.total, 20000u);
    ASSERT_GT(s.frames[0].size(), 5000u);  // both queues carry a real share
    ASSERT_GT(s.frames[1].size(), 5000u);
    const std::string out = good + "/run";
    const CmdResult r = seqwatch_run(write_pipeline(good, s, 2, "none"), out);
    ASSERT_EQ(r.rc, 0) << r.out;
    expect_share_warning(r.out, 2);
    EXPECT_EQ(r.out.find("software rehash"), std::string::npos) << r.out;  // each worker polls its own queue
    EXPECT_EQ(r.out.find("SPLIT"), std::string::npos) << r.out;
    const auto j = read_json(out + "/summary.json");
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["workers"], 2);
    EXPECT_FALSE(j.contains("rehash"));
    EXPECT_EQ(j["packets"], 20000);
    EXPECT_EQ(j["not_delivered"], 0);
    EXPECT_EQ(j["ports"][0]["ipackets"], 20000);
    EXPECT_EQ(j["outputs"]["events_dropped"], 0);
    EXPECT_EQ(j["outputs"]["flow_records_dropped"], 0);
    EXPECT_EQ(j["retransmissions"]["split_across_workers"], 0);
    EXPECT_EQ(j["retransmissions"]["split_connections"], 0);
    EXPECT_EQ(j["retransmissions"]["one_sided_flows"], ref.summary["retransmissions"]["one_sided_flows"]);
    // Both workers did analyse flows (the split is real).
    std::map<int, size_t> per_worker;
    for (const auto& l : read_lines(out + "/flows.jsonl")) ++per_worker[l["worker"].get<int>()];
    EXPECT_EQ(per_worker.size(), 2u);
    // The same events (frame numbers mapped back to the unsplit trace) and flow records.
    const auto events = normalised(out + "/events.jsonl", &s);
    const auto flows = normalised(out + "/flows.jsonl", &s);
    EXPECT_EQ(events.size(), ref.events.size());
    EXPECT_TRUE(events == ref.events) << "events differ from analyze -w 1";
    EXPECT_EQ(flows.size(), ref.flows.size());
    EXPECT_TRUE(flows == ref.flows) << "flow records differ from analyze -w 1";
  }

  // Bad: split by direction, so the two directions of every connection reach different
  // workers. seqwatch must say so, not report half-connections as if they were whole.
  {
    const std::string bad = dir + "/bad";
    fs::create_directories(bad);
    const Split s = split_pcap(trace, bad, 2, [](const decode::PacketView& v) {
      flow::FlowKey key;
      flow::Dir d = flow::Dir::kAtoB;  // set by make_key (GCC cannot tell once it is inlined)
      return flow::make_key(v, key, d, true) && d == flow::Dir::kBtoA ? 1u : 0u;
    });
    ASSERT_GT(s.frames[1].size(), 5000u);
    const std::string out = bad + "/run";
    const CmdResult r = seqwatch_run(write_pipeline(bad, s, 2, "none"), out);
    ASSERT_EQ(r.rc, 0) << r.out;
    // Connections whose two directions the reference saw: each became two one-sided flows.
    uint64_t two_way = 0;
    for (const auto& l : read_lines(dir + "/ref-flows.jsonl"))
      two_way += l["c2s"]["segments"].get<uint64_t>() != 0 && l["s2c"]["segments"].get<uint64_t>() != 0;
    ASSERT_GT(two_way, 500u);
    const auto j = read_json(out + "/summary.json");
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["retransmissions"]["split_across_workers"], two_way);
    EXPECT_EQ(j["retransmissions"]["one_sided_flows"],
              2 * two_way + ref.summary["retransmissions"]["one_sided_flows"].get<uint64_t>());
    EXPECT_EQ(j["retransmissions"]["split_connections"], 0);  // same VLAN / tunnel context on both sides
    EXPECT_NE(r.out.find("SPLIT          " + std::to_string(two_way) +
                         " connection(s) had their two directions analysed by different workers"),
              std::string::npos)
        << r.out;

    // The same files behind the software rehash stage: it merges them by packet time, so
    // every connection is whole again and analysed in time order. The reference nobody
    // here wrote: `mergecap` of the two files, analysed by one worker; the frame numbers
    // are positions in that merged file.
    const std::string merged = bad + "/merged.pcap";
    const CmdResult m = run("mergecap -F pcap -w '" + merged + "' '" + s.files[0] + "' '" + s.files[1] + "'");
    ASSERT_EQ(m.rc, 0) << m.out;
    const std::string mref = bad + "/mref";
    fs::create_directories(mref);
    const Reference mr = analyze(merged, mref);
    const std::string sw = bad + "/software";
    const CmdResult rs = seqwatch_run(write_pipeline(bad, s, 2, "software"), sw);
    ASSERT_EQ(rs.rc, 0) << rs.out;
    EXPECT_NE(rs.out.find("recorded queues merged by packet time"), std::string::npos) << rs.out;
    EXPECT_EQ(rs.out.find("SPLIT"), std::string::npos) << rs.out;
    const auto js = read_json(sw + "/summary.json");
    ASSERT_FALSE(js.is_discarded());
    EXPECT_EQ(js["rehash"]["merged_by_time"], true);
    EXPECT_EQ(js["rehash"]["packets"], 20000);
    EXPECT_EQ(js["retransmissions"]["split_across_workers"], 0);
    EXPECT_EQ(js["retransmissions"]["one_sided_flows"], ref.summary["retransmissions"]["one_sided_flows"]);
    EXPECT_EQ(js["retransmissions"]["retx_segments"], mr.summary["retransmissions"]["retx_segments"]);
    const auto events = normalised(sw + "/events.jsonl");
    const auto flows = normalised(sw + "/flows.jsonl");
    EXPECT_EQ(events.size(), mr.events.size());
    EXPECT_TRUE(events == mr.events) << "events differ from analyze -w 1 of the mergecap'd files";
    EXPECT_EQ(flows.size(), mr.flows.size());
    EXPECT_TRUE(flows == mr.flows) << "flow records differ from analyze -w 1 of the mergecap'd files";
  }
}

// The stats line of the evaluation made at shutdown: the last "stats" line of the file,
// marked "final" (the events that evaluation raised follow it).
nlohmann::json final_stats(const std::vector<nlohmann::json>& lines) {
  for (auto it = lines.rbegin(); it != lines.rend(); ++it)
    if (it->value("type", "") == "stats") return *it;
  return {};
}

// The imbalance lines of a run's stats file.
std::vector<nlohmann::json> imbalance_events(const std::vector<nlohmann::json>& lines, const std::string& kind) {
  std::vector<nlohmann::json> v;
  for (const auto& l : lines)
    if (l.value("type", "") == "imbalance" && l.value("kind", "") == kind) v.push_back(l);
  return v;
}

// The report's per-queue part of a split: "q0 N (P%), q1 ..." (shares of the port's packets).
std::string queue_line(const Split& s) {
  std::string line;
  for (size_t q = 0; q < s.frames.size(); ++q) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%sq%zu %zu (%.1f%%)", q == 0 ? "" : ", ", q, s.frames[q].size(),
                  100.0 * static_cast<double>(s.frames[q].size()) / static_cast<double>(s.total));
    line += buf;
  }
  return line;
}

TEST(MultiQueue, GreOverFourQueuesHashedOnTheOuterHeaderIsDiagnosedAndSoftwareRehashBalances) {
  const std::string dir = fresh_dir("gre");
  const std::string trace = generate(dir, "--preset gre-imbalance --packets 40000 --flows 4000");
  // The NIC's view: a symmetric hash of the outer IPv4 addresses only (GRE carries no
  // ports), modulo 4 queues. The preset's 3 outer pairs leave at least one queue empty.
  const Split s = split_pcap(trace, dir, 4, [](const decode::PacketView& v) {
    return v.ip_count != 0 ? to_queue(flow::address_pair_hash(v, 0), 4) : 0u;
  });
  ASSERT_EQ(s.total, 40000u);
  size_t empty = 0, busiest = 0;
  for (const auto& f : s.frames) {
    empty += f.empty();
    busiest = std::max(busiest, f.size());
  }
  ASSERT_GE(empty, 1u);
  ASSERT_GE(busiest, s.total / 3);
  // Judged on whole-run counters: one window for the whole replay, a stats interval far
  // longer than the run, and no judgement before every packet is in (min_packets = the
  // trace), so the deciding evaluation is the one made at shutdown (a first tick 0.1 s in
  // may come before the replay ends, on a slow machine).
  const std::string judge =
      "outputs:\n  stats_interval_s: 600\nimbalance:\n  window_s: 600\n  min_packets: 40000\n";

  // rehash: none: each worker polls its queue, three outer flows feed at most 3 of them.
  {
    const std::string out = dir + "/none";
    const CmdResult r = seqwatch_run(write_pipeline(dir, s, 4, "none", judge), out);
    ASSERT_EQ(r.rc, 0) << r.out;
    expect_share_warning(r.out, 4);
    const auto lines = read_lines(out + "/stats.jsonl");
    ASSERT_FALSE(lines.empty());
    // The last stats line is the evaluation made after the workers stopped.
    const auto last = final_stats(lines);
    EXPECT_EQ(last.value("final", false), true) << last.dump();
    EXPECT_EQ(last["packets"], 40000);
    const auto ev = imbalance_events(lines, "queue_imbalance");
    ASSERT_EQ(ev.size(), 1u) << out + "/stats.jsonl";
    EXPECT_EQ(ev[0]["state"], "raised");
    EXPECT_EQ(ev[0]["port"], "mq0");
    EXPECT_EQ(ev[0]["cause"], "tunnel") << ev[0].dump(1);
    const std::string msg = ev[0]["message"];
    EXPECT_NE(msg.find("100% of packets are GRE-encapsulated"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the NIC hashes the outer header"), std::string::npos) << msg;
    EXPECT_NE(msg.find("enable software rehash on port mq0 (ports.0.rehash=software)"), std::string::npos) << msg;
    EXPECT_GT(ev[0]["figures"]["cv"].get<double>(), 0.5);
    EXPECT_LT(ev[0]["diagnosis"]["predicted_inner_cv"].get<double>(), 0.25);
    // The run's summary carries the same event.
    const auto j = read_json(out + "/summary.json");
    ASSERT_FALSE(j.is_discarded());
    bool in_summary = false;
    for (const auto& e : j["imbalance_events"])
      in_summary |= e.value("kind", "") == "queue_imbalance" && e.value("cause", "") == "tunnel";
    EXPECT_TRUE(in_summary) << j["imbalance_events"].dump(1);
    EXPECT_EQ(j["packets"], 40000);
    // The console report: the queues' whole-run counts (the summary's `queues`) and the
    // raised condition with its cause, not only the files.
    ASSERT_EQ(j["queues"].size(), 4u) << j["queues"].dump();
    for (unsigned q = 0; q < 4; ++q) {
      EXPECT_EQ(j["queues"][q]["queue"], q);
      EXPECT_EQ(j["queues"][q]["packets"], s.frames[q].size()) << j["queues"].dump();
      EXPECT_EQ(j["queues"][q]["worker"], static_cast<int>(q));
    }
    EXPECT_NE(r.out.find("  queues         mq0: " + queue_line(s) + "\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  IMBALANCE      raised at "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(", still at the end: queues of port mq0 are imbalanced"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("enable software rehash on port mq0"), std::string::npos) << r.out;
  }

  // rehash: software: one stage reads the 4 queues and spreads by the inner 5-tuple.
  {
    const std::string out = dir + "/software";
    const CmdResult r = seqwatch_run(write_pipeline(dir, s, 4, "software", judge), out);
    ASSERT_EQ(r.rc, 0) << r.out;
    expect_share_warning(r.out, 4);
    EXPECT_NE(r.out.find("behind the software rehash stage"), std::string::npos) << r.out;
    // Recorded queue files are merged by packet time: said at the start, no warning.
    EXPECT_NE(r.out.find("behind the software rehash stage (recorded queues merged by packet time)"),
              std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("not merged"), std::string::npos) << r.out;
    const auto lines = read_lines(out + "/stats.jsonl");
    ASSERT_FALSE(lines.empty());
    const auto last = final_stats(lines);
    ASSERT_EQ(last.value("final", false), true) << last.dump();
    EXPECT_EQ(last["packets"], 40000);
    const auto& wb = last["worker_balance"];
    EXPECT_EQ(wb["judged"], true) << wb.dump();
    EXPECT_EQ(wb["packets"], 40000);
    EXPECT_LT(wb["cv"].get<double>(), 0.1) << wb.dump();
    EXPECT_TRUE(imbalance_events(lines, "queue_imbalance").empty());  // queues do not bind workers here
    // Their spread is still shown, not judged.
    ASSERT_EQ(last["imbalance"].size(), 1u) << last.dump();
    EXPECT_GT(last["imbalance"][0]["cv"].get<double>(), 0.5) << last.dump();
    EXPECT_EQ(last["imbalance"][0]["judged"], false) << last.dump();
    EXPECT_NE(r.out.find("  queues         mq0: " + queue_line(s) + "\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("IMBALANCE"), std::string::npos) << r.out;
    const auto j = read_json(out + "/summary.json");
    ASSERT_EQ(j["queues"].size(), 4u) << j["queues"].dump();
    for (const auto& q : j["queues"]) EXPECT_EQ(q["worker"], -1) << j["queues"].dump();
    ASSERT_FALSE(j.is_discarded());
    EXPECT_EQ(j["rehash"]["packets"], 40000);
    EXPECT_EQ(j["rehash"]["dropped_full"], 0);
    // The rehash stage's own per-worker counts agree.
    std::vector<double> per;
    for (const auto& n : j["rehash"]["per_worker"]) per.push_back(n.get<double>());
    ASSERT_EQ(per.size(), 4u);
    double mean = 0, var = 0;
    for (double x : per) mean += x / 4;
    for (double x : per) var += (x - mean) * (x - mean) / 4;
    EXPECT_LT(std::sqrt(var) / mean, 0.1) << j["rehash"].dump();
  }
}

}  // namespace
