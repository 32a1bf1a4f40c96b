#define ALLOW_EXPERIMENTAL_API 1  // rte_bpf_convert is experimental in DPDK 22.11
#include "runtime/bpf_jit.hpp"

#include <pcap/pcap.h>
#include <rte_bpf.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/eal.hpp"

namespace seqwatch::runtime {

namespace {

struct Jit {
  std::vector<ebpf_insn> ins;  // the repaired program
  rte_bpf* bpf = nullptr;
  uint64_t (*func)(void*) = nullptr;
  ~Jit() {
    if (bpf != nullptr) rte_bpf_destroy(bpf);
  }
};

// The hot path: a one-segment mbuf view of the frame on the stack. The JIT reads buf_addr,
// data_off and data_len for loads inside the segment, and pkt_len / next / nb_segs (through
// __rte_pktmbuf_read) for loads beyond it, which then fail: the program returns 0, as
// libpcap's bpf_filter does for a load past caplen.
uint64_t run(const void* state, const uint8_t* data, uint32_t caplen) noexcept {
  rte_mbuf m;
  m.buf_addr = const_cast<uint8_t*>(data);
  m.data_off = 0;
  m.data_len = static_cast<uint16_t>(caplen);
  m.pkt_len = caplen;
  m.nb_segs = 1;
  m.next = nullptr;
  return static_cast<const Jit*>(state)->func(&m);
}

// DPDK 22.11's converted programs need two repairs before its x86 JIT runs them right
// (each found by comparing verdicts with libpcap's on the corpus; bpf_jit_test checks it):
//  1. rte_bpf_convert gives the indexed loads BPF_LD|BPF_IND|BPF_B and |BPF_W the index
//     register 0 (A) instead of X: only |BPF_H got X, because BPF_H's size bits happen to be
//     BPF_X's source bit. `tcp[13]` read the byte at A + 27 instead of X + 27.
//  2. The JIT encodes JSET with an immediate as `test $imm, %reg` with a 1-byte immediate
//     whenever the value fits in 8 bits, but that instruction always takes 4: every byte
//     after it is decoded wrongly (wrong verdicts, or a crash). Each JSET with an immediate
//     becomes MOV32 R9, imm; JSET A, R9 (R9 is unused by converted programs), and every
//     jump is re-aimed over the inserted instructions.
constexpr uint8_t kRegA = EBPF_REG_0, kRegX = EBPF_REG_7, kRegK = EBPF_REG_9;

bool is_jump(uint8_t code) {
  return BPF_CLASS(code) == BPF_JMP && BPF_OP(code) != EBPF_CALL && BPF_OP(code) != EBPF_EXIT;
}

Result<std::vector<ebpf_insn>> repair(const ebpf_insn* in, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i)
    if (in[i].dst_reg == kRegK || in[i].src_reg == kRegK) return Error{"the converted program uses R9, which the repair needs"};
  std::vector<uint32_t> at(n + 1);  // new position of each old instruction
  std::vector<ebpf_insn> out;
  out.reserve(n + n / 2);
  std::vector<std::pair<uint32_t, uint32_t>> jumps;  // (new position, old target)
  for (uint32_t i = 0; i < n; ++i) {
    at[i] = static_cast<uint32_t>(out.size());
    ebpf_insn x = in[i];
    if (BPF_CLASS(x.code) == BPF_LD && BPF_MODE(x.code) == BPF_IND) x.src_reg = kRegX;
    if (x.code == (BPF_JMP | BPF_JSET | BPF_K)) {
      if (x.dst_reg != kRegA) return Error{"unexpected JSET register " + std::to_string(x.dst_reg)};
      ebpf_insn mov{};
      mov.code = BPF_ALU | EBPF_MOV | BPF_K;
      mov.dst_reg = kRegK;
      mov.imm = x.imm;
      out.push_back(mov);
      x.code = BPF_JMP | BPF_JSET | BPF_X;
      x.src_reg = kRegK;
      x.imm = 0;
    }
    if (is_jump(x.code)) {
      const int64_t target = int64_t{i} + 1 + x.off;
      if (target < 0 || target > n) return Error{"jump out of the program at " + std::to_string(i)};
      jumps.emplace_back(static_cast<uint32_t>(out.size()), static_cast<uint32_t>(target));
    }
    out.push_back(x);
  }
  at[n] = static_cast<uint32_t>(out.size());
  for (const auto& [pos, target] : jumps) {
    const int64_t off = int64_t{at[target]} - (int64_t{pos} + 1);
    if (off < INT16_MIN || off > INT16_MAX) return Error{"jump too long after repair"};
    out[pos].off = static_cast<int16_t>(off);
  }
  return out;
}

}  // namespace

Result<bool> jit_compile(evidence::BpfFilter& f) {
  if (!eal_ready()) return Error{"BPF filter '" + f.expression() + "': the DPDK JIT needs the EAL, which is not running"};
  // An mbuf segment holds at most 65535 bytes: longer frames go to the interpreter.
  rte_bpf_prm* prm = rte_bpf_convert(f.program());
  if (prm == nullptr)
    return Error{"BPF filter '" + f.expression() + "': rte_bpf_convert failed: " + rte_strerror(rte_errno)};
  auto fixed = repair(prm->ins, prm->nb_ins);
  if (!fixed) {
    rte_free(prm);
    return Error{"BPF filter '" + f.expression() + "': cannot repair the converted program: " + fixed.error().message};
  }
  rte_bpf_prm repaired = *prm;
  rte_free(prm);
  auto jit = std::make_shared<Jit>();
  jit->ins = std::move(fixed.value());
  repaired.ins = jit->ins.data();
  repaired.nb_ins = static_cast<uint32_t>(jit->ins.size());
  jit->bpf = rte_bpf_load(&repaired);
  const int load_err = rte_errno;
  if (jit->bpf == nullptr)
    return Error{"BPF filter '" + f.expression() + "': rte_bpf_load refused the converted program: " + rte_strerror(load_err)};
  rte_bpf_jit j{};
  if (rte_bpf_get_jit(jit->bpf, &j) != 0 || j.func == nullptr) return false;
  jit->func = j.func;
  f.accelerate(&run, std::shared_ptr<const void>(jit, jit.get()), 65535);
  return true;
}

}  // namespace seqwatch::runtime
