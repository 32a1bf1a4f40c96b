// verdict_dump FILE [--ignore-vlans]: every frame of a capture that gets verdicts, through
// the product's own packet path (tests/tcp's run_seqwatch: source -> decoder -> TcpStage,
// events drained after every burst, so nothing is lost), one line per frame:
//   FRAME<TAB>name,name,...
// in frame order, with seqwatch's verdict names (Wireshark's where one exists). Used to line
// seqwatch up against `tshark -T fields -e frame.number -e tcp.analysis.*` on captures too
// large for the corpus (docs/tcp-analysis.md, "Sequence space").
#include <cstdio>
#include <cstring>
#include <string>

#include "../tcp/seqwatch_verdicts.hpp"
#include "tcp/verdict.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: verdict_dump FILE [--ignore-vlans]\n");
    return 2;
  }
  const bool key_vlans = !(argc > 2 && std::strcmp(argv[2], "--ignore-vlans") == 0);
  const auto run = seqwatch::tcpdiff::run_seqwatch(argv[1], key_vlans);
  if (!run.error.empty()) {
    std::fprintf(stderr, "verdict_dump: %s\n", run.error.c_str());
    return 1;
  }
  for (size_t i = 0; i < run.frames.size(); ++i) {
    const uint32_t bits = run.frames[i].bits;
    if (bits == 0) continue;
    std::string names;
    for (unsigned b = 0; b < seqwatch::tcp::kVerdictBits; ++b) {
      if (!(bits & (1u << b))) continue;
      if (!names.empty()) names += ',';
      names += seqwatch::tcp::verdict_name(b);
    }
    std::printf("%zu\t%s\n", i + 1, names.c_str());
  }
  std::fprintf(stderr, "segments %llu, events %llu, dropped %llu, read error: %s\n",
               static_cast<unsigned long long>(run.tcp_segments), static_cast<unsigned long long>(run.events),
               static_cast<unsigned long long>(run.events_dropped),
               run.read_error.empty() ? "none" : run.read_error.c_str());
  return run.events_dropped == 0 && run.read_error.empty() ? 0 : 1;
}
