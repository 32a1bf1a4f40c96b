// A catalogue of valid hand-made frames, one or more per protocol the decoder follows,
// each with the shape it must decode to. catalog_test checks the shapes; the mutation
// test uses the frames (and their length / type field offsets) as seeds.
#pragma once

#include <string>
#include <vector>

#include "decode/packet_view.hpp"
#include "support/frame_builder.hpp"

namespace seqwatch::test {

struct CatalogFrame {
  std::string name;
  decode::LinkType link;
  Bytes bytes;
  std::vector<FrameBuilder::Field> fields;  // length / type fields, for targeted mutation
  uint8_t ip_count;
  uint8_t tunnel_count;
  decode::L4Type l4;
  decode::TunnelType outer_tunnel;  // tunnel[0].type (kNone when no tunnel)
};

// Outer (carrier) addresses in tunnel frames, distinct from the inner kIp4Src/kIp4Dst.
inline constexpr Ip4 kOuter4Src{192, 0, 2, 1};
inline constexpr Ip4 kOuter4Dst{192, 0, 2, 2};
inline const Ip6 kOuter6Src = ip6("2001:db8:ffff::1");
inline const Ip6 kOuter6Dst = ip6("2001:db8:ffff::2");

// The options a Linux SYN carries, and an ACK with timestamps and SACK blocks.
inline Bytes syn_options() {
  return tcpopt::cat({tcpopt::mss(1460), tcpopt::sack_perm(), tcpopt::timestamp(100, 0), tcpopt::nop(),
                      tcpopt::wscale(7)});
}
inline Bytes sack_options() {
  return tcpopt::cat({tcpopt::nop(), tcpopt::nop(), tcpopt::timestamp(200, 100), tcpopt::nop(), tcpopt::nop(),
                      tcpopt::sack({{5000, 6000}, {7000, 8000}})});
}

inline std::vector<CatalogFrame> frame_catalog() {
  using decode::L4Type;
  using decode::LinkType;
  using decode::TunnelType;
  std::vector<CatalogFrame> c;
  auto add = [&](std::string name, LinkType link, const FrameBuilder& b, uint8_t ips, uint8_t tunnels, L4Type l4,
                 TunnelType outer = TunnelType::kNone) {
    c.push_back({std::move(name), link, b.build(), b.fields(), ips, tunnels, l4, outer});
  };
  const auto E = LinkType::kEthernet;
  const TcpSpec syn{.sport = 40000, .dport = 443, .seq = 0xFFFFFF00u, .ack = 0, .flags = wire::kSyn,
                    .window = 64240, .options = syn_options()};
  const TcpSpec data{.sport = 443, .dport = 40000, .seq = 77, .ack = 0xFFFFFF01u, .flags = wire::kAck | wire::kPsh,
                     .window = 501, .options = sack_options()};
  const Ipv4Spec outer4{.src = kOuter4Src, .dst = kOuter4Dst};
  const Ipv6Spec outer6{.src = kOuter6Src, .dst = kOuter6Dst};

  // Link types.
  add("eth_ipv4_tcp_syn", E, FrameBuilder().eth().ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("eth_ipv4_tcp_padded", E, FrameBuilder().eth().ipv4({.df = true}).tcp().trailer(6), 1, 0, L4Type::kTcp);
  add("eth_ipv6_tcp_sack", E, FrameBuilder().eth().ipv6().tcp(data).payload(100), 1, 0, L4Type::kTcp);
  add("eth_arp", E, FrameBuilder().eth({.type = wire::kEthArp}).payload(28, 0), 0, 0, L4Type::kNone);
  add("eth_ipv4_udp", E, FrameBuilder().eth().ipv4().udp().payload(20), 1, 0, L4Type::kUdp);
  add("eth_ipv4_icmp", E, FrameBuilder().eth().ipv4().icmp().payload(16), 1, 0, L4Type::kIcmp);
  add("eth_ipv6_icmpv6", E, FrameBuilder().eth().ipv6().icmpv6().payload(16), 1, 0, L4Type::kIcmpv6);
  add("raw_ipv4_tcp", LinkType::kRaw, FrameBuilder().ipv4().tcp(data).payload(10), 1, 0, L4Type::kTcp);
  add("raw_ipv6_udp", LinkType::kRaw, FrameBuilder().ipv6().udp().payload(10), 1, 0, L4Type::kUdp);
  add("ipv4_link_tcp", LinkType::kIpv4, FrameBuilder().ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("ipv6_link_tcp", LinkType::kIpv6, FrameBuilder().ipv6().tcp(syn), 1, 0, L4Type::kTcp);
  add("sll_ipv4_tcp", LinkType::kLinuxSll, FrameBuilder().sll().ipv4().tcp(data), 1, 0, L4Type::kTcp);
  add("sll_ipv6_tcp", LinkType::kLinuxSll, FrameBuilder().sll().ipv6().tcp(syn), 1, 0, L4Type::kTcp);
  add("sll2_ipv4_tcp", LinkType::kLinuxSll2, FrameBuilder().sll2().ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("sll2_ipv6_udp", LinkType::kLinuxSll2, FrameBuilder().sll2().ipv6().udp().payload(4), 1, 0, L4Type::kUdp);
  add("nflog_ipv4_tcp", LinkType::kNflog, FrameBuilder().nflog(2).ipv4().tcp(data).payload(3), 1, 0, L4Type::kTcp);
  add("nflog_ipv6_tcp", LinkType::kNflog, FrameBuilder().nflog(10).ipv6().tcp(syn), 1, 0, L4Type::kTcp);
  add("wlan_qos_ipv4_tcp", LinkType::kIeee80211, FrameBuilder().wlan(0x88, 0x01).ipv4().tcp(data), 1, 0, L4Type::kTcp);
  add("radiotap_wlan_ipv6_tcp", LinkType::kIeee80211Radiotap, FrameBuilder().radiotap(16).wlan(0x08, 0x02).ipv6().tcp(syn),
      1, 0, L4Type::kTcp);
  add("null_ipv4_tcp", LinkType::kNull, FrameBuilder().null_family().ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("null_ipv6_tcp", LinkType::kNull, FrameBuilder().null_family(30).ipv6().tcp(data), 1, 0, L4Type::kTcp);
  add("loop_ipv4_tcp", LinkType::kLoop, FrameBuilder().loop_family().ipv4().tcp(data), 1, 0, L4Type::kTcp);

  // L2 stacks.
  add("vlan_ipv4_tcp", E, FrameBuilder().eth().vlan(100).ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("qinq4_ipv6_tcp", E,
      FrameBuilder().eth().vlan(1, wire::kEthQinQ).vlan(2, wire::kEthVlan).vlan(3, wire::kEthQinQOld).vlan(4).ipv6().tcp(data),
      1, 0, L4Type::kTcp);
  add("mpls2_ipv4_tcp", E, FrameBuilder().eth().mpls(16, false).mpls(17).ipv4().tcp(data), 1, 0, L4Type::kTcp);
  add("mpls_ipv6_udp", E, FrameBuilder().eth().mpls(1000).ipv6().udp().payload(8), 1, 0, L4Type::kUdp);
  add("pppoe_ipv4_tcp", E, FrameBuilder().eth().pppoe(0x1234).ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("vlan_pppoe_ipv6_tcp", E, FrameBuilder().eth().vlan(7).pppoe(9).ipv6().tcp(data), 1, 0, L4Type::kTcp);

  // IP options, fragments, extension headers.
  add("ipv4_options_tcp", E, FrameBuilder().eth().ipv4({.options = {0x94, 0x04, 0, 0, 0x01, 0x01, 0x01, 0x00}}).tcp(data),
      1, 0, L4Type::kTcp);
  add("ipv4_first_fragment_tcp", E, FrameBuilder().eth().ipv4({.mf = true}).tcp(data).payload(64), 1, 0, L4Type::kTcp);
  add("ipv4_later_fragment", E,
      FrameBuilder().eth().ipv4({.proto = wire::kProtoTcp, .frag_offset = 10}).payload(40), 1, 0, L4Type::kNone);
  add("ipv4_len0_tcp", E, FrameBuilder().eth().ipv4({.total_len = 0}).tcp(data).payload(1000), 1, 0, L4Type::kTcp);
  add("ipv6_ext_chain_tcp", E,
      FrameBuilder().eth().ipv6().ipv6_hbh().ipv6_dstopts({0x01, 0x02, 0, 0}).ipv6_routing(4, 1, {kOuter6Dst})
          .ipv6_frag(0, true).ipv6_dstopts().tcp(syn).payload(8),
      1, 0, L4Type::kTcp);
  add("ipv6_ah_tcp", E, FrameBuilder().eth().ipv6().ipv6_ah(0x100, 1).tcp(data), 1, 0, L4Type::kTcp);
  add("ipv6_later_fragment", E, FrameBuilder().eth().ipv6().ipv6_frag(100, false, 1, wire::kProtoTcp).payload(64), 1, 0, L4Type::kNone);
  add("ipv6_jumbo_tcp", E, FrameBuilder().eth().ipv6().ipv6_jumbo().tcp(data).payload(200), 1, 0, L4Type::kTcp);

  // Tunnels.
  const Ipv4Spec inner4{};
  const Ipv6Spec inner6{};
  add("gre_ipv4_tcp", E, FrameBuilder().eth().ipv4(outer4).gre().ipv4(inner4).tcp(syn), 2, 1, L4Type::kTcp,
      TunnelType::kGre);
  add("gre_ipv6_tcp", E, FrameBuilder().eth().ipv4(outer4).gre().ipv6(inner6).tcp(data), 2, 1, L4Type::kTcp,
      TunnelType::kGre);
  add("gre_csum_key_seq_tcp", E,
      FrameBuilder().eth().ipv4(outer4).gre({.key = 0xDEADBEEF, .seq = 42, .checksum = true}).ipv4(inner4).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kGre);
  add("gre_teb_vlan_tcp", E,
      FrameBuilder().eth().ipv4(outer4).gre({.key = 5}).eth().vlan(300).ipv4(inner4).tcp(syn), 2, 1, L4Type::kTcp,
      TunnelType::kGre);
  add("gre_mpls_ipv4_tcp", E, FrameBuilder().eth().ipv4(outer4).gre().mpls(20).ipv4(inner4).tcp(syn), 2, 1,
      L4Type::kTcp, TunnelType::kGre);
  add("erspan1_tcp", E, FrameBuilder().eth().ipv4(outer4).gre().erspan1().eth().ipv4(inner4).tcp(data), 2, 1,
      L4Type::kTcp, TunnelType::kErspan1);
  add("erspan2_tcp", E,
      FrameBuilder().eth().ipv4(outer4).gre({.seq = 9}).erspan2(0x155).eth().ipv4(inner4).tcp(data), 2, 1,
      L4Type::kTcp, TunnelType::kErspan2);
  add("erspan3_tcp", E, FrameBuilder().eth().ipv4(outer4).gre({.seq = 9}).erspan3(0x2AA).eth().ipv6(inner6).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kErspan3);
  add("erspan3_platform_tcp", E,
      FrameBuilder().eth().ipv6(outer6).gre({.seq = 9}).erspan3(7, true).eth().ipv4(inner4).tcp(syn), 2, 1,
      L4Type::kTcp, TunnelType::kErspan3);
  add("ipip_tcp", E, FrameBuilder().eth().ipv4(outer4).ipv4(inner4).tcp(syn), 2, 1, L4Type::kTcp, TunnelType::kIpInIp);
  add("6in4_tcp", E, FrameBuilder().eth().ipv4(outer4).ipv6(inner6).tcp(data), 2, 1, L4Type::kTcp, TunnelType::k6in4);
  add("4in6_tcp", E, FrameBuilder().eth().ipv6(outer6).ipv4(inner4).tcp(data), 2, 1, L4Type::kTcp, TunnelType::k4in6);
  add("6in6_udp", E, FrameBuilder().eth().ipv6(outer6).ipv6(inner6).udp().payload(5), 2, 1, L4Type::kUdp,
      TunnelType::k6in6);
  add("vxlan_vlan_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = 51000, .dport = wire::kPortVxlan}).vxlan(0x123456).eth().vlan(42)
          .ipv4(inner4).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kVxlan);
  add("geneve_teb_tcp", E,
      FrameBuilder().eth().ipv6(outer6).udp({.sport = 51000, .dport = wire::kPortGeneve})
          .geneve(0xABCDEF, {0x01, 0x02, 0x80, 0x01, 0xAA, 0xBB, 0xCC, 0xDD}).eth().ipv4(inner4).tcp(syn),
      2, 1, L4Type::kTcp, TunnelType::kGeneve);
  add("geneve_ipv4_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = 51000, .dport = wire::kPortGeneve}).geneve(77).ipv4(inner4).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kGeneve);
  add("gtpu_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = wire::kPortGtpU, .dport = wire::kPortGtpU}).gtpu({.teid = 0x01020304})
          .ipv4(inner4).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kGtpU);
  add("gtpu_ext_ipv6_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = wire::kPortGtpU, .dport = wire::kPortGtpU})
          .gtpu({.teid = 0xCAFE, .seq = 3, .ext = {{0x10, 0x05}, {0x00, 0x01, 0x02, 0x03, 0x04, 0x05}}}).ipv6(inner6).tcp(syn),
      2, 1, L4Type::kTcp, TunnelType::kGtpU);
  add("gre_udp_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = 50000, .dport = wire::kPortGreUdp}).gre({.key = 3}).ipv4(inner4).tcp(syn),
      2, 1, L4Type::kTcp, TunnelType::kGreUdp);
  add("teredo_origin_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = wire::kPortTeredo, .dport = 40001})
          .teredo_origin(40001, {198, 51, 100, 7}).ipv6(inner6).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kTeredo);
  add("teredo_auth_udp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = 40001, .dport = wire::kPortTeredo})
          .teredo_auth({1, 2, 3}, {4, 5}).teredo_origin(40001, {198, 51, 100, 7}).ipv6(inner6).udp().payload(4),
      2, 1, L4Type::kUdp, TunnelType::kTeredo);
  add("ayiya_ipv6_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = 40002, .dport = wire::kPortAyiya}).ayiya().ipv6(inner6).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kAyiya);
  add("l2tp_ppp_ipv6_tcp", E,
      FrameBuilder().eth().ipv4(outer4).udp({.sport = wire::kPortL2tp, .dport = wire::kPortL2tp})
          .l2tp({.length = true, .sequence = true}).ppp().ipv6(inner6).tcp(data),
      2, 1, L4Type::kTcp, TunnelType::kL2tp);
  add("cmd_vlan_ipv4_tcp", E, FrameBuilder().eth().vlan(8).cmd(0x1234).ipv4().tcp(syn), 1, 0, L4Type::kTcp);
  add("gre_cmd_ipv4_tcp", E, FrameBuilder().eth().ipv4(outer4).gre().gre_cmd(77).ipv4(inner4).tcp(data), 2, 1,
      L4Type::kTcp, TunnelType::kGre);
  add("pptp_ppp_ipv4_tcp", E,
      FrameBuilder().eth().ipv4(outer4).gre_pptp(0x4242, 11, 10).ppp().ipv4(inner4).tcp(data), 2, 1, L4Type::kTcp,
      TunnelType::kPptpGre);
  add("nested_4_layers_tcp", E,
      FrameBuilder().eth().ipv4(outer4).gre().ipv6(outer6).udp({.sport = 1, .dport = wire::kPortVxlan}).vxlan(1).eth()
          .ipv4({.src = {172, 16, 0, 1}, .dst = {172, 16, 0, 2}}).ipv4(inner4).tcp(syn),
      4, 3, L4Type::kTcp, TunnelType::kGre);
  return c;
}

}  // namespace seqwatch::test
