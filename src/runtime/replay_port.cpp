#include "runtime/replay_port.hpp"

#include <pcap/pcap.h>
#include <pthread.h>
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "decode/decoder.hpp"
#include "flow/flow_key.hpp"

namespace seqwatch::runtime {

namespace {

constexpr size_t kChunk = 32;        // frames per pass step: one burst per queue at most
constexpr size_t kPrefetchAhead = 8;
constexpr uint32_t kMaxFrame = 65535;  // an mbuf's buf_len is 16 bits

// A wait of the feeder (queue full, frame still held, paced gap): spin a little, then hand
// the CPU to whatever else may run there (on a small machine, the control thread that
// drains the workers' rings shares the feeder's CPU).
struct Backoff {
  unsigned spins = 0;
  void wait() noexcept {
    if (++spins < 64) rte_pause();
    else std::this_thread::yield();
  }
};

// Replay ports alive in this process, for ReplayPort::missed() (control path only).
std::mutex g_ports_mu;
std::vector<std::pair<uint16_t, const ReplayPort*>> g_ports;
unsigned g_serial = 0;  // mempool and ring names must be unique

void no_free(void*, void*) {}  // the frame bytes belong to the ReplayPort

void store_be32(uint8_t* p, uint32_t v) noexcept {
  const uint32_t be = rte_cpu_to_be_32(v);
  std::memcpy(p, &be, 4);
}

void store_be16(uint8_t* p, uint16_t v) noexcept {
  const uint16_t be = rte_cpu_to_be_16(v);
  std::memcpy(p, &be, 2);
}

uint16_t load_be16(const uint8_t* p) noexcept {
  uint16_t be;
  std::memcpy(&be, p, 2);
  return rte_be_to_cpu_16(be);
}

uint32_t load_be32(const uint8_t* p) noexcept {
  uint32_t be;
  std::memcpy(&be, p, 4);
  return rte_be_to_cpu_32(be);
}

// One direction of a connection: the sequence range the file covers, relative to the first
// sequence number seen. A SYN outside the current range starts a new connection on the
// same ports (port reuse within the file); the shift is the largest span of them all.
struct DirSpan {
  bool seen = false;
  uint32_t s0 = 0;
  int64_t lo = 0, hi = 0, best = 0;
  void add(uint32_t seq, uint32_t len, bool syn) {
    if (seen && syn) {
      const int64_t off = static_cast<int32_t>(seq - s0);
      if (off < lo || off >= hi) {
        best = std::max(best, hi - lo);
        seen = false;
      }
    }
    if (!seen) {
      seen = true;
      s0 = seq;
      lo = hi = 0;
    }
    const int64_t off = static_cast<int32_t>(seq - s0);
    lo = std::min(lo, off);
    hi = std::max(hi, off + len);
  }
  // The shift per pass; 0 when a range is not a plausible window of one connection.
  uint32_t span() const {
    const int64_t s = std::max(best, hi - lo);
    return s > 0 && s < (int64_t{1} << 30) ? static_cast<uint32_t>(s) : 0;
  }
};

}  // namespace

Result<std::unique_ptr<ReplayPort>> ReplayPort::create(const ReplayConfig& cfg) {
  const std::string where = "replay port '" + cfg.name + "' (" + cfg.file + "): ";
  if (cfg.queues == 0 || (cfg.ring_size & (cfg.ring_size - 1)) != 0)
    return Error{where + "needs at least one queue and a power-of-two ring size"};
  std::unique_ptr<ReplayPort> r(new ReplayPort());
  r->cfg_ = cfg;

  // The frames, back to back.
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* pc = pcap_open_offline_with_tstamp_precision(cfg.file.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (pc == nullptr) return Error{where + err};
  if (!decode::link_type_from_pcap(static_cast<uint32_t>(pcap_datalink(pc)), r->link_)) {
    const int dlt = pcap_datalink(pc);
    pcap_close(pc);
    return Error{where + "link type " + std::to_string(dlt) + " is not one the decoder knows"};
  }
  std::vector<std::pair<uint64_t, uint32_t>> at;  // offset, length
  std::vector<uint64_t> ts;                       // capture times, ns
  std::error_code size_err;
  const auto file_bytes = std::filesystem::file_size(cfg.file, size_err);
  if (!size_err) r->bytes_.reserve(file_bytes);  // frame bytes are fewer than the file's
  pcap_pkthdr* h;
  const u_char* d;
  int rc;
  while ((rc = pcap_next_ex(pc, &h, &d)) == 1) {
    if (h->caplen > kMaxFrame) {
      ++r->skipped_;
      continue;
    }
    at.emplace_back(r->bytes_.size(), h->caplen);
    ts.push_back(static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(h->ts.tv_usec));
    r->bytes_.insert(r->bytes_.end(), d, d + h->caplen);
  }
  if (rc == -1) {
    const std::string e = pcap_geterr(pc);
    pcap_close(pc);
    return Error{where + "reading failed after " + std::to_string(at.size()) + " frames: " + e};
  }
  pcap_close(pc);
  if (at.empty()) return Error{where + "no frame to replay"};

  // Pass 1: each TCP direction's sequence span. Pass 2: what each frame shifts and where.
  struct Info {
    decode::PacketView v;
    bool tcp = false;
    flow::FlowKey key;
    flow::Dir dir = flow::Dir::kAtoB;
  };
  struct KeyHash {
    size_t operator()(const flow::FlowKey& k) const noexcept { return flow::hash_key(k); }
  };
  std::unordered_map<flow::FlowKey, std::array<DirSpan, 2>, KeyHash> spans;
  spans.reserve(at.size() / 8);
  auto inspect = [&](size_t i, Info& in) {
    decode::decode(r->bytes_.data() + at[i].first, at[i].second, r->link_, in.v);
    in.tcp = in.v.status == decode::DecodeStatus::kOk && in.v.is_tcp() &&
             flow::make_key(in.v, in.key, in.dir, cfg.key_vlans) && in.v.l4_off + in.v.tcp.hdr_len <= at[i].second;
  };
  Info in;
  if (cfg.shift_seq) {
    for (size_t i = 0; i < at.size(); ++i) {
      inspect(i, in);
      if (!in.tcp) continue;
      const auto& t = in.v.tcp;
      const uint32_t len = t.payload_len + ((t.flags & decode::kTcpSyn) ? 1u : 0u) + ((t.flags & decode::kTcpFin) ? 1u : 0u);
      spans[in.key][static_cast<int>(in.dir)].add(t.seq, len, (t.flags & decode::kTcpSyn) != 0);
    }
    for (const auto& [k, s] : spans) r->flows_ += (s[0].span() | s[1].span()) != 0;
  }
  r->frames_.resize(at.size());
  for (size_t i = 0; i < at.size(); ++i) {
    inspect(i, in);
    Frame& f = r->frames_[i];
    f = Frame{};
    f.data = r->bytes_.data() + at[i].first;
    f.ts0 = ts[i];
    f.queue = static_cast<uint16_t>(flow::spread_index(flow::spread_hash(in.v, cfg.key_vlans), cfg.queues));
    if (!cfg.shift_seq || !in.tcp) continue;
    const auto& s = spans[in.key];
    const int dir = static_cast<int>(in.dir);
    f.tcp_off = static_cast<uint16_t>(in.v.l4_off);
    f.seq0 = in.v.tcp.seq;
    f.ack0 = in.v.tcp.ack;
    f.dseq = s[dir].span();
    f.dack = s[1 - dir].span();
    f.ack_set = (in.v.tcp.flags & decode::kTcpAck) != 0;
    f.csum0 = load_be16(f.data + f.tcp_off + 16);
    // SACK edges are in the peer's sequence space, as the ACK field is.
    f.sack_first = static_cast<uint32_t>(r->edges_.size());
    const uint8_t* opt = f.data + f.tcp_off + 20;
    const uint8_t* end = f.data + f.tcp_off + in.v.tcp.hdr_len;
    while (opt < end && *opt != 0) {
      if (*opt == 1) {
        ++opt;
        continue;
      }
      if (end - opt < 2 || opt[1] < 2 || opt[1] > end - opt) break;
      if (*opt == 5 && f.ack_set) {
        for (int e = 0; 2 + 4 * (e + 1) <= opt[1]; ++e) {
          const uint8_t* p = opt + 2 + 4 * e;
          r->edges_.push_back(Edge{static_cast<uint32_t>(p - f.data), load_be32(p)});
          ++f.sack_n;
        }
      }
      opt += opt[1];
    }
  }

  // Each pass starts one mean frame gap after the previous pass's last frame.
  const auto [tmin, tmax] = std::minmax_element(ts.begin(), ts.end());
  const uint64_t dur = *tmax - *tmin;
  r->period_ns_ = dur + std::max<uint64_t>(1000, dur / at.size());
  uint64_t ts_flag = 0;
  if (rte_mbuf_dyn_rx_timestamp_register(&r->ts_field_, &ts_flag) != 0) r->ts_field_ = -1;

  // Mbufs over the frame bytes (no data room of their own), the rings, the ethdev.
  const unsigned serial = g_serial++;
  const std::string pool_name = "rp" + std::to_string(serial);
  r->pool_ = rte_pktmbuf_pool_create(pool_name.c_str(), static_cast<unsigned>(at.size()), 0, 0, 0, SOCKET_ID_ANY);
  if (r->pool_ == nullptr)
    return Error{where + "cannot create " + std::to_string(at.size()) + " mbuf headers (" + rte_strerror(rte_errno) +
                 "); raise eal.memory_mb (about 200 bytes per frame)"};
  auto* shinfo = new rte_mbuf_ext_shared_info{};
  shinfo->free_cb = no_free;
  rte_mbuf_ext_refcnt_set(shinfo, 1);
  r->shinfo_ = shinfo;
  for (size_t i = 0; i < at.size(); ++i) {
    rte_mbuf* m = rte_pktmbuf_alloc(r->pool_);
    if (m == nullptr) return Error{where + "mbuf pool exhausted while loading (internal error)"};
    uint8_t* data = r->bytes_.data() + at[i].first;
    rte_pktmbuf_attach_extbuf(m, data, static_cast<rte_iova_t>(reinterpret_cast<uintptr_t>(data)),
                              static_cast<uint16_t>(at[i].second), shinfo);
    m->data_off = 0;
    m->data_len = static_cast<uint16_t>(at[i].second);
    m->pkt_len = at[i].second;
    m->nb_segs = 1;
    if (r->ts_field_ >= 0) {
      m->ol_flags |= ts_flag;
      *RTE_MBUF_DYNFIELD(m, r->ts_field_, uint64_t*) = ts[i];
    }
    r->frames_[i].m = m;
  }
  for (uint16_t q = 0; q < cfg.queues; ++q) {
    const std::string ring_name = "rp" + std::to_string(serial) + "_" + std::to_string(q);
    rte_ring* ring = rte_ring_create(ring_name.c_str(), cfg.ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ring == nullptr) return Error{where + "cannot create ring " + ring_name + ": " + rte_strerror(rte_errno)};
    r->rings_.push_back(ring);
  }
  const int port = rte_eth_from_rings(cfg.name.c_str(), r->rings_.data(), cfg.queues, r->rings_.data(), cfg.queues,
                                      static_cast<unsigned>(rte_socket_id()));
  if (port < 0) return Error{where + "cannot create the net_ring ethdev: " + rte_strerror(rte_errno)};
  r->port_id_ = static_cast<uint16_t>(port);
  r->ethdev_ = "net_ring_" + cfg.name;
  for (uint16_t q = 0; q < cfg.queues; ++q) r->pending_.emplace_back().reserve(kChunk);
  std::lock_guard<std::mutex> lock(g_ports_mu);
  g_ports.emplace_back(r->port_id_, r.get());
  return r;
}

ReplayPort::~ReplayPort() {
  stop();
  {
    std::lock_guard<std::mutex> lock(g_ports_mu);
    std::erase_if(g_ports, [this](const auto& p) { return p.second == this; });
  }
  // The ethdev (closed by its DpdkPortSource handle) attached to these rings; they are ours.
  for (rte_ring* ring : rings_) rte_ring_free(ring);
  if (pool_ != nullptr) rte_mempool_free(pool_);
  delete static_cast<rte_mbuf_ext_shared_info*>(shinfo_);
}

uint64_t ReplayPort::missed(uint16_t port_id) noexcept {
  std::lock_guard<std::mutex> lock(g_ports_mu);
  for (const auto& [id, p] : g_ports)
    if (id == port_id) return p->dropped();
  return 0;
}

std::vector<uint64_t> ReplayPort::queue_frames() const {
  std::vector<uint64_t> n(cfg_.queues, 0);
  for (const Frame& f : frames_) ++n[f.queue];
  return n;
}

uint64_t ReplayPort::in_rings() const noexcept {
  uint64_t n = 0;
  for (const rte_ring* ring : rings_) n += rte_ring_count(ring);
  return n;
}

void ReplayPort::start(const std::atomic<bool>& stop) {
  halt_.store(false);
  feeder_ = std::thread([this, &stop] { feed(stop); });
}

void ReplayPort::stop() {
  halt_.store(true);
  if (feeder_.joinable()) feeder_.join();
}

void ReplayPort::rewrite(const Frame& f, uint64_t pass) noexcept {
  if (ts_field_ >= 0) *RTE_MBUF_DYNFIELD(f.m, ts_field_, uint64_t*) = f.ts0 + pass * period_ns_;
  if (f.tcp_off == 0) return;
  const uint32_t k = static_cast<uint32_t>(pass);  // sequence arithmetic is modulo 2^32
  uint8_t* tcp = f.data + f.tcp_off;
  // The TCP checksum follows every rewritten word (RFC 1624 incremental update from the
  // file's values): a frame whose checksum was right stays right (an evidence pcap cut from
  // a replay passes tshark's checksum check), one that was wrong (offloaded) stays as wrong.
  uint32_t sum = static_cast<uint16_t>(~f.csum0);
  auto put = [&sum](uint8_t* at, uint32_t old_v, uint32_t new_v) {
    store_be32(at, new_v);
    sum += static_cast<uint16_t>(~(old_v >> 16)) + static_cast<uint16_t>(~old_v) + (new_v >> 16) + (new_v & 0xFFFF);
  };
  put(tcp + 4, f.seq0, f.seq0 + k * f.dseq);
  if (f.ack_set) put(tcp + 8, f.ack0, f.ack0 + k * f.dack);
  for (uint32_t e = f.sack_first; e < f.sack_first + f.sack_n; ++e)
    put(f.data + edges_[e].off, edges_[e].v0, edges_[e].v0 + k * f.dack);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  store_be16(tcp + 16, static_cast<uint16_t>(~sum));
}

// Delivers queue q's pending burst. Paced: what does not fit is dropped (imissed). Else it
// waits for room; false when asked to stop meanwhile.
bool ReplayPort::flush(uint16_t q, const std::atomic<bool>& stop) noexcept {
  std::vector<rte_mbuf*>& v = pending_[q];
  const unsigned n = static_cast<unsigned>(v.size());
  unsigned done = 0;
  bool ok = true;
  Backoff backoff;
  for (;;) {
    done += rte_ring_enqueue_burst(rings_[q], reinterpret_cast<void* const*>(v.data() + done), n - done, nullptr);
    if (done == n) break;
    if (cfg_.rate_pps > 0 || stop.load(std::memory_order_relaxed) || halt_.load(std::memory_order_relaxed)) {
      for (unsigned i = done; i < n; ++i) rte_mbuf_refcnt_set(v[i], 1);  // never delivered
      if (cfg_.rate_pps > 0) dropped_.store(dropped_.load(std::memory_order_relaxed) + (n - done), std::memory_order_relaxed);
      else ok = false;
      break;
    }
    backoff.wait();
  }
  sent_.store(sent_.load(std::memory_order_relaxed) + done, std::memory_order_relaxed);
  v.clear();
  return ok;
}

void ReplayPort::abandon() noexcept {
  for (auto& v : pending_) {
    for (rte_mbuf* m : v) rte_mbuf_refcnt_set(m, 1);
    v.clear();
  }
}

void ReplayPort::feed(const std::atomic<bool>& stop) noexcept {
  pthread_setname_np(pthread_self(), "replay-feed");
  const bool paced = cfg_.rate_pps > 0;
  const double tsc_per_frame = paced ? static_cast<double>(rte_get_tsc_hz()) / cfg_.rate_pps : 0;
  const uint64_t max_lag = rte_get_tsc_hz() / 1000;  // paced: never more than 1 ms of catching up
  double next = static_cast<double>(rte_get_tsc_cycles());
  auto stopping = [&] { return stop.load(std::memory_order_relaxed) || halt_.load(std::memory_order_relaxed); };
  const size_t n = frames_.size();
  for (uint64_t pass = 0; cfg_.passes == 0 || pass < cfg_.passes; ++pass) {
    for (size_t i = 0; i < n; i += kChunk) {
      if (stopping()) return;
      const size_t end = std::min(n, i + kChunk);
      if (paced) {
        uint64_t now = rte_get_tsc_cycles();
        Backoff backoff;
        while (static_cast<double>(now) < next) {
          backoff.wait();
          now = rte_get_tsc_cycles();
        }
        if (static_cast<double>(now) > next + static_cast<double>(max_lag)) next = static_cast<double>(now);
        next += static_cast<double>(end - i) * tsc_per_frame;
      }
      for (size_t j = i; j < end; ++j) {
        if (j + kPrefetchAhead < n) {
          const Frame& a = frames_[j + kPrefetchAhead];
          rte_prefetch0(a.m);
          if (a.tcp_off != 0) rte_prefetch0(a.data + a.tcp_off);
        }
        const Frame& f = frames_[j];
        // A worker still holds this frame's previous pass (its queue is that deep):
        // paced, the frame is lost as on a NIC whose ring is full; else wait for it.
        Backoff backoff;
        while (rte_mbuf_refcnt_read(f.m) != 1) {
          if (paced || stopping()) break;
          backoff.wait();
        }
        if (rte_mbuf_refcnt_read(f.m) != 1) {
          if (!paced) return abandon();
          dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
          continue;
        }
        std::atomic_thread_fence(std::memory_order_acquire);  // the worker's reads came before its free
        rewrite(f, pass);
        rte_mbuf_refcnt_set(f.m, 2);  // one reference for the worker, one kept here
        pending_[f.queue].push_back(f.m);
      }
      for (uint16_t q = 0; q < cfg_.queues; ++q)
        if (!pending_[q].empty() && !flush(q, stop)) return abandon();
    }
    passes_.store(pass + 1, std::memory_order_relaxed);
  }
}

}  // namespace seqwatch::runtime
