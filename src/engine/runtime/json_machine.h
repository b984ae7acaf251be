// A byte-level state machine for one JSON object (RFC 8259), used for constrained decoding.
//
// The machine accepts a byte only if some continuation can still complete the object: every
// prefix it accepts is viable, so a decoder guided by it never paints itself into a corner.
// Limits (RFC 8259 section 9 lets parsers set them): nesting depth kMaxJsonDepth, runs of
// whitespace between tokens kMaxJsonWhitespaceRun bytes, kMaxJsonIntegerDigits integer and
// kMaxJsonFractionDigits fraction digits, kMaxJsonExponentDigits exponent digits (so every
// number is finite as a double). Strings must be valid UTF-8 (no overlong forms, no encoded
// surrogates) and \u escapes may not hold unpaired surrogates.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace llmux::constraint {

inline constexpr int kMaxJsonDepth = 32;
inline constexpr int kMaxJsonWhitespaceRun = 128;
inline constexpr int kMaxJsonIntegerDigits = 64;
inline constexpr int kMaxJsonFractionDigits = 64;
inline constexpr int kMaxJsonExponentDigits = 2;

enum class JsonMode : uint8_t {
  kStart,         // before the object: whitespace or '{'
  kObjectOpen,    // after '{': whitespace, a key or '}'
  kObjectKey,     // after ',' in an object: whitespace or a key
  kColon,         // after a key: whitespace or ':'
  kValue,         // after ':' or ',' in an array: whitespace or a value
  kArrayOpen,     // after '[': whitespace, a value or ']'
  kAfterValue,    // whitespace, ',' or the closing bracket of the innermost container
  kDone,          // the object is closed; nothing more is accepted
  kString,        // inside a string, at a character boundary
  kEscape,        // after '\'
  kHex,           // inside \uXXXX; count = digits so far
  kLowBackslash,  // after a high surrogate escape: the '\' of the low one
  kLowU,          // the 'u' of the low surrogate escape
  kUtf8,          // inside a multi-byte character; count = continuation bytes left
  kLiteral,       // inside true/false/null; aux = which, count = bytes matched
  kNumMinus,      // after '-'
  kNumZero,       // integer part is "0"
  kNumInt,        // integer part digits; count = digits
  kNumDot,        // after '.'
  kNumFrac,       // fraction digits; count = digits
  kNumExpMark,    // after 'e' / 'E'
  kNumExpSign,    // after the exponent sign
  kNumExp,        // exponent digits; count = digits
};

// Small and trivially copyable: the token trie walk copies it at every node.
struct JsonState {
  uint64_t array_bits = 0;  // bit d set: the container at depth d + 1 is an array
  uint16_t hex = 0;         // value of the \u escape digits so far
  JsonMode mode = JsonMode::kStart;
  uint8_t depth = 0;   // open containers
  uint8_t count = 0;   // see JsonMode
  uint8_t aux = 0;     // kUtf8: range code of the next byte; kLiteral: which literal
  uint8_t flags = 0;   // JsonFlags
  uint8_t ws_run = 0;  // whitespace bytes in the current run
};

enum JsonFlags : uint8_t {
  kJsonInKey = 1,        // the open string is an object key
  kJsonNeedLowHalf = 2,  // the \u escape being read must be a low surrogate
};

// Feeds one byte. Returns false (and leaves `s` unspecified) if the byte cannot come next.
bool JsonStep(JsonState& s, uint8_t byte);

inline bool JsonComplete(const JsonState& s) { return s.mode == JsonMode::kDone; }

// At a character boundary inside a string: where StringSuffixesOk() applies.
inline bool JsonInPlainString(const JsonState& s) { return s.mode == JsonMode::kString; }

// The text does not end inside a UTF-8 character: its last lead byte has all its continuation
// bytes (a text of continuation bytes only does not count as whole).
bool EndsWithWholeChar(std::string_view text);

// ok[i] (for i in 0..text.size()) is set if text[i..] is accepted from a JsonInPlainString()
// state without leaving the string: no quote, backslash or control byte, and valid UTF-8 up to
// a possibly unfinished last character. Conservative: a 0 only means "not known to be ok".
void StringSuffixesOk(std::string_view text, std::vector<uint8_t>& ok);

inline bool IsJsonWhitespace(uint8_t b) { return b == ' ' || b == '\n' || b == '\r' || b == '\t'; }

// Feeds a whole text from `s`; false as soon as a byte is rejected.
bool JsonFeed(JsonState& s, std::string_view text);

// True if `text` is one whole JSON object the machine accepts (no trailing bytes).
bool JsonMatches(std::string_view text);

}  // namespace llmux::constraint
