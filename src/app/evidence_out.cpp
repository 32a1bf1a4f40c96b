#include "app/evidence_out.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>

#include "runtime/eal.hpp"

namespace seqwatch::app {

void set_bpf_jit(runtime::EngineConfig& ec, const config::EvidenceConfig& ev) {
  ec.bpf_jit = ev.bpf_jit && runtime::eal_ready();  // rte_bpf_convert allocates with rte_malloc
  if (!ev.bpf_jit) ec.bpf_jit_off = "turned off by evidence.bpf_jit: false";
  else if (!ec.bpf_jit) ec.bpf_jit_off = "no DPDK EAL in this process (offline reader)";
}

namespace {

// The capture's trigger kind of a configured trigger type.
uint32_t trigger_bit(config::TriggerType t) {
  switch (t) {
    case config::TriggerType::kRetransmissionStorm: return evidence::kTrigRetxStorm;
    case config::TriggerType::kDupAckRun: return evidence::kTrigDupAckRun;
    case config::TriggerType::kAckInsideSegment: return evidence::kTrigAckInSegment;
    case config::TriggerType::kZeroWindow: return evidence::kTrigZeroWindow;
    case config::TriggerType::kRst: return evidence::kTrigRst;
    case config::TriggerType::kSynUnanswered: return evidence::kTrigSynUnanswered;
    case config::TriggerType::kPayload: return evidence::kTrigPayload;
    case config::TriggerType::kBpf: return evidence::kTrigBpf;
    case config::TriggerType::kVerdict: return evidence::kTrigVerdict;
  }
  return 0;
}

}  // namespace

Result<runtime::EvidenceSetup> evidence_setup(const config::EvidenceConfig& ev, uint32_t flow_capacity) {
  runtime::EvidenceSetup s;
  s.enabled = ev.enabled;
  if (!ev.enabled) return s;
  evidence::CaptureConfig& c = s.capture;
  // Trigger and slice state for every flow the table can hold (192 bytes each); the packet
  // history in one log per worker: kHistoryLog bytes hold the latest ~600k-700k trimmed packets
  // (96-112 bytes each for Ethernet/IPv4/TCP). A flow's history older than that
  // is gone when its trigger fires (counted: history_cut) (docs/evidence.md, "History").
  constexpr uint64_t kHistoryLog = uint64_t{64} << 20;
  uint32_t slots = 1024;
  while (slots < flow_capacity && slots < (1u << 30)) slots <<= 1;
  c.flow_slots = slots;
  c.history_bytes = kHistoryLog;
  c.pre_packets = static_cast<uint16_t>(std::min<uint32_t>(ev.history_packets, 1024));
  c.post_packets = static_cast<uint16_t>(ev.post_packets);  // 0 .. 65535 (the configuration's range)
  if (ev.trim.headers) {
    c.trim = {evidence::TrimMode::kHeaders, 256};  // Ethernet + tunnels + IPv6 + TCP with options
  } else {
    c.trim = {evidence::TrimMode::kBytes, std::clamp<uint32_t>(ev.trim.bytes, 1, 65535)};
  }
  // Budgets are configured in bytes; the worker counts packets of at most `snap` bytes.
  const uint64_t per_packet = c.trim.snap + 16;  // record header in the file
  c.budget.flow_slices = 0;
  c.budget.flow_packets = static_cast<uint32_t>(std::min<uint64_t>(ev.per_flow_budget / per_packet, UINT32_MAX));
  if (c.budget.flow_packets == 0) c.budget.flow_packets = 1;
  c.sample.every_n = ev.sampling.one_in_n;
  c.sample.flow_fraction = ev.sampling.flow_hash_fraction;
  c.sample.trim = c.trim;
  evidence::TriggerConfig& t = s.triggers;
  // post_packets per trigger works per kind (the capture knows which kinds fired, not
  // which payload rule or BPF trigger): a kind's M is the largest of its triggers', the
  // evidence-wide M standing in for a trigger of the kind that sets none.
  for (const config::Trigger& tr : ev.triggers) {
    const unsigned bit = static_cast<unsigned>(std::countr_zero(trigger_bit(tr.type)));
    const uint16_t m = static_cast<uint16_t>(tr.post_packets ? *tr.post_packets : ev.post_packets);
    const bool any = std::any_of(ev.triggers.begin(), ev.triggers.end(),
                                 [&](const config::Trigger& o) { return o.type == tr.type && o.post_packets; });
    if (!any) continue;
    c.post_by_trigger[bit] = (c.post_override >> bit & 1u) ? std::max(c.post_by_trigger[bit], m) : m;
    c.post_override |= 1u << bit;
  }
  for (const config::Trigger& tr : ev.triggers) {
    switch (tr.type) {
      case config::TriggerType::kRetransmissionStorm:
        t.retx_storm_count = tr.count;
        t.retx_storm_window_ms = tr.window_ms;
        break;
      case config::TriggerType::kDupAckRun: t.dup_ack_run = static_cast<uint16_t>(tr.min); break;  // 1 .. 65535
      case config::TriggerType::kAckInsideSegment: t.ack_in_segment = true; break;
      case config::TriggerType::kZeroWindow: t.zero_window_ms = tr.min_ms; break;
      case config::TriggerType::kRst: t.rst = true; break;
      case config::TriggerType::kSynUnanswered:
        t.syn_unanswered_at_end = true;
        t.syn_attempts = 3;  // the first SYN and two retries: Linux's 1 s + 2 s back-off
        break;
      case config::TriggerType::kPayload: t.payload_rules.push_back(tr.rule); break;
      case config::TriggerType::kBpf:
        static_assert(config::kMaxBpfTriggers == evidence::kMaxBpfTriggers);
        if (s.trigger_bpf.size() >= evidence::kMaxBpfTriggers)
          return Error{fmt::format("evidence.triggers: at most {} bpf triggers", evidence::kMaxBpfTriggers)};
        t.bpf_mask |= 1u << s.trigger_bpf.size();
        s.trigger_bpf.push_back(tr.expr);
        break;
      case config::TriggerType::kVerdict:
        for (const std::string& n : tr.names) {
          const int bit = tcp::verdict_bit(n);
          if (bit < 0) return Error{fmt::format("evidence.triggers: unknown verdict '{}'", n)};  // the loader refuses it first
          t.verdict_mask |= 1u << bit;
        }
        break;
    }
  }
  return s;
}

evidence::SinkConfig evidence_sink_config(const config::EvidenceConfig& ev, const std::string& dir,
                                          decode::LinkType link, const runtime::EvidenceSetup& setup,
                                          unsigned workers) {
  evidence::SinkConfig sc;
  sc.max_open_slices = std::max<size_t>(size_t{setup.capture.flow_slots} * workers, 1);
  sc.evidence.dir = dir;
  sc.evidence.prefix = "evidence";
  sc.evidence.format = ev.format == config::EvidenceFormat::kPcap ? evidence::FileFormat::kPcap
                                                                   : evidence::FileFormat::kPcapng;
  sc.evidence.link = link;
  sc.evidence.rotate.max_bytes = ev.rotate_bytes;
  sc.evidence.rotate.max_seconds = ev.rotate_seconds;
  sc.sample_enabled = ev.sampling.one_in_n != 0 || ev.sampling.flow_hash_fraction > 0;
  sc.sample = sc.evidence;
  sc.sample.prefix = "sample";
  sc.sample.format = evidence::FileFormat::kPcap;
  return sc;
}

Result<std::unique_ptr<EvidenceOutput>> EvidenceOutput::create(const evidence::SinkConfig& cfg,
                                                                uint64_t global_budget_bytes) {
  auto sink = evidence::EvidenceSink::create(cfg);
  if (!sink) return sink.error();
  std::unique_ptr<EvidenceOutput> o(new EvidenceOutput());
  o->sink_ = std::move(sink.value());
  o->budget_ = global_budget_bytes;
  o->dir_ = cfg.evidence.dir;
  return o;
}

uint32_t EvidenceOutput::drain(evidence::RecordRing& ring) {
  if (budget_ != 0 && sink_->evidence_writer().counters().bytes >= budget_) {
    // The run's evidence budget is spent: packets are consumed and counted, not written;
    // slice ends still reach the sink, so the slices it holds open are completed (their
    // index lines written), and new slices are not opened.
    return ring.drain([this](const evidence::RecordHeader& r, const uint8_t* data) {
      switch (r.kind) {
        case evidence::RecordKind::kPacket:
          ++over_budget_;
          budget_cut_.insert(r.slice);
          break;
        case evidence::RecordKind::kSample: ++over_budget_; break;
        case evidence::RecordKind::kSliceBegin: ++over_budget_slices_; break;
        case evidence::RecordKind::kSliceEnd:  // complete only if none of its packets was refused
          if (budget_cut_.erase(r.slice) != 0) sink_->cut_slice(r.slice);
          else sink_->on_record(r, data);
          break;
      }
    });
  }
  return sink_->drain(ring);
}

nlohmann::json EvidenceOutput::summary(const runtime::Engine& engine) const {
  uint64_t slices = 0, emitted = 0, ring_full = 0, refused = 0, memory = 0, samples = 0, hist_cut = 0, hist_cut_pkts = 0;
  uint64_t cut_budget = 0, slots_taken = 0, merged = 0, no_flow = 0;
  std::array<uint64_t, evidence::kTriggerBits> fired{};
  for (unsigned w = 0; w < engine.workers(); ++w) {
    const auto* cap = engine.evidence(w);
    if (cap == nullptr) continue;
    const auto& c = cap->counters();
    slices += c.slices;
    emitted += c.emitted;
    ring_full += c.ring_full + c.samples_ring_full;
    refused += c.refused_flow_budget + c.refused_global_budget + c.refused_ring;
    samples += c.samples;
    hist_cut += c.history_cut;
    hist_cut_pkts += c.history_cut_packets;
    cut_budget += c.cut_flow_budget + c.cut_global_budget;
    slots_taken += c.slots_taken;
    merged += c.triggers_merged;
    no_flow += c.samples_no_flow;
    for (unsigned b = 0; b < evidence::kTriggerBits; ++b) fired[b] += c.triggers[b];
    memory += cap->memory_bytes();
  }
  nlohmann::json triggers = nlohmann::json::object();  // fired, per kind (before budgets)
  for (unsigned b = 0; b < evidence::kTriggerBits; ++b)
    if (fired[b] != 0) triggers[std::string(evidence::trigger_name(b))] = fired[b];
  const auto& w = sink_->evidence_writer().counters();
  const auto& k = sink_->counters();
  return {{"dir", dir_},           {"slices", slices},
          {"packets", emitted},    {"samples", samples},
          {"triggers_refused", refused},  {"ring_full", ring_full},
          {"files", w.files_completed},  {"files_failed", w.files_failed},
          {"packets_written", w.packets}, {"bytes_written", w.bytes},
          {"packets_lost", w.packets_lost}, {"over_budget", over_budget_}, {"slices_over_budget", over_budget_slices_},
          {"index", sink_->index_path()}, {"index_lines", k.index_lines},
          {"index_lines_lost", k.index_lines_lost}, {"index_errors", k.index_errors},
          {"samples_written", sample_counters().packets}, {"sample_files", sample_counters().files_completed},
          {"sample_files_failed", sample_counters().files_failed},
          {"samples_lost", sample_counters().packets_lost},
          {"memory_bytes", memory},
          {"slices_history_cut", hist_cut}, {"history_packets_cut", hist_cut_pkts},
          {"triggers", triggers},          {"triggers_merged", merged},
          {"slices_cut_by_budget", cut_budget}, {"flow_slots_taken", slots_taken},
          {"samples_without_flow", no_flow},
          // Records of frames of another link type than the pcap files' (an input with
          // interfaces of several link types; pcapng files take them): not written.
          {"packets_other_link", k.link_mismatch},
          // Packets of a slice the sink no longer held (more slices open than it keeps, or
          // a begin record lost): not written.
          {"packets_orphaned", k.orphans}, {"slices_dropped", k.slices_dropped}};
}

const evidence::WriterCounters& EvidenceOutput::sample_counters() const {
  static const evidence::WriterCounters none{};
  return sink_->sample_writer() ? sink_->sample_writer()->counters() : none;
}

bool EvidenceOutput::complete() const {
  const auto& w = sink_->evidence_writer().counters();
  const auto& sc = sample_counters();
  return w.files_failed == 0 && w.packets_lost == 0 && sink_->counters().index_lines_lost == 0 &&
         sink_->counters().index_errors == 0 && sc.files_failed == 0 && sc.packets_lost == 0;
}

std::string EvidenceOutput::describe(const runtime::Engine& engine) const {
  const auto& w = sink_->evidence_writer().counters();
  const auto& k = sink_->counters();
  uint64_t ring_lost = 0, budget_refused = 0;
  for (unsigned i = 0; i < engine.workers(); ++i) {
    const auto* cap = engine.evidence(i);
    if (cap == nullptr) continue;
    const auto& c = cap->counters();
    ring_lost += c.ring_full + c.samples_ring_full + c.refused_ring;
    budget_refused += c.refused_flow_budget + c.refused_global_budget;
  }
  const auto& sc = sample_counters();
  std::string failed;
  if (w.files_failed || w.packets_lost)
    failed += fmt::format(", {} file(s) FAILED ({} packets lost)", w.files_failed, w.packets_lost);
  if (k.index_lines_lost) failed += fmt::format(", {} index line(s) LOST", k.index_lines_lost);
  if (sc.files_failed || sc.packets_lost)
    failed += fmt::format(", {} sample file(s) FAILED ({} samples lost)", sc.files_failed, sc.packets_lost);
  return fmt::format("{} packets in {} file(s) under {} (index {}){}{}{}{}{}{}", w.packets, w.files_completed, dir_,
                     sink_->index_path(), failed,
                     budget_refused ? fmt::format(", {} trigger(s) refused by the slice budgets", budget_refused) : "",
                     ring_lost ? fmt::format(", {} record(s) or trigger(s) LOST: evidence ring full", ring_lost) : "",
                     over_budget_ || over_budget_slices_
                         ? fmt::format(", {} packets and {} slices over evidence.global_budget_bytes NOT written",
                                       over_budget_, over_budget_slices_)
                         : "",
                     k.link_mismatch ? fmt::format(", {} records of another link type than the files' NOT written",
                                                   k.link_mismatch)
                                     : "",
                     k.orphans ? fmt::format(", {} packets NOT written: their slice was no longer open in the sink "
                                             "({} slices dropped)",
                                             k.orphans, k.slices_dropped)
                               : "");
}

}  // namespace seqwatch::app
