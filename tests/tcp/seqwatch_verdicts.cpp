#include "seqwatch_verdicts.hpp"

#include <array>

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

}  // namespace seqwatch::tcpdiff
