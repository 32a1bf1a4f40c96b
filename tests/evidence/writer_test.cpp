// Control-thread side: pcap and pcapng files that tshark reads without a warning, packet
// comments, original lengths, rotation, the index, a read-only directory and a full disk.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "evidence/capture.hpp"
#include "evidence/sink.hpp"
#include "evidence_test_util.hpp"

namespace seqwatch::evidence {
namespace {

namespace fs = std::filesystem;
using test::PacketFactory;
using test::Pkt;

struct Cmd {
  int rc;
  std::string out;
};

Cmd run(const std::string& cmd) {
  Cmd r{-1, {}};
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  r.rc = pclose(p);
  return r;
}

bool have_tshark() { return run("command -v tshark >/dev/null 2>&1").rc == 0; }

// tshark reads the file with nothing on stderr and a zero exit status; returns stdout.
std::string tshark_ok(const std::string& file, const std::string& args = "") {
  const std::string err = file + ".tshark-stderr";
  Cmd c = run("tshark -n -r '" + file + "' " + args + " 2>'" + err + "'");
  std::ifstream e(err);
  std::string warn, l;
  while (std::getline(e, l))
    if (l.find("Running as user \"root\"") == std::string::npos) warn += l + "\n";  // tshark's root notice
  fs::remove(err);
  EXPECT_EQ(c.rc, 0) << file;
  EXPECT_EQ(warn, "") << file;
  return c.out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t e = s.find('\n', pos);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(pos, e - pos));
    pos = e + 1;
  }
  return out;
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& ext) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/seqwatch-evidence-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Flows 1..n, each: 8 packets, an RST on the 5th (K = 3, M = 2 -> 6 evidence packets each).
struct Traffic {
  PacketFactory f;
  std::unique_ptr<EvidenceCapture> cap;
  explicit Traffic(TrimConfig trim = {TrimMode::kHeaders, 128}, uint16_t payload = 1000) : payload_(payload) {
    CaptureConfig c;
    c.flow_slots = 1024;
    c.pre_packets = 3;
    c.post_packets = 2;
    c.ring = 1u << 12;
    c.trim = trim;
    c.budget.global_packets = 0;
    TriggerConfig t;
    t.rst = true;
    cap = EvidenceCapture::create(c, TriggerSet::compile(t).value()).value();
  }
  void flows(EvidenceSink& sink, uint32_t n, uint64_t t0_ns = 1'700'000'000'000'000'000ull) {
    for (uint32_t fl = 1; fl <= n; ++fl) {
      for (int i = 0; i < 8; ++i) {
        const bool rst = i == 4;
        const Pkt& p = f.tcp(static_cast<uint16_t>(20000 + fl), i % 2 == 0, t0_ns + fl * 1'000'000 + i * 1000,
                             rst ? 0 : payload_, rst ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
        tcp::SegmentVerdict v;
        if (i == 3) v.bits = tcp::kRetransmission | tcp::kFastRetransmission;
        cap->observe(p.ref, p.view, FlowRef{fl, fl, static_cast<uint8_t>(p.dir), &p.key}, v);
        sink.drain(cap->ring());
      }
    }
  }
  uint16_t payload_;
};

SinkConfig sink_config(const fs::path& dir, FileFormat fmt) {
  SinkConfig s;
  s.evidence.dir = dir.string();
  s.evidence.format = fmt;
  s.evidence.fsync_on_close = false;
  return s;
}

std::vector<nlohmann::json> read_index(const fs::path& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string l;
  while (std::getline(in, l)) out.push_back(nlohmann::json::parse(l));
  return out;
}

TEST(EvidenceWriter, PcapngCommentsOriginalLengthsAndIndex) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  TempDir d;
  auto sink = EvidenceSink::create(sink_config(d.path(), FileFormat::kPcapng)).value();
  Traffic tr;
  tr.flows(*sink, 3);
  sink->close();
  const auto files = files_in(d.path(), ".pcapng");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files_in(d.path(), ".partial").empty());
  const auto out = lines(tshark_ok(files[0], "-T fields -E separator=/t -e frame.number -e frame.len -e frame.cap_len "
                                             "-e tcp.srcport -e tcp.dstport -e frame.comment"));
  ASSERT_EQ(out.size(), 18u);
  // Flow 1, first packet: pre-trigger, trimmed to the headers, original length kept.
  EXPECT_EQ(out[0], "1\t1054\t54\t80\t20001\tseqwatch: no verdict; trigger=rst; slice=0-1 pre");
  EXPECT_EQ(out[1], "2\t1054\t54\t20001\t80\tseqwatch: no verdict; trigger=rst; slice=0-1 pre");
  EXPECT_EQ(out[2], "3\t1054\t54\t80\t20001\tseqwatch: retransmission,fast_retransmission; trigger=rst; slice=0-1 pre");
  EXPECT_EQ(out[3], "4\t54\t54\t20001\t80\tseqwatch: no verdict; trigger=rst; slice=0-1 trigger");
  EXPECT_NE(out[4].find("slice=0-1 post"), std::string::npos);
  // Nanosecond timestamps survive (if_tsresol = 9): flow 1, packet 2 is t0 + 1 ms + 1 us.
  EXPECT_EQ(lines(tshark_ok(files[0], "-T fields -e frame.time_epoch"))[0], "1700000000.001001000");

  const auto idx = read_index(sink->index_path());
  ASSERT_EQ(idx.size(), 3u);
  std::ifstream raw(files[0], std::ios::binary);
  for (size_t i = 0; i < idx.size(); ++i) {
    const auto& e = idx[i];
    EXPECT_EQ(e["file"], files[0].filename().string());
    EXPECT_EQ(e["trigger"], nlohmann::json::array({"rst"}));
    EXPECT_EQ(e["packets"], 6);
    EXPECT_EQ(e["file_frames"], nlohmann::json::array({i * 6 + 1, i * 6 + 6}));
    EXPECT_EQ(e["flow"]["b_port"].get<int>() == 80 || e["flow"]["a_port"].get<int>() == 80, true);
    EXPECT_EQ(e["complete"], true);
    EXPECT_EQ(e["event_frames"].size(), 2u);  // the retransmission and the RST
    EXPECT_EQ(e["trigger_frame"], e["frames"][3]);
    // The offset is the slice's first Enhanced Packet Block.
    uint32_t type = 0;
    raw.seekg(e["offset"].get<uint64_t>());
    raw.read(reinterpret_cast<char*>(&type), 4);
    EXPECT_EQ(type, 6u);
  }
}

// An input with interfaces of several link types (a pcapng file of `dumpcap -i any -i eth0`):
// evidence records keep their frame's link type. A pcapng file takes an interface per link
// type (an IDB before the first packet of each), a pcap file has one link type: the others
// are counted (link_mismatch), not written.
TEST(EvidenceWriter, RecordsOfAnotherLinkTypeGetTheirOwnInterfaceInPcapng) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  for (const FileFormat fmt : {FileFormat::kPcapng, FileFormat::kPcap}) {
    TempDir d;
    auto sink = EvidenceSink::create(sink_config(d.path(), fmt)).value();
    Traffic tr;
    const uint64_t t0 = 1'700'000'000'000'000'000ull;
    for (uint32_t fl = 1; fl <= 2; ++fl) {  // flow 1 on Ethernet, flow 2 on raw IP
      const bool raw = fl == 2;
      tr.cap->set_link(raw ? decode::LinkType::kRaw : decode::LinkType::kEthernet);
      for (int i = 0; i < 8; ++i) {
        const bool rst = i == 4;
        const Pkt& p = tr.f.tcp(static_cast<uint16_t>(20000 + fl), i % 2 == 0, t0 + fl * 1'000'000 + i * 1000,
                                rst ? 0 : 100, rst ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
        PacketRef ref = p.ref;
        if (raw) {  // the same packet without its Ethernet header
          ref.data += 14;
          ref.caplen -= 14;
          ref.wirelen -= 14;
        }
        tr.cap->observe(ref, p.view, FlowRef{fl, fl, static_cast<uint8_t>(p.dir), &p.key}, tcp::SegmentVerdict{});
        sink->drain(tr.cap->ring());
      }
    }
    sink->close();
    const bool ng = fmt == FileFormat::kPcapng;
    const auto files = files_in(d.path(), ng ? ".pcapng" : ".pcap");
    ASSERT_EQ(files.size(), 1u);
    const auto out = lines(tshark_ok(files[0], "-T fields -E separator=/t -e frame.interface_id -e frame.encap_type "
                                               "-e ip.src -e tcp.srcport -e tcp.dstport"));
    if (ng) {
      ASSERT_EQ(out.size(), 12u);  // 6 per flow (K = 3 before the RST, the RST, M = 2 after)
      EXPECT_EQ(out[0], "0\t1\t10.0.0.2\t80\t20001");
      EXPECT_EQ(out[6], "1\t7\t10.0.0.2\t80\t20002") << "raw IP, decoded from its own interface";
      EXPECT_EQ(sink->counters().link_mismatch, 0u);
    } else {
      ASSERT_EQ(out.size(), 6u) << "flow 1 only";
      EXPECT_EQ(out[0], "\t1\t10.0.0.2\t80\t20001");  // pcap: no interface ids
      EXPECT_EQ(sink->counters().link_mismatch, 6u);
    }
  }
}

// A slice one of whose packets cannot go into the file (a pcap file has one link type; the
// flow's trigger packet came on an interface of another) is not `complete` in the index
// (until 2026-12-03 it was, its trigger packet silently missing); in pcapng it is whole.
TEST(EvidenceWriter, ASliceWithAPacketLeftOutIsNotComplete) {
  for (const FileFormat fmt : {FileFormat::kPcapng, FileFormat::kPcap}) {
    TempDir d;
    auto sink = EvidenceSink::create(sink_config(d.path(), fmt)).value();
    Traffic tr;
    const uint64_t t0 = 1'700'000'000'000'000'000ull;
    for (int i = 0; i < 8; ++i) {
      const bool rst = i == 4;  // the trigger, on the raw-IP interface
      tr.cap->set_link(rst ? decode::LinkType::kRaw : decode::LinkType::kEthernet);
      const Pkt& p = tr.f.tcp(20001, i % 2 == 0, t0 + i * 1000, rst ? 0 : 100,
                              rst ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
      PacketRef ref = p.ref;
      if (rst) {
        ref.data += 14;
        ref.caplen -= 14;
        ref.wirelen -= 14;
      }
      tr.cap->observe(ref, p.view, FlowRef{1, 1, static_cast<uint8_t>(p.dir), &p.key}, tcp::SegmentVerdict{});
      sink->drain(tr.cap->ring());
    }
    sink->close();
    const bool ng = fmt == FileFormat::kPcapng;
    const auto idx = read_index(sink->index_path());
    ASSERT_EQ(idx.size(), 1u) << (ng ? "pcapng" : "pcap");
    EXPECT_EQ(idx[0]["packets"], ng ? 6 : 5) << (ng ? "pcapng" : "pcap");
    EXPECT_EQ(idx[0]["complete"], ng) << (ng ? "pcapng" : "pcap");
    EXPECT_EQ(sink->counters().link_mismatch, ng ? 0u : 1u);
  }
}

// Rotation by size counts the interface block a record of a new link type needs: a pcapng
// file never grows past max_bytes, whatever the record sizes and wherever in a file the
// second link type first appears (records of 60..259 bytes, every 37th one raw IP: at most
// one per file, at every position in turn).
TEST(EvidenceWriter, PcapngRotationBySizeCountsTheInterfaceBlocks) {
  TempDir d;
  WriterConfig cfg;
  cfg.dir = d.path().string();
  cfg.format = FileFormat::kPcapng;
  cfg.rotate.max_bytes = 4096;
  cfg.fsync_on_close = false;
  auto w = RotatingWriter::create(cfg).value();
  std::vector<uint8_t> data(300, 0x45);
  uint64_t ts = 1'700'000'000'000'000'000ull, written = 0;
  for (uint32_t caplen = 60; caplen < 260; ++caplen) {
    for (int i = 0; i < 80; ++i) {
      PacketOut p;
      p.ts_ns = ts += 1000;
      p.data = data.data();
      p.caplen = p.wirelen = caplen;
      if (written % 37 == 36) p.link = static_cast<uint32_t>(decode::LinkType::kRaw);
      ASSERT_TRUE(w->write(p));
      ++written;
    }
  }
  w->close();
  const auto files = files_in(d.path(), ".pcapng");
  ASSERT_GT(files.size(), 100u);
  for (const auto& f : files) EXPECT_LE(fs::file_size(f), 4096u) << f;
  EXPECT_EQ(w->counters().packets, written);
  EXPECT_EQ(w->counters().packets_lost, 0u);
  // Every file stays readable, its raw-IP records on their own interface.
  if (have_tshark()) {
    const auto out = lines(tshark_ok(files[files.size() / 2], "-T fields -e frame.interface_id -e frame.encap_type"));
    ASSERT_FALSE(out.empty());
    for (const auto& l : out) EXPECT_TRUE(l == "0\t1" || l == "1\t7") << l;
  }
}

// The index lines are written by hand (sink.cpp): each must be exactly what a JSON library
// renders from the same object (nlohmann's dump: sorted keys, no spaces, escaped strings),
// even for a file name that needs escaping, and carry the packets' times in ISO form.
TEST(EvidenceWriter, IndexLinesAreWhatAJsonLibraryRenders) {
  TempDir d;
  SinkConfig sc = sink_config(d.path(), FileFormat::kPcap);
  sc.evidence.prefix = "ev\"id\\ence";
  auto sink = EvidenceSink::create(sc).value();
  Traffic tr;
  tr.flows(*sink, 3);
  sink->close();
  std::ifstream in(sink->index_path());
  std::string l;
  size_t n = 0;
  while (std::getline(in, l)) {
    const auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j.dump(), l);
    EXPECT_EQ(j["file"].get<std::string>().substr(0, 11), "ev\"id\\ence-");
    EXPECT_EQ(j["flow"]["a"], "10.0.0.1");
    EXPECT_EQ(j["flow"]["b"], "10.0.0.2");
    EXPECT_EQ(j["slice"], "0-" + std::to_string(n + 1));
    // Flow n+1's first kept packet (the second it sent; K = 3 before the RST, the fifth):
    // t0 + (n+1) ms + 1 us, t0 = 2023-11-14T22:13:20 UTC.
    EXPECT_EQ(j["first_time"], "2023-11-14T22:13:20.00" + std::to_string(n + 1) + "001000Z");
    EXPECT_EQ(j["first_ts_ns"], 1'700'000'000'000'000'000ull + (n + 1) * 1'000'000 + 1000);
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

// More slices open than the sink keeps (max_open_slices): the oldest is dropped, counted,
// and its later packets are counted as orphans, not written under another slice.
TEST(EvidenceWriter, SlicesBeyondTheOpenLimitAreDroppedAndCounted) {
  TempDir d;
  SinkConfig sc = sink_config(d.path(), FileFormat::kPcap);
  sc.max_open_slices = 1;
  auto sink = EvidenceSink::create(sc).value();
  Traffic tr;  // K = 3 before the RST, M = 2 after
  const uint64_t t0 = 1'700'000'000'000'000'000ull;
  auto packet = [&](uint32_t fl, int i) {
    const bool rst = i == 4;
    const Pkt& p = tr.f.tcp(static_cast<uint16_t>(20000 + fl), i % 2 == 0, t0 + fl * 1'000'000 + i * 1000,
                            rst ? 0 : 100, rst ? (test::wire::kRst | test::wire::kAck) : test::wire::kAck);
    tr.cap->observe(p.ref, p.view, FlowRef{fl, fl, static_cast<uint8_t>(p.dir), &p.key}, tcp::SegmentVerdict{});
    sink->drain(tr.cap->ring());
  };
  for (int i = 0; i <= 4; ++i) packet(1, i);  // flow 1's slice opens: 3 history + the RST
  for (int i = 0; i <= 4; ++i) packet(2, i);  // flow 2's opens too: flow 1's is dropped
  for (int i = 5; i <= 6; ++i) packet(1, i);  // flow 1's post packets: orphans
  for (int i = 5; i <= 6; ++i) packet(2, i);
  sink->close();
  EXPECT_EQ(sink->counters().slices_dropped, 1u);
  EXPECT_EQ(sink->counters().orphans, 2u);
  EXPECT_EQ(sink->counters().packets, 4u + 4u + 2u);
}

// Nothing triggered: no evidence file, but the index the summary names exists, empty.
TEST(EvidenceWriter, EmptyIndexWhenNoSliceWasWritten) {
  TempDir d;
  const fs::path dir = d.path() / "evidence";
  auto sink = EvidenceSink::create(sink_config(dir, FileFormat::kPcapng)).value();
  sink->close();
  EXPECT_TRUE(files_in(dir, ".pcapng").empty());
  ASSERT_TRUE(fs::exists(sink->index_path()));
  EXPECT_EQ(fs::file_size(sink->index_path()), 0u);
  EXPECT_EQ(sink->counters().index_errors, 0u);
}

TEST(EvidenceWriter, PcapNanosecondsAndRotation) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  TempDir d;
  SinkConfig cfg = sink_config(d.path(), FileFormat::kPcap);
  cfg.evidence.rotate.max_bytes = 4096;
  auto sink = EvidenceSink::create(cfg).value();
  Traffic tr({TrimMode::kBytes, 256});
  tr.flows(*sink, 20);
  sink->close();
  const auto files = files_in(d.path(), ".pcap");
  ASSERT_GE(files.size(), 5u);
  size_t total = 0;
  for (const auto& f : files) {
    EXPECT_LE(fs::file_size(f), 4096u);
    const auto out = lines(tshark_ok(f, "-T fields -e frame.len -e frame.cap_len -e frame.time_epoch"));
    total += out.size();
    for (const auto& l : out) {
      EXPECT_TRUE(l.rfind("1054\t256\t", 0) == 0 || l.rfind("54\t54\t", 0) == 0) << l;  // trimmed 256 of 1054; RSTs whole
      EXPECT_EQ(l.rfind("000", l.size()), l.size() - 3) << "nanosecond field present: " << l;
    }
    Cmd cap = run("capinfos -M -t '" + f.string() + "' 2>&1");
    EXPECT_NE(cap.out.find("nsecpcap"), std::string::npos) << cap.out;
  }
  EXPECT_EQ(total, 120u);
  // Index: every packet is named once, slices split across files say so.
  size_t packets = 0;
  for (const auto& e : read_index(sink->index_path())) {
    packets += e["packets"].get<size_t>();
    EXPECT_TRUE(fs::exists(d.path() / e["file"].get<std::string>()));
  }
  EXPECT_EQ(packets, 120u);
}

TEST(EvidenceWriter, SampleFileThroughTheSink) {
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  TempDir d;
  SinkConfig cfg = sink_config(d.path(), FileFormat::kPcapng);
  cfg.sample_enabled = true;
  cfg.sample.format = FileFormat::kPcap;
  cfg.sample.prefix = "sample";
  cfg.sample.fsync_on_close = false;
  auto sink = EvidenceSink::create(cfg).value();
  CaptureConfig c;
  c.flow_slots = 64;
  c.ring = 1024;
  c.sample.every_n = 4;
  auto cap = EvidenceCapture::create(c, TriggerSet{}).value();
  PacketFactory f;
  for (int i = 0; i < 400; ++i) {
    const Pkt& p = f.tcp(40000, i % 2 == 0, 1'700'000'000'000'000'000ull + i * 1000);
    cap->sample(p.ref, p.view, p.hash, true);
    if (i % 64 == 0) sink->drain(cap->ring());
  }
  sink->drain(cap->ring());
  sink->close();
  const auto files = files_in(d.path(), ".pcap");
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].filename().string().rfind("sample-", 0), 0u);
  EXPECT_EQ(lines(tshark_ok(files[0])).size(), 100u);
}

TEST(EvidenceWriter, ReadOnlyDirectoryKeepsGoingAndCounts) {
  TempDir d;
  const fs::path ro = d.path() / "ro";
  fs::create_directories(ro);
  bool mounted = false;
  if (geteuid() == 0) {
    // root ignores permission bits: a read-only mount is what "unwritable" means for it
    mounted = mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=64k") == 0;
    if (!mounted) GTEST_SKIP() << "running as root but cannot mount a read-only tmpfs";
  } else {
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  }
  std::vector<std::string> errors;
  {
    SinkConfig cfg = sink_config(ro, FileFormat::kPcapng);
    cfg.evidence.rotate.max_seconds = 1;
    auto sink = EvidenceSink::create(cfg).value();
    sink->set_error_handler([&](const std::string& m) { errors.push_back(m); });
    Traffic tr;
    tr.flows(*sink, 4);                                   // file 1 fails
    tr.flows(*sink, 4, 1'700'000'010'000'000'000ull);     // 10 s later: a retry, fails too
    sink->close();
    const auto& w = sink->evidence_writer().counters();
    EXPECT_EQ(w.files_failed, 2u);
    EXPECT_EQ(w.files_completed, 0u);
    EXPECT_EQ(w.packets_lost, 48u);
    EXPECT_EQ(sink->counters().index_lines, 0u);
  }
  // Reported once for the episode: the retry failed as well and is counted (files_failed),
  // not reported again until a file has been completed (one line per second otherwise).
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot create the file"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find(ro.string()), std::string::npos) << errors[0];
  if (mounted) umount(ro.c_str());
  else fs::permissions(ro, fs::perms::owner_all);
}

TEST(EvidenceWriter, FullDiskLeavesOnlyCompleteFiles) {
  if (geteuid() != 0) GTEST_SKIP() << "full-disk test needs root to mount a 64 KiB tmpfs (CI runs as root)";
  if (!have_tshark()) GTEST_SKIP() << "tshark not installed";
  TempDir d;
  const fs::path small = d.path() / "small";
  fs::create_directories(small);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) GTEST_SKIP() << "cannot mount a tmpfs";
  struct Unmount {
    std::string p;
    ~Unmount() { umount(p.c_str()); }
  } guard{small.string()};
  std::vector<std::string> errors;
  SinkConfig cfg = sink_config(small, FileFormat::kPcapng);
  cfg.evidence.rotate.max_bytes = 16384;
  cfg.evidence.buffer_bytes = 4096;
  auto sink = EvidenceSink::create(cfg).value();
  sink->set_error_handler([&](const std::string& m) { errors.push_back(m); });
  Traffic tr({TrimMode::kBytes, 1054});
  tr.flows(*sink, 60);  // ~ 60 x 6 x 1.1 KiB = 400 KiB into 64 KiB
  sink->close();
  const auto& w = sink->evidence_writer().counters();
  EXPECT_GE(w.files_failed, 1u);
  EXPECT_GE(w.files_completed, 1u);
  EXPECT_GT(w.packets_lost, 0u);
  EXPECT_EQ(w.packets + w.packets_lost, 360u);
  EXPECT_FALSE(errors.empty());
  EXPECT_LE(errors.size(), w.files_failed + 1);  // once per file (+ the index)
  EXPECT_NE(errors[0].find("No space left on device"), std::string::npos) << errors[0];
  EXPECT_TRUE(files_in(small, ".partial").empty());
  const auto files = files_in(small, ".pcapng");
  EXPECT_EQ(files.size(), w.files_completed);
  size_t total = 0;
  for (const auto& f : files) total += lines(tshark_ok(f)).size();
  EXPECT_EQ(total, w.packets);
}

}  // namespace
}  // namespace seqwatch::evidence
