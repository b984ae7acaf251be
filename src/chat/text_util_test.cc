#include "chat/text_util.h"

#include <gtest/gtest.h>

namespace llmux::chat::text {
namespace {

TEST(TextUtilTest, NewlineStrips) {
  EXPECT_EQ(LStripNewlines("\n\na\n"), "a\n");
  EXPECT_EQ(RStripNewlines("\na\n\n"), "\na");
  EXPECT_EQ(StripNewlines("\n a \n"), " a ");
  EXPECT_EQ(StripNewlines("\n\n"), "");
}

TEST(TextUtilTest, PyStripRemovesUnicodeWhitespace) {
  EXPECT_EQ(PyStrip(" \t\r\n\v\fhi there \x1c"), "hi there");
  // U+00A0 no-break space, U+3000 ideographic space, U+2029 paragraph separator.
  EXPECT_EQ(PyStrip("\xC2\xA0\xE3\x80\x80x y\xE2\x80\xA9"), "x y");
  // Not whitespace: U+200B zero width space, and invalid bytes.
  EXPECT_EQ(PyStrip("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");
  EXPECT_EQ(PyStrip("\xFF x \xC2"), "\xFF x \xC2");
  EXPECT_EQ(PyStrip("   "), "");
  EXPECT_EQ(PyStrip("北京"), "北京");
}

TEST(TextUtilTest, PythonSplitIndexing) {
  EXPECT_EQ(AfterLast("a</t>b</t>c", "</t>"), "c");
  EXPECT_EQ(AfterLast("abc", "</t>"), "abc");
  EXPECT_EQ(BeforeFirst("a</t>b</t>c", "</t>"), "a");
  EXPECT_EQ(BeforeFirst("abc", "</t>"), "abc");
}

TEST(TextUtilTest, PartialSuffix) {
  EXPECT_EQ(PartialSuffixLength("hello <tool", "<tool_call>"), 5u);
  EXPECT_EQ(PartialSuffixLength("hello <", "<tool_call>"), 1u);
  EXPECT_EQ(PartialSuffixLength("hello", "<tool_call>"), 0u);
  // A complete tag is not a partial one.
  EXPECT_EQ(PartialSuffixLength("x<tool_call>", "<tool_call>"), 0u);
  EXPECT_EQ(PartialSuffixLength("<<", "<a>"), 1u);
}

TEST(TextUtilTest, Utf8CompletePrefix) {
  EXPECT_EQ(Utf8CompletePrefix("abc"), 3u);
  EXPECT_EQ(Utf8CompletePrefix("a\xE5"), 1u);          // lead of a 3-byte sequence
  EXPECT_EQ(Utf8CompletePrefix("a\xE5\x8C"), 1u);      // 2 of 3 bytes
  EXPECT_EQ(Utf8CompletePrefix("a\xE5\x8C\x97"), 4u);  // 北 complete
  EXPECT_EQ(Utf8CompletePrefix("\xF0\x9F\x98"), 0u);   // 3 of 4 bytes
  EXPECT_EQ(Utf8CompletePrefix("a\x80"), 2u);          // stray continuation byte
  EXPECT_EQ(Utf8CompletePrefix(""), 0u);
}

}  // namespace
}  // namespace llmux::chat::text
