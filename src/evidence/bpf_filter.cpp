#include "evidence/bpf_filter.hpp"

#include <pcap/pcap.h>

namespace seqwatch::evidence {

Result<BpfFilter> BpfFilter::compile(const std::string& expression, int dlt, uint32_t snaplen) {
  pcap_t* dead = pcap_open_dead(dlt, static_cast<int>(snaplen));
  if (dead == nullptr) return Error{"BPF filter '" + expression + "': libpcap cannot open link type " + std::to_string(dlt)};
  auto prog = std::make_unique<bpf_program>();
  // Netmask unknown: PCAP_NETMASK_UNKNOWN makes only "ip broadcast" fail, as tcpdump -r does.
  if (pcap_compile(dead, prog.get(), expression.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    std::string msg = pcap_geterr(dead);
    const char* name = pcap_datalink_val_to_name(dlt);
    pcap_close(dead);
    return Error{"BPF filter '" + expression + "' (link type " + (name ? name : std::to_string(dlt)) +
                 ") does not compile: " + msg + "; check the expression with `tcpdump -d '" + expression + "'`"};
  }
  pcap_close(dead);
  BpfFilter f;
  f.expression_ = expression;
  f.dlt_ = dlt;
  f.prog_ = std::move(prog);
  for (uint32_t i = 0; i < f.prog_->bf_len; ++i) {
    const uint16_t code = f.prog_->bf_insns[i].code;
    if ((BPF_CLASS(code) == BPF_LD || BPF_CLASS(code) == BPF_LDX) && BPF_MODE(code) == BPF_LEN) f.reads_len_ = true;
  }
  return f;
}

Result<BpfFilter> BpfFilter::compile(const std::string& expression, decode::LinkType link, uint32_t snaplen) {
  // LINKTYPE_* -> DLT_*: they differ only for raw IP (LINKTYPE_RAW 101 = DLT_RAW 12 on Linux).
  const int dlt = link == decode::LinkType::kRaw ? DLT_RAW : static_cast<int>(link);
  return compile(expression, dlt, snaplen);
}

std::string BpfFilter::problem(const std::string& expression, decode::LinkType link) {
  auto f = compile(expression, link);
  if (f) return {};
  const std::string& m = f.error().message;  // "BPF filter 'X' (link type L) does not compile: WHY"
  constexpr std::string_view kAfter = "does not compile: ";
  const size_t at = m.find(kAfter);
  return at == std::string::npos ? m : m.substr(at + kAfter.size());
}

BpfFilter::BpfFilter(BpfFilter&&) noexcept = default;
BpfFilter& BpfFilter::operator=(BpfFilter&& o) noexcept {
  if (this != &o) {
    if (prog_) pcap_freecode(prog_.get());
    expression_ = std::move(o.expression_);
    dlt_ = o.dlt_;
    prog_ = std::move(o.prog_);
    reads_len_ = o.reads_len_;
    accel_ = o.accel_;
    accel_ctx_ = o.accel_ctx_;
    accel_max_ = o.accel_max_;
    accel_state_ = std::move(o.accel_state_);
  }
  return *this;
}
BpfFilter::~BpfFilter() {
  if (prog_) pcap_freecode(prog_.get());
}

bool BpfFilter::match(const uint8_t* data, uint32_t caplen, uint32_t wirelen) const noexcept {
  const uint32_t wire = wirelen != 0 ? wirelen : caplen;
  if (accel_ != nullptr && caplen <= accel_max_ && (wire == caplen || !reads_len_))
    return accel_(accel_ctx_, data, caplen) != 0;
  return bpf_filter(prog_->bf_insns, data, wire, caplen) != 0;
}

void BpfFilter::accelerate(Accel fn, std::shared_ptr<const void> state, uint32_t max_caplen) noexcept {
  accel_ = fn;
  accel_ctx_ = state.get();
  accel_max_ = max_caplen;
  accel_state_ = std::move(state);
}

const bpf_insn* BpfFilter::insns() const noexcept { return prog_->bf_insns; }
uint32_t BpfFilter::length() const noexcept { return prog_->bf_len; }

}  // namespace seqwatch::evidence
