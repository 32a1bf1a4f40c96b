// Classic pcap writer (LINKTYPE_ETHERNET), nanosecond or microsecond magic, through a
// 1 MiB buffer. Errors carry the path and errno text.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace seqwatch::gen {

class PcapWriter {
 public:
  PcapWriter() = default;
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  ~PcapWriter();

  // Opens path ("-" is stdout) and writes the file header. Empty string on success.
  std::string open(const std::string& path, bool nanosecond, uint32_t snaplen);
  void write(const uint8_t* data, uint32_t caplen, uint32_t wirelen, uint64_t ts_ns);
  // Flushes and closes; returns the first write error, if any.
  std::string close();

 private:
  void flush();
  std::FILE* f_ = nullptr;
  bool owned_ = false;
  bool nanosecond_ = true;
  std::string path_, error_;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
};

}  // namespace seqwatch::gen
