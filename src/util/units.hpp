// Time units shared by the control-path code (evidence budgets, rotation, the generator).
#pragma once

#include <cstdint>

namespace seqwatch {

inline constexpr uint64_t kNsPerMs = 1'000'000;
inline constexpr uint64_t kNsPerSec = 1'000'000'000;

}  // namespace seqwatch
