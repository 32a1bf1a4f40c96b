// Synthetic TCP traffic for the TCP-stage benchmarks: many concurrent connections whose
// sequence and acknowledgement numbers progress as a real stack's would, written as
// Ethernet / IPv4 / TCP (NOP NOP TS) frames into a DPDK-like frame pool.
//
// Frames are patched from two templates (established segment, SYN) built once with
// FrameBuilder, so generating a packet costs a few stores, not an allocation. A scenario is
// a per-connection cycle of steps (who sends, how much data, which ACK); every connection
// advances through its own cycle, connections are picked in a fixed pseudo-random order.
// The generator runs outside the timed region (benchmark PauseTiming) in batches.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "decode/decoder.hpp"
#include "frame_builder.hpp"
#include "source/packet_source.hpp"

namespace seqwatch::bench {

// The benchmarks' random numbers: xorshift64, deterministic from its seed.
struct Xorshift {
  uint64_t s;
  explicit Xorshift(uint64_t seed = 0x2545F4914F6CDD1Dull) noexcept : s(seed) {}
  uint64_t next() noexcept {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  // Uniform in [0, n) (Lemire's multiply-shift; bias negligible for these n).
  uint32_t below(uint32_t n) noexcept { return static_cast<uint32_t>(((next() & 0xFFFFFFFFu) * n) >> 32); }
};

// One mempool slot per frame: rte_mbuf header + 2048-byte data room + 128 headroom.
inline constexpr size_t kSlotStride = 128 + 2048 + 128;
inline constexpr size_t kSlotDataOff = 128 + 128;

// Offsets in the established-segment template: Ethernet 14 + IPv4 20 + TCP 20 + 12 option bytes.
inline constexpr size_t kOffIpLen = 16, kOffIpCsum = 24, kOffIpSrc = 26, kOffIpDst = 30;
inline constexpr size_t kOffSport = 34, kOffDport = 36, kOffSeq = 38, kOffAck = 42, kOffFlags = 47, kOffWin = 48;
inline constexpr size_t kOffTsval = 58, kOffTsecr = 62;
inline constexpr size_t kHdrEstablished = 66;
// SYN template: options MSS(4) SACK-perm(2) TS(10) NOP WS(3) = 20 bytes.
inline constexpr size_t kOffSynTsval = 62, kOffSynTsecr = 66;
inline constexpr size_t kHdrSyn = 74;

inline void put_be16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}

// What a step of a connection's cycle sends.
enum class Who : uint8_t { kClient, kServer };
enum class Seg : uint8_t {
  kData,         // `len` new bytes, ACKing everything received
  kAck,          // pure ACK of everything received
  kAckHold,      // pure ACK of what was ACKed before (the peer's newest segment "lost" downstream)
  kResendLast,   // the previous data segment again (same seq and length)
  kDataSkip,     // `len` new bytes, but the following kDataSkip-filled gap is sent later
  kFillGap,      // the segment skipped by kDataSkip
};
struct Step {
  Who who;
  Seg seg;
  uint16_t len;
};

// Per-connection state (12 bytes: 4M connections = 48 MB).
struct Conn {
  uint32_t seq[2];   // next sequence number to send, client / server
  uint8_t step;
  uint8_t phase;     // 0: SYN next, 1: SYN/ACK next, 2: ACK next, 3: established
  uint16_t skip_len;  // bytes of the open gap (kDataSkip)
};
struct ConnExtra {  // state only the verdict scenarios need
  uint32_t acked[2];     // what each side ACKed last
  uint32_t last_seq[2];  // start and length of each side's latest data segment
  uint16_t last_len[2];
  uint32_t gap_seq[2];
};

class TrafficGen {
 public:
  // `conns` connections, `cycle` the steps every connection repeats after its handshake.
  TrafficGen(uint32_t conns, std::vector<Step> cycle, bool track_extra)
      : conns_(conns), cycle_(std::move(cycle)), state_(new Conn[conns]()),
        extra_(track_extra ? new ConnExtra[conns]() : nullptr) {
    FrameBuilder est;
    est.ether(0x020000000002, 0x020000000001, kEthIpv4).ipv4(0, 0, kProtoTcp).tcp(0, 0, 0, 0, kAck, 0, 0, 0);
    est_ = est.finish();
    FrameBuilder syn;
    syn.ether(0x020000000002, 0x020000000001, kEthIpv4).ipv4(0, 0, kProtoTcp).tcp(0, 0, 0, 0, kSyn, 0, 0, 0);
    syn_ = syn.finish();
    for (uint32_t i = 0; i < conns; ++i) {
      state_[i].seq[0] = 1000u + i * 7919u;
      state_[i].seq[1] = 5000000u + i * 104729u;
    }
  }

  uint32_t conns() const { return conns_; }

  // Writes the next packet of connection `c` at `slot`; returns its PacketRef fields.
  PacketRef next(uint32_t c, uint8_t* slot, uint64_t ts_ns) {
    Conn& s = state_[c];
    const uint32_t tsval = static_cast<uint32_t>(ts_ns / 1000000);  // 1 ms TS clock
    if (s.phase < 3) {
      if (s.phase == 0) {
        ++s.phase;
        return syn_frame(c, slot, Who::kClient, s.seq[0]++, 0, kSyn, tsval, ts_ns);
      }
      if (s.phase == 1) {
        ++s.phase;
        return syn_frame(c, slot, Who::kServer, s.seq[1]++, s.seq[0], kSyn | kAck, tsval, ts_ns);
      }
      ++s.phase;
      if (extra_) {
        extra_[c].acked[0] = s.seq[1];
        extra_[c].acked[1] = s.seq[0];
      }
      return frame(c, slot, Who::kClient, s.seq[0], s.seq[1], kAck, 0, tsval, ts_ns);
    }
    const Step st = cycle_[s.step];
    s.step = static_cast<uint8_t>((s.step + 1) % cycle_.size());
    const int me = st.who == Who::kClient ? 0 : 1, peer = 1 - me;
    const uint32_t ack = s.seq[peer];  // everything the peer sent (cycles ACK only after a gap is filled)
    switch (st.seg) {
      case Seg::kData: {
        const uint32_t seq = s.seq[me];
        s.seq[me] += st.len;
        remember(c, me, peer, seq, st.len, ack);
        return frame(c, slot, st.who, seq, ack, kAck | kPsh, st.len, tsval, ts_ns);
      }
      case Seg::kAck:
        if (extra_) extra_[c].acked[me] = ack;
        return frame(c, slot, st.who, s.seq[me], ack, kAck, 0, tsval, ts_ns);
      case Seg::kAckHold:
        return frame(c, slot, st.who, s.seq[me], extra_[c].acked[me], kAck, 0, tsval, ts_ns);
      case Seg::kResendLast:
        return frame(c, slot, st.who, extra_[c].last_seq[me], extra_[c].acked[me], kAck | kPsh, extra_[c].last_len[me],
                     tsval, ts_ns);
      case Seg::kDataSkip: {
        // Sends the segment after the next one: the next `len` bytes are the gap.
        const uint32_t gap = s.seq[me];
        extra_[c].gap_seq[me] = gap;
        s.skip_len = st.len;
        s.seq[me] += 2u * st.len;
        return frame(c, slot, st.who, gap + st.len, ack, kAck | kPsh, st.len, tsval, ts_ns);
      }
      case Seg::kFillGap: {
        const uint32_t gap = extra_[c].gap_seq[me];
        const uint16_t len = s.skip_len;
        s.skip_len = 0;
        return frame(c, slot, st.who, gap, extra_[c].acked[me], kAck | kPsh, len, tsval, ts_ns);
      }
    }
    return {};
  }

 private:
  void remember(uint32_t c, int me, int /*peer*/, uint32_t seq, uint16_t len, uint32_t ack) {
    if (!extra_) return;
    extra_[c].last_seq[me] = seq;
    extra_[c].last_len[me] = len;
    extra_[c].acked[me] = ack;
  }

  void addresses(uint32_t c, Who who, uint8_t* f) const {
    const uint32_t cli = 0x0A000000u | (c >> 8), srv = 0xC0A80000u | (c & 0xFF);
    const uint16_t cport = static_cast<uint16_t>(1024 + (c * 2654435761u >> 20) % 60000);
    const bool from_cli = who == Who::kClient;
    put_be32(f + kOffIpSrc, from_cli ? cli : srv);
    put_be32(f + kOffIpDst, from_cli ? srv : cli);
    put_be16(f + kOffSport, from_cli ? cport : 443);
    put_be16(f + kOffDport, from_cli ? 443 : cport);
  }

  static void ip_finish(uint8_t* f, size_t ip_len) {
    put_be16(f + kOffIpLen, static_cast<uint16_t>(ip_len));
    put_be16(f + kOffIpCsum, 0);
    uint32_t sum = 0;
    for (size_t i = 14; i < 34; i += 2) sum += (uint32_t{f[i]} << 8) | f[i + 1];
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    put_be16(f + kOffIpCsum, static_cast<uint16_t>(~sum));
  }

  PacketRef frame(uint32_t c, uint8_t* f, Who who, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t len,
                  uint32_t tsval, uint64_t ts_ns) const {
    std::memcpy(f, est_.data(), kHdrEstablished);
    addresses(c, who, f);
    put_be32(f + kOffSeq, seq);
    put_be32(f + kOffAck, ack);
    f[kOffFlags] = flags;
    put_be16(f + kOffWin, 1024);  // x 128 (wscale 7): 128 KiB
    put_be32(f + kOffTsval, tsval);
    put_be32(f + kOffTsecr, tsval - 1);
    ip_finish(f, kHdrEstablished - 14 + len);
    const uint32_t caplen = static_cast<uint32_t>(kHdrEstablished + len);
    return PacketRef{f, caplen, caplen, ts_ns, 0};
  }

  PacketRef syn_frame(uint32_t c, uint8_t* f, Who who, uint32_t seq, uint32_t ack, uint8_t flags, uint32_t tsval,
                      uint64_t ts_ns) const {
    std::memcpy(f, syn_.data(), kHdrSyn);
    addresses(c, who, f);
    put_be32(f + kOffSeq, seq);
    put_be32(f + kOffAck, ack);
    f[kOffFlags] = flags;
    put_be16(f + kOffWin, 64240);
    put_be32(f + kOffSynTsval, tsval);
    put_be32(f + kOffSynTsecr, flags & kAck ? tsval : 0);
    ip_finish(f, kHdrSyn - 14);
    return PacketRef{f, static_cast<uint32_t>(kHdrSyn), static_cast<uint32_t>(kHdrSyn), ts_ns, 0};
  }

  uint32_t conns_;
  std::vector<Step> cycle_;
  std::unique_ptr<Conn[]> state_;
  std::unique_ptr<ConnExtra[]> extra_;
  std::vector<uint8_t> est_, syn_;
};

// The benchmarks' packet source: kBatch frames of generated traffic at a time, in
// mempool-like slots (8192 x 2304 B = 18.9 MB of frame memory, beyond L2, as a mempool is),
// handed to the stages in bursts of kBurst, with packet times kPacketGapNs apart.
inline constexpr unsigned kBurst = 32;
inline constexpr uint32_t kBatch = 8192;
inline constexpr uint64_t kPacketGapNs = 100;  // packet time: 10 Mpps aggregate
inline constexpr uint64_t kStartNs = 1700000000ull * 1000000000ull;

struct PacketBatch {
  TrafficGen gen;
  std::unique_ptr<uint8_t[]> pool;
  std::vector<PacketRef> pkts;
  std::vector<decode::FrameRef> frames;
  uint64_t ts = kStartNs;
  uint64_t frame = 0;

  PacketBatch(uint32_t conns, std::vector<Step> cycle, bool track_extra)
      : gen(conns, std::move(cycle), track_extra), pool(new uint8_t[kBatch * kSlotStride]()), pkts(kBatch),
        frames(kBatch) {}

  // Slot i of the batch: the next packet of connection c.
  void put(uint32_t i, uint32_t c) {
    uint8_t* slot = pool.get() + static_cast<size_t>(i) * kSlotStride + kSlotDataOff;
    pkts[i] = gen.next(c, slot, ts);
    pkts[i].frame = ++frame;
    frames[i] = decode::FrameRef{pkts[i].data, pkts[i].caplen};
    ts += kPacketGapNs;
  }
};

}  // namespace seqwatch::bench
