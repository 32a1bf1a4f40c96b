#include "evidence/sink.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "evidence/trigger.hpp"
#include "tcp/verdict.hpp"

namespace seqwatch::evidence {

namespace {
constexpr uint64_t kNsPerSec = 1000000000ull;

std::string addr_text(const std::array<uint8_t, 16>& a, uint8_t family) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, a.data(), buf, sizeof buf);
  return buf;
}

std::string iso_time(uint64_t ts_ns) {
  const time_t t = static_cast<time_t>(ts_ns / kNsPerSec);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09}Z", buf, ts_ns % kNsPerSec);
}

void append_decimal(std::string& out, uint64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
}

// "W-N": the worker (top byte of the id) and its slice number.
void append_slice_name(std::string& out, uint64_t id) {
  append_decimal(out, id >> 56);
  out += '-';
  append_decimal(out, id & ((1ull << 56) - 1));
}

std::string slice_name(uint64_t id) {
  std::string s;
  append_slice_name(s, id);
  return s;
}

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kPre: return "pre";
    case Role::kTrigger: return "trigger";
    case Role::kPost: return "post";
    default: return "none";
  }
}
}  // namespace

void EvidenceSink::append_comment_head(std::string& c, uint32_t verdicts, uint32_t triggers) {
  using namespace std::string_view_literals;
  c += "seqwatch: "sv;
  bool any = false;
  for (unsigned b = 0; b < tcp::kVerdictBits; ++b) {
    if (!(verdicts >> b & 1u)) continue;
    if (any) c += ',';
    c += tcp::verdict_name(b);
    any = true;
  }
  if (!any) c += "no verdict"sv;
  c += "; trigger="sv;
  append_trigger_names(c, triggers);
}

void EvidenceSink::append_comment_tail(std::string& c, uint64_t slice, Role role) {
  using namespace std::string_view_literals;
  c += "; slice="sv;
  append_slice_name(c, slice);
  c += ' ';
  c += role_name(role);
}

void EvidenceSink::append_comment(std::string& c, const RecordHeader& r, uint32_t slice_triggers) {
  append_comment_head(c, r.verdicts, r.triggers ? r.triggers : slice_triggers);
  append_comment_tail(c, r.slice, r.role);
}

std::string EvidenceSink::comment_for(const RecordHeader& r, uint32_t slice_triggers) {
  std::string c;
  append_comment(c, r, slice_triggers);
  return c;
}

EvidenceSink::EvidenceSink(const SinkConfig& cfg) : cfg_(cfg) {
  on_error_ = [](const std::string& m) { fmt::print(stderr, "seqwatch: {}\n", m); };
}

EvidenceSink::~EvidenceSink() { close(); }

void EvidenceSink::report(const std::string& msg) {
  if (on_error_) on_error_(msg);
}

void EvidenceSink::set_error_handler(std::function<void(const std::string&)> f) {
  on_error_ = std::move(f);
  evidence_->on_error = [this](const std::string& m) { report(m); };
  if (sample_) sample_->on_error = [this](const std::string& m) { report(m); };
}

std::string EvidenceSink::index_path() const { return (std::filesystem::path(cfg_.evidence.dir) / cfg_.index_name).string(); }

Result<std::unique_ptr<EvidenceSink>> EvidenceSink::create(const SinkConfig& cfg) {
  std::unique_ptr<EvidenceSink> s(new EvidenceSink(cfg));
  auto ev = RotatingWriter::create(cfg.evidence);
  if (!ev) return ev.error();
  s->evidence_ = std::move(ev.value());
  s->comments_ = s->evidence_->config().format == FileFormat::kPcapng;
  if (cfg.sample_enabled) {
    WriterConfig sc = cfg.sample;
    if (sc.dir.empty()) sc.dir = cfg.evidence.dir;
    if (sc.prefix == cfg.evidence.prefix && sc.dir == cfg.evidence.dir) sc.prefix = "sample";
    auto sw = RotatingWriter::create(sc);
    if (!sw) return sw.error();
    s->sample_ = std::move(sw.value());
  }
  EvidenceSink* self = s.get();
  s->evidence_->on_file_done = [self](const RotatingWriter::FileDone& d) { self->file_done(d); };
  s->set_error_handler(s->on_error_);
  return s;
}

uint32_t EvidenceSink::drain(RecordRing& ring, uint32_t max) {
  return ring.drain([this](const RecordHeader& r, const uint8_t* data) { on_record(r, data); }, max);
}

void EvidenceSink::on_record(const RecordHeader& r, const uint8_t* data) {
  ++counters_.records;
  switch (r.kind) {
    case RecordKind::kSliceBegin: {
      ++counters_.slices;
      if (slices_.size() >= cfg_.max_open_slices) {  // oldest id: its end was lost
        if (slices_.begin()->first == last_slice_id_) last_slice_ = nullptr;
        slices_.erase(slices_.begin());
      }
      Slice s;
      std::memcpy(&s.key, data, sizeof s.key);
      s.trigger_frame = r.frame;
      s.trigger_ts = r.ts_ns;
      s.triggers = r.triggers;
      s.flow_id = r.flow_id;
      s.worker = r.worker;
      slices_[r.slice] = s;
      return;
    }
    case RecordKind::kSliceEnd: {
      auto it = slices_.find(r.slice);
      if (it == slices_.end()) return;
      auto p = pending_.find(it->second.file_seq);
      if (p != pending_.end() && it->second.entry < p->second.size()) p->second[it->second.entry].complete = true;
      if (it->first == last_slice_id_) last_slice_ = nullptr;
      slices_.erase(it);
      return;
    }
    case RecordKind::kSample: {
      if (!sample_) return;
      uint32_t link = PacketOut::kWriterLink;
      if (!link_fits(*sample_, r.link, link)) return;
      PacketOut o{r.ts_ns, data, r.caplen, r.wirelen, {}, link};
      if (sample_->write(o)) ++counters_.samples;
      return;
    }
    case RecordKind::kPacket:
      break;
  }
  uint32_t link = PacketOut::kWriterLink;
  if (!link_fits(*evidence_, r.link, link)) return;
  // A slice's packets come one after another: the slice and the file's index entries of
  // the previous packet are looked up again only when they change (std::map nodes stay
  // where they are until erased; the erasing paths forget the cached pointers).
  if (last_slice_ == nullptr || last_slice_id_ != r.slice) {
    auto it = slices_.find(r.slice);
    if (it == slices_.end()) {
      ++counters_.orphans;
      return;
    }
    last_slice_ = &it->second;
    last_slice_id_ = r.slice;
  }
  Slice& s = *last_slice_;
  comment_.clear();
  if (comments_) {  // pcap files have no comments
    // The verdict and trigger names repeat from packet to packet (mostly "no verdict" and
    // the slice's trigger): built again only when they change.
    const uint32_t triggers = r.triggers ? r.triggers : s.triggers;
    if (!head_valid_ || head_verdicts_ != r.verdicts || head_triggers_ != triggers) {
      comment_head_.clear();
      append_comment_head(comment_head_, r.verdicts, triggers);
      head_verdicts_ = r.verdicts;
      head_triggers_ = triggers;
      head_valid_ = true;
    }
    comment_ = comment_head_;
    append_comment_tail(comment_, r.slice, r.role);
  }
  PacketOut o{r.ts_ns, data, r.caplen, r.wirelen, comment_, link};
  FilePos pos;
  if (!evidence_->write(o, &pos)) return;
  ++counters_.packets;
  if (file_entries_ == nullptr || file_entries_seq_ != pos.file_seq) {
    file_entries_ = &pending_[pos.file_seq];
    file_entries_seq_ = pos.file_seq;
  }
  std::vector<Entry>& entries = *file_entries_;
  if (s.file_seq != pos.file_seq || s.entry >= entries.size()) {
    Entry e;
    e.meta = s;
    e.slice = r.slice;
    e.file_seq = pos.file_seq;
    e.offset = pos.offset;
    e.first_ts = r.ts_ns;
    e.file_first = pos.frame;
    e.continued = s.file_seq != 0;
    s.file_seq = pos.file_seq;
    s.entry = entries.size();
    entries.push_back(std::move(e));
  }
  Entry& e = entries[s.entry];
  e.last_ts = r.ts_ns;
  e.file_last = pos.frame;
  e.frames.push_back(r.frame);
  if (r.verdicts != 0 || r.triggers != 0) e.event_frames.push_back(r.frame);
}

void EvidenceSink::append_index_line(std::string& out, const Entry& e, const std::string& file) {
  const Slice& m = e.meta;
  nlohmann::json j;
  j["file"] = file;
  j["offset"] = e.offset;
  j["slice"] = slice_name(e.slice);
  j["worker"] = m.worker;
  j["flow_id"] = m.flow_id;
  j["flow"] = {{"family", m.key.family}, {"proto", m.key.proto},
               {"a", addr_text(m.key.addr_a, m.key.family)}, {"a_port", m.key.port_a},
               {"b", addr_text(m.key.addr_b, m.key.family)}, {"b_port", m.key.port_b},
               {"context", m.key.context}};
  nlohmann::json trig = nlohmann::json::array();
  for (unsigned b = 0; b < kTriggerBits; ++b)
    if (m.triggers >> b & 1u) trig.push_back(std::string(trigger_name(b)));
  j["trigger"] = trig;
  j["trigger_frame"] = m.trigger_frame;
  j["trigger_ts_ns"] = m.trigger_ts;
  j["packets"] = e.frames.size();
  j["frames"] = e.frames;
  j["event_frames"] = e.event_frames;
  j["file_frames"] = {e.file_first, e.file_last};
  j["first_ts_ns"] = e.first_ts;
  j["last_ts_ns"] = e.last_ts;
  j["first_time"] = iso_time(e.first_ts);
  j["last_time"] = iso_time(e.last_ts);
  j["continued"] = e.continued;
  j["complete"] = e.complete;
  out += j.dump();
  out += '\n';
}

void EvidenceSink::write_index_lines(const std::vector<Entry>& entries, const std::string& file) {
  if (entries.empty()) return;
  std::string lines;
  for (const Entry& e : entries) append_index_line(lines, e, file);
  const uint64_t n = entries.size();
  if (index_ == nullptr) {
    index_ = std::fopen(index_path().c_str(), "a");
    if (index_ == nullptr) {
      ++counters_.index_errors;
      counters_.index_lines_lost += n;
      if (!index_reported_) report(fmt::format("evidence index {}: cannot open: {}; index lines are counted as lost",
                                                index_path(), std::strerror(errno)));
      index_reported_ = true;
      return;
    }
    index_reported_ = false;
  }
  const long good = std::ftell(index_);
  // The file's lines in one write, flushed whole; lines the disk could not take are cut off
  // again (ftruncate) and counted as lost, so the index holds only complete lines.
  if (std::fwrite(lines.data(), 1, lines.size(), index_) != lines.size() || std::fflush(index_) != 0) {
    const int err = errno;
    ++counters_.index_errors;
    counters_.index_lines_lost += n;
    if (!index_reported_) report(fmt::format("evidence index {}: write failed: {}; index lines are counted as lost",
                                             index_path(), std::strerror(err)));
    index_reported_ = true;
    std::fclose(index_);  // drops what stdio still holds
    index_ = nullptr;
    if (good >= 0) ::truncate(index_path().c_str(), good);
    return;
  }
  counters_.index_lines += n;
}

bool EvidenceSink::link_fits(const RotatingWriter& w, uint16_t record_link, uint32_t& link) {
  if (record_link == static_cast<uint16_t>(w.config().link)) return true;
  if (w.config().format == FileFormat::kPcapng) {  // a pcapng file takes another interface
    link = record_link;
    return true;
  }
  ++counters_.link_mismatch;  // a pcap file has one link type
  return false;
}

void EvidenceSink::file_done(const RotatingWriter::FileDone& d) {
  auto it = pending_.find(d.file_seq);
  if (it == pending_.end()) return;
  if (d.file_seq == file_entries_seq_) file_entries_ = nullptr;
  if (d.ok) {
    write_index_lines(it->second, d.name);
  } else {
    counters_.index_lines_lost += it->second.size();
  }
  pending_.erase(it);
}

void EvidenceSink::tick(uint64_t now_ns) {
  evidence_->tick(now_ns);
  if (sample_) sample_->tick(now_ns);
}

void EvidenceSink::close() {
  if (evidence_) evidence_->close();
  if (sample_) sample_->close();
  if (index_ == nullptr && counters_.index_lines == 0 && counters_.index_errors == 0) {
    // No slice was written: the index the summary names still exists, empty (a run or an
    // extract that found nothing says so to a script reading it).
    std::error_code ec;
    std::filesystem::create_directories(cfg_.evidence.dir, ec);
    index_ = std::fopen(index_path().c_str(), "a");
    if (index_ == nullptr) ++counters_.index_errors;
  }
  if (index_) {
    std::fclose(index_);
    index_ = nullptr;
  }
}

}  // namespace seqwatch::evidence
