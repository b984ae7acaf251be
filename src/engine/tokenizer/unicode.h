// Unicode helpers for the tokenizers: lenient UTF-8 decoding (as llama.cpp does it), encoding,
// the general-category class of a code point and GPT-2's byte <-> code point mapping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// The major Unicode general category of a code point (Unicode 16.0). Values match the
// generated table.
enum class CharClass : uint8_t {
  kUndefined = 0,  // Cn, unassigned (and anything past U+10FFFF)
  kLetter = 1,     // L*
  kMark = 2,       // M*
  kNumber = 3,     // N*
  kPunctuation = 4,
  kSymbol = 5,
  kSeparator = 6,  // Z*
  kControl = 7,    // Cc, Cf, Co, Cs
};

struct CharInfo {
  CharClass cls = CharClass::kUndefined;
  bool whitespace = false;  // Unicode White_Space property

  bool is_letter() const { return cls == CharClass::kLetter; }
  bool is_number() const { return cls == CharClass::kNumber; }
};

CharInfo GetCharInfo(uint32_t cpt);

// Byte length of a UTF-8 sequence from its first byte (1 for continuation and invalid bytes).
inline size_t Utf8SequenceLength(uint8_t first) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[first >> 4];
}

// Decodes UTF-8 the way llama.cpp does: sequences are accepted by their shape alone (overlong
// forms and surrogates decode to their value); a byte that does not start a complete
// sequence becomes U+FFFD and decoding resumes at the next byte. Values above U+10FFFF also
// become U+FFFD.
std::vector<uint32_t> DecodeUtf8Lenient(std::string_view text);
// One step of the same: the code point at text[*pos], advancing *pos (requires *pos < size).
uint32_t NextCodepointLenient(std::string_view text, size_t* pos);

// Decodes one character strictly (RFC 3629): the shortest form only, no surrogates, nothing past
// U+10FFFF. On success advances *pos past it; a malformed or truncated sequence gives nullopt and
// leaves *pos alone (requires *pos < size).
std::optional<uint32_t> NextCodepointStrict(std::string_view text, size_t* pos);

// Appends the UTF-8 form of `cpt` (any value up to U+10FFFF, surrogates included).
void AppendUtf8(uint32_t cpt, std::string& out);
std::string EncodeUtf8(const std::vector<uint32_t>& cpts);

// GPT-2 byte-level BPE alphabet: every byte maps to one printable code point (bytes that
// are printable Latin-1 map to themselves, the others to U+0100 onwards in byte order).
uint32_t ByteToGpt2Codepoint(uint8_t byte);
// The byte for a code point of that alphabet, or -1.
int Gpt2CodepointToByte(uint32_t cpt);

}  // namespace llmux::tokenizer
