// The nesting limit of every JSON document llmux accepts from outside (request bodies on every
// transport, tool schemas, stored prompts, JWTs, tokenizer and config files). A deep document
// is refused before it is parsed: nlohmann::json parses iteratively, but copying, comparing and
// dumping a value recurse once per level, so an unbounded depth would let one request overflow
// the stack. This header needs no JSON library, so any layer may use it.
#pragma once

#include <string>
#include <string_view>

namespace llmux {

// The deepest nesting of arrays and objects accepted (serde_json's default recursion limit).
inline constexpr int kMaxJsonNesting = 128;

// Whether no array or object of `text` is nested deeper than `max_nesting`: one pass over the
// bytes, brackets inside strings not counted. It does not validate: the parser does that next.
bool JsonNestingWithin(std::string_view text, int max_nesting = kMaxJsonNesting);

// The one error text of a document nested too deep, on every transport.
std::string JsonTooDeepMessage(int max_nesting = kMaxJsonNesting);

}  // namespace llmux
