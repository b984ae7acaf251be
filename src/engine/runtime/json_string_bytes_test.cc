#include "engine/runtime/json_string_bytes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::constraint {
namespace {

// The reference, written from RFC 3629's table of well-formed byte sequences (and RFC 8259's
// unescaped string characters): whether `text` is plain JSON string content, ending at a
// character boundary (`whole`) or inside a character whose bytes so far are well formed.
bool PlainContent(std::string_view text, bool& whole) {
  struct Form {
    uint8_t lo, hi;    // the lead byte
    uint8_t lo2, hi2;  // the second byte
    int len;           // bytes in the character
  };
  static constexpr Form kForms[] = {{0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
                                    {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3},
                                    {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
                                    {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4}};
  whole = true;
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      if (b < 0x20 || b == '"' || b == '\\') return false;
      ++i;
      continue;
    }
    const Form* form = nullptr;
    for (const Form& f : kForms) {
      if (b >= f.lo && b <= f.hi) form = &f;
    }
    if (form == nullptr) return false;
    for (int k = 1; k < form->len; ++k) {
      if (i + k == text.size()) {
        whole = false;
        return true;
      }
      const uint8_t c = static_cast<uint8_t>(text[i + k]);
      const uint8_t lo = k == 1 ? form->lo2 : 0x80, hi = k == 1 ? form->hi2 : 0xBF;
      if (c < lo || c > hi) return false;
    }
    i += form->len;
  }
  return true;
}

TEST(JsonStringBytesTest, SuffixesAgreeWithTheReference) {
  const std::vector<uint8_t> alphabet = {'a',  ' ',  '"',  '\\', '\n', 0x7F, 0xC3, 0xA9,
                                         0xE0, 0xA0, 0x80, 0xED, 0x9F, 0xF0, 0x90, 0xF4,
                                         0x8F, 0xBF, 0xC0, 0xFF, 'u',  '0',  0xC2, 0x01};
  std::mt19937 rng(11);
  std::vector<uint8_t> ok;
  int ok_count = 0, mismatches = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int len = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < len; ++k) text += static_cast<char>(alphabet[rng() % alphabet.size()]);
    StringSuffixesOk(text, ok);
    ASSERT_EQ(ok.size(), text.size() + 1);
    EXPECT_TRUE(ok[text.size()]);
    for (size_t p = 0; p < text.size(); ++p) {
      // A suffix starting at a continuation byte is not at a character boundary.
      bool whole;
      const bool want = (static_cast<uint8_t>(text[p]) & 0xC0) != 0x80 &&
                        PlainContent(std::string_view(text).substr(p), whole);
      ok_count += want;
      if (static_cast<bool>(ok[p]) != want && ++mismatches <= 5) {
        ADD_FAILURE() << "suffix " << p << " of a text of " << text.size() << ": expected " << want;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(ok_count, 1000);
}

TEST(JsonStringBytesTest, WholeCharacters) {
  EXPECT_TRUE(EndsWithWholeChar(""));
  EXPECT_TRUE(EndsWithWholeChar("abc"));
  EXPECT_TRUE(EndsWithWholeChar("\xC3\xA9"));
  EXPECT_FALSE(EndsWithWholeChar("a\xC3"));
  EXPECT_TRUE(EndsWithWholeChar("\xE4\xB8\xAD"));
  EXPECT_FALSE(EndsWithWholeChar("\xE4\xB8"));
  EXPECT_TRUE(EndsWithWholeChar("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(EndsWithWholeChar("\xF0\x9F\x98"));
  EXPECT_FALSE(EndsWithWholeChar("\x80"));  // continuation bytes only
  EXPECT_FALSE(EndsWithWholeChar("a\x80\x80"));
}

}  // namespace
}  // namespace llmux::constraint
