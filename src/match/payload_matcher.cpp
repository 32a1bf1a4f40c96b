#include "match/payload_matcher.hpp"

#include <hs/hs.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "util/printable.hpp"

namespace seqwatch {

namespace {

using util::printable;

Error rule_error(const std::string& where, const std::string& what) { return Error{where + ": " + what}; }

Result<std::vector<PayloadRule>> read_rules(const std::string& path);

}  // namespace

Result<std::vector<PayloadRule>> load_rules(const std::string& path) {
  auto r = read_rules(path);
  if (!r) return Error{printable(r.error().message)};
  return r;
}

namespace {

Result<std::vector<PayloadRule>> read_rules(const std::string& path) {
  // A folder opens as a stream that reads nothing, and was reported as a file holding no rules.
  std::error_code fs_ec;
  if (std::filesystem::is_directory(path, fs_ec))
    return Error{"rules file '" + path + "' is a directory; give the path of a rules file (e.g. config/rules/default.rules)"};
  errno = 0;
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    return Error{"cannot open rules file '" + path + "'" + (err != 0 ? std::string(": ") + std::strerror(err) : "")};
  }
  std::vector<PayloadRule> rules;
  std::set<uint32_t> ids;
  std::string line;
  for (unsigned lineno = 1; std::getline(in, line); ++lineno) {
    const std::string where = path + ":" + std::to_string(lineno);
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    std::istringstream ls(line.substr(first));
    std::string id_text, action_text;
    ls >> id_text >> action_text;
    PayloadRule r;
    r.source = where;
    const auto [ptr, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), r.id);
    if (ec == std::errc::result_out_of_range && ptr == id_text.data() + id_text.size())
      return rule_error(where, "rule id " + id_text + " is too large (at most 4294967295)");
    if (ec != std::errc() || ptr != id_text.data() + id_text.size())
      return rule_error(where, "rule id '" + id_text + "' is not an unsigned integer");
    // A payload trigger names its rule with evidence.triggers[].rule, which is at least 1 (0
    // there means no rule given): a rule 0 could never fire a trigger.
    if (r.id == 0)
      return rule_error(where, "rule id 0 is not allowed: rule ids start at 1 (a payload trigger's rule is at least 1, "
                               "so no trigger could name rule 0)");
    if (!ids.insert(r.id).second) return rule_error(where, "rule id " + id_text + " is used twice");
    if (action_text == "count") r.action = RuleAction::kCount;
    else if (action_text == "trigger") r.action = RuleAction::kTrigger;
    else return rule_error(where, "rule " + id_text + ": action '" + action_text + "' is not one of: count, trigger");
    std::string rest;
    std::getline(ls, rest);
    const auto open = rest.find('/');
    const auto close = rest.rfind('/');
    if (open == std::string::npos || close == open)
      return rule_error(where, "rule " + id_text + ": pattern must be written /regex/flags");
    r.pattern = rest.substr(open + 1, close - open - 1);
    for (char f : rest.substr(close + 1)) {
      switch (f) {
        case 'i': r.flags |= HS_FLAG_CASELESS; break;
        case 's': r.flags |= HS_FLAG_DOTALL; break;
        case 'm': r.flags |= HS_FLAG_MULTILINE; break;
        case '1': r.flags |= HS_FLAG_SINGLEMATCH; break;
        case ' ': case '\t': case '\r': break;
        default: return rule_error(where, std::string("rule ") + id_text + ": unknown flag '" + f + "' (known: i s m 1)");
      }
    }
    rules.push_back(std::move(r));
  }
  if (rules.empty()) return Error{"rules file '" + path + "' holds no rules"};
  return rules;
}

}  // namespace

Result<std::unique_ptr<PayloadMatcher>> PayloadMatcher::compile(std::vector<PayloadRule> rules) {
  std::unique_ptr<PayloadMatcher> m(new PayloadMatcher());
  m->rules_ = std::move(rules);
  std::vector<const char*> exprs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < m->rules_.size(); ++i) {
    exprs.push_back(m->rules_[i].pattern.c_str());
    flags.push_back(m->rules_[i].flags);
    ids.push_back(static_cast<unsigned>(i));  // position, so hits index a vector directly
  }
  hs_compile_error_t* err = nullptr;
  const hs_error_t rc = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                                         static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &m->db_, &err);
  if (rc != HS_SUCCESS) {
    std::string msg = "cannot compile payload rules";
    if (err != nullptr) {
      if (err->expression >= 0 && static_cast<size_t>(err->expression) < m->rules_.size()) {
        const auto& r = m->rules_[static_cast<size_t>(err->expression)];
        msg = r.source + ": rule " + std::to_string(r.id) + " /" + r.pattern + "/ rejected by Hyperscan: " + err->message;
      } else {
        msg += std::string(": ") + err->message;
      }
      hs_free_compile_error(err);
    }
    return Error{printable(msg)};
  }
  return m;
}

PayloadMatcher::~PayloadMatcher() {
  if (db_ != nullptr) hs_free_database(db_);
}

PayloadMatcher::Scratch::~Scratch() {
  if (hs_ != nullptr) hs_free_scratch(hs_);
}

Result<std::unique_ptr<PayloadMatcher::Scratch>> PayloadMatcher::make_scratch() const {
  std::unique_ptr<Scratch> s(new Scratch());
  if (hs_alloc_scratch(db_, &s->hs_) != HS_SUCCESS) return Error{"Hyperscan could not allocate scratch space"};
  s->hits_.assign(rules_.size(), 0);
  return s;
}

int on_scan_match(unsigned int id, unsigned long long /*from*/, unsigned long long to, unsigned int /*flags*/,
                  void* ctx) {
  auto& s = *static_cast<PayloadMatcher::Scratch*>(ctx);
  ++s.hits_[id];
  if (s.match_count_ < PayloadMatcher::Scratch::kMaxMatches)
    s.matches_[s.match_count_] = {id, static_cast<uint32_t>(to)};
  ++s.match_count_;
  return 0;  // keep scanning
}

void PayloadMatcher::scan(const uint8_t* data, uint32_t len, Scratch& s) const noexcept {
  s.match_count_ = 0;
  if (len == 0) return;
  if (hs_scan(db_, reinterpret_cast<const char*>(data), len, 0, s.hs_, on_scan_match, &s) != HS_SUCCESS)
    ++s.scan_errors_;
}

}  // namespace seqwatch
