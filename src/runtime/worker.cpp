#include "runtime/worker.hpp"

namespace seqwatch::runtime {

Worker::Worker(PacketSource& source, const PayloadMatcher* matcher, tcp::TcpStage* tcp)
    : source_(source), matcher_(matcher), tcp_(tcp), link_(source.link_type()) {
  if (matcher_ != nullptr) {
    auto s = matcher_->make_scratch();
    if (s) scratch_ = std::move(s.value());
    else matcher_ = nullptr;  // reported by the caller, which checks scratch() after construction
  }
}

void Worker::run(const std::atomic<bool>& stop) noexcept {
  while (!stop.load(std::memory_order_relaxed) && poll()) {
  }
}

bool Worker::poll() noexcept {
  const uint16_t n = source_.rx_burst(pkts_.data(), kBurstSize);
  if (n == 0) {
    source_.release();
    if (source_.done()) return false;
    // A quiet live port still ages its flows, by wall time, every 1024 empty polls.
    if ((++state_.idle_polls & 1023) == 0 && tcp_ != nullptr) {
      if (const uint64_t now = source_.now_ns(); now != 0) tcp_->sweep(now);
    }
    return true;
  }
  ++state_.bursts;
  process_burst(pkts_.data(), n);
  source_.release();
  return true;
}

void Worker::process_burst(const PacketRef* pkts, uint16_t n) noexcept {
  for (uint16_t i = 0; i < n; ++i) frames_[i] = decode::FrameRef{pkts[i].data, pkts[i].caplen};
  decode::decode_burst(frames_.data(), n, link_, views_.data(), state_.decode);
  if (tcp_ != nullptr) tcp_->process_burst(views_.data(), pkts, n);

  if (state_.first_ts_ns == 0) state_.first_ts_ns = pkts[0].ts_ns;
  state_.last_ts_ns = pkts[n - 1].ts_ns;

  TcpShape& t = state_.tcp;
  for (uint16_t i = 0; i < n; ++i) {
    const decode::PacketView& v = views_[i];
    if (!v.is_tcp() || v.status != decode::DecodeStatus::kOk) continue;  // counted by decode
    const decode::TcpInfo& tcp = v.tcp;
    ++t.segments;
    if (tcp.payload_len != 0) {
      ++t.data_segments;
      t.payload_bytes += tcp.payload_len;
    }
    const uint8_t syn_ack = tcp.flags & (decode::kTcpSyn | decode::kTcpAck);
    t.syn += syn_ack == decode::kTcpSyn;
    t.syn_ack += syn_ack == (decode::kTcpSyn | decode::kTcpAck);
    t.fin += (tcp.flags & decode::kTcpFin) != 0;
    t.rst += (tcp.flags & decode::kTcpRst) != 0;
    t.with_sack += (tcp.opts & decode::kOptSack) != 0;
    t.with_timestamps += (tcp.opts & decode::kOptTimestamp) != 0;
    t.options_cut += (v.flags & decode::kFlagTcpOptsCut) != 0;
    if (matcher_ != nullptr && tcp.payload_len != 0) {
      // Scan the captured part of the payload (a cut frame yields what was kept).
      const uint32_t start = v.l4_off + tcp.hdr_len;
      if (start < v.caplen) {
        const uint32_t avail = v.caplen - start;
        const uint32_t len = tcp.payload_len < avail ? tcp.payload_len : avail;
        matcher_->scan(v.frame + start, len, *scratch_);
        ++state_.payload_scans;
      }
    }
  }
}

}  // namespace seqwatch::runtime
