// seqwatch's side of the TCP differential: a capture file through the product's own
// packet path (PcapFileSource -> decode_burst -> TcpStage, as runtime/worker.cpp wires
// them), with the stage's default flow-table timeouts, collecting every segment event's
// verdict by frame number.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace seqwatch::tcpdiff {

struct SeqwatchFrame {
  uint32_t bits = 0;          // every tcp::Verdict bit of the frame's events (OR)
  uint32_t dupack_frame = 0;  // with kDuplicateAck
  uint16_t dupack_num = 0;    // with kDuplicateAck
  uint8_t events = 0;         // events seen for this frame (more than one is itself a finding)
  bool tcp = false;           // the decoder delivered a TCP segment (status kOk): the stage analysed it
  uint8_t decode_status = 0;  // decode::DecodeStatus of the frame
};

struct SeqwatchRun {
  std::vector<SeqwatchFrame> frames;  // index = frame number - 1, one per frame read
  uint64_t tcp_segments = 0;          // TcpStage: segments analysed
  uint64_t tcp_skipped = 0;           // TcpStage: TCP packets not analysed (decode error)
  uint64_t sack_segments = 0;         // decoded TCP segments carrying SACK blocks
  // Decoded TCP segments whose ports, seq, ack, flags, window, payload length and checksum
  // equal an earlier segment's (compared by a 64-bit hash, so a collision only adds to it):
  // no copy of a segment without one (corpus_copies_test).
  uint64_t repeated_headers = 0;
  uint64_t events = 0;
  uint64_t events_dropped = 0;        // event ring full: must stay 0 (the harness drains each burst)
  uint64_t restarts = 0;              // reused-ports restarts
  uint64_t flows_evicted = 0;
  uint64_t flows_expired_idle = 0;
  uint64_t flows_expired_closed = 0;  // removed after FIN/FIN or RST + linger: later segments start a new flow
  std::string error;                  // the file could not be read at all
  std::string read_error;             // reading stopped early on a damaged file
};

// key_vlans=false runs the file as `seqwatch analyze --ignore-vlans` does. copy_window_us
// is the stage's exact-copy window (TcpStageConfig::copy_window_us): 0, the default here,
// analyses copies as tshark 4.0 does (it has no copy detection), so the verdicts compare
// like for like; the product's default (10 ms) is checked by corpus_copies_test.
SeqwatchRun run_seqwatch(const std::string& capture_path, bool key_vlans = true, uint32_t copy_window_us = 0);

// Copies `in` to `out` with every record's captured length cut to `snap` (the original
// length kept), as `tcpdump -s snap` would have written it, except SYN segments: their
// window-scale option is the one option the analysis cannot do without (a cut one is
// lost to every analyser alike: the connection's windows are then read unscaled, and
// window_full / zero-window findings change). keep_tcp_header: a TCP segment is never cut
// before the end of its fixed TCP header (20 bytes from the innermost TCP header's start),
// so that every segment stays analysable however deep its encapsulation. A file damaged at
// its end (a truncated record) is copied up to the damage, as the readers take it. Read as
// run_seqwatch reads `in`, written as pcapng (nanosecond timestamps, one interface per link
// type, every frame number kept). Returns "" or the error.
std::string cut_copy(const std::string& in, const std::string& out, uint32_t snap, bool keep_tcp_header = false);

}  // namespace seqwatch::tcpdiff
