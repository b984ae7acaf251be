// Which bytes a JSON string (RFC 8259) takes as they are, for the token trie and the
// plain-string sets of constrained decoding: a token whose text is plain string content can be
// allowed inside any string without stepping a recognizer through it.
//
// Plain content is strict UTF-8 (RFC 3629: no overlong forms, no encoded surrogates, nothing
// past U+10FFFF) with no control byte, quote or backslash.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace llmux::constraint {

// The text does not end inside a UTF-8 character: its last lead byte has all its continuation
// bytes (a text of continuation bytes only does not count as whole).
bool EndsWithWholeChar(std::string_view text);

// ok[i] (for i in 0..text.size()) is set if text[i..] is plain string content from a character
// boundary, up to a possibly unfinished last character. Conservative: a 0 only means "not
// known to be ok".
void StringSuffixesOk(std::string_view text, std::vector<uint8_t>& ok);

}  // namespace llmux::constraint
