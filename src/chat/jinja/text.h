// String helpers that reproduce JavaScript's behaviour on UTF-8 text, because the reference
// engine (@huggingface/jinja) is JavaScript: its whitespace set (/\s/, trim), its number
// formatting (String(n), JSON.stringify) and its UTF-16 string lengths.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::chat::jinja {

// Byte length of the JavaScript whitespace character at s[i] (/\s/), 0 if none there.
size_t WhitespaceAt(std::string_view s, size_t i);
// Byte length of the JavaScript whitespace character that ends at s[end], 0 if none.
size_t WhitespaceBefore(std::string_view s, size_t end);

std::string_view TrimStart(std::string_view s);
std::string_view TrimEnd(std::string_view s);
inline std::string_view Trim(std::string_view s) { return TrimEnd(TrimStart(s)); }

// Code points of UTF-8 text (invalid bytes count as one code point each), as UTF-8 pieces.
std::vector<std::string> CodePoints(std::string_view s);
// The length JavaScript reports (UTF-16 code units).
size_t Utf16Length(std::string_view s);

// Unicode simple case mapping (the C library's, in C.UTF-8), as String.prototype.toUpperCase
// and toLowerCase do it, with ß -> SS; other one-to-many and context-dependent mappings of
// JavaScript (final sigma, ligatures) are not reproduced.
std::string Upper(std::string_view s);
std::string Lower(std::string_view s);
// Python's str.title as @huggingface/jinja does it: /\b\w/ upper-cased.
std::string TitleCase(std::string_view s);

// String(n) for a JavaScript number.
std::string JsNumber(double v);
// JSON.stringify of a string; ensure_ascii escapes U+007F and above as \uXXXX (UTF-16 units).
std::string JsonQuote(std::string_view s, bool ensure_ascii);

}  // namespace llmux::chat::jinja
