// BPF filters: tcpdump expressions compiled once with libpcap for a link type, run per
// packet with libpcap's cBPF interpreter (bpf_filter).
//
// The compiled program (program()) is plain classic BPF, so the DPDK runtime can run the
// same filter faster without this library depending on DPDK: rte_bpf_convert(program())
// turns it into eBPF, rte_bpf_load + rte_bpf_get_jit give a JIT function with the same
// verdicts (src/runtime/ owns that path). Per packet this class costs one non-virtual call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "decode/packet_view.hpp"
#include "util/result.hpp"

struct bpf_program;
struct bpf_insn;

namespace seqwatch::evidence {

class BpfFilter {
 public:
  // Compiles `expression` (tcpdump syntax) for frames of link type `dlt` (libpcap DLT_*
  // value, as pcap_datalink returns it) with optimisation on. An error names the
  // expression, the link type and libpcap's message.
  static Result<BpfFilter> compile(const std::string& expression, int dlt, uint32_t snaplen = 262144);
  // The same for a decoder link type (LinkType numbers are LINKTYPE_* values).
  static Result<BpfFilter> compile(const std::string& expression, decode::LinkType link, uint32_t snaplen = 262144);

  BpfFilter(BpfFilter&&) noexcept;
  BpfFilter& operator=(BpfFilter&&) noexcept;
  ~BpfFilter();

  // True when the frame matches (libpcap's bpf_filter: non-zero return). `wirelen` is the
  // original length (`len` / `greater` test it); 0 means caplen.
  bool match(const uint8_t* data, uint32_t caplen, uint32_t wirelen) const noexcept;

  const std::string& expression() const noexcept { return expression_; }
  int dlt() const noexcept { return dlt_; }
  // The classic BPF program (for rte_bpf_convert); valid while this object lives.
  const bpf_program* program() const noexcept { return prog_.get(); }
  const bpf_insn* insns() const noexcept;
  uint32_t length() const noexcept;

 private:
  BpfFilter() = default;
  std::string expression_;
  int dlt_ = 0;
  std::unique_ptr<bpf_program> prog_;
};

}  // namespace seqwatch::evidence
