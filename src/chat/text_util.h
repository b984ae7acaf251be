// The few Python string operations the chat templates use, with Python's exact semantics
// (Jinja evaluates template expressions as Python).
#pragma once

#include <string_view>

namespace llmux::chat::text {

// s.lstrip('\n'), s.rstrip('\n'), s.strip('\n').
std::string_view LStripNewlines(std::string_view s);
std::string_view RStripNewlines(std::string_view s);
std::string_view StripNewlines(std::string_view s);

// s.strip() (Jinja's `trim` filter): removes Unicode whitespace (str.isspace) at both ends.
// `s` should be UTF-8; invalid bytes are never whitespace.
std::string_view PyStrip(std::string_view s);

// s.split(sep)[-1]: the text after the last `sep` (all of `s` when `sep` is absent).
std::string_view AfterLast(std::string_view s, std::string_view sep);
// s.split(sep)[0]: the text before the first `sep` (all of `s` when `sep` is absent).
std::string_view BeforeFirst(std::string_view s, std::string_view sep);

// JSON's whitespace (and the layout whitespace of templates and model output).
inline bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

inline bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// Length of the longest suffix of `s` that is a proper prefix of `tag` (0 if none): the part
// of a stream that must be held back because it may still become `tag`.
size_t PartialSuffixLength(std::string_view s, std::string_view tag);

// Where `s` ends at a UTF-8 boundary: s.size(), or the start of a multi-byte sequence at the
// end that is not complete yet. Malformed bytes count as complete (they never will be).
size_t Utf8CompletePrefix(std::string_view s);

}  // namespace llmux::chat::text
