#include "serving/gbnf.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace llmux::serving {
namespace {

void ExpectLanguage(const std::string& gbnf, const std::vector<std::string>& yes,
                    const std::vector<std::string>& no) {
  auto g = CompileGbnf(gbnf);
  ASSERT_TRUE(g.ok()) << gbnf << ": " << g.status().ToString();
  for (const std::string& t : yes) {
    auto r = grammar::GrammarMatches(**g, t);
    EXPECT_TRUE(r.ok() && *r) << gbnf << " should take '" << t << "'";
  }
  for (const std::string& t : no) {
    auto r = grammar::GrammarMatches(**g, t);
    EXPECT_TRUE(r.ok() && !*r) << gbnf << " should refuse '" << t << "'";
  }
}

std::string ErrorOf(const std::string& gbnf) {
  auto g = CompileGbnf(gbnf);
  EXPECT_FALSE(g.ok()) << gbnf;
  return g.ok() ? "" : g.status().message();
}

TEST(GbnfTest, LiteralsClassesAndRepetition) {
  ExpectLanguage(R"(root ::= "yes" | "no")", {"yes", "no"}, {"y", "yesno", ""});
  ExpectLanguage("root ::= [a-c]+ [0-9]? # comment\n", {"a", "abc1", "cc9"},
                 {"", "1", "ad", "a12"});
  ExpectLanguage(R"(root ::= [^"\\]* "!")", {"!", "hello!", "\xc3\xa9!"}, {"\"!", "a"});
  ExpectLanguage(R"(root ::= "a"{2,3} "b"{2} "c"{1,})", {"aabbc", "aaabbccc"},
                 {"abbc", "aabc", "aabb"});
  ExpectLanguage("root ::= (\"x\" | \"y\"\n  | \"z\")* end\nend ::= \".\"", {".", "xyz.", "zzz."},
                 {"xa.", "x"});
  ExpectLanguage(R"(root ::= "\x41\u00e9\n\"")", {"A\xc3\xa9\n\""}, {"A"});
  // Non-ASCII class ranges: U+00E0..U+00FF and U+4E00..U+4E01, and the any-character dot.
  ExpectLanguage(R"(root ::= [à-ÿ] [一-丁] .)",
                 {"\xc3\xa0\xe4\xb8\x80z", "\xc3\xbf\xe4\xb8\x81\xf0\x9f\x98\x80"},
                 {"a\xe4\xb8\x80z", "\xc3\xa0\xe4\xb8\x82z"});
}

TEST(GbnfTest, JsonLikeGrammar) {
  const std::string json = R"(
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws ::= | " " | "\n" [ \t]{0,20}
)";
  ExpectLanguage(json, {R"({"a": [1, 2.5, "x", {"b": null}], "c": true})", "{}"},
                 {R"({"a" 1})", "[1]", R"({"a":})"});
}

TEST(GbnfTest, ErrorsAreClear) {
  EXPECT_NE(ErrorOf(R"(start ::= "a")").find("no 'root'"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= expr
expr ::= expr "+" term | term
term ::= [0-9])")
                .find("left-recursive"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= missing)").find("'missing' is used but not defined"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= "a)").find("unterminated literal"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= [a-)").find("unterminated"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= ("a")").find("expected ')'"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= "a"{5,2})").find("below"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= "a"{99999})").find("above"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"a\"\nroot ::= \"b\"").find("defined twice"), std::string::npos);
  EXPECT_NE(ErrorOf(R"(root ::= "\q")").find("unknown escape"), std::string::npos);
  // Malformed UTF-8 in a class: an overlong '/', a surrogate, a truncated character.
  EXPECT_NE(ErrorOf("root ::= [\xc0\xaf]").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= [\xed\xa0\x80]").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= [\xe2\x82]").find("invalid UTF-8"), std::string::npos);
  std::string deep = "root ::= " + std::string(200, '(') + "\"a\"" + std::string(200, ')');
  EXPECT_NE(ErrorOf(deep).find("nested deeper"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= [^\\x00-\\U0010FFFF]").find("matches nothing"), std::string::npos);
}

}  // namespace
}  // namespace llmux::serving
