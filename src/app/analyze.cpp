// `seqwatch analyze FILE`: a capture file through the same worker path a live port uses.
// With --source dpdk (the default for plain files) the file is attached as a net_pcap
// vdev and read with rte_eth_rx_burst, exactly like a NIC queue.
#include <fmt/format.h>
#include <hs/hs.h>
#ifndef SEQWATCH_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif
#include <pcap/pcap.h>
#include <rte_version.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <unistd.h>

#include "app/commands.hpp"
#include "app/evidence_out.hpp"
#include "config/config.hpp"
#include "app/report.hpp"
#include "app/summary.hpp"
#include "event/json_writer.hpp"
#include "evidence/bpf_filter.hpp"
#include "decode/decoder.hpp"
#include "match/payload_matcher.hpp"
#include "runtime/dpdk_source.hpp"
#include "runtime/eal.hpp"
#include "runtime/engine.hpp"
#include "runtime/worker.hpp"
#include "source/mmap_file.hpp"
#include "source/pcap_file.hpp"
#include "tcp/tcp_stage.hpp"

namespace seqwatch::app {

namespace {

// CPUs this process may run on (taskset, cgroup cpusets), at least 1.
unsigned usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::atomic<bool> g_stop{false};

void on_signal(int) {
  if (g_stop.exchange(true)) {  // second signal: the user insists
    static const char msg[] = "\nseqwatch: second signal: exiting at once; outputs are left as they are (not completed)\n";
    [[maybe_unused]] const ssize_t n = ::write(2, msg, sizeof msg - 1);  // async-signal-safe
    _exit(130);
  }
}

// A YAML double-quoted scalar.
std::string yaml_quote(const std::string& v) {
  std::string q = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

// "--set SET: KEY...: reason" lines about an override extract built are said in the words
// of its flag: "--trim 5: reason".
std::string in_user_words(const std::string& msg, const std::vector<AnalyzeOptions::SetWords>& words) {
  std::string out;
  size_t start = 0;
  while (start <= msg.size()) {
    const size_t end = std::min(msg.find('\n', start), msg.size());
    std::string line = msg.substr(start, end - start);
    for (const auto& w : words) {
      const std::string head = "--set " + w.set + ": " + w.key;
      if (line.rfind(head, 0) != 0 || line.size() == head.size() || !std::strchr(":.[", line[head.size()])) continue;
      if (const size_t reason = line.find(": ", head.size()); reason != std::string::npos) {
        line = w.words + line.substr(reason);
        for (const auto& other : words)  // "(the first is evidence.triggers[0])"
          for (size_t at = line.find(other.key, w.words.size()); at != std::string::npos;
               at = line.find(other.key, at + other.words.size()))
            line.replace(at, other.key.size(), other.words);
      }
      break;
    }
    out += line;
    if (end < msg.size()) out += '\n';
    start = end + 1;
  }
  return out;
}

// An option whose value cannot be used: refused before anything is read (exit 2).
int refuse(const std::string& msg) {
  std::fprintf(stderr, "seqwatch: error: %s\n", msg.c_str());
  return 2;
}

// Counts the frames of a capture (the net_pcap vdev gives no end-of-file signal); a
// damaged file stops libpcap, and net_pcap (libpcap inside) with it, at the same record:
// `read_error` says why.
Result<uint64_t> count_frames(const std::string& path, std::string& read_error) {
  auto src = PcapFileSource::open(path);
  if (!src) return src.error();
  uint64_t n = 0;
  std::array<PacketRef, kBurstSize> b;
  while (uint16_t k = src.value()->rx_burst(b.data(), kBurstSize)) n += k;
  read_error = src.value()->read_error();
  return n;
}

}  // namespace

int analyze(const AnalyzeOptions& opts) {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGPIPE, SIG_IGN);  // JSON lines piped to a consumer that goes away: a counted write error

  // libpcap checks the file first (and reads it for --source file / dpdk); a pcapng file
  // with interfaces of different link types, which libpcap refuses, goes on to the mmap
  // reader, which reads it.
  if (auto why = output_is_input({{"--events", opts.events_out}, {"--flows", opts.flows_out}, {"--json", opts.json_out}},
                                  {opts.file});
      !why.empty())
    return refuse(why);
  // A capture that cannot be opened (missing, unreadable, not a capture, an unsupported link
  // type) is refused like a missing one: exit 2, nothing read or written (as `run` refuses
  // such an rx_pcap file).
  auto file = PcapFileSource::open(opts.file);
  if (!file && (opts.source == "file" || opts.source == "dpdk")) return refuse(file.error().message);
  if (!opts.json_out.empty())
    if (const std::string why = output_file_problem(opts.json_out); !why.empty()) return refuse("--json: " + why);
  // --config and --set carry the evidence settings here (the analysis has options of its
  // own): anything else would be accepted and not honoured, so it is refused.
  if ((!opts.config.empty() || !opts.sets.empty()) && opts.evidence_dir.empty()) {
    std::fprintf(stderr, "seqwatch: error: --config and --set give analyze its evidence settings (evidence.*, "
                         "rules.file); add --evidence DIR, or use analyze's own options for the analysis\n");
    return 2;
  }
  for (const std::string& set : opts.sets) {
    const std::string key = set.substr(0, set.find('='));
    if (key != "evidence" && key.rfind("evidence.", 0) != 0 && key != "rules.file" && key != "rules") {
      std::fprintf(stderr,
                   "seqwatch: error: --set %s: analyze takes evidence.* and rules.file from --set; the analysis "
                   "has options of its own (--copy-window-ms, --close-wait-s, --flow-capacity, --idle-timeout, "
                   "--ignore-vlans, --rules; seqwatch analyze --help)\n",
                   key.c_str());
      return 2;
    }
  }

  // The evidence folder is refused now, not after the capture was read (each slice lost).
  if (!opts.evidence_dir.empty())
    if (const std::string why = folder_problem(opts.evidence_dir); !why.empty()) {
      std::fprintf(stderr, "seqwatch: error: %s: %s\n", opts.evidence_unbudgeted ? "-o" : "--evidence", why.c_str());
      return 2;
    }

  std::unique_ptr<PayloadMatcher> matcher;
  if (!opts.rules.empty()) {
    auto rules = load_rules(opts.rules);
    if (!rules) return refuse("--rules: " + rules.error().message);
    auto m = PayloadMatcher::compile(std::move(rules.value()));
    if (!m) return refuse("--rules: " + m.error().message);
    matcher = std::move(m.value());
  }

  std::string source = opts.source;
  // auto: the zero-copy mmap reader where it handles the file (uncompressed pcap, pcapng,
  // gzip-compressed pcapng inflated in memory), else libpcap. Both keep each frame's wire length (net_pcap loses
  // the original length of snaplen-cut frames) and read faster than net_pcap; all three
  // feed the same worker.
  std::unique_ptr<MmapFileSource> mapped;
  if (source == "auto" || source == "mmap") {
    auto m = MmapFileSource::open(opts.file);
    if (m) {
      mapped = std::move(m.value());
      source = "mmap";
    } else if (source == "mmap") {
      return refuse("--source mmap: " + m.error().message);
    } else if (!file) {
      return refuse(file.error().message);  // neither reader takes it: libpcap's reason
    } else {
      source = "file";
    }
  }
  if (source == "dpdk" && file.value()->stream())
    return refuse("'" + opts.file + "' is a pipe or device, read once; DPDK's net_pcap opens its file again: use "
                  "--source file (or auto)");
  if (source == "dpdk" && file.value()->gzip())
    return fail("'" + opts.file + "' is gzip-compressed; DPDK's net_pcap cannot read it: use --source file");

  std::unique_ptr<PacketSource> src;
  std::unique_ptr<runtime::DpdkPortSource> port;
  std::string dpdk_read_error;  // net_pcap reads through libpcap: where libpcap stopped
  uint64_t dpdk_frames = 0;
  if (source == "dpdk") {
    auto frames = count_frames(opts.file, dpdk_read_error);
    if (!frames) return fail(frames.error().message);
    dpdk_frames = frames.value();
    // No frame at all (an empty capture, or one damaged before its first frame): the port
    // would wait for a first frame forever; libpcap reads the same nothing and says why.
    if (dpdk_frames == 0) source = "file";
  }
  if (source == "dpdk") {
    runtime::EalOptions eal;
    eal.memory_mb = opts.memory_mb;
    const std::string abs = std::filesystem::absolute(opts.file).string();
    if (abs.find(',') != std::string::npos)
      return fail("the DPDK vdev syntax cannot carry a path with a comma: '" + abs + "'; use --source file");
    eal.vdevs.push_back("net_pcap0,rx_pcap=" + abs);
    if (auto ok = runtime::eal_init(eal); !ok) return fail(ok.error().message);
    runtime::PortConfig pc;
    pc.name = "net_pcap0";
    pc.link = file.value()->link_type();
    pc.expected_frames = dpdk_frames;
    pc.timestamp_unit_ns = 1000;  // net_pcap stores microseconds
    pc.wire_lengths = false;      // and drops the original length of cut frames
    auto p = runtime::DpdkPortSource::open(pc);
    if (!p) return fail(p.error().message);
    port = std::move(p.value());
    file.value().reset();
  } else if (mapped) {
    // The read-ahead thread copies the file's next window on a core of its own. With one
    // worker (which reads the file itself) the control thread leaves the second core mostly
    // idle; with N workers behind the rehash stage N + 1 threads are busy already, and a
    // read-ahead waiting for a core stalls the reader (-w 2 on 2 CPUs: 0.5 -> 1.8 s).
    const unsigned busy = opts.workers + (opts.workers > 1 ? 1u : 0u);
    mapped->set_read_ahead(busy < usable_cpus());
    src = std::move(mapped);
    if (file) file.value().reset();  // the libpcap reader only checked the file: its buffers go now
  } else {
    src = std::move(file.value());
  }
  PacketSource& in = port ? static_cast<PacketSource&>(*port) : *src;
  const std::string what = in.describe();

  runtime::EngineConfig ec;
  ec.workers = opts.workers;
  ec.matcher = matcher.get();
  ec.lossless = true;  // a file waits for slow workers; nothing is dropped
  // --flow-capacity is the total; each worker's table holds its share.
  ec.tcp.table.capacity = std::max<uint32_t>(16, (opts.flow_capacity + opts.workers - 1) / opts.workers);
  ec.tcp.table.idle_timeout_ns = static_cast<uint64_t>(opts.idle_timeout_s * 1e9);
  ec.tcp.table.grow = true;  // buckets in use follow the flows (a file waits through a doubling)
  // A file waits for the control thread (lossless), so the rings only need to keep both sides
  // busy, not to absorb a live port's bursts: 1.8 and 0.9 MB instead of `run`'s 7.3 MB each
  // (records cycle through all of theirs at the end of input, when every open flow ends).
  ec.tcp.record_ring = 1u << 12;
  ec.tcp.event_ring = 1u << 13;
  ec.tcp.active_timeout_ns = static_cast<uint64_t>(opts.active_timeout_s * 1e9);
  ec.tcp.key_vlans = !opts.ignore_vlans;
  ec.tcp.copy_window_us = static_cast<uint32_t>(opts.copy_window_ms * 1000);
  std::unique_ptr<EvidenceOutput> evidence_out;
  std::optional<evidence::SinkConfig> sink_cfg;  // made after the engine (which may refuse the settings)
  uint64_t sink_budget = 0;
  if (!opts.evidence_dir.empty()) {
    std::vector<std::string> files;
    if (!opts.config.empty()) files.push_back(opts.config);
    std::vector<std::string> sets = opts.sets;
    sets.insert(sets.begin(), "evidence.enabled=true");
    // --rules is the rules file payload triggers name (a --set rules.file after it wins).
    std::vector<AnalyzeOptions::SetWords> words = opts.set_words;
    if (!opts.rules.empty()) {
      sets.insert(sets.begin() + 1, "rules.file=" + yaml_quote(opts.rules));
      words.push_back({sets[1], "rules.file", "--rules " + opts.rules});
    }
    config::Origins origins;
    auto cfg = config::load_config(files, sets, &origins);
    if (!cfg) {
      std::fprintf(stderr, "seqwatch: evidence settings rejected:\n%s\n",
                   in_user_words(cfg.error().message, words).c_str());
      return 2;
    }
    // rules.file (from --config or --set) is the rules file matched, as in a pipeline; with
    // --rules too, both must name the same file (the trigger's rule ids are checked against it).
    if (const std::string& rf = cfg.value().rules.file; !rf.empty() && rf != opts.rules) {
      if (!opts.rules.empty())
        return refuse("--rules '" + opts.rules + "' and " +
                      config::located(&origins, "rules.file", "'" + rf + "' name different files"));
      auto rules = load_rules(rf);
      if (!rules) return refuse(config::located(&origins, "rules.file", rules.error().message));
      auto m = PayloadMatcher::compile(std::move(rules.value()));
      if (!m) return refuse(config::located(&origins, "rules.file", m.error().message));
      matcher = std::move(m.value());
      ec.matcher = matcher.get();
    }
    // Payload triggers name rules of the file matched, as run checks them.
    std::vector<uint32_t> rule_ids;
    if (matcher)
      for (const auto& r : matcher->rules()) rule_ids.push_back(r.id);
    if (auto ok = config::validate_rule_ids(cfg.value(), rule_ids, &origins); !ok) {
      std::fprintf(stderr, "seqwatch: evidence settings rejected:\n%s\n",
                   in_user_words(ok.error().message, words).c_str());
      return 2;
    }
    // BPF filters compile for the capture's link type, before anything is written.
    const decode::LinkType link = in.link_type();
    auto bpf_ok = config::validate_bpf(
        cfg.value(), [link](const std::string& expr) { return evidence::BpfFilter::problem(expr, link); }, &origins);
    if (!bpf_ok) {
      std::fprintf(stderr, "seqwatch: evidence settings rejected:\n%s\n",
                   in_user_words(bpf_ok.error().message, words).c_str());
      return 2;
    }
    const config::EvidenceConfig& evc = cfg.value().evidence;
    auto setup = evidence_setup(evc, ec.tcp.table.capacity);
    if (!setup) return fail(setup.error().message);
    ec.evidence = setup.value();
    if (opts.evidence_unbudgeted) {
      ec.evidence.capture.budget.global_packets = 0;
      ec.evidence.capture.budget.flow_packets = 0;
      ec.evidence.capture.budget.flow_slices = 0;
    }
    ec.capture_filter = evc.capture_filter;
    set_bpf_jit(ec, evc);
    sink_cfg = evidence_sink_config(evc, opts.evidence_dir, in.link_type(), ec.evidence, ec.workers);
    sink_budget = evc.global_budget_bytes;
  }
  ec.payload_events = matcher != nullptr;
  // The engine refuses what it cannot do with these inputs and settings (a BPF filter on a
  // pcapng file of several link types, ...): exit 2, before any output exists.
  auto engine_r = runtime::Engine::create(ec, {&in});
  if (!engine_r) return refuse(engine_r.error().message);
  runtime::Engine& engine = *engine_r.value();
  if (sink_cfg) {
    auto out = EvidenceOutput::create(*sink_cfg, sink_budget);
    if (!out) return fail("evidence: " + out.error().message);
    evidence_out = std::move(out.value());
  }

  if (auto dup = same_output({{"--events", opts.events_out}, {"--flows", opts.flows_out}, {"--json", opts.json_out}});
      !dup.empty())
    return refuse(dup);
  event::LineFile events_file, flows_file;
  const event::LineFileOptions lopts;  // one file each: no rotation offline
  if (!opts.events_out.empty() && !events_file.open(opts.events_out, false, lopts, 0))
    return refuse("--events: " + events_file.take_error());
  if (!opts.flows_out.empty() && !flows_file.open(opts.flows_out, false, lopts, 0))
    return refuse("--flows: " + flows_file.take_error());
  // The human report goes to stderr when stdout carries JSON lines.
  std::FILE* report_out = (events_file.is_stdout() || flows_file.is_stdout() || opts.json_out == "-") ? stderr : stdout;
  event::JsonLinesWriter events(events_file);
  event::JsonLinesWriter flows(flows_file);
  RetransReport report(std::max<size_t>(RetransReport::kDefaultKeepFlows, opts.top));  // every row --top asks for
  report.set_close_wait_ns(static_cast<uint64_t>(opts.close_wait_s * 1e9));
  runtime::EngineSinks sinks;
  sinks.on_event = [&](const event::SegmentEvent& e) {
    report.add_event(e);
    if (!opts.events_out.empty()) events.write(e);
  };
  sinks.on_record = [&](const event::FlowRecord& r) {
    report.add(r);
    if (!opts.flows_out.empty()) flows.write(r);
  };
  const auto t0 = std::chrono::steady_clock::now();
  sinks.on_tick = [&] {  // failed writes are retried (a disk that was full for a moment)
    const auto ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    for (event::LineFile* f : {&events_file, &flows_file}) {
      f->tick(ns);
      if (const std::string e = f->take_error(); !e.empty())
        std::fprintf(stderr, "seqwatch: %s; lines are kept and retried, and counted if lost\n", e.c_str());
    }
  };
  if (evidence_out) sinks.on_evidence = [&](evidence::RecordRing& r) { return evidence_out->drain(r); };
  engine.run(g_stop, sinks);
  auto j = engine_summary(engine, matcher.get(), report, opts.top);
  // A damaged or cut-short file: what was read is analysed and written, and the run says
  // that the rest of the file was not (exit status 1, as tshark's 2).
  // (net_pcap: libpcap's error when the frames were counted; it applies once the port got
  // that far, not after a signal stopped the run before the damage.)
  // libpcap (--source file / dpdk) stops at a pcapng interface of another link type: not
  // damage, a limit of libpcap that seqwatch's own reader does not have.
  const std::string read_error =
      explain_libpcap_stop(port ? (g_stop.load() ? std::string() : dpdk_read_error) : in.read_error());
  if (!read_error.empty()) j["read_error"] = read_error;
  j["stopped_by_signal"] = g_stop.load();  // the input was not read to its end (as run's summary says it)
  // Every output is completed before the human report is printed: a reader of standard
  // output that went away (SIGPIPE is ignored: the write fails) costs the report, not the files.
  if (evidence_out) {
    evidence_out->close();
    j["evidence"] = evidence_out->summary(engine);
  }
  bool complete = true;
  nlohmann::json files = nlohmann::json::object();
  for (auto [name, f] : {std::pair{"events", &events_file}, std::pair{"flows", &flows_file}}) {
    if (f->path().empty()) continue;
    complete &= f->close();
    if (const std::string e = f->take_error(); !e.empty()) std::fprintf(stderr, "seqwatch: %s\n", e.c_str());
    files[name] = line_file_json(*f);
  }
  if (!files.empty()) j["output_files"] = files;
  if (evidence_out) complete &= evidence_out->complete();
  bool summary_ok = true;
  if (!opts.json_out.empty()) {
    nlohmann::json out = j;
    out["input"] = opts.file;
    out["source"] = what;
    summary_ok = write_summary(opts.json_out, out);
  }
  const bool printed = print_or_fail([&] {
    print_engine_report(report_out, "seqwatch analyze: " + what, engine, report, j, opts.top);
    if (evidence_out) fmt::print(report_out, "  evidence       {}\n", evidence_out->describe(engine));
    if (port) {
      const auto ps = port->port_stats();
      fmt::print(report_out, "  port stats     ipackets {}, imissed {}, ierrors {}, rx_nombuf {}\n", ps.ipackets,
                 ps.imissed, ps.ierrors, ps.rx_nombuf);
    }
    if (g_stop.load()) fmt::print(report_out, "  (stopped by signal before the end of the input)\n");
    if (!read_error.empty())
      fmt::print(report_out, "  READ ERROR     reading stopped before the end of the file: {}\n", read_error);
    for (auto [name, f] : {std::pair{"events", &events_file}, std::pair{"flows", &flows_file}})
      if (f->counters().lost != 0)
        fmt::print(report_out, "  {:<14} {} line(s) LOST on '{}'\n", name, f->counters().lost, f->path());
  });
  int rc = complete ? 0 : fail("some output could not be written completely (disk full?): see the lines above");
  if (!read_error.empty())
    rc = fail("'" + opts.file + "': reading stopped before the end of the file (" + read_error +
              "); the frames before it were analysed");
  if (!summary_ok || !printed) rc = 1;
  port.reset();
  src.reset();
  runtime::eal_cleanup();
  return rc;
}

namespace {

// "10.0.0.1:40000-10.0.0.2:80" (IPv6 in brackets) -> a BPF expression for both directions.
Result<std::string> flow_filter(const std::string& spec) {
  auto endpoint = [](const std::string& e, std::string& host, std::string& port) {
    const size_t colon = e.rfind(':');
    if (colon == std::string::npos || colon + 1 == e.size()) return false;
    host = e.substr(0, colon);
    port = e.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return !host.empty() && port.find_first_not_of("0123456789") == std::string::npos;
  };
  const size_t dash = spec.find('-', spec.find(']') == std::string::npos ? 0 : spec.find(']'));
  std::string ha, pa, hb, pb;
  if (dash == std::string::npos || !endpoint(spec.substr(0, dash), ha, pa) || !endpoint(spec.substr(dash + 1), hb, pb))
    return Error{"--flow '" + spec + "': expected ADDR:PORT-ADDR:PORT (IPv6 as [ADDR]:PORT)"};
  for (const std::string& p : {pa, pb})
    if (p.size() > 5 || std::stoul(p) > 65535) return Error{"--flow '" + spec + "': port " + p + " is not a port (0 .. 65535)"};
  return fmt::format("(src host {0} and src port {1} and dst host {2} and dst port {3}) or "
                     "(src host {2} and src port {3} and dst host {0} and dst port {1})",
                     ha, pa, hb, pb);
}

}  // namespace

int extract(const ExtractOptions& x) {
  AnalyzeOptions a;
  a.file = x.file;
  a.evidence_dir = x.out_dir;
  a.ignore_vlans = x.ignore_vlans;
  a.workers = x.workers;
  a.rules = x.rules;
  std::string triggers;
  std::vector<std::string> trigger_words;  // the flag each trigger came from
  std::string flag;                        // the flag being read
  auto add = [&](const std::string& t) {
    triggers += (triggers.empty() ? "" : ", ") + t;
    trigger_words.push_back(flag);
  };
  // --trigger NAME[:ARG], checked here so that a mistake is reported in the words the user
  // typed (the configuration would name the --set this builds).
  auto usage = [](const std::string& t, const std::string& why) {
    std::fprintf(stderr, "seqwatch: error: --trigger %s: %s\n", t.c_str(), why.c_str());
    return 2;
  };
  auto whole = [](const std::string& v) { return !v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos; };
  std::vector<std::string> verdicts;  // of every verdict:NAME,... (one trigger of the type)
  std::string verdict_flag;
  for (const std::string& t : x.triggers) {
    flag = "--trigger " + t;
    const size_t colon = t.find(':');
    const std::string name = t.substr(0, colon), arg = colon == std::string::npos ? "" : t.substr(colon + 1);
    const bool has_arg = colon != std::string::npos;
    if (name == "rst" || name == "ack_inside_segment" || name == "syn_unanswered") {
      if (has_arg) return usage(t, name + " takes no parameter");
      add("{type: " + name + "}");
    } else if (name == "dup_ack_run" || name == "zero_window" || name == "payload") {
      const char* form = name == "dup_ack_run" ? "dup_ack_run:N" : name == "zero_window" ? "zero_window:MS" : "payload:RULE_ID";
      if (!whole(arg)) return usage(t, std::string("expected ") + form + " (a whole number)");
      const char* key = name == "dup_ack_run" ? "min" : name == "zero_window" ? "min_ms" : "rule";
      add("{type: " + name + ", " + key + ": " + arg + "}");
    } else if (name == "retransmission_storm") {
      const size_t slash = arg.find('/');
      if (slash == std::string::npos || !whole(arg.substr(0, slash)) || !whole(arg.substr(slash + 1)))
        return usage(t, "expected retransmission_storm:N/MS (whole numbers)");
      add("{type: retransmission_storm, count: " + arg.substr(0, slash) + ", window_ms: " + arg.substr(slash + 1) + "}");
    } else if (name == "bpf") {
      if (arg.empty()) return usage(t, "expected bpf:EXPRESSION (or --bpf EXPRESSION)");
      add("{type: bpf, expr: " + yaml_quote(arg) + "}");
    } else if (name == "verdict") {
      if (arg.empty()) return usage(t, "expected verdict:NAME[,NAME...] (analysis verdicts, e.g. verdict:spurious_retransmission)");
      for (size_t at = 0; at <= arg.size();) {
        const size_t comma = std::min(arg.find(',', at), arg.size());
        const std::string v = arg.substr(at, comma - at);
        if (tcp::verdict_bit(v) < 0) {
          std::string known;
          for (std::string_view n : tcp::kVerdictNames)
            if (!n.empty()) known += (known.empty() ? "" : ", ") + std::string(n);
          return usage(t, "unknown verdict '" + v + "'; one of: " + known);
        }
        verdicts.push_back(v);
        at = comma + 1;
      }
      if (verdict_flag.empty()) verdict_flag = flag;
    } else {
      return usage(t, "unknown trigger; one of rst, ack_inside_segment, syn_unanswered, dup_ack_run:N, "
                      "retransmission_storm:N/MS, zero_window:MS, payload:RULE_ID, bpf:EXPRESSION, verdict:NAME[,NAME...]");
    }
  }
  if (!verdicts.empty()) {
    flag = verdict_flag;
    std::string list;
    for (const std::string& v : verdicts) list += (list.empty() ? "" : ", ") + v;
    add("{type: verdict, names: [" + list + "]}");
  }
  for (const std::string& b : x.bpf) {
    flag = "--bpf " + b;
    add("{type: bpf, expr: " + yaml_quote(b) + "}");
  }
  for (const std::string& f : x.flows) {
    auto expr = flow_filter(f);
    if (!expr) return refuse(expr.error().message);
    flag = "--flow " + f;
    add("{type: bpf, expr: " + yaml_quote(expr.value()) + "}");
  }
  if (triggers.empty()) return refuse("extract: name at least one --trigger, --bpf or --flow");
  for (const std::string& t : x.triggers)
    if (t.rfind("payload:", 0) == 0 && x.rules.empty())
      return refuse("--trigger " + t + ": a payload trigger needs --rules FILE, the rules file that defines rule " +
                    t.substr(8));
  // Each override, with the flag it came from (messages name the flag).
  auto set = [&](const std::string& key, const std::string& value, const std::string& words) {
    a.sets.push_back(key + "=" + value);
    a.set_words.push_back({a.sets.back(), key, words});
  };
  a.sets.push_back("evidence.triggers=[" + triggers + "]");
  for (size_t i = 0; i < trigger_words.size(); ++i)
    a.set_words.push_back({a.sets.back(), fmt::format("evidence.triggers[{}]", i), trigger_words[i]});
  if (!x.filter.empty()) set("evidence.capture_filter", yaml_quote(x.filter), "--filter " + x.filter);
  if (x.pre >= 0) set("evidence.history_packets", std::to_string(x.pre), fmt::format("--pre {}", x.pre));
  if (x.post >= 0) set("evidence.post_packets", std::to_string(x.post), fmt::format("--post {}", x.post));
  if (!x.trim.empty()) set("evidence.trim", x.trim, "--trim " + x.trim);
  if (!x.format.empty()) set("evidence.format", x.format, "--format " + x.format);
  if (x.sample_one_in != 0)
    set("evidence.sampling.one_in_n", std::to_string(x.sample_one_in), fmt::format("--sample {}", x.sample_one_in));
  // Offline extraction writes everything the triggers ask for: no budget of the run's bytes,
  // of a worker's evidence packets per second (packet time) or of a flow's.
  a.sets.push_back("evidence.global_budget_bytes=1024TiB");
  a.evidence_unbudgeted = true;
  return analyze(a);
}

int version() {
#ifdef SEQWATCH_NO_JEMALLOC
  const char* je = "";
  const bool jemalloc_active = false;
  const bool expected = false;  // sanitizer build: ASan owns malloc
#else
  const char* je = nullptr;
  size_t sz = sizeof je;
  const bool jemalloc_active = mallctl("version", &je, &sz, nullptr, 0) == 0;
  const bool expected = true;
#endif
  fmt::print("seqwatch 0.1.0\n");
  fmt::print("  DPDK       {}\n", rte_version());
  fmt::print("  Hyperscan  {}\n", hs_version());
  fmt::print("  libpcap    {}\n", pcap_lib_version());
  fmt::print("  allocator  {}\n", jemalloc_active ? fmt::format("jemalloc {}", je)
                                    : expected ? std::string("system malloc (jemalloc not linked!)")
                                               : std::string("system malloc (sanitizer build)"));
  return jemalloc_active == expected ? 0 : 1;
}

}  // namespace seqwatch::app
