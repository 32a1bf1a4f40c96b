// BPF filters: tcpdump expressions compiled once with libpcap for a link type, run per
// packet with libpcap's cBPF interpreter (bpf_filter).
//
// The compiled program (program()) is plain classic BPF, so the DPDK runtime can run the
// same filter faster without this library depending on DPDK: rte_bpf_convert(program())
// turns it into eBPF, rte_bpf_load + rte_bpf_get_jit give a JIT function with the same
// verdicts (src/runtime/bpf_jit.cpp owns that path and installs it with accelerate()).
// Per packet this class costs one non-virtual call, plus the native code's when installed.
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
  // Why `expression` does not compile for `link` (libpcap's message and a hint, without the
  // expression and link type an error of compile() starts with); "" when it compiles. For
  // the configuration checks, which name the key and the expression themselves.
  static std::string problem(const std::string& expression, decode::LinkType link);

  BpfFilter(BpfFilter&&) noexcept;
  BpfFilter& operator=(BpfFilter&&) noexcept;
  ~BpfFilter();

  // True when the frame matches (libpcap's bpf_filter: non-zero return). `wirelen` is the
  // original length (`len` / `greater` test it); 0 means caplen.
  bool match(const uint8_t* data, uint32_t caplen, uint32_t wirelen) const noexcept;

  // A faster implementation of this same program (native code from the DPDK runtime): it
  // gets the frame and its caplen and returns the program's result. It runs every frame
  // of at most `max_caplen` bytes, except, when the program reads the packet length
  // (reads_length()), frames cut by a snaplen (caplen < wirelen): those keep libpcap's
  // interpreter, which knows the original length. `state` is kept alive by the filter.
  using Accel = uint64_t (*)(const void* state, const uint8_t* data, uint32_t caplen) noexcept;
  void accelerate(Accel fn, std::shared_ptr<const void> state, uint32_t max_caplen) noexcept;
  bool accelerated() const noexcept { return accel_ != nullptr; }
  // The program has a `len` load (BPF_LD/BPF_LDX with BPF_LEN): `len`, `greater`, `less`.
  bool reads_length() const noexcept { return reads_len_; }

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
  bool reads_len_ = false;
  Accel accel_ = nullptr;
  const void* accel_ctx_ = nullptr;
  uint32_t accel_max_ = 0;
  std::shared_ptr<const void> accel_state_;
};

}  // namespace seqwatch::evidence
