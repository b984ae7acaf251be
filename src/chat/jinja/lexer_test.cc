// The lexer and parser on their own: token kinds, whitespace control and malformed input.
// (Rendered output is checked against @huggingface/jinja in tests/chat.)
#include "chat/jinja/lexer.h"

#include <gtest/gtest.h>

#include "chat/jinja/parser.h"

namespace llmux::chat::jinja {
namespace {

std::vector<TokenType> Types(const std::vector<Token>& tokens) {
  std::vector<TokenType> out;
  for (const Token& t : tokens) out.push_back(t.type);
  return out;
}

TEST(JinjaLexerTest, SplitsTextTagsAndOperators) {
  auto tokens = Tokenize("Hi {{ a.b[0] | f(x=1) ~ 'q' }}{% if not c %}x{% endif %}");
  ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
  using T = TokenType;
  EXPECT_EQ(
      Types(*tokens),
      (std::vector<T>{
          T::kText,          T::kOpenExpression,    T::kIdentifier,     T::kDot,
          T::kIdentifier,    T::kOpenSquareBracket, T::kNumericLiteral, T::kCloseSquareBracket,
          T::kPipe,          T::kIdentifier,        T::kOpenParen,      T::kIdentifier,
          T::kEquals,        T::kNumericLiteral,    T::kCloseParen,     T::kAdditive,
          T::kStringLiteral, T::kCloseExpression,   T::kOpenStatement,  T::kIdentifier,
          T::kIdentifier,    T::kIdentifier,        T::kCloseStatement, T::kText,
          T::kOpenStatement, T::kIdentifier,        T::kCloseStatement}));
}

TEST(JinjaLexerTest, DashTagsStripTheNeighbouringWhitespace) {
  auto tokens = Tokenize("a \n {{- x -}} \n b");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(tokens->size(), 5u);
  EXPECT_EQ((*tokens)[0].value, "a");
  EXPECT_EQ((*tokens)[4].value, "b");
}

TEST(JinjaLexerTest, SignBeforeANumberIsPartOfTheLiteral) {
  auto tokens = Tokenize("{{ [-1, a - 1] }}");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)[2].type, TokenType::kNumericLiteral);
  EXPECT_EQ((*tokens)[2].value, "-1");
  EXPECT_EQ((*tokens)[5].type, TokenType::kAdditive);
}

TEST(JinjaLexerTest, StringEscapes) {
  auto tokens = Tokenize(R"({{ "a\n\t\"\\\u00e9\x41" }})");
  ASSERT_TRUE(tokens.ok());
  EXPECT_EQ((*tokens)[1].value,
            "a\n\t\"\\\xC3\xA9"
            "A");
}

TEST(JinjaLexerTest, PreprocessingDropsTheLastNewlineAndBlockIndentation) {
  EXPECT_EQ(Preprocess("x\n"), "x");
  EXPECT_EQ(Preprocess("  {% if a %}\nb\n  {% endif %}\n"), "{% if a %}b\n{% endif %}");
  EXPECT_EQ(Preprocess("a {%- generation -%} b{% endgeneration %} c"), "ab c");
}

TEST(JinjaLexerTest, MalformedInputIsAnError) {
  for (const char* text :
       {"{{ 'unterminated }}", "{# no end", "{{ a ? b }}", "{{ \"\\q\" }}", "{{ x"}) {
    SCOPED_TRACE(text);
    auto tokens = Tokenize(text);
    if (!tokens.ok()) {
      EXPECT_EQ(tokens.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    auto program = Parse(*tokens, 64);
    EXPECT_FALSE(program.ok());
  }
}

TEST(JinjaParserTest, RefusesWhatTheGrammarDoesNot) {
  for (const char* text :
       {"{% if a %}x", "{% for in x %}{% endfor %}", "{% endif %}", "{% unknown %}",
        "{{ f(a=1, 2) }}", "{% macro m(a=1, b) %}{% endmacro %}", "{{ a[] }}", "{{ a[1:2:3:4] }}",
        "{{ (1 }}", "{% set %}"}) {
    SCOPED_TRACE(text);
    auto tokens = Tokenize(text);
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    auto program = Parse(*tokens, 64);
    ASSERT_FALSE(program.ok());
    EXPECT_NE(program.status().message().find("template syntax"), std::string::npos)
        << program.status().ToString();
  }
}

}  // namespace
}  // namespace llmux::chat::jinja
