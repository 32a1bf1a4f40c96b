// Opens a capture file for the differential tests as seqwatch reads it: libpcap
// (PcapFileSource), except for a pcapng file whose interfaces have different link types,
// which libpcap stops reading at the second interface and seqwatch's mmap reader reads
// whole (bursts of one link type each: read link_type() per burst).
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
};

inline CaptureReader open_capture(const std::string& path) {
  CaptureReader r;
  if (auto m = MmapFileSource::open(path); m.ok() && m.value()->mixed_link_types()) {
    r.mmap = std::move(m.value());
    return r;
  }
  auto p = PcapFileSource::open(path);
  if (p.ok()) r.pcap = std::move(p.value());
  else r.error = p.error().message;
  return r;
}

}  // namespace seqwatch::test
