// JSON-schema `pattern` to grammar: the ECMA-262 regular-expression subset that schemas use,
// compiled to an expression (engine/runtime/grammar.h) over the JSON-encoded inside of a string,
// so that the decoded string matches the pattern as `new RegExp(pattern, "u").test(s)` says.
//
// Supported: literals (UTF-8 characters), escapes (\n \r \t \v \f \0 \xHH \uHHHH \u{...} and
// escaped syntax characters), classes [...] with ranges and negation over ASCII, \d \w \s \D
// \W \S, `.`, groups (capturing, (?:...), (?<name>...)), alternation, ? * + {n} {n,} {n,m}
// (lazy forms too: same language), and ^ $ at the start / end of the pattern or of a top-level
// alternative. Unanchored ends take any string content. Refused with an error naming the
// construct: backreferences, lookaround, \b \B, \cX, unicode property escapes, anchors
// elsewhere, non-ASCII characters inside classes.
//
// Narrowing (the language is a subset of the matching strings, so outputs always match):
// `.`, negated classes and \D \W \S produce ASCII and, beyond it, only U+0100..U+07FF and
// U+4000..U+9FFF (no Unicode white space or line terminators); control characters are written
// as JSON escapes.
//
// Limits: the pattern length, group nesting, each repetition count and the compiled size are
// bounded (kMaxRegex*); beyond them the pattern is refused, never expanded.
#pragma once

#include <string_view>

#include "base/status.h"
#include "engine/runtime/grammar.h"

namespace llmux::serving {

inline constexpr size_t kMaxRegexLength = 2048;     // bytes of pattern
inline constexpr int kMaxRegexNesting = 32;         // nested groups
inline constexpr uint32_t kMaxRegexRepeat = 1000;   // any {n,m} bound
inline constexpr size_t kMaxRegexElements = 50000;  // estimated grammar elements

// The expression for the inside of a JSON string whose value matches `pattern`. `any_chars`
// stands for any run of string characters (used for unanchored ends). Errors are
// InvalidArgument ("pattern: ... at offset N").
Result<grammar::Expr> CompileRegex(std::string_view pattern, const grammar::Expr& any_chars);

}  // namespace llmux::serving
