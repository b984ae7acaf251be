#include "serving/regex_grammar.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "serving/json_schema_grammar.h"
#include "tests/support/test_paths.h"

namespace llmux::serving {
namespace {

using Json = nlohmann::json;

Result<std::shared_ptr<const grammar::Grammar>> PatternSchema(const std::string& pattern) {
  return CompileJsonSchema(Json{{"type", "string"}, {"pattern", pattern}}.dump(), true);
}

// Matches and refusals from node's RegExp (tests/e2e/regex_cases.mjs wrote the file; e2e
// regex_cases checks that it still equals RegExp): the grammar of {"type":"string","pattern":p}
// takes JSON.stringify(s) exactly when RegExp(p, "u") matches s.
TEST(RegexGrammarTest, MatchesAsNodeRegExpDoes) {
  std::ifstream in(llmux::testing::SourceDir() + "/tests/e2e/regex_cases.json");
  ASSERT_TRUE(in) << "tests/e2e/regex_cases.json";
  std::stringstream text;
  text << in.rdbuf();
  const Json cases = Json::parse(text.str());
  int checked = 0;
  for (const Json& c : cases) {
    const std::string pattern = c["pattern"];
    auto g = PatternSchema(pattern);
    ASSERT_TRUE(g.ok()) << pattern << ": " << g.status().ToString();
    for (const Json& s : c["strings"]) {
      const std::string encoded = Json(s["s"].get<std::string>()).dump();
      auto m = grammar::GrammarMatches(**g, encoded);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      EXPECT_EQ(*m, s["match"].get<bool>()) << "pattern " << pattern << " on " << encoded;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100);
}

std::string ErrorOf(const std::string& pattern) {
  const auto t0 = std::chrono::steady_clock::now();
  auto g = PatternSchema(pattern);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 2000) << "refusing took too long";
  EXPECT_FALSE(g.ok()) << pattern.substr(0, 80);
  if (!g.ok()) {
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  }
  return g.ok() ? "" : g.status().message();
}

TEST(RegexGrammarTest, RefusesUnsupportedConstructsByName) {
  EXPECT_NE(ErrorOf("^(a)\\1$").find("backreferences"), std::string::npos);
  EXPECT_NE(ErrorOf("^(?<x>a)\\k<x>$").find("backreferences"), std::string::npos);
  EXPECT_NE(ErrorOf("^a(?=b)").find("lookahead"), std::string::npos);
  EXPECT_NE(ErrorOf("^a(?!b)").find("lookahead"), std::string::npos);
  EXPECT_NE(ErrorOf("(?<=a)b").find("lookbehind"), std::string::npos);
  EXPECT_NE(ErrorOf("\\bword\\b").find("word boundaries"), std::string::npos);
  EXPECT_NE(ErrorOf("\\p{L}+").find("property"), std::string::npos);
  EXPECT_NE(ErrorOf("a^b").find("'^'"), std::string::npos);
  EXPECT_NE(ErrorOf("(a$)").find("'$'"), std::string::npos);
  EXPECT_NE(ErrorOf("[é-ü]").find("non-ASCII"), std::string::npos);
  EXPECT_NE(ErrorOf("(ab").find("')'"), std::string::npos);
  EXPECT_NE(ErrorOf("ab)").find("')'"), std::string::npos);
  EXPECT_NE(ErrorOf("[ab").find("']'"), std::string::npos);
  EXPECT_NE(ErrorOf("*a").find("nothing to repeat"), std::string::npos);
  EXPECT_NE(ErrorOf("a{3,1}").find("below"), std::string::npos);
  EXPECT_NE(ErrorOf("\\q").find("unknown escape"), std::string::npos);
  // Schema-level: the error names where the pattern sits.
  auto g = CompileJsonSchema(
      R"J({"type":"object","properties":{"a":{"type":"string","pattern":"(?=x)"}}})J", true);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("/properties/a"), std::string::npos);
}

// JSON text never carries malformed UTF-8, but the compiler refuses it on its own.
TEST(RegexGrammarTest, RefusesMalformedUtf8) {
  const grammar::Expr any = grammar::Literal("");
  for (const char* bad : {"a\xc0\xaf", "a\xed\xa0\x80", "a\xf4\x90\x80\x80", "a\xe2\x82"}) {
    auto e = CompileRegex(bad, any);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_NE(e.status().message().find("invalid UTF-8"), std::string::npos)
        << e.status().message();
  }
  EXPECT_TRUE(CompileRegex("a\xe2\x82\xac", any).ok());
}

TEST(RegexGrammarTest, HostilePatternsAreRefusedQuickly) {
  EXPECT_NE(ErrorOf("^a{1000000}$").find("repetition count"), std::string::npos);
  EXPECT_NE(ErrorOf("^a{0,99999999999999999999}$").find("repetition count"), std::string::npos);
  // Nested repetitions multiply the language, not the grammar (each item is one rule); many
  // of them still add up past the bound.
  std::string many;
  for (int i = 0; i < 30; ++i) many += "(x{999}){999}";
  EXPECT_NE(ErrorOf(many).find("too large"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(5000, '(') + "a" + std::string(5000, ')')).find("longer"),
            std::string::npos);
  EXPECT_NE(ErrorOf(std::string(1000, '(') + "a" + std::string(1000, ')')).find("nested"),
            std::string::npos);
  std::string long_pattern;
  while (long_pattern.size() < 10000) long_pattern += "[a-z]{2,5}";
  EXPECT_NE(ErrorOf(long_pattern).find("longer"), std::string::npos);
}

TEST(RegexGrammarTest, FormatIpv4) {
  auto g = CompileJsonSchema(R"({"type":"string","format":"ipv4"})", true);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  for (const char* yes : {R"("0.0.0.0")", R"("255.255.255.255")", R"("10.1.20.199")"}) {
    EXPECT_TRUE(*grammar::GrammarMatches(**g, yes)) << yes;
  }
  for (const char* no : {R"("256.0.0.1")", R"("01.2.3.4")", R"("1.2.3")", R"("1.2.3.4.5")"}) {
    EXPECT_FALSE(*grammar::GrammarMatches(**g, no)) << no;
  }
}

}  // namespace
}  // namespace llmux::serving
