// The reviewed allow-list: the classes of disagreement between seqwatch and tshark that
// are understood and accepted. Every class has a name, the reason it is accepted, and a
// rule that recognises it from the two decodes of the frame (never from the file name
// alone, unless the class is about one file). docs/decode-differential.md explains each
// class at length; the test fails on every disagreement no class accepts, and on a class
// that no longer matches anything (a stale entry hides nothing, but misleads readers).
#pragma once

#include <string>
#include <vector>

#include "frame_model.hpp"

namespace seqwatch::corpus {

struct FrameContext {
  const std::string& file;  // path relative to the corpus directory
  const FrameModel& sw;
  const FrameModel& ts;
};

struct AllowRule {
  const char* name;
  const char* reason;
  bool (*match)(const FrameContext& ctx, const Disagreement& d);
  // The shared corpus holds a case (AllowListIsCurrent checks it still matches one); a
  // class found in other captures only is checked by its own test in harness_test.cpp.
  bool in_corpus = true;
};

const std::vector<AllowRule>& allow_rules();

// The first rule accepting the disagreement, or nullptr.
const AllowRule* classify(const FrameContext& ctx, const Disagreement& d);

}  // namespace seqwatch::corpus
