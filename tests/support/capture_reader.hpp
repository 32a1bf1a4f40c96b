// Opens a capture file for the differential tests as `seqwatch analyze` (--source auto)
// reads it: the mmap reader (MmapFileSource) where it takes the file, else libpcap
// (PcapFileSource: gzip, pipes, the variants the mmap reader refuses). Both give the same
// frames for every file both read (tests/source/mmap_file_test.cpp); the mmap reader also
// reads what libpcap stops at: pcapng interfaces of several link types (bursts of one link
// type each: read link_type() per burst), sections in different byte orders, a pcapng file
// without interfaces, and it numbers pcapng custom blocks as tshark does.
#pragma once

#include <memory>
#include <string>

#include "source/mmap_file.hpp"
#include "source/pcap_file.hpp"

namespace seqwatch::test {

struct CaptureReader {
  std::unique_ptr<PcapFileSource> pcap;
  std::unique_ptr<MmapFileSource> mmap;
  std::string error;  // neither reader opened the file

  PacketSource* source() const { return mmap ? static_cast<PacketSource*>(mmap.get()) : pcap.get(); }
  std::string read_error() const { return mmap ? mmap->read_error() : pcap ? pcap->read_error() : std::string(); }
  // Frame numbers the reader handed out (packets and tshark's non-packet frames); libpcap:
  // 0, its packets alone are numbered.
  uint64_t frames_read() const { return mmap ? mmap->frames_read() : 0; }
};

inline CaptureReader open_capture(const std::string& path) {
  CaptureReader r;
  if (auto m = MmapFileSource::open(path); m.ok()) {
    r.mmap = std::move(m.value());
    return r;
  }
  auto p = PcapFileSource::open(path);
  if (p.ok()) r.pcap = std::move(p.value());
  else r.error = p.error().message;
  return r;
}

}  // namespace seqwatch::test
