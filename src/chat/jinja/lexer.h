// Template text -> tokens, as @huggingface/jinja's lexer does it (with lstrip_blocks and
// trim_blocks on, as its Template class sets them), so that whitespace lands byte for byte
// where the reference puts it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::chat::jinja {

enum class TokenType {
  kText,
  kNumericLiteral,
  kStringLiteral,
  kIdentifier,
  kEquals,
  kOpenParen,
  kCloseParen,
  kOpenStatement,
  kCloseStatement,
  kOpenExpression,
  kCloseExpression,
  kOpenSquareBracket,
  kCloseSquareBracket,
  kOpenCurlyBracket,
  kCloseCurlyBracket,
  kComma,
  kDot,
  kColon,
  kPipe,
  kAdditive,        // + - ~
  kMultiplicative,  // * / // %
  kExponentiation,  // **
  kComparison,      // < > <= >= == !=
  kUnary,           // a sign before an operand that is not a number
  kComment,
};

const char* TokenTypeName(TokenType type);

struct Token {
  TokenType type;
  std::string value;
};

// The reference's preprocessing: one trailing newline dropped, lstrip_blocks, trim_blocks, and
// {% generation %} / {% endgeneration %} tags removed (rendered as plain text around them).
std::string Preprocess(std::string_view text);

Result<std::vector<Token>> Tokenize(std::string_view text);

}  // namespace llmux::chat::jinja
