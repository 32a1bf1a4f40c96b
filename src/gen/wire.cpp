#include "gen/wire.hpp"

#include <cstring>

namespace seqwatch::gen {
namespace {

inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// One's-complement sum in native order over 32-bit loads (RFC 1071 §2(B): the sum is
// byte-order independent, so it is folded and stored back in the same native order).
uint64_t sum_native(const uint8_t* p, size_t len, uint64_t acc) {
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint8_t last[2] = {p[0], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
  }
  return acc;
}

uint16_t fold(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return static_cast<uint16_t>(~acc & 0xFFFF);
}

// Stores a checksum computed by fold() (native order) at p.
inline void store_csum(uint8_t* p, uint16_t c) { std::memcpy(p, &c, 2); }

size_t ip_header_len(const IpAddr& a) { return a.v6 ? 40 : 20; }

// Pseudo-header sum (RFC 9293 §3.1, RFC 8200 §8.1).
uint64_t pseudo_sum(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t len) {
  uint8_t ph[40];
  size_t n;
  if (src.v6) {
    std::memcpy(ph, src.b.data(), 16);
    std::memcpy(ph + 16, dst.b.data(), 16);
    put32(ph + 32, len);
    ph[36] = ph[37] = ph[38] = 0;
    ph[39] = proto;
    n = 40;
  } else {
    std::memcpy(ph, src.b.data(), 4);
    std::memcpy(ph + 4, dst.b.data(), 4);
    ph[8] = 0;
    ph[9] = proto;
    put16(ph + 10, static_cast<uint16_t>(len));
    n = 12;
  }
  return sum_native(ph, n, 0);
}

// Writes an IP header for payload_len bytes of protocol proto; returns its length.
size_t write_ip(uint8_t* p, const IpAddr& src, const IpAddr& dst, uint8_t proto, size_t payload_len,
                uint16_t id, uint8_t ttl, uint32_t flow_label) {
  if (src.v6) {
    put32(p, 0x60000000u | (flow_label & 0xFFFFF));
    put16(p + 4, static_cast<uint16_t>(payload_len));
    p[6] = proto;
    p[7] = ttl;
    std::memcpy(p + 8, src.b.data(), 16);
    std::memcpy(p + 24, dst.b.data(), 16);
    return 40;
  }
  p[0] = 0x45;
  p[1] = 0;
  put16(p + 2, static_cast<uint16_t>(20 + payload_len));
  put16(p + 4, id);
  put16(p + 6, 0x4000);  // DF
  p[8] = ttl;
  p[9] = proto;
  p[10] = p[11] = 0;
  std::memcpy(p + 12, src.b.data(), 4);
  std::memcpy(p + 16, dst.b.data(), 4);
  store_csum(p + 10, fold(sum_native(p, 20, 0)));
  return 20;
}

size_t tcp_options_len(const TcpSpec& t) {
  if (t.syn_options) return t.timestamps ? 20 : 12;
  return t.timestamps ? 12 : 0;
}

void write_tcp_options(uint8_t* p, const TcpSpec& t) {
  if (t.syn_options) {
    // Linux order: MSS, SACK-permitted, timestamps, NOP, window scale.
    p[0] = 2; p[1] = 4; put16(p + 2, t.mss);
    if (t.timestamps) {
      p[4] = 4; p[5] = 2;
      p[6] = 8; p[7] = 10; put32(p + 8, t.tsval); put32(p + 12, t.tsecr);
      p[16] = 1;
      p[17] = 3; p[18] = 3; p[19] = t.wscale;
    } else {
      p[4] = 1; p[5] = 1; p[6] = 4; p[7] = 2;
      p[8] = 1;
      p[9] = 3; p[10] = 3; p[11] = t.wscale;
    }
    return;
  }
  if (t.timestamps) {
    p[0] = 1; p[1] = 1;
    p[2] = 8; p[3] = 10; put32(p + 4, t.tsval); put32(p + 8, t.tsecr);
  }
}

}  // namespace

uint16_t inet_checksum(const uint8_t* data, size_t len, uint64_t initial) {
  return fold(sum_native(data, len, initial));
}

size_t encode_frame(uint8_t* out, const TcpSpec& t, const OuterSpec& o) {
  const EncapConfig& e = *o.encap;
  const size_t opt_len = tcp_options_len(t);
  const size_t tcp_len = 20 + opt_len + t.payload_len;
  const size_t inner_ip_len = ip_header_len(t.src) + tcp_len;

  size_t tunnel_hdr = 0;  // bytes between the outer IP header and the inner IP header
  switch (e.tunnel) {
    case Tunnel::kNone: break;
    case Tunnel::kGre: tunnel_hdr = e.gre_key ? 8 : 4; break;
    case Tunnel::kIpip: tunnel_hdr = 0; break;
    case Tunnel::kVxlan: tunnel_hdr = 8 + 8 + 14; break;
  }
  const bool tunneled = e.tunnel != Tunnel::kNone;

  uint8_t* p = out;
  // Ethernet: locally administered MACs, sensor-side router pair.
  static constexpr uint8_t kMacA[6] = {0x02, 0x53, 0x57, 0x00, 0x00, 0x01};
  static constexpr uint8_t kMacB[6] = {0x02, 0x53, 0x57, 0x00, 0x00, 0x02};
  std::memcpy(p, kMacB, 6);
  std::memcpy(p + 6, kMacA, 6);
  p += 12;
  for (size_t i = 0; i < e.vlans.size() && i < 2; ++i) {
    put16(p, (e.vlans.size() == 2 && i == 0) ? wire::kEthQinQ : wire::kEthVlan);
    put16(p + 2, e.vlans[i] & 0x0FFF);
    p += 4;
  }
  const IpAddr& first_ip = tunneled ? o.src : t.src;
  put16(p, first_ip.v6 ? wire::kEthIpv6 : wire::kEthIpv4);
  p += 2;

  if (tunneled) {
    const size_t outer_payload = tunnel_hdr + inner_ip_len;
    uint8_t proto = 0;
    switch (e.tunnel) {
      case Tunnel::kGre: proto = wire::kProtoGre; break;
      case Tunnel::kIpip: proto = t.src.v6 ? wire::kProtoIpv6 : wire::kProtoIpip; break;
      case Tunnel::kVxlan: proto = wire::kProtoUdp; break;
      case Tunnel::kNone: break;
    }
    p += write_ip(p, o.src, o.dst, proto, outer_payload, o.ip_id, 64, o.key & 0xFFFFF);
    if (e.tunnel == Tunnel::kGre) {
      put16(p, e.gre_key ? 0x2000 : 0x0000);  // K bit, version 0
      put16(p + 2, t.src.v6 ? wire::kEthIpv6 : wire::kEthIpv4);
      if (e.gre_key) put32(p + 4, o.key);
      p += tunnel_hdr;
    } else if (e.tunnel == Tunnel::kVxlan) {
      uint8_t* udp = p;
      put16(udp, o.udp_sport);
      put16(udp + 2, wire::kVxlanPort);
      put16(udp + 4, static_cast<uint16_t>(outer_payload));
      udp[6] = udp[7] = 0;
      udp[8] = 0x08;  // I flag: VNI valid
      udp[9] = udp[10] = udp[11] = 0;
      put32(udp + 12, o.key << 8);
      uint8_t* ie = udp + 16;  // inner Ethernet
      std::memcpy(ie, kMacB, 6);
      ie[5] ^= 0x10;
      std::memcpy(ie + 6, kMacA, 6);
      ie[11] ^= 0x10;
      put16(ie + 12, t.src.v6 ? wire::kEthIpv6 : wire::kEthIpv4);
      p += tunnel_hdr;
      // The UDP checksum covers the whole datagram: written after the inner packet below.
    }
  }

  uint8_t* ip = p;
  p += write_ip(p, t.src, t.dst, wire::kProtoTcp, tcp_len, t.ip_id, t.ttl, t.flow_label);
  uint8_t* tcp = p;
  put16(tcp, t.sport);
  put16(tcp + 2, t.dport);
  put32(tcp + 4, t.seq);
  put32(tcp + 8, t.ack);
  tcp[12] = static_cast<uint8_t>(((20 + opt_len) / 4) << 4);
  tcp[13] = t.flags;
  put16(tcp + 14, t.window);
  tcp[16] = tcp[17] = 0;
  tcp[18] = tcp[19] = 0;
  write_tcp_options(tcp + 20, t);
  if (t.payload_len) std::memcpy(tcp + 20 + opt_len, t.payload, t.payload_len);
  store_csum(tcp + 16, fold(sum_native(tcp, tcp_len, pseudo_sum(t.src, t.dst, wire::kProtoTcp,
                                                                 static_cast<uint32_t>(tcp_len)))));
  p = tcp + tcp_len;

  if (e.tunnel == Tunnel::kVxlan) {
    uint8_t* udp = ip - tunnel_hdr;
    const size_t udp_len = static_cast<size_t>(p - udp);
    uint16_t c = fold(sum_native(udp, udp_len, pseudo_sum(o.src, o.dst, wire::kProtoUdp,
                                                          static_cast<uint32_t>(udp_len))));
    if (c == 0) c = 0xFFFF;  // RFC 768: a computed zero is sent as all ones
    store_csum(udp + 6, c);
  }
  return static_cast<size_t>(p - out);
}

}  // namespace seqwatch::gen
