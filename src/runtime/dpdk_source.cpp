#include "runtime/dpdk_source.hpp"
#include "runtime/replay_port.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace seqwatch::runtime {

namespace {
// Largest frame linearised from a chain of mbufs (TSO/GRO super-frames from a file).
constexpr uint32_t kLinearSlot = 65536 + 1024;
constexpr uint16_t kTxDesc = 64;  // the TX queue exists only because some PMDs require one
}  // namespace

// Symmetric Toeplitz key (0x6d5a repeated): hashing (src, dst) and (dst, src) gives the
// same value, so both directions of a connection land on the same queue (Woo & Park,
// "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling").
constexpr uint8_t kSymmetricRssKey[52] = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

PortHandle::~PortHandle() {
  if (started) {
    rte_eth_dev_stop(id);
    rte_eth_dev_close(id);
  }
  if (pool != nullptr) rte_mempool_free(pool);
}

Result<std::unique_ptr<DpdkPortSource>> DpdkPortSource::open(const PortConfig& cfg) {
  PortConfig one = cfg;
  one.rx_queues = 1;
  auto q = open_queues(one);
  if (!q) return q.error();
  return std::move(q.value()[0]);
}

Result<std::vector<std::unique_ptr<DpdkPortSource>>> DpdkPortSource::open_queues(const PortConfig& cfg) {
  const std::string p = "port " + cfg.name + ": ";
  if ((cfg.rx_desc & (cfg.rx_desc - 1)) != 0)
    return Error{p + "rx_desc " + std::to_string(cfg.rx_desc) + " is not a power of two"};
  if (cfg.rx_queues == 0) return Error{p + "needs at least one RX queue"};
  auto h = std::make_shared<PortHandle>();
  if (rte_eth_dev_get_port_by_name(cfg.name.c_str(), &h->id) != 0)
    return Error{"DPDK port '" + cfg.name + "' does not exist (check the vdev devargs / PCI address)"};
  const int socket = rte_eth_dev_socket_id(h->id);
  const unsigned sock = static_cast<unsigned>(socket < 0 ? 0 : socket);
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(h->id, &info) != 0) return Error{p + "cannot read device info"};
  if (cfg.rx_queues > info.max_rx_queues)
    return Error{p + std::to_string(cfg.rx_queues) + " RX queues requested, the device has " +
                 std::to_string(info.max_rx_queues) + " (use rehash: software to spread one queue over workers)"};
  const std::string pool_name = "mb_" + cfg.name;
  const uint32_t room = std::max<uint32_t>(RTE_MBUF_DEFAULT_BUF_SIZE, cfg.frame_bytes + RTE_PKTMBUF_HEADROOM);
  if (room > UINT16_MAX) return Error{p + std::to_string(cfg.frame_bytes) + "-byte frames do not fit an mbuf"};
  h->pool = rte_pktmbuf_pool_create(pool_name.c_str(), cfg.mbufs, 256, 0, static_cast<uint16_t>(room), sock);
  if (h->pool == nullptr)
    return Error{p + "cannot create a pool of " + std::to_string(cfg.mbufs) + " mbufs of " + std::to_string(room) +
                 " bytes (raise eal.memory_mb, or lower ports[].mbufs)"};
  rte_eth_conf conf{};
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
  if (cfg.rx_queues > 1) {
    const uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    if (!cfg.rss) {
      h->rss_note = "RSS off by configuration: queues are filled as the device decides";
    } else if (hf == 0) {
      return Error{p + "the device cannot do RSS over IP/TCP/UDP (flow_type_rss_offloads = 0): use rss: off with "
                       "rehash: software, or one queue"};
    } else {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = hf;
      if (info.hash_key_size != 0 && info.hash_key_size <= sizeof kSymmetricRssKey) {
        conf.rx_adv_conf.rss_conf.rss_key = const_cast<uint8_t*>(kSymmetricRssKey);
        conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
        h->rss_note = "symmetric Toeplitz RSS over " + std::to_string(cfg.rx_queues) + " queues";
      } else {
        h->rss_note = "RSS with the device's own key (key size " + std::to_string(info.hash_key_size) +
                      " not settable): directions may land on different queues; prefer rehash: software";
      }
    }
  }
  int rc = rte_eth_dev_configure(h->id, cfg.rx_queues, 1, &conf);
  if (rc != 0) return Error{p + "configure failed: " + rte_strerror(-rc)};
  for (uint16_t q = 0; q < cfg.rx_queues; ++q) {
    rc = rte_eth_rx_queue_setup(h->id, q, cfg.rx_desc, sock, nullptr, h->pool);
    if (rc != 0) return Error{p + "RX queue " + std::to_string(q) + " setup failed: " + rte_strerror(-rc)};
  }
  rc = rte_eth_tx_queue_setup(h->id, 0, kTxDesc, sock, nullptr);
  if (rc != 0) return Error{p + "TX queue setup failed: " + rte_strerror(-rc)};
  rc = rte_eth_dev_start(h->id);
  if (rc != 0) return Error{p + "start failed: " + rte_strerror(-rc)};
  h->started = true;
  if (cfg.promiscuous) rte_eth_promiscuous_enable(h->id);  // a SPAN port sees other hosts' traffic
  // Some PMDs (net_pcap among them) fill the RX timestamp field without advertising the
  // offload, so look it up whatever the capabilities say; the flag tells per mbuf.
  int ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  int ts_bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  if (cfg.timestamps == PortConfig::Timestamps::kTsc) ts_offset = ts_bit = -1;
  if (cfg.timestamps == PortConfig::Timestamps::kHw && (ts_offset < 0 || ts_bit < 0))
    return Error{p + "timestamps: hw, but the device registers no RX timestamp field (use auto or tsc)"};
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const uint64_t wall0 = static_cast<uint64_t>(wall.tv_sec) * 1000000000ull + static_cast<uint64_t>(wall.tv_nsec);
  const uint64_t tsc0 = rte_get_tsc_cycles();

  std::vector<std::unique_ptr<DpdkPortSource>> out;
  for (uint16_t q = 0; q < cfg.rx_queues; ++q) {
    std::unique_ptr<DpdkPortSource> s(new DpdkPortSource());
    s->cfg_ = cfg;
    if (q < cfg.queue_frames.size()) {
      s->cfg_.expected_frames = cfg.queue_frames[q];
      s->done_ = cfg.queue_frames[q] == 0;  // an empty file: nothing will come
    }
    s->handle_ = h;
    s->port_ = h->id;
    s->queue_ = q;
    s->ts_offset_ = ts_offset;
    if (ts_bit >= 0) s->ts_flag_ = 1ull << ts_bit;
    s->wall0_ns_ = wall0;
    s->tsc0_ = tsc0;
    s->ns_per_tsc_ = 1e9 / static_cast<double>(rte_get_tsc_hz());
    s->linear_.resize(static_cast<size_t>(kLinearSlot) * kBurstSize);
    s->stall_tsc_ = static_cast<uint64_t>(cfg.stall_timeout_s * static_cast<double>(rte_get_tsc_hz()));
    s->last_rx_tsc_ = 0;  // the stall clock starts with the first poll, not at open
    out.push_back(std::move(s));
  }
  return out;
}

DpdkPortSource::~DpdkPortSource() { release(); }

// The packet clock now: the newest burst's packet time plus the time since it arrived. A
// port's own timestamps (a replayed capture, a NIC clock that is not the epoch) need not be
// wall time, and flows age by packet time (docs/architecture.md); TSC-stamped packets carry
// wall time, so for them this is the wall clock.
uint64_t DpdkPortSource::now_ns() const noexcept {
  if (cfg_.expected_frames != 0) return 0;  // a recorded input: packet time only
  const uint64_t tsc = last_burst_tsc_.load(std::memory_order_relaxed);
  if (tsc == 0) return 0;  // no packet yet: nothing to age
  const uint64_t now = rte_get_tsc_cycles();
  return last_burst_ts_ns_.load(std::memory_order_relaxed) +
         (now > tsc ? static_cast<uint64_t>(static_cast<double>(now - tsc) * ns_per_tsc_) : 0);
}

uint16_t DpdkPortSource::rx_burst(PacketRef* out, uint16_t max) noexcept {
  if (done_) return 0;
  if (max > kBurstSize) max = kBurstSize;
  const uint16_t n = rte_eth_rx_burst(port_, queue_, burst_.data(), max);
  const uint64_t now = rte_get_tsc_cycles();
  if (n == 0) {
    if (last_rx_tsc_ == 0) last_rx_tsc_ = now;
    if (cfg_.expected_frames != 0 && now - last_rx_tsc_ > stall_tsc_) {
      undelivered_ = cfg_.expected_frames - received_;
      done_ = true;
    }
    return 0;
  }
  last_rx_tsc_ = now;
  const uint64_t tsc_ns = wall0_ns_ + static_cast<uint64_t>(static_cast<double>(now - tsc0_) * ns_per_tsc_);
  // Every mbuf header of the burst at once (the loop below reads each one's first line), and
  // each frame's first line as soon as its address is known: a ring-backed port (the replay
  // port, net_ring) hands over mbufs nobody has touched lately, so both are cache misses that
  // would otherwise come one after the other (docs/performance.md, "2026-12-06 evening: the
  // receive path's prefetches").
  for (uint16_t i = 0; i < n; ++i) rte_prefetch0(burst_[i]);
  uint16_t k = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = burst_[i];
    PacketRef& r = out[k];
    if (m->nb_segs == 1) {
      r.data = rte_pktmbuf_mtod(m, const uint8_t*);
      rte_prefetch0(r.data);
      rte_prefetch0(&m->next);  // the free in release() reads `next`: the second line in Debian's build (IOVA as PA)
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
    if (ts_offset_ >= 0 && (m->ol_flags & ts_flag_)) {
      r.ts_ns = *RTE_MBUF_DYNFIELD(m, ts_offset_, uint64_t*) * cfg_.timestamp_unit_ns;
    } else {
      r.ts_ns = tsc_ns;
      host_stamped_ += ts_offset_ >= 0;
    }
    ++k;
  }
  if (k != 0) {
    last_burst_ts_ns_.store(out[k - 1].ts_ns, std::memory_order_relaxed);
    last_burst_tsc_.store(now, std::memory_order_relaxed);
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
    p.imissed = st.imissed + ReplayPort::missed(port_);
    p.ierrors = st.ierrors;
    p.rx_nombuf = st.rx_nombuf;
  }
  return p;
}

std::string DpdkPortSource::describe() const {
  return "DPDK port " + cfg_.name + " (port id " + std::to_string(port_) + ", queue " + std::to_string(queue_) + ", " +
         std::string(decode::link_type_name(cfg_.link)) + ")";
}

}  // namespace seqwatch::runtime
