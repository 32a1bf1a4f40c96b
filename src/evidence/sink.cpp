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
#include "util/units.hpp"

namespace seqwatch::evidence {

namespace {

void append_decimal(std::string& out, uint64_t v);

// The address as inet_ntop writes it; IPv4 by hand (inet_ntop's sprintf is most of an index
// line's cost).
void append_addr(std::string& out, const std::array<uint8_t, 16>& a, uint8_t family) {
  if (family != 6) {
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      append_decimal(out, a[i]);
    }
    return;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  out += buf;
}

// "2024-01-01T00:00:00.000066018Z". The date and time of day change once a second at most
// between the index lines of a file: gmtime_r and strftime run again only then.
void append_iso_time(std::string& out, uint64_t ts_ns) {
  thread_local uint64_t cached_sec = UINT64_MAX;
  thread_local char cached[24];
  const uint64_t sec = ts_ns / kNsPerSec;
  if (sec != cached_sec) {
    const time_t t = static_cast<time_t>(sec);
    struct tm tm {};
    gmtime_r(&t, &tm);
    if (std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) == 0) cached[0] = 0;
    cached_sec = sec;
  }
  out += cached;
  out += '.';
  char ns[10];
  uint64_t v = ts_ns % kNsPerSec;
  for (int i = 8; i >= 0; --i, v /= 10) ns[i] = static_cast<char>('0' + v % 10);
  ns[9] = 'Z';
  out.append(ns, 10);
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

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kPre: return "pre";
    case Role::kTrigger: return "trigger";
    case Role::kPost: return "post";
    default: return "none";
  }
}

// "; slice=W-N ": the part of the tail a slice's packets share.
void append_slice_part(std::string& c, uint64_t slice) {
  using namespace std::string_view_literals;
  c += "; slice="sv;
  append_slice_name(c, slice);
  c += ' ';
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
  append_slice_part(c, slice);
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

void EvidenceSink::cut_slice(uint64_t slice) {
  auto it = slices_.find(slice);
  if (it == slices_.end()) return;
  if (it->first == last_slice_id_) last_slice_ = nullptr;
  slices_.erase(it);
}

void EvidenceSink::on_record(const RecordHeader& r, const uint8_t* data) {
  ++counters_.records;
  switch (r.kind) {
    case RecordKind::kSliceBegin: {
      ++counters_.slices;
      if (slices_.size() >= cfg_.max_open_slices) {  // oldest id: its end was lost
        if (slices_.begin()->first == last_slice_id_) last_slice_ = nullptr;
        slices_.erase(slices_.begin());
        ++counters_.slices_dropped;
      }
      Slice s;
      std::memcpy(&s.key, data, sizeof s.key);
      s.trigger_frame = r.frame;
      s.trigger_ts = r.ts_ns;
      s.triggers = r.triggers;
      s.flow_id = r.flow_id;
      s.worker = r.worker;
      if (comments_) {
        std::string tail;
        append_slice_part(tail, r.slice);
        s.tail_len = static_cast<uint8_t>(std::min(tail.size(), sizeof s.tail));
        std::memcpy(s.tail, tail.data(), s.tail_len);
      }
      slices_[r.slice] = s;
      return;
    }
    case RecordKind::kSliceEnd: {
      auto it = slices_.find(r.slice);
      if (it == slices_.end()) return;
      auto p = pending_.find(it->second.file_seq);
      if (p != pending_.end() && it->second.entry < p->second.entries.size())
        p->second.entries[it->second.entry].complete = !it->second.left_out;
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
  if (!link_fits(*evidence_, r.link, link)) {
    // Counted (link_mismatch); its slice is then not complete in the index.
    if (auto it = slices_.find(r.slice); it != slices_.end()) it->second.left_out = true;
    return;
  }
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
  if (comments_) {  // pcap files have no comments
    // The comment repeats from packet to packet (mostly "no verdict", the slice's trigger,
    // its slice and role): built again only when one of them changes, its verdict and
    // trigger names only when those change.
    const uint32_t triggers = r.triggers ? r.triggers : s.triggers;
    const bool head_same = head_valid_ && head_verdicts_ == r.verdicts && head_triggers_ == triggers;
    if (!head_same) {
      comment_head_.clear();
      append_comment_head(comment_head_, r.verdicts, triggers);
      head_verdicts_ = r.verdicts;
      head_triggers_ = triggers;
      head_valid_ = true;
    }
    if (!head_same || comment_slice_ != r.slice || comment_role_ != r.role || comment_.empty()) {
      comment_ = comment_head_;  // + append_comment_tail(comment_, r.slice, r.role), its slice part kept in the slice
      comment_.append(s.tail, s.tail_len);
      comment_ += role_name(r.role);
      comment_slice_ = r.slice;
      comment_role_ = r.role;
    }
  }
  PacketOut o{r.ts_ns, data, r.caplen, r.wirelen, comment_, link};
  FilePos pos;
  if (!evidence_->write(o, &pos)) return;
  ++counters_.packets;
  if (file_entries_ == nullptr || file_entries_seq_ != pos.file_seq) {
    auto [it, fresh] = pending_.try_emplace(pos.file_seq);
    if (fresh && !spare_.empty()) {
      it->second = std::move(spare_.back());
      spare_.pop_back();
    }
    file_entries_ = &it->second;
    file_entries_seq_ = pos.file_seq;
  }
  std::vector<Entry>& entries = file_entries_->entries;
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
  const uint32_t event = r.verdicts != 0 || r.triggers != 0;
  ++e.packets;
  e.events += event;
  file_entries_->frames.push_back(FrameRef{r.frame, static_cast<uint32_t>(s.entry), event});
}

void EvidenceSink::append_index_line(std::string& out, const Entry& e, const std::string& file_json,
                                     const uint64_t* frames, const uint64_t* event_frames) {
  // Written by hand, byte for byte what nlohmann::json's dump() made of the same object until
  // 2026-12-02 (keys in std::map order, no spaces): a file's worth of lines through
  // nlohmann::json cost more than writing the file's packets. `file_json` is the file name
  // as a JSON string (escaped once per file); every other string here is plain ASCII.
  using namespace std::string_view_literals;
  const Slice& m = e.meta;
  // Each helper writes its key (with the separator before it) and the value.
  auto num = [&out](std::string_view key, uint64_t v) {
    out += key;
    append_decimal(out, v);
  };
  auto flag = [&out](std::string_view key, bool v) {
    out += key;
    out += v ? "true"sv : "false"sv;
  };
  auto list = [&out](std::string_view key, const uint64_t* v, size_t n) {
    out += key;
    out += '[';
    for (size_t i = 0; i < n; ++i) {
      if (i) out += ',';
      append_decimal(out, v[i]);
    }
    out += ']';
  };
  auto time = [&out](std::string_view key, uint64_t ts_ns) {
    out += key;
    out += '"';
    append_iso_time(out, ts_ns);
    out += '"';
  };
  auto addr = [&out, &m](std::string_view key, const std::array<uint8_t, 16>& a) {
    out += key;
    out += '"';
    append_addr(out, a, m.key.family);
    out += '"';
  };
  flag("{\"complete\":"sv, e.complete);
  flag(",\"continued\":"sv, e.continued);
  list(",\"event_frames\":"sv, event_frames, e.events);
  out += ",\"file\":"sv;
  out += file_json;
  const uint64_t file_frames[2] = {e.file_first, e.file_last};
  list(",\"file_frames\":"sv, file_frames, 2);
  time(",\"first_time\":"sv, e.first_ts);
  num(",\"first_ts_ns\":"sv, e.first_ts);
  addr(",\"flow\":{\"a\":"sv, m.key.addr_a);
  num(",\"a_port\":"sv, m.key.port_a);
  addr(",\"b\":"sv, m.key.addr_b);
  num(",\"b_port\":"sv, m.key.port_b);
  num(",\"context\":"sv, m.key.context);
  num(",\"family\":"sv, m.key.family);
  num(",\"proto\":"sv, m.key.proto);
  num("},\"flow_id\":"sv, m.flow_id);
  list(",\"frames\":"sv, frames, e.packets);
  time(",\"last_time\":"sv, e.last_ts);
  num(",\"last_ts_ns\":"sv, e.last_ts);
  num(",\"offset\":"sv, e.offset);
  num(",\"packets\":"sv, e.packets);
  out += ",\"slice\":\""sv;
  append_slice_name(out, e.slice);
  out += "\",\"trigger\":["sv;
  bool any = false;
  for (unsigned b = 0; b < kTriggerBits; ++b) {
    if (!(m.triggers >> b & 1u)) continue;
    out += any ? ",\""sv : "\""sv;
    out += trigger_name(b);
    out += '"';
    any = true;
  }
  out += ']';
  // A slice triggered by a flow's end (syn_unanswered) has no trigger packet: null.
  if (m.trigger_frame != 0) num(",\"trigger_frame\":"sv, m.trigger_frame);
  else out += ",\"trigger_frame\":null"sv;
  num(",\"trigger_ts_ns\":"sv, m.trigger_ts);
  num(",\"worker\":"sv, m.worker);
  out += "}\n"sv;
}

void EvidenceSink::write_index_lines(const FileEntries& f, const std::string& file) {
  const std::vector<Entry>& entries = f.entries;
  if (entries.empty()) return;
  // The file's frames grouped by entry, in order (a counting sort on the entry): entry k's
  // frames, then its event frames, from first[k].
  std::vector<size_t> first(entries.size() + 1, 0);
  for (size_t k = 0; k < entries.size(); ++k) first[k + 1] = first[k] + entries[k].packets + entries[k].events;
  by_entry_.resize(first.back());
  std::vector<size_t> next_frame(first.begin(), first.end() - 1), next_event(entries.size());
  for (size_t k = 0; k < entries.size(); ++k) next_event[k] = first[k] + entries[k].packets;
  for (const FrameRef& r : f.frames) {
    by_entry_[next_frame[r.entry]++] = r.frame;
    if (r.event) by_entry_[next_event[r.entry]++] = r.frame;
  }
  const std::string file_json = nlohmann::json(file).dump();
  std::string lines;
  for (size_t k = 0; k < entries.size(); ++k) {
    const uint64_t* frames = by_entry_.data() + first[k];
    append_index_line(lines, entries[k], file_json, frames, frames + entries[k].packets);
  }
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
  index_reopened_ = false;
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
  FileEntries& f = it->second;
  if (d.ok) {
    write_index_lines(f, d.name);
  } else {
    counters_.index_lines_lost += f.entries.size();
  }
  f.entries.clear();
  f.frames.clear();
  if (spare_.size() < 2) spare_.push_back(std::move(f));
  pending_.erase(it);
}

void EvidenceSink::tick(uint64_t now_ns) {
  evidence_->tick(now_ns);
  if (sample_) sample_->tick(now_ns);
}

void EvidenceSink::reopen_index() {
  if (index_ != nullptr) {
    std::fclose(index_);  // every line was flushed when written
    index_ = nullptr;
  }
  index_reopened_ = true;
}

void EvidenceSink::close() {
  if (evidence_) evidence_->close();
  if (sample_) sample_->close();
  if (index_ == nullptr && ((counters_.index_lines == 0 && counters_.index_errors == 0) || index_reopened_)) {
    // No slice was written (since the last SIGHUP): the index the summary names still exists,
    // empty (a run or an extract that found nothing says so to a script reading it).
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
