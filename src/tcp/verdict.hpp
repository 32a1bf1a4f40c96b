// Per-segment verdicts. The first group mirrors Wireshark's tcp.analysis.* flags with the
// same meaning and names; the second group is seqwatch's own.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>

namespace seqwatch::tcp {

enum Verdict : uint32_t {
  // Wireshark tcp.analysis.<name>
  kRetransmission = 1u << 0,          // also set on fast and spurious retransmissions, as tshark does
  kFastRetransmission = 1u << 1,
  kSpuriousRetransmission = 1u << 2,
  kOutOfOrder = 1u << 3,
  kLostSegment = 1u << 4,             // "previous segment not captured"
  kAckLostSegment = 1u << 5,          // "ACKed segment that wasn't captured"
  kDuplicateAck = 1u << 6,
  kZeroWindow = 1u << 7,
  kZeroWindowProbe = 1u << 8,
  kZeroWindowProbeAck = 1u << 9,
  kWindowFull = 1u << 10,
  kWindowUpdate = 1u << 11,
  kKeepAlive = 1u << 12,
  kKeepAliveAck = 1u << 13,
  kReusedPorts = 1u << 14,
  // seqwatch's own
  kTimeoutRetransmission = 1u << 15,  // retransmission counted as a timeout (flow record rto_retx; the rules:
                                      // docs/tcp-analysis.md section 14); with kRetransmission, maybe kFastRetransmission
  kAckInSegment = 1u << 16,           // ACK lands strictly inside a segment of the other side
  kSynRetransmission = 1u << 17,      // SYN sent again (attempt number in the event)
  kSynAckRetransmission = 1u << 18,
  kSynRefused = 1u << 19,             // RST answering a SYN
  kRstMidstream = 1u << 20,           // RST on an established connection
  kBadFlags = 1u << 21,               // impossible flags (SYN+FIN, SYN+RST, FIN without ACK, none of S/F/R/A)
  kWscaleMissing = 1u << 22,          // SYN/ACK completes a handshake where one side lacked window scaling
  kLossUpstream = 1u << 23,           // re-sent segment fills a gap: the original never passed the sensor
  kLossDownstream = 1u << 24,         // re-sent segment repeats bytes that passed the sensor
  kDsack = 1u << 25,                  // ACK carrying a D-SACK (RFC 2883): the peer got a segment twice
  kSpuriousByTimestamp = 1u << 26,    // ACK echoing the original's TSval: the retransmission was unnecessary (RFC 3522)
  kTailLossProbe = 1u << 27,          // re-send of the last segment sent, no dup ACKs, sooner than any RTO (RFC 8985 TLP)
  kDuplicatePacket = 1u << 28,        // exact copy of a recent segment (SPAN/mirror or network duplicate): not analysed
  kRstAfterFin = 1u << 29,            // RST from a side that had sent its FIN, resetting data of the peer it never
                                      // acknowledged while the peer had not closed: data sent on a connection already
                                      // closed (keep-alive race: a proxy's request meets the server's idle close, and
                                      // the proxy answers 502)
  kSynAckAfterAck = 1u << 30,         // SYN/ACK re-sent after the client's ACK of it passed the sensor: the server
                                      // did not take the ACK (accept queue full: ListenOverflows; or lost past the sensor)
};

inline constexpr unsigned kVerdictBits = 31;

// Names by bit: Wireshark's field name for Wireshark verdicts, seqwatch's own name otherwise.
// The event stream, the summary and evidence triggers use them.
inline constexpr std::string_view kVerdictNames[kVerdictBits] = {
    "retransmission", "fast_retransmission", "spurious_retransmission", "out_of_order", "lost_segment",
    "ack_lost_segment", "duplicate_ack", "zero_window", "zero_window_probe", "zero_window_probe_ack",
    "window_full", "window_update", "keep_alive", "keep_alive_ack", "reused_ports", "timeout_retransmission",
    "ack_in_segment", "syn_retransmission", "synack_retransmission", "syn_refused", "rst_midstream",
    "bad_flags", "window_scaling_missing", "loss_upstream", "loss_downstream", "dsack",
    "spurious_by_timestamp", "tail_loss_probe", "duplicate_packet", "rst_after_fin", "synack_after_ack"};

// The Verdict bit of a name (kVerdictNames), or -1.
constexpr int verdict_bit(std::string_view name) noexcept {
  for (unsigned b = 0; b < kVerdictBits; ++b)
    if (!name.empty() && kVerdictNames[b] == name) return static_cast<int>(b);
  return -1;
}
static_assert(verdict_bit("reused_ports") == std::countr_zero(uint32_t{kReusedPorts}) &&
              verdict_bit("timeout_retransmission") == std::countr_zero(uint32_t{kTimeoutRetransmission}) &&
              verdict_bit("ack_in_segment") == std::countr_zero(uint32_t{kAckInSegment}) &&
              verdict_bit("dsack") == std::countr_zero(uint32_t{kDsack}) &&
              verdict_bit("synack_after_ack") == std::countr_zero(uint32_t{kSynAckAfterAck}),
              "kVerdictNames follows the Verdict bits");

// kVerdictNames[bit], "unknown" for a bit without a name.
std::string_view verdict_name(unsigned bit) noexcept;

// Result of analysing one segment.
struct SegmentVerdict {
  uint32_t bits = 0;
  uint32_t dupack_frame = 0;   // with kDuplicateAck: the frame this ACK duplicates
  uint16_t dupack_num = 0;     // with kDuplicateAck: 1-based position in the run
  uint16_t midack_offset = 0;  // with kAckInSegment: bytes into the segment
  uint8_t attempt = 0;         // with kSyn(Ack)Retransmission: 2 = first retransmission
};

}  // namespace seqwatch::tcp
