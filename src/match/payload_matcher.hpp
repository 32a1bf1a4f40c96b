// Payload matching with Hyperscan: a block-mode database compiled once at start from a
// rules file, one scratch space per worker, and per-rule hit counters owned by the worker.
//
// Rules file format (config/rules/*.rules), one rule per line, '#' starts a comment:
//   <id> <action> /<regex>/<flags>
//   id      unsigned integer from 1 (a payload trigger names rule >= 1), unique in the file
//   action  count | trigger     (trigger: evidence capture, see docs/events.md once it exists)
//   flags   any of: i (caseless), s (dot matches newline), m (multi-line), 1 (report once
//           per payload: HS_FLAG_SINGLEMATCH)
// Example:  1001 count /^(GET|POST|HEAD|PUT|DELETE) \S+ HTTP\/1\.[01]\r\n/s
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/result.hpp"

struct hs_database;
struct hs_scratch;

namespace seqwatch {

enum class RuleAction : uint8_t { kCount, kTrigger };

struct PayloadRule {
  uint32_t id = 0;
  RuleAction action = RuleAction::kCount;
  std::string pattern;
  unsigned flags = 0;  // Hyperscan HS_FLAG_* bits
  std::string source;  // "file:line" for messages
};

// Parses a rules file; errors name the file, line and problem.
Result<std::vector<PayloadRule>> load_rules(const std::string& path);

class PayloadMatcher {
 public:
  // Compiles all rules into one block-mode database. A bad pattern is reported with its
  // rule id, location and Hyperscan's own message.
  static Result<std::unique_ptr<PayloadMatcher>> compile(std::vector<PayloadRule> rules);
  ~PayloadMatcher();
  PayloadMatcher(const PayloadMatcher&) = delete;
  PayloadMatcher& operator=(const PayloadMatcher&) = delete;

  // Per-worker scan state: Hyperscan scratch plus hit counters (index = rule position).
  class Scratch {
   public:
    ~Scratch();
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    const std::vector<uint64_t>& hits() const noexcept { return hits_; }
    uint64_t scan_errors() const noexcept { return scan_errors_; }
    // The matches of the last scan (first kMaxMatches of them): rule position and the
    // offset just past the match, as Hyperscan reports it.
    struct Match {
      uint32_t rule;
      uint32_t end;
    };
    static constexpr unsigned kMaxMatches = 8;
    unsigned match_count() const noexcept { return match_count_ < kMaxMatches ? match_count_ : kMaxMatches; }
    const Match& match(unsigned i) const noexcept { return matches_[i]; }

   private:
    friend class PayloadMatcher;
    friend int on_scan_match(unsigned, unsigned long long, unsigned long long, unsigned, void*);
    Scratch() = default;
    hs_scratch* hs_ = nullptr;
    std::vector<uint64_t> hits_;
    uint64_t scan_errors_ = 0;
    unsigned match_count_ = 0;
    Match matches_[kMaxMatches] = {};
  };
  Result<std::unique_ptr<Scratch>> make_scratch() const;

  // Scans one payload; counts one hit per matching rule occurrence into `s`. No allocation.
  void scan(const uint8_t* data, uint32_t len, Scratch& s) const noexcept;

  const std::vector<PayloadRule>& rules() const noexcept { return rules_; }

 private:
  PayloadMatcher() = default;
  hs_database* db_ = nullptr;
  std::vector<PayloadRule> rules_;
};

}  // namespace seqwatch
