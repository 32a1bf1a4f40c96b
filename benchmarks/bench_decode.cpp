// Decoder throughput: ns per frame for the traffic shapes seqwatch sees most.
//
// Each case decodes a pool of kPoolFrames frames laid out like DPDK mbufs (one frame per
// kMbufStride bytes, data after the headroom), drawn in a fixed pseudo-random order from
// kDistinctFrames hand-built frames, so neither the data nor the branch history fits a
// toy loop. One benchmark iteration is one burst of kBurst frames, the unit a worker
// hands to the decoder; the pool is walked burst after burst and wraps around.
//
//   (a) Ethernet / IPv4 / TCP with options (timestamps everywhere, SACK on some ACKs,
//       a few SYNs), a quarter of the flows 802.1Q-tagged;
//   (b) the same TCP mix inside one tunnel layer: GRE (IP and Ethernet payloads), VXLAN,
//       IPIP in equal parts;
//   (c) Ethernet / IPv6 / TCP, same mix;
//   (d) (a) and (b) through decode() + count_view() one frame at a time, without the
//       burst loop's prefetching, for comparison;
//   and two reference points for (a): a 64-frame pool that stays in L1 (the decoder's
//   compute cost alone) and a 65536-frame pool whose headers miss L2.
//
// Every distinct frame is decoded once before timing and checked (status, layers,
// options, payload length), so a decoder change that rejects the frames fails the
// benchmark instead of timing an early exit. See docs/performance.md for the numbers.
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "decode/decoder.hpp"
#include "frame_builder.hpp"

namespace {

using seqwatch::bench::FrameBuilder;
using seqwatch::bench::Sack;
namespace sb = seqwatch::bench;
namespace dec = seqwatch::decode;

// The burst a worker takes from rte_eth_rx_burst (DPDK examples' MAX_PKT_BURST).
constexpr uint32_t kBurst = 32;
// Frames in a pool: 4096 x kMbufStride = 9.4 MB of frame memory, far beyond L1 (48 KB)
// and L2 (1 MB); the header lines the decoder touches (1-2 per frame) total ~0.5 MB.
constexpr size_t kPoolFrames = 4096;
// A pool 16x larger whose header lines (~8 MB) no longer fit L2 either.
constexpr size_t kLargePoolFrames = 65536;
// Two bursts: every header line stays in L1, which leaves the decoder's own work.
constexpr size_t kHotPoolFrames = 64;
// Distinct frames per case: a few hundred, spread over kFlows flows.
constexpr size_t kDistinctFrames = 384;
constexpr unsigned kFlows = 48;
// One rte_mbuf (128-byte header) + RTE_MBUF_DEFAULT_BUF_SIZE (2048 + 128 headroom):
// the spacing of frames in a DPDK mempool with default settings.
constexpr size_t kMbufStride = 128 + 2048 + 128;
constexpr size_t kMbufDataOff = 128 + 128;  // rte_mbuf header + RTE_PKTMBUF_HEADROOM
constexpr size_t kHugePage = 2u << 20;       // DPDK runs on hugepages: ask for THP
constexpr uint32_t kSeed = 0x5eb1a7u;        // fixed: every run decodes the same frames

enum class Shape : uint8_t { kIpv4, kTunnel, kIpv6 };

// What a frame should decode to; checked before timing.
struct Expect {
  uint8_t ip_count;
  dec::TunnelType tunnel;
  uint32_t payload_len;
  bool sack;
};

struct Built {
  std::vector<uint8_t> bytes;
  Expect expect;
};

struct Flow {
  uint32_t cli4, srv4;
  std::array<uint8_t, 16> cli6, srv6;
  uint16_t cport, sport;
  uint16_t vlan;  // 0 = untagged
  uint64_t cmac, smac;
  uint32_t outer_cli4, outer_srv4;  // tunnel endpoints
  uint32_t key;                     // GRE key / VXLAN VNI
};

Flow make_flow(unsigned f) {
  Flow fl{};
  fl.cli4 = 0x0A000000u | (f * 2654435761u & 0x00FFFFFEu) | 1u;  // 10.x.y.z
  fl.srv4 = 0xC6120000u | ((f * 37u) & 0xFFFFu);                  // 198.18.0.0/15 (benchmarking)
  fl.cli6 = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(f >> 8),
             static_cast<uint8_t>(f)};
  fl.srv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(f % 7 + 1)};
  fl.cport = static_cast<uint16_t>(32768 + (f * 7919u) % 28000u);
  static constexpr uint16_t kServerPorts[] = {443, 80, 5201, 8080};
  fl.sport = kServerPorts[f % 4];
  fl.vlan = f % 4 == 0 ? static_cast<uint16_t>(100 + f) : 0;
  fl.cmac = 0x020000000000ull | f;
  fl.smac = 0x020000ff0000ull | (f % 5);
  fl.outer_cli4 = 0xC0A86400u | (f % 16 + 1);  // 192.168.100.x
  fl.outer_srv4 = 0xC0A86500u | (f % 3 + 1);
  fl.key = 1000 + f;
  return fl;
}

// One TCP segment of a bulk transfer, server -> client data or client -> server ACK.
struct Segment {
  bool from_server;
  uint8_t flags;
  uint32_t seq, ack;
  uint16_t window;
  uint32_t tsval, tsecr;
  std::vector<Sack> sacks;
  size_t payload;
};

// The mix: 55% data (mostly full-size), 30% pure ACKs, 12% ACKs carrying 1-3 SACK
// blocks, 3% SYN / SYN-ACK. `max_payload` leaves room for tunnel headers in a 1500 MTU.
Segment make_segment(std::mt19937& rng, size_t max_payload) {
  Segment s{};
  const uint32_t base = static_cast<uint32_t>(rng());
  s.tsval = static_cast<uint32_t>(rng());
  s.tsecr = s.tsval - 1000u - rng() % 5000u;
  s.window = static_cast<uint16_t>(500 + rng() % 3000);
  const unsigned roll = rng() % 100;
  if (roll < 55) {
    static constexpr size_t kSizes[] = {1448, 1448, 1448, 1448, 724, 300, 52};
    s.from_server = true;
    s.flags = sb::kAck | (rng() % 4 == 0 ? sb::kPsh : 0);
    s.seq = base;
    s.ack = static_cast<uint32_t>(rng());
    s.payload = std::min(kSizes[rng() % std::size(kSizes)], max_payload);
  } else if (roll < 97) {
    s.from_server = false;
    s.flags = sb::kAck;
    s.seq = static_cast<uint32_t>(rng());
    s.ack = base;
    if (roll >= 85) {
      const unsigned n = 1 + rng() % 3;
      for (unsigned b = 0; b < n; ++b) {
        const uint32_t left = base + 1448u * (2 + 3 * b);
        s.sacks.push_back({left, left + 1448u * (1u + static_cast<uint32_t>(rng() % 4))});
      }
    }
  } else {
    s.from_server = roll % 2 == 0;  // SYN-ACK or SYN
    s.flags = s.from_server ? (sb::kSyn | sb::kAck) : sb::kSyn;
    s.seq = base;
    s.ack = s.from_server ? static_cast<uint32_t>(rng()) : 0;
  }
  return s;
}

void put_tcp(FrameBuilder& fb, const Flow& fl, const Segment& s) {
  const uint16_t src = s.from_server ? fl.sport : fl.cport;
  const uint16_t dst = s.from_server ? fl.cport : fl.sport;
  fb.tcp(src, dst, s.seq, s.ack, s.flags, s.window, s.tsval, s.tsecr, s.sacks)
      .payload(s.payload, static_cast<uint8_t>(s.seq));
}

// The inner (or only) Ethernet + IPv4 header of a segment.
void put_eth_ipv4(FrameBuilder& fb, const Flow& fl, const Segment& s, uint16_t vlan) {
  fb.ether(s.from_server ? fl.cmac : fl.smac, s.from_server ? fl.smac : fl.cmac, sb::kEthIpv4, vlan);
  fb.ipv4(s.from_server ? fl.srv4 : fl.cli4, s.from_server ? fl.cli4 : fl.srv4, sb::kProtoTcp,
          s.from_server ? 57 : 64, static_cast<uint16_t>(s.seq));
}

Built build_frame(Shape shape, std::mt19937& rng, unsigned index) {
  const unsigned f = static_cast<unsigned>(rng() % kFlows);
  const Flow fl = make_flow(f);
  FrameBuilder fb;
  Expect e{1, dec::TunnelType::kNone, 0, false};
  Segment s;
  switch (shape) {
    case Shape::kIpv4:
      s = make_segment(rng, 1448);
      put_eth_ipv4(fb, fl, s, fl.vlan);
      break;
    case Shape::kIpv6:
      s = make_segment(rng, 1428);
      fb.ether(s.from_server ? fl.cmac : fl.smac, s.from_server ? fl.smac : fl.cmac, sb::kEthIpv6, fl.vlan);
      fb.ipv6(s.from_server ? fl.srv6 : fl.cli6, s.from_server ? fl.cli6 : fl.srv6, sb::kProtoTcp,
              (f * 0x9E37u) & 0xFFFFF);
      break;
    case Shape::kTunnel: {
      // Outer headers between two tunnel endpoints, then the inner segment.
      s = make_segment(rng, 1380);
      e.ip_count = 2;
      const uint64_t rtr_a = 0x0200000a0001ull, rtr_b = 0x0200000a0002ull;
      switch (index % 4) {
        case 0:  // GRE carrying IPv4 (Linux `ip tunnel add ... mode gre key N`)
        case 1:  // GRE carrying Ethernet (gretap)
          e.tunnel = dec::TunnelType::kGre;
          fb.ether(rtr_b, rtr_a, sb::kEthIpv4, fl.vlan).ipv4(fl.outer_cli4, fl.outer_srv4, sb::kProtoGre);
          if (index % 4 == 0) {
            fb.gre(sb::kEthIpv4, fl.key);
            fb.ipv4(s.from_server ? fl.srv4 : fl.cli4, s.from_server ? fl.cli4 : fl.srv4, sb::kProtoTcp);
          } else {
            fb.gre(sb::kEthTeb, fl.key);
            put_eth_ipv4(fb, fl, s, 0);
          }
          break;
        case 2:  // VXLAN: UDP source port from the inner flow hash, as Linux does
          e.tunnel = dec::TunnelType::kVxlan;
          fb.ether(rtr_b, rtr_a, sb::kEthIpv4, fl.vlan)
              .ipv4(fl.outer_cli4, fl.outer_srv4, sb::kProtoUdp)
              .udp(static_cast<uint16_t>(49152 + (f * 131u) % 16384u), sb::kPortVxlan)
              .vxlan(fl.key);
          put_eth_ipv4(fb, fl, s, 0);
          break;
        default:  // IPIP
          e.tunnel = dec::TunnelType::kIpInIp;
          fb.ether(rtr_b, rtr_a, sb::kEthIpv4, fl.vlan).ipv4(fl.outer_cli4, fl.outer_srv4, sb::kProtoIpip);
          fb.ipv4(s.from_server ? fl.srv4 : fl.cli4, s.from_server ? fl.cli4 : fl.srv4, sb::kProtoTcp);
          break;
      }
      break;
    }
  }
  put_tcp(fb, fl, s);
  e.payload_len = static_cast<uint32_t>(s.payload);
  e.sack = !s.sacks.empty();
  return {fb.finish(), e};
}

// Returns an empty string when `v` is what `e` promised, else what differs.
std::string check(const dec::PacketView& v, const Expect& e) {
  if (v.status != dec::DecodeStatus::kOk) return "status " + std::string(dec::decode_status_name(v.status));
  if (v.ip_count != e.ip_count) return "ip_count " + std::to_string(v.ip_count);
  if (!v.is_tcp()) return "not TCP";
  if (e.tunnel != dec::TunnelType::kNone && (v.tunnel_count != 1 || v.tunnel[0].type != e.tunnel))
    return "tunnel " + std::string(dec::tunnel_type_name(v.tunnel[0].type));
  if (v.tcp.payload_len != e.payload_len) return "payload_len " + std::to_string(v.tcp.payload_len);
  if (!(v.tcp.opts & dec::kOptTimestamp)) return "no timestamp option";
  if (e.sack != ((v.tcp.opts & dec::kOptSack) != 0)) return "SACK presence";
  if (v.flags & (dec::kFlagTruncated | dec::kFlagTcpOptBad)) return "flags " + std::to_string(v.flags);
  return {};
}

// Frames in mbuf-like slots of one hugepage-backed area; refs[] in pool order.
struct Pool {
  uint8_t* area = nullptr;
  size_t area_len = 0;
  std::vector<dec::FrameRef> refs;
  std::string error;  // non-empty: a distinct frame did not decode as built

  Pool(Shape shape, size_t frames) {
    std::mt19937 rng(kSeed + static_cast<uint32_t>(shape));
    std::vector<Built> distinct;
    distinct.reserve(kDistinctFrames);
    for (unsigned i = 0; i < kDistinctFrames; ++i) distinct.push_back(build_frame(shape, rng, i));
    for (const Built& b : distinct) {
      dec::PacketView v;
      dec::decode(b.bytes.data(), static_cast<uint32_t>(b.bytes.size()), dec::LinkType::kEthernet, v);
      if (std::string why = check(v, b.expect); !why.empty()) {
        error = "hand-built frame decoded wrong: " + why;
        return;
      }
    }
    area_len = (frames * kMbufStride + kHugePage - 1) / kHugePage * kHugePage;
    void* p = mmap(nullptr, area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      error = "mmap of the frame pool failed";
      return;
    }
    madvise(p, area_len, MADV_HUGEPAGE);  // best effort: THP may be off
    area = static_cast<uint8_t*>(p);
    refs.reserve(frames);
    for (size_t i = 0; i < frames; ++i) {
      const Built& b = distinct[rng() % distinct.size()];
      uint8_t* slot = area + i * kMbufStride + kMbufDataOff;
      std::memcpy(slot, b.bytes.data(), b.bytes.size());
      refs.push_back({slot, static_cast<uint32_t>(b.bytes.size())});
    }
  }
  ~Pool() {
    if (area != nullptr) munmap(area, area_len);
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
};

// Pools are built once per process and shared by repetitions.
const Pool& pool(Shape shape, size_t frames) {
  static Pool ipv4(Shape::kIpv4, kPoolFrames);
  static Pool tunnel(Shape::kTunnel, kPoolFrames);
  static Pool ipv6(Shape::kIpv6, kPoolFrames);
  if (frames == kLargePoolFrames) {
    static Pool large(Shape::kIpv4, kLargePoolFrames);
    return large;
  }
  if (frames == kHotPoolFrames) {
    static Pool hot(Shape::kIpv4, kHotPoolFrames);
    return hot;
  }
  switch (shape) {
    case Shape::kIpv4: return ipv4;
    case Shape::kTunnel: return tunnel;
    case Shape::kIpv6: break;
  }
  return ipv6;
}

void report(benchmark::State& state, const dec::DecodeCounters& c) {
  if (c.errors() != 0 || c.tcp != c.packets) {
    state.SkipWithError("decode errors or non-TCP frames while timing");
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBurst);
  // Inverted rate of kBurst * 1e-9 per iteration: seconds per frame scaled to ns.
  state.counters["ns_per_pkt"] = benchmark::Counter(
      kBurst * 1e-9, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_DecodeBurst(benchmark::State& state, Shape shape, size_t frames) {
  const Pool& p = pool(shape, frames);
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  std::array<dec::PacketView, kBurst> views{};
  dec::DecodeCounters counters;
  size_t next = 0;
  for (auto _ : state) {
    dec::decode_burst(p.refs.data() + next, kBurst, dec::LinkType::kEthernet, views.data(), counters);
    benchmark::DoNotOptimize(views.data());
    benchmark::ClobberMemory();
    next += kBurst;
    if (next == p.refs.size()) next = 0;
  }
  report(state, counters);
}

// decode() + count_view() per frame into one view: the per-frame API a caller without
// bursts would use (no prefetching of the frames ahead).
void BM_DecodeSingle(benchmark::State& state, Shape shape) {
  const Pool& p = pool(shape, kPoolFrames);
  if (!p.error.empty()) {
    state.SkipWithError(p.error.c_str());
    return;
  }
  dec::PacketView view{};
  dec::DecodeCounters counters;
  size_t next = 0;
  for (auto _ : state) {
    for (uint32_t i = 0; i < kBurst; ++i) {
      const dec::FrameRef& f = p.refs[next + i];
      dec::decode(f.data, f.caplen, dec::LinkType::kEthernet, view);
      dec::count_view(view, counters);
      benchmark::DoNotOptimize(view);
    }
    next += kBurst;
    if (next == p.refs.size()) next = 0;
  }
  report(state, counters);
}

static_assert(kPoolFrames % kBurst == 0 && kLargePoolFrames % kBurst == 0 && kHotPoolFrames % kBurst == 0,
              "pools hold whole bursts");

BENCHMARK_CAPTURE(BM_DecodeBurst, a_eth_ipv4_tcp, Shape::kIpv4, kPoolFrames);
BENCHMARK_CAPTURE(BM_DecodeBurst, b_tunnel_gre_vxlan_ipip, Shape::kTunnel, kPoolFrames);
BENCHMARK_CAPTURE(BM_DecodeBurst, c_eth_ipv6_tcp, Shape::kIpv6, kPoolFrames);
BENCHMARK_CAPTURE(BM_DecodeSingle, d_eth_ipv4_tcp, Shape::kIpv4);
BENCHMARK_CAPTURE(BM_DecodeSingle, d_tunnel_gre_vxlan_ipip, Shape::kTunnel);
// Reference points for (a): the same frames with every header in L1, and spread so far
// that the header lines miss L2 as well.
BENCHMARK_CAPTURE(BM_DecodeBurst, a_eth_ipv4_tcp_l1_resident, Shape::kIpv4, kHotPoolFrames);
BENCHMARK_CAPTURE(BM_DecodeBurst, a_eth_ipv4_tcp_large_pool, Shape::kIpv4, kLargePoolFrames);

}  // namespace

BENCHMARK_MAIN();
