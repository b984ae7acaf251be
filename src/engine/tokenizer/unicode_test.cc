#include "engine/tokenizer/unicode.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

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

// The bytes NextCodepointStrict consumed at the start of `bytes`, or 0 when it refused them.
size_t StrictLength(std::string_view bytes) {
  size_t pos = 0;
  const std::optional<uint32_t> cp = NextCodepointStrict(bytes, &pos);
  EXPECT_EQ(cp.has_value(), pos != 0);
  return pos;
}

TEST(UnicodeTest, StrictDecodeValid) {
  size_t pos = 0;
  const std::string_view text = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
  std::vector<uint32_t> cps;
  while (pos < text.size()) {
    auto cp = NextCodepointStrict(text, &pos);
    ASSERT_TRUE(cp.has_value());
    cps.push_back(*cp);
  }
  EXPECT_EQ(cps, (std::vector<uint32_t>{'a', 0xE9, 0x4E2D, 0x1F600}));
  // The edges of each length: U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF.
  EXPECT_EQ(StrictLength("\xc2\x80"), 2u);
  EXPECT_EQ(StrictLength("\xdf\xbf"), 2u);
  EXPECT_EQ(StrictLength("\xe0\xa0\x80"), 3u);
  EXPECT_EQ(StrictLength("\xed\x9f\xbf"), 3u);
  EXPECT_EQ(StrictLength("\xee\x80\x80"), 3u);
  EXPECT_EQ(StrictLength("\xef\xbf\xbf"), 3u);
  EXPECT_EQ(StrictLength("\xf0\x90\x80\x80"), 4u);
  EXPECT_EQ(StrictLength("\xf4\x8f\xbf\xbf"), 4u);
}

TEST(UnicodeTest, StrictDecodeRefusesMalformed) {
  // Overlong forms of '/' and of U+07FF / U+FFFF.
  EXPECT_EQ(StrictLength("\xc0\xaf"), 0u);
  EXPECT_EQ(StrictLength("\xc1\xbf"), 0u);
  EXPECT_EQ(StrictLength("\xe0\x80\xaf"), 0u);
  EXPECT_EQ(StrictLength("\xe0\x9f\xbf"), 0u);
  EXPECT_EQ(StrictLength("\xf0\x80\x80\xaf"), 0u);
  EXPECT_EQ(StrictLength("\xf0\x8f\xbf\xbf"), 0u);
  // Surrogates, alone or as a CESU-8 pair.
  EXPECT_EQ(StrictLength("\xed\xa0\x80"), 0u);
  EXPECT_EQ(StrictLength("\xed\xbf\xbf"), 0u);
  EXPECT_EQ(StrictLength("\xed\xa0\xbd\xed\xb8\x80"), 0u);
  // Truncated at the end of the text, or cut by a non-continuation byte.
  EXPECT_EQ(StrictLength("\xc3"), 0u);
  EXPECT_EQ(StrictLength("\xe2\x82"), 0u);
  EXPECT_EQ(StrictLength("\xf0\x9f\x98"), 0u);
  EXPECT_EQ(StrictLength("\xe2\x82"
                         "a"),
            0u);
  // Past U+10FFFF, and bytes that never start a sequence.
  EXPECT_EQ(StrictLength("\xf4\x90\x80\x80"), 0u);
  EXPECT_EQ(StrictLength("\xf5\x80\x80\x80"), 0u);
  EXPECT_EQ(StrictLength("\xf7\xbf\xbf\xbf"), 0u);
  EXPECT_EQ(StrictLength("\xf8\x88\x80\x80\x80"), 0u);
  EXPECT_EQ(StrictLength("\x80"), 0u);
  EXPECT_EQ(StrictLength("\xff"), 0u);
}

// The length of the well-formed sequence that starts `b`, or 0: the byte ranges of Table 3-7
// ("Well-Formed UTF-8 Byte Sequences") of the Unicode Standard, written out independently.
size_t WellFormedLength(const uint8_t* b, size_t n) {
  auto in = [&](size_t k, int lo, int hi) { return k < n && b[k] >= lo && b[k] <= hi; };
  if (in(0, 0x00, 0x7F)) return 1;
  if (in(0, 0xC2, 0xDF)) return in(1, 0x80, 0xBF) ? 2 : 0;
  int lo1 = 0x80, hi1 = 0xBF;
  size_t len = 0;
  if (in(0, 0xE0, 0xE0)) {
    len = 3, lo1 = 0xA0;
  } else if (in(0, 0xE1, 0xEC) || in(0, 0xEE, 0xEF)) {
    len = 3;
  } else if (in(0, 0xED, 0xED)) {
    len = 3, hi1 = 0x9F;
  } else if (in(0, 0xF0, 0xF0)) {
    len = 4, lo1 = 0x90;
  } else if (in(0, 0xF1, 0xF3)) {
    len = 4;
  } else if (in(0, 0xF4, 0xF4)) {
    len = 4, hi1 = 0x8F;
  } else {
    return 0;
  }
  if (!in(1, lo1, hi1)) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (!in(k, 0x80, 0xBF)) return 0;
  }
  return len;
}

TEST(UnicodeTest, StrictDecodeMatchesTheWellFormedTable) {
  // Every first and second byte, with the later bytes from a set that covers each range edge.
  const uint8_t tails[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      for (uint8_t b2 : tails) {
        for (uint8_t b3 : tails) {
          const uint8_t bytes[4] = {static_cast<uint8_t>(b0), static_cast<uint8_t>(b1), b2, b3};
          for (size_t n = 1; n <= 4; ++n) {
            const std::string_view text(reinterpret_cast<const char*>(bytes), n);
            size_t pos = 0;
            const auto cp = NextCodepointStrict(text, &pos);
            const size_t want = WellFormedLength(bytes, n);
            ASSERT_EQ(pos, want) << std::hex << b0 << " " << b1 << " " << int{b2} << " " << int{b3}
                                 << " n=" << n;
            if (cp) {
              std::string again;
              AppendUtf8(*cp, again);
              ASSERT_EQ(again, text.substr(0, pos));
            }
          }
        }
      }
    }
  }
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
