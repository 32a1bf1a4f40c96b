#include "seqwatch_verdicts.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
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
  cfg.table.grow = true;  // as `seqwatch analyze` runs it
  // Flows never expire here, as tshark's conversations never do: a SYN reusing the ports of
  // a connection closed more than closed_linger before, or a keep-alive after an hour's
  // silence, is compared against tshark's reading of the same conversation. What seqwatch
  // does differently after an expiry (docs/tcp-analysis.md, "Flows expire") is its own
  // behaviour, tested with the flow table (tests/flow/flow_table_test.cpp), not an analysis
  // difference.
  cfg.table.idle_timeout_ns = UINT64_MAX;
  cfg.table.closed_linger_ns = UINT64_MAX;
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
  // Frames after the last packet that were no packets (pcapng custom blocks): still frames.
  if (src.frames_read() > run.frames.size()) run.frames.resize(src.frames_read());

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

std::string cut_copy(const std::string& in, const std::string& out, uint32_t snap, bool keep_tcp_header) {
  // Read as the comparison reads the original (test::open_capture: the mmap reader, else
  // libpcap), and written as pcapng, so that whatever the reader takes whole is copied whole:
  // interfaces of several link types (one interface per link type here), sections in either
  // byte order, gzip. Frame numbers the reader skipped (pcapng custom blocks, which tshark
  // numbers) are kept with a custom block each, so every frame keeps its number.
  const test::CaptureReader src = test::open_capture(in);
  if (src.source() == nullptr) return "open " + in + ": " + src.error;
  PacketSource& s = *src.source();
  std::FILE* f = std::fopen(out.c_str(), "wb");
  if (f == nullptr) return "create " + out + ": " + std::strerror(errno);
  std::vector<uint8_t> blk;
  auto u16 = [&](uint32_t v) { blk.push_back(uint8_t(v)), blk.push_back(uint8_t(v >> 8)); };
  auto u32 = [&](uint32_t v) { u16(v & 0xFFFF), u16(v >> 16); };
  auto emit = [&](uint32_t type, const std::vector<uint8_t>& body) {
    const uint32_t len = static_cast<uint32_t>(12 + ((body.size() + 3) & ~size_t{3}));
    blk.clear();
    u32(type), u32(len);
    blk.insert(blk.end(), body.begin(), body.end());
    while (blk.size() % 4) blk.push_back(0);
    u32(len);
    std::fwrite(blk.data(), 1, blk.size(), f);
  };
  auto body = [&](std::initializer_list<uint32_t> words) {
    std::vector<uint8_t> b;
    for (uint32_t w : words)
      for (int k = 0; k < 4; ++k) b.push_back(uint8_t(w >> (8 * k)));
    return b;
  };
  emit(0x0A0D0D0A, body({0x1A2B3C4D, 1, 0xFFFFFFFF, 0xFFFFFFFF}));  // SHB 1.0, section length unknown
  std::vector<std::pair<decode::LinkType, uint32_t>> ifaces;  // link type -> interface id
  uint64_t written = 0;                                       // frame numbers written so far
  auto skip_to = [&](uint64_t frame) {  // frames before `frame` the reader did not deliver
    for (; written + 1 < frame; ++written) emit(0x00000BAD, body({32473}));
  };
  std::array<PacketRef, kBurstSize> pkts{};
  decode::PacketView v;
  for (;;) {
    const uint16_t n = s.rx_burst(pkts.data(), kBurstSize);
    if (n == 0) break;
    const decode::LinkType link = s.link_type();
    uint32_t iface = 0;
    auto it = std::find_if(ifaces.begin(), ifaces.end(), [&](const auto& e) { return e.first == link; });
    if (it == ifaces.end()) {
      iface = static_cast<uint32_t>(ifaces.size());
      ifaces.emplace_back(link, iface);
      // IDB: link type, snaplen 0 (none), if_tsresol 9 (nanoseconds), end of options.
      // Words, little-endian: link type | reserved, snaplen, option 9 of length 1, its value
      // 9 and 3 bytes of padding, opt_endofopt.
      emit(1, body({static_cast<uint32_t>(link), 0, 0x00010009u, 9, 0}));
    } else {
      iface = it->second;
    }
    for (uint16_t i = 0; i < n; ++i) {
      const PacketRef& p = pkts[i];
      skip_to(p.frame);
      const bool tcp = decode::decode(p.data, p.caplen, link, v) == decode::DecodeStatus::kOk && v.is_tcp();
      const bool syn = tcp && (v.tcp.flags & decode::kTcpSyn);
      const uint32_t at = keep_tcp_header && tcp ? std::max(snap, v.l4_off + 20) : snap;
      const uint32_t caplen = syn ? p.caplen : std::min(p.caplen, at);
      std::vector<uint8_t> b = body({iface, static_cast<uint32_t>(p.ts_ns >> 32), static_cast<uint32_t>(p.ts_ns), caplen,
                                     p.wirelen != 0 ? p.wirelen : p.caplen});
      b.insert(b.end(), p.data, p.data + caplen);
      while (b.size() % 4) b.push_back(0);
      emit(6, b);
      ++written;
    }
  }
  skip_to(src.frames_read() + 1);
  // A damaged end ends the copy there, as it ends the readers' pass over the original.
  const bool ok = std::fflush(f) == 0 && !std::ferror(f);
  std::fclose(f);
  return ok ? "" : "write " + out + " failed";
}

}  // namespace seqwatch::tcpdiff
