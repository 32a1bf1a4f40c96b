#include "runtime/dpdk_source.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <cstring>
#include <ctime>

namespace seqwatch::runtime {

namespace {
// Largest frame linearised from a chain of mbufs (TSO/GRO super-frames from a file).
constexpr uint32_t kLinearSlot = 65536 + 1024;
constexpr uint16_t kTxDesc = 64;  // the TX queue exists only because some PMDs require one
}  // namespace

Result<std::unique_ptr<DpdkPortSource>> DpdkPortSource::open(const PortConfig& cfg) {
  std::unique_ptr<DpdkPortSource> s(new DpdkPortSource());
  s->cfg_ = cfg;
  if ((cfg.rx_desc & (cfg.rx_desc - 1)) != 0)
    return Error{"port " + cfg.name + ": rx_desc " + std::to_string(cfg.rx_desc) + " is not a power of two"};
  if (rte_eth_dev_get_port_by_name(cfg.name.c_str(), &s->port_) != 0)
    return Error{"DPDK port '" + cfg.name + "' does not exist (check the --vdev / PCI address)"};
  const int socket = rte_eth_dev_socket_id(s->port_);
  const std::string pool_name = "mb_" + cfg.name;
  s->pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), cfg.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     socket < 0 ? 0 : socket);
  if (s->pool_ == nullptr)
    return Error{"port " + cfg.name + ": cannot create a pool of " + std::to_string(cfg.mbufs) +
                 " mbufs (raise -m / memory_mb)"};
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(s->port_, &info) != 0) return Error{"port " + cfg.name + ": cannot read device info"};
  rte_eth_conf conf{};
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
  int rc = rte_eth_dev_configure(s->port_, 1, 1, &conf);
  if (rc != 0) return Error{"port " + cfg.name + ": configure failed: " + rte_strerror(-rc)};
  rc = rte_eth_rx_queue_setup(s->port_, 0, cfg.rx_desc, static_cast<unsigned>(socket < 0 ? 0 : socket), nullptr, s->pool_);
  if (rc != 0) return Error{"port " + cfg.name + ": RX queue setup failed: " + rte_strerror(-rc)};
  rc = rte_eth_tx_queue_setup(s->port_, 0, kTxDesc, static_cast<unsigned>(socket < 0 ? 0 : socket), nullptr);
  if (rc != 0) return Error{"port " + cfg.name + ": TX queue setup failed: " + rte_strerror(-rc)};
  rc = rte_eth_dev_start(s->port_);
  if (rc != 0) return Error{"port " + cfg.name + ": start failed: " + rte_strerror(-rc)};
  s->started_ = true;
  rte_eth_promiscuous_enable(s->port_);  // a SPAN port sees other hosts' traffic
  // Some PMDs (net_pcap among them) fill the RX timestamp field without advertising the
  // offload, so look it up whatever the capabilities say; the flag tells per mbuf.
  s->ts_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  const int ts_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  if (ts_bit >= 0) s->ts_flag_ = 1ull << ts_bit;
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  s->wall0_ns_ = static_cast<uint64_t>(wall.tv_sec) * 1000000000ull + static_cast<uint64_t>(wall.tv_nsec);
  s->tsc0_ = rte_get_tsc_cycles();
  s->ns_per_tsc_ = 1e9 / static_cast<double>(rte_get_tsc_hz());
  s->linear_.resize(static_cast<size_t>(kLinearSlot) * kBurstSize);
  s->stall_tsc_ = static_cast<uint64_t>(cfg.stall_timeout_s * static_cast<double>(rte_get_tsc_hz()));
  s->last_rx_tsc_ = rte_get_tsc_cycles();
  return s;
}

DpdkPortSource::~DpdkPortSource() {
  release();
  if (started_) {
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
  }
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

uint16_t DpdkPortSource::rx_burst(PacketRef* out, uint16_t max) noexcept {
  if (done_) return 0;
  if (max > kBurstSize) max = kBurstSize;
  const uint16_t n = rte_eth_rx_burst(port_, 0, burst_.data(), max);
  const uint64_t now = rte_get_tsc_cycles();
  if (n == 0) {
    if (cfg_.expected_frames != 0 && now - last_rx_tsc_ > stall_tsc_) {
      undelivered_ = cfg_.expected_frames - received_;
      done_ = true;
    }
    return 0;
  }
  last_rx_tsc_ = now;
  const uint64_t tsc_ns = wall0_ns_ + static_cast<uint64_t>(static_cast<double>(now - tsc0_) * ns_per_tsc_);
  uint16_t k = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = burst_[i];
    PacketRef& r = out[k];
    if (m->nb_segs == 1) {
      r.data = rte_pktmbuf_mtod(m, const uint8_t*);
      r.caplen = m->data_len;
    } else if (m->pkt_len <= kLinearSlot) {
      uint8_t* slot = linear_.data() + static_cast<size_t>(k) * kLinearSlot;
      r.data = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, slot));
      r.caplen = m->pkt_len;
    } else {
      ++multiseg_dropped_;
      continue;
    }
    r.wirelen = cfg_.wire_lengths ? m->pkt_len : 0;
    r.frame = received_ + i + 1;
    r.ts_ns = (ts_offset_ >= 0 && (m->ol_flags & ts_flag_))
                  ? *RTE_MBUF_DYNFIELD(m, ts_offset_, uint64_t*) * cfg_.timestamp_unit_ns
                  : tsc_ns;
    ++k;
  }
  burst_n_ = n;
  received_ += n;
  if (cfg_.expected_frames != 0 && received_ >= cfg_.expected_frames) done_ = true;
  return k;
}

void DpdkPortSource::release() noexcept {
  if (burst_n_ != 0) rte_pktmbuf_free_bulk(burst_.data(), burst_n_);
  burst_n_ = 0;
}

PortStats DpdkPortSource::port_stats() const {
  rte_eth_stats st{};
  PortStats p;
  if (rte_eth_stats_get(port_, &st) == 0) {
    p.ipackets = st.ipackets;
    p.ibytes = st.ibytes;
    p.imissed = st.imissed;
    p.ierrors = st.ierrors;
    p.rx_nombuf = st.rx_nombuf;
  }
  return p;
}

std::string DpdkPortSource::describe() const {
  return "DPDK port " + cfg_.name + " (port id " + std::to_string(port_) + ", " +
         std::string(decode::link_type_name(cfg_.link)) + ")";
}

}  // namespace seqwatch::runtime
