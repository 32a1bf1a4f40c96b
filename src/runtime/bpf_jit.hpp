// BPF filters compiled to native code by DPDK (control path, once per filter): libpcap's
// classic program -> rte_bpf_convert (eBPF) -> rte_bpf_load -> rte_bpf_get_jit. The filter
// keeps its expression and verdicts; only the per-packet cost changes (libpcap's
// interpreter: 20-33 ns per packet here, docs/performance.md "BPF capture filter").
//
// The converted program reads the packet through an rte_mbuf; the JIT function is called
// with a one-segment mbuf view of the frame (buf_addr, data_off 0, data_len = pkt_len =
// caplen). In that view BPF's `len` is the captured length, so frames cut by a snaplen
// (caplen < original length) go to the interpreter when the program reads `len`: verdicts
// equal libpcap's for every frame (tests/evidence/bpf_jit_test.cpp, corpus-wide).
#pragma once

#include <string>

#include "evidence/bpf_filter.hpp"
#include "util/result.hpp"

namespace seqwatch::runtime {

// Needs the EAL (rte_bpf_convert allocates with rte_malloc). Ok(true): `f` now runs
// natively; Ok(false): this DPDK has no JIT for the machine, `f` stays on libpcap's
// interpreter; Error: DPDK refused the program (the message says why), `f` is unchanged
// and still works.
Result<bool> jit_compile(evidence::BpfFilter& f);

}  // namespace seqwatch::runtime
