// A small builder for the hand-made frames the benchmarks decode.
//
// Layers are appended outermost first. Every IP / UDP layer extends to the end of the
// frame, so their length fields are left zero while building and filled in by finish(),
// which also computes the IPv4 header checksums (the decoder does not check them, but the
// frames should be ones a NIC could have delivered). Deliberately independent of tests/:
// the benchmarks must build with -Dtests=false.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace seqwatch::bench {

inline constexpr uint16_t kEthIpv4 = 0x0800;
inline constexpr uint16_t kEthIpv6 = 0x86DD;
inline constexpr uint16_t kEthVlan = 0x8100;
inline constexpr uint16_t kEthTeb = 0x6558;  // GRE transparent Ethernet bridging (gretap)
inline constexpr uint8_t kProtoIpip = 4;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoGre = 47;
inline constexpr uint16_t kPortVxlan = 4789;

// TCP header flag bits (byte 13).
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;

struct Sack {
  uint32_t left;
  uint32_t right;
};

class FrameBuilder {
 public:
  FrameBuilder& ether(uint64_t dst_mac, uint64_t src_mac, uint16_t ethertype, uint16_t vlan = 0) {
    put_mac(dst_mac);
    put_mac(src_mac);
    if (vlan != 0) {
      be16(kEthVlan);
      be16(vlan & 0x0FFF);
    }
    be16(ethertype);
    return *this;
  }

  FrameBuilder& ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint8_t ttl = 64, uint16_t id = 0) {
    fixups_.push_back({Fixup::kIpv4, b_.size()});
    u8(0x45);
    u8(0);
    be16(0);   // total length: finish()
    be16(id);
    be16(0x4000);  // DF, as Linux sets on TCP
    u8(ttl);
    u8(proto);
    be16(0);   // checksum: finish()
    be32(src);
    be32(dst);
    return *this;
  }

  FrameBuilder& ipv6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst,
                     uint8_t next_header, uint32_t flow_label = 0, uint8_t hop_limit = 64) {
    fixups_.push_back({Fixup::kIpv6, b_.size()});
    be32((6u << 28) | (flow_label & 0xFFFFF));
    be16(0);   // payload length: finish()
    u8(next_header);
    u8(hop_limit);
    b_.insert(b_.end(), src.begin(), src.end());
    b_.insert(b_.end(), dst.begin(), dst.end());
    return *this;
  }

  FrameBuilder& udp(uint16_t sport, uint16_t dport) {
    fixups_.push_back({Fixup::kUdp, b_.size()});
    be16(sport);
    be16(dport);
    be16(0);   // length: finish()
    be16(0);   // checksum 0: allowed for VXLAN over IPv4 (RFC 7348 section 5)
    return *this;
  }

  FrameBuilder& vxlan(uint32_t vni) {
    be32(0x08000000);  // I flag: VNI valid
    be32(vni << 8);
    return *this;
  }

  // GRE version 0 with a key (as Linux ip_gre sends with `key`), no checksum or sequence.
  FrameBuilder& gre(uint16_t proto, uint32_t key) {
    be16(0x2000);
    be16(proto);
    be32(key);
    return *this;
  }

  // A TCP header with the options Linux puts on established segments: NOP NOP TS, and
  // before it NOP NOP SACK when there are SACK blocks (at most 3 fit beside the
  // timestamp). A SYN carries MSS, SACK-permitted, TS, NOP, window scale instead.
  FrameBuilder& tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                    uint16_t window, uint32_t tsval, uint32_t tsecr,
                    std::span<const Sack> sacks = {}) {
    std::vector<uint8_t> opt;
    auto o8 = [&](uint8_t v) { opt.push_back(v); };
    auto o16 = [&](uint16_t v) { o8(static_cast<uint8_t>(v >> 8)); o8(static_cast<uint8_t>(v)); };
    auto o32 = [&](uint32_t v) { o16(static_cast<uint16_t>(v >> 16)); o16(static_cast<uint16_t>(v)); };
    if (flags & kSyn) {
      o8(2); o8(4); o16(1460);   // MSS
      o8(4); o8(2);              // SACK permitted
      o8(8); o8(10); o32(tsval); o32(tsecr);
      o8(1);                     // NOP
      o8(3); o8(3); o8(7);       // window scale 7
    } else {
      if (!sacks.empty()) {
        o8(1); o8(1);
        o8(5); o8(static_cast<uint8_t>(2 + 8 * sacks.size()));
        for (const Sack& s : sacks) { o32(s.left); o32(s.right); }
      }
      o8(1); o8(1);
      o8(8); o8(10); o32(tsval); o32(tsecr);
    }
    while (opt.size() % 4 != 0) o8(1);
    be16(sport);
    be16(dport);
    be32(seq);
    be32(ack);
    u8(static_cast<uint8_t>(((20 + opt.size()) / 4) << 4));
    u8(flags);
    be16(window);
    be16(0);   // checksum: not computed (offloaded on a real sender, unchecked by the decoder)
    be16(0);
    b_.insert(b_.end(), opt.begin(), opt.end());
    return *this;
  }

  FrameBuilder& payload(size_t n, uint8_t fill) {
    b_.insert(b_.end(), n, fill);
    return *this;
  }

  // Fills in the length fields and IPv4 checksums and returns the frame bytes.
  std::vector<uint8_t> finish() {
    for (const Fixup& f : fixups_) {
      const size_t to_end = b_.size() - f.off;
      switch (f.kind) {
        case Fixup::kIpv4: put16(f.off + 2, static_cast<uint16_t>(to_end)); break;
        case Fixup::kIpv6: put16(f.off + 4, static_cast<uint16_t>(to_end - 40)); break;
        case Fixup::kUdp: put16(f.off + 4, static_cast<uint16_t>(to_end)); break;
      }
    }
    for (const Fixup& f : fixups_) {
      if (f.kind != Fixup::kIpv4) continue;
      uint32_t sum = 0;
      for (size_t i = 0; i < 20; i += 2) sum += (uint32_t{b_[f.off + i]} << 8) | b_[f.off + i + 1];
      while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
      put16(f.off + 10, static_cast<uint16_t>(~sum));
    }
    return std::move(b_);
  }

 private:
  struct Fixup {
    enum Kind : uint8_t { kIpv4, kIpv6, kUdp } kind;
    size_t off;
  };

  void u8(uint8_t v) { b_.push_back(v); }
  void be16(uint16_t v) { u8(static_cast<uint8_t>(v >> 8)); u8(static_cast<uint8_t>(v)); }
  void be32(uint32_t v) { be16(static_cast<uint16_t>(v >> 16)); be16(static_cast<uint16_t>(v)); }
  void put_mac(uint64_t mac) {
    for (int i = 5; i >= 0; --i) u8(static_cast<uint8_t>(mac >> (8 * i)));
  }
  void put16(size_t at, uint16_t v) {
    b_[at] = static_cast<uint8_t>(v >> 8);
    b_[at + 1] = static_cast<uint8_t>(v);
  }

  std::vector<uint8_t> b_;
  std::vector<Fixup> fixups_;
};

}  // namespace seqwatch::bench
