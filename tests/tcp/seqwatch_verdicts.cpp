#include "seqwatch_verdicts.hpp"

#include <pcap/pcap.h>
#include <zlib.h>

#include <cstdio>

#include <array>
#include <unordered_set>

#include "decode/decoder.hpp"
#include "support/capture_reader.hpp"
#include "tcp/tcp_stage.hpp"

namespace seqwatch::tcpdiff {

SeqwatchRun run_seqwatch(const std::string& capture_path, bool key_vlans, uint32_t copy_window_us) {
  SeqwatchRun run;
  const test::CaptureReader src = test::open_capture(capture_path);
  if (src.source() == nullptr) {
    run.error = src.error;
    return run;
  }
  PacketSource& s = *src.source();

  // Flow-table capacity well above the corpus's largest file (1,994 flows in synscan);
  // the event ring holds far more than one burst's events and is drained after each burst.
  tcp::TcpStageConfig cfg;
  cfg.table.capacity = 1u << 16;
  cfg.event_ring = 1u << 16;
  cfg.key_vlans = key_vlans;
  cfg.copy_window_us = copy_window_us;
  auto stage = tcp::TcpStage::create(cfg);
  if (!stage) {
    run.error = "TcpStage::create: " + stage.error().message;
    return run;
  }
  tcp::TcpStage& tcp = *stage.value();

  auto drain = [&] {
    tcp.events().drain([&](const event::SegmentEvent& e) {
      if (e.frame == 0 || e.frame > run.frames.size()) {
        if (run.error.empty()) run.error = "event for frame " + std::to_string(e.frame) + " which was not read";
        return;
      }
      SeqwatchFrame& f = run.frames[e.frame - 1];
      f.bits |= e.verdict.bits;
      if (e.verdict.bits & tcp::kDuplicateAck) {
        f.dupack_num = e.verdict.dupack_num;
        f.dupack_frame = e.verdict.dupack_frame;
      }
      if (f.events != UINT8_MAX) ++f.events;
    });
    tcp.records().drain([](const event::FlowRecord&) {});
  };

  std::unordered_set<uint64_t> headers;  // repeated_headers
  std::array<PacketRef, kBurstSize> pkts{};
  std::array<decode::FrameRef, kBurstSize> frames{};
  std::array<decode::PacketView, kBurstSize> views{};
  decode::DecodeCounters decode_counters;
  for (;;) {
    const uint16_t n = s.rx_burst(pkts.data(), kBurstSize);
    if (n == 0) break;
    for (uint16_t i = 0; i < n; ++i) frames[i] = decode::FrameRef{pkts[i].data, pkts[i].caplen};
    decode::decode_burst(frames.data(), n, s.link_type(), views.data(), decode_counters);
    // Frame numbers come from the source (1-based, as tshark's): size by the last one.
    if (pkts[n - 1].frame > run.frames.size()) run.frames.resize(pkts[n - 1].frame);
    for (uint16_t i = 0; i < n; ++i) {
      if (pkts[i].frame == 0 || pkts[i].frame > run.frames.size()) continue;
      SeqwatchFrame& f = run.frames[pkts[i].frame - 1];
      f.decode_status = static_cast<uint8_t>(views[i].status);
      f.tcp = views[i].is_tcp() && views[i].status == decode::DecodeStatus::kOk;
      run.sack_segments += f.tcp && (views[i].tcp.opts & decode::kOptSack) && views[i].tcp.sack_count != 0;
      if (f.tcp) {
        const decode::TcpInfo& t = views[i].tcp;
        uint64_t h = 0x9E3779B97F4A7C15ull;
        for (const uint64_t v : {uint64_t{t.sport} << 16 | t.dport, uint64_t{t.seq} << 32 | t.ack,
                                 uint64_t{t.flags} << 48 | uint64_t{t.window} << 32 | t.payload_len, uint64_t{t.checksum}})
          h = (h ^ v) * 0xFF51AFD7ED558CCDull, h ^= h >> 29;
        run.repeated_headers += !headers.insert(h).second;
      }
    }
    tcp.process_burst(views.data(), pkts.data(), n);
    drain();
  }
  while (!tcp.flush()) drain();
  drain();
  run.read_error = src.read_error();

  const tcp::TcpStageCounters& c = tcp.counters();
  run.tcp_segments = c.segments;
  run.tcp_skipped = c.skipped;
  run.events = c.events;
  run.events_dropped = c.events_dropped;
  run.restarts = c.restarts;
  const flow::FlowTableCounters& t = tcp.table().counters();
  run.flows_evicted = t.evicted;
  run.flows_expired_idle = t.expired_idle;
  run.flows_expired_closed = t.expired_closed;
  return run;
}

std::string cut_copy(const std::string& in_path, const std::string& out, uint32_t snap, bool keep_tcp_header) {
  // libpcap reads no gzip: a compressed capture (seqwatch reads those) is inflated first.
  std::string in = in_path;
  struct Remove {
    std::string path;
    ~Remove() { if (!path.empty()) std::remove(path.c_str()); }
  } inflated;
  if (std::FILE* f = std::fopen(in_path.c_str(), "rb")) {
    unsigned char magic[2] = {};
    const bool gz = std::fread(magic, 1, 2, f) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    std::fclose(f);
    if (gz) {
      inflated.path = in = out + ".inflated";
      gzFile z = gzopen(in_path.c_str(), "rb");
      std::FILE* o = std::fopen(in.c_str(), "wb");
      if (z == nullptr || o == nullptr) {
        if (z != nullptr) gzclose(z);
        if (o != nullptr) std::fclose(o);
        return "inflate " + in_path + ": cannot open";
      }
      std::array<char, 1 << 16> buf{};
      int n = 0;
      while ((n = gzread(z, buf.data(), static_cast<unsigned>(buf.size()))) > 0) std::fwrite(buf.data(), 1, static_cast<size_t>(n), o);
      gzclose(z);
      std::fclose(o);
    }
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(in.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) return std::string("open ") + in + ": " + err;
  pcap_dumper_t* d = pcap_dump_open(p, out.c_str());
  if (d == nullptr) {
    std::string e = std::string("create ") + out + ": " + pcap_geterr(p);
    pcap_close(p);
    return e;
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  int rc = 0;
  const int dlt = pcap_datalink(p);
  decode::LinkType link{};
  if (!decode::link_type_from_pcap(static_cast<uint32_t>(dlt), link)) {
    pcap_dump_close(d);
    pcap_close(p);
    return "link type " + std::to_string(dlt) + " of " + in + " not decoded";
  }
  decode::PacketView v;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    pcap_pkthdr cut = *h;
    const bool tcp = decode::decode(data, h->caplen, link, v) == decode::DecodeStatus::kOk && v.is_tcp();
    const bool syn = tcp && (v.tcp.flags & decode::kTcpSyn);
    const uint32_t at = keep_tcp_header && tcp ? std::max(snap, v.l4_off + 20) : snap;
    if (!syn) cut.caplen = std::min(h->caplen, at);
    pcap_dump(reinterpret_cast<u_char*>(d), &cut, data);
  }
  // A damaged end (libpcap: "truncated dump file") ends the copy there, as it ends the
  // readers' pass over the original.
  std::string e = rc == PCAP_ERROR && std::string(pcap_geterr(p)).find("truncated") == std::string::npos
                      ? std::string("read ") + in + ": " + pcap_geterr(p)
                      : "";
  pcap_dump_close(d);
  pcap_close(p);
  return e;
}

}  // namespace seqwatch::tcpdiff
