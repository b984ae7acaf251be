#include "engine/tokenizer/unicode.h"

#include <gtest/gtest.h>

namespace llmux::tokenizer {
namespace {

TEST(UnicodeTest, Classes) {
  EXPECT_EQ(GetCharInfo('a').cls, CharClass::kLetter);
  EXPECT_EQ(GetCharInfo('Z').cls, CharClass::kLetter);
  EXPECT_EQ(GetCharInfo('7').cls, CharClass::kNumber);
  EXPECT_EQ(GetCharInfo('!').cls, CharClass::kPunctuation);
  EXPECT_EQ(GetCharInfo('~').cls, CharClass::kSymbol);      // Sm
  EXPECT_EQ(GetCharInfo('$').cls, CharClass::kSymbol);      // Sc
  EXPECT_EQ(GetCharInfo(0x00E9).cls, CharClass::kLetter);   // é
  EXPECT_EQ(GetCharInfo(0x0301).cls, CharClass::kMark);     // combining acute
  EXPECT_EQ(GetCharInfo(0x0663).cls, CharClass::kNumber);   // Arabic-Indic three
  EXPECT_EQ(GetCharInfo(0xFF15).cls, CharClass::kNumber);   // full-width five
  EXPECT_EQ(GetCharInfo(0x00B2).cls, CharClass::kNumber);   // superscript two (No)
  EXPECT_EQ(GetCharInfo(0x4E2D).cls, CharClass::kLetter);   // 中
  EXPECT_EQ(GetCharInfo(0x1F600).cls, CharClass::kSymbol);  // 😀
  EXPECT_EQ(GetCharInfo(0x200D).cls, CharClass::kControl);  // ZWJ (Cf)
  EXPECT_EQ(GetCharInfo(0xE000).cls, CharClass::kControl);  // private use
  EXPECT_EQ(GetCharInfo(0xD800).cls, CharClass::kControl);  // surrogate
  EXPECT_EQ(GetCharInfo(0x0378).cls, CharClass::kUndefined);
  EXPECT_EQ(GetCharInfo(0x10FFFF).cls, CharClass::kUndefined);
  EXPECT_EQ(GetCharInfo(0x110000).cls, CharClass::kUndefined);
  // Assigned after Unicode 14 (the version of Debian's PCRE2 and Python): CJK Extension H
  // (15.0) and a Unicode 16 Latin letter.
  EXPECT_EQ(GetCharInfo(0x31350).cls, CharClass::kLetter);
  EXPECT_EQ(GetCharInfo(0xA7CB).cls, CharClass::kLetter);
}

TEST(UnicodeTest, WhitespaceIsTheWhiteSpaceProperty) {
  for (uint32_t c : {0x09u, 0x0Au, 0x0Bu, 0x0Cu, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x1680u, 0x2000u,
                     0x200Au, 0x2028u, 0x2029u, 0x202Fu, 0x205Fu, 0x3000u}) {
    EXPECT_TRUE(GetCharInfo(c).whitespace) << std::hex << c;
  }
  for (uint32_t c : {0x1Cu, 0x1Fu, 0x200Bu, 0x180Eu, 0xFEFFu, 0x61u, 0u}) {
    EXPECT_FALSE(GetCharInfo(c).whitespace) << std::hex << c;
  }
}

TEST(UnicodeTest, DecodeValid) {
  EXPECT_EQ(DecodeUtf8Lenient("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80"),
            (std::vector<uint32_t>{'a', 0xE9, 0x4E2D, 0x1F600}));
  EXPECT_TRUE(DecodeUtf8Lenient("").empty());
}

TEST(UnicodeTest, DecodeInvalidBytesBecomeReplacementChars) {
  // A lone continuation byte, a truncated sequence at the end, a lead byte followed by ASCII,
  // and bytes that never start a sequence: each bad byte becomes one U+FFFD.
  EXPECT_EQ(DecodeUtf8Lenient("\x80"
                              "a"),
            (std::vector<uint32_t>{0xFFFD, 'a'}));
  EXPECT_EQ(DecodeUtf8Lenient("a\xe4\xb8"), (std::vector<uint32_t>{'a', 0xFFFD, 0xFFFD}));
  EXPECT_EQ(DecodeUtf8Lenient("\xc3"
                              "A"),
            (std::vector<uint32_t>{0xFFFD, 'A'}));
  EXPECT_EQ(DecodeUtf8Lenient("\xff\xfe"), (std::vector<uint32_t>{0xFFFD, 0xFFFD}));
  // Shape-only decoding, as llama.cpp: an overlong NUL decodes to 0, a surrogate to itself.
  EXPECT_EQ(DecodeUtf8Lenient("\xc0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(DecodeUtf8Lenient("\xed\xa0\x80"), (std::vector<uint32_t>{0xD800}));
  // Beyond U+10FFFF.
  EXPECT_EQ(DecodeUtf8Lenient("\xf5\x80\x80\x80"), (std::vector<uint32_t>{0xFFFD}));
}

TEST(UnicodeTest, EncodeRoundTrip) {
  const std::vector<uint32_t> cpts = {0, 'x', 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF};
  EXPECT_EQ(DecodeUtf8Lenient(EncodeUtf8(cpts)), cpts);
  std::string s;
  AppendUtf8(0x20AC, s);
  EXPECT_EQ(s, "\xe2\x82\xac");
}

TEST(UnicodeTest, Gpt2ByteAlphabet) {
  EXPECT_EQ(ByteToGpt2Codepoint('A'), uint32_t{'A'});
  EXPECT_EQ(ByteToGpt2Codepoint(' '), 0x120u);   // Ġ
  EXPECT_EQ(ByteToGpt2Codepoint('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(ByteToGpt2Codepoint(0x00), 0x100u);
  EXPECT_EQ(ByteToGpt2Codepoint(0x7F), 0x121u);
  EXPECT_EQ(ByteToGpt2Codepoint(0xAD), 0x143u);  // soft hyphen -> Ń
  EXPECT_EQ(ByteToGpt2Codepoint(0xE9), 0xE9u);
  for (int b = 0; b < 256; ++b) {
    EXPECT_EQ(Gpt2CodepointToByte(ByteToGpt2Codepoint(static_cast<uint8_t>(b))), b);
  }
  EXPECT_EQ(Gpt2CodepointToByte(' '), -1);  // spaces are never in the alphabet
  EXPECT_EQ(Gpt2CodepointToByte(0x4E2D), -1);
}

}  // namespace
}  // namespace llmux::tokenizer
