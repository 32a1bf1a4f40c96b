// The EAL argument list: eal.memory_mb becomes -m with and without hugepages (it was
// passed only with --no-huge, so a hugepage run ignored the documented key).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "runtime/eal.hpp"

namespace {

using seqwatch::runtime::EalOptions;
using seqwatch::runtime::eal_arguments;

// The value after `flag`, "" when the flag is absent.
std::string value_of(const std::vector<std::string>& args, const std::string& flag) {
  const auto it = std::find(args.begin(), args.end(), flag);
  return it == args.end() || it + 1 == args.end() ? std::string() : *(it + 1);
}

TEST(EalArguments, MemoryIsPassedWithAndWithoutHugepages) {
  for (const bool no_huge : {false, true}) {
    SCOPED_TRACE(no_huge ? "--no-huge" : "hugepages");
    EalOptions o;
    o.no_huge = no_huge;
    o.memory_mb = no_huge ? 256 : 4096;
    const auto args = eal_arguments(o);
    EXPECT_EQ(value_of(args, "-m"), no_huge ? "256" : "4096");
    EXPECT_EQ(std::count(args.begin(), args.end(), "-m"), 1);
    EXPECT_EQ(std::count(args.begin(), args.end(), "--no-huge"), no_huge ? 1 : 0);
  }
}

// --socket-mem in eal.extra_args reserves per socket; the EAL refuses it beside -m.
TEST(EalArguments, SocketMemInExtraArgsReplacesMemory) {
  EalOptions o;
  o.no_huge = false;
  o.memory_mb = 4096;
  o.extra = {"--socket-mem", "512,512"};
  const auto args = eal_arguments(o);
  EXPECT_EQ(std::count(args.begin(), args.end(), "-m"), 0);
  EXPECT_EQ(value_of(args, "--socket-mem"), "512,512");
  o.extra = {"--socket-mem=1024"};
  const auto eq = eal_arguments(o);
  EXPECT_EQ(std::count(eq.begin(), eq.end(), "-m"), 0);
}

}  // namespace
