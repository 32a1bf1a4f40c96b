// Hyperscan payload rules: parsing errors name file/line/rule; bad patterns carry
// Hyperscan's message; matches are counted per rule.
#include <gtest/gtest.h>
#include <hs/hs.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "match/payload_matcher.hpp"

namespace seqwatch {
namespace {

std::string write_rules(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(PayloadRules, ParsesIdsActionsAndFlags) {
  const auto path = write_rules("ok.rules",
                                "# comment\n\n"
                                "7 count /abc/i\n"
                                "  9 trigger /^x.y/s1\n");
  auto rules = load_rules(path);
  ASSERT_TRUE(rules) << rules.error().message;
  ASSERT_EQ(rules.value().size(), 2u);
  EXPECT_EQ(rules.value()[0].id, 7u);
  EXPECT_EQ(rules.value()[0].action, RuleAction::kCount);
  EXPECT_EQ(rules.value()[0].pattern, "abc");
  EXPECT_EQ(rules.value()[0].flags, unsigned{HS_FLAG_CASELESS});
  EXPECT_EQ(rules.value()[1].action, RuleAction::kTrigger);
  EXPECT_EQ(rules.value()[1].flags, unsigned{HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH});
  EXPECT_EQ(rules.value()[1].source, path + ":4");
}

TEST(PayloadRules, RejectsBadLinesWithLocation) {
  struct Case { const char* text; const char* expect; };
  const Case cases[] = {
      {"x1 count /a/\n", "rule id 'x1' is not an unsigned integer"},
      {"1 count /a/\n1 count /b/\n", "rule id 1 is used twice"},
      {"1 drop /a/\n", "action 'drop' is not one of"},
      {"1 count abc\n", "pattern must be written /regex/flags"},
      {"1 count /a/q\n", "unknown flag 'q'"},
      {"# nothing\n", "holds no rules"},
  };
  for (const auto& c : cases) {
    const auto path = write_rules("bad.rules", c.text);
    auto rules = load_rules(path);
    ASSERT_FALSE(rules) << c.text;
    EXPECT_NE(rules.error().message.find(c.expect), std::string::npos) << rules.error().message;
  }
  EXPECT_FALSE(load_rules("/nonexistent/file.rules"));
}

// A folder given as the rules file read as a file holding no rules; rule id 0 was accepted,
// though a payload trigger's rule is at least 1 and so never names it (review 5, R15).
TEST(PayloadRules, AFolderAndRuleIdZeroAreRefusedWithTheReason) {
  const std::string dir = ::testing::TempDir() + "/rules.d";
  std::filesystem::create_directories(dir);
  auto rules = load_rules(dir);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message,
            "rules file '" + dir + "' is a directory; give the path of a rules file (e.g. config/rules/default.rules)");

  auto path = write_rules("zero.rules", "# ids\n7 count /a/\n0 trigger /b/\n");
  rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, path + ":3: rule id 0 is not allowed: rule ids start at 1 (a payload trigger's rule "
                                          "is at least 1, so no trigger could name rule 0)");
  path = write_rules("zeros.rules", "000 count /a/\n");
  rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message.rfind(path + ":1: rule id 0 is not allowed", 0), 0u) << rules.error().message;

  path = write_rules("big.rules", "4294967296 count /a/\n");
  rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, path + ":1: rule id 4294967296 is too large (at most 4294967295)");
  path = write_rules("max.rules", "4294967295 count /a/\n1 count /b/\n");
  rules = load_rules(path);
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ(rules.value()[0].id, 4294967295u);

  rules = load_rules("/nonexistent/file.rules");
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, "cannot open rules file '/nonexistent/file.rules': No such file or directory");
}

// The file's text is quoted in messages: control bytes and bytes that are not UTF-8 are shown
// as \xHH, so a NUL cannot cut the message short where it is printed.
TEST(PayloadRules, ControlBytesInMessagesAreShownEscaped) {
  auto path = write_rules("ctl.rules", std::string("1 co\x1bunt /a/\n"));
  auto rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, path + ":1: rule 1: action 'co\\x1bunt' is not one of: count, trigger");
  path = write_rules("nul.rules", std::string("1 count /a/") + '\0' + "\n");
  rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, path + ":1: rule 1: unknown flag '\\x00' (known: i s m 1)");
  path = write_rules("utf.rules", "x\xff count /a/\n");
  rules = load_rules(path);
  ASSERT_FALSE(rules);
  EXPECT_EQ(rules.error().message, path + ":1: rule id 'x\\xff' is not an unsigned integer");

  std::vector<PayloadRule> bad = {{3, RuleAction::kCount, std::string("a\x01(b"), 0, "f:1"}};
  auto m = PayloadMatcher::compile(bad);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message.rfind("f:1: rule 3 /a\\x01(b/ rejected by Hyperscan: ", 0), 0u) << m.error().message;
}

TEST(PayloadMatcher, BadPatternNamesRuleAndHyperscanMessage) {
  std::vector<PayloadRule> rules = {{1, RuleAction::kCount, "ok", 0, "f:1"}, {42, RuleAction::kCount, "a(b", 0, "f:2"}};
  auto m = PayloadMatcher::compile(rules);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("f:2: rule 42 /a(b/ rejected by Hyperscan:"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("parenthes"), std::string::npos) << m.error().message;
}

TEST(PayloadMatcher, CountsMatchesPerRule) {
  std::vector<PayloadRule> rules = {
      {1, RuleAction::kCount, "^GET ", 0, "t:1"},
      {2, RuleAction::kCount, "needle", 0, "t:2"},
      {3, RuleAction::kCount, "needle", HS_FLAG_SINGLEMATCH, "t:3"},
  };
  auto m = PayloadMatcher::compile(rules);
  ASSERT_TRUE(m) << m.error().message;
  auto s = m.value()->make_scratch();
  ASSERT_TRUE(s);
  const std::string a = "GET / HTTP/1.1\r\n needle needle";
  const std::string b = "POST / HTTP/1.1\r\n";
  m.value()->scan(reinterpret_cast<const uint8_t*>(a.data()), static_cast<uint32_t>(a.size()), *s.value());
  m.value()->scan(reinterpret_cast<const uint8_t*>(b.data()), static_cast<uint32_t>(b.size()), *s.value());
  m.value()->scan(nullptr, 0, *s.value());
  const auto& hits = s.value()->hits();
  EXPECT_EQ(hits[0], 1u);  // only the first payload starts with GET
  EXPECT_EQ(hits[1], 2u);  // every occurrence
  EXPECT_EQ(hits[2], 1u);  // once per payload
  EXPECT_EQ(s.value()->scan_errors(), 0u);
}

TEST(PayloadMatcher, DefaultRulesCompile) {
  const char* src = std::getenv("SEQWATCH_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto rules = load_rules(std::string(src) + "/config/rules/default.rules");
  ASSERT_TRUE(rules) << rules.error().message;
  auto m = PayloadMatcher::compile(std::move(rules.value()));
  ASSERT_TRUE(m) << m.error().message;
  auto s = m.value()->make_scratch();
  ASSERT_TRUE(s);
  const std::string req = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
  m.value()->scan(reinterpret_cast<const uint8_t*>(req.data()), static_cast<uint32_t>(req.size()), *s.value());
  EXPECT_EQ(s.value()->hits()[0], 1u);  // rule 1001: HTTP request line
}

}  // namespace
}  // namespace seqwatch
