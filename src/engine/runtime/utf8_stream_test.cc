#include "engine/runtime/utf8_stream.h"

#include <gtest/gtest.h>

namespace llmux {
namespace {

TEST(Utf8StreamTest, HoldsBackSplitCharacters) {
  Utf8Stream s;
  const std::string e_acute = "\xC3\xA9";        // é
  const std::string emoji = "\xF0\x9F\x98\x80";  // 😀
  EXPECT_EQ(s.Push("caf"), "caf");
  EXPECT_EQ(s.Push(e_acute.substr(0, 1)), "");
  EXPECT_EQ(s.Push(e_acute.substr(1) + " "), e_acute + " ");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.Push(emoji.substr(i, 1)), "");
  EXPECT_EQ(s.Push(emoji.substr(3, 1)), emoji);
  EXPECT_EQ(s.Flush(), "");
}

TEST(Utf8StreamTest, FlushReturnsUnfinishedBytes) {
  Utf8Stream s;
  EXPECT_EQ(s.Push("a\xE4\xBD"), "a");  // first two bytes of 你
  EXPECT_EQ(s.Flush(), "\xE4\xBD");
  EXPECT_EQ(s.Flush(), "");
}

TEST(Utf8StreamTest, InvalidBytesPassThrough) {
  Utf8Stream s;
  EXPECT_EQ(s.Push("x\x80"), "x\x80");  // stray continuation byte
  EXPECT_EQ(s.Push("\xFF"), "\xFF");    // never a lead byte
  EXPECT_EQ(CompleteUtf8Prefix("ab\xE4"), 2u);
  EXPECT_EQ(CompleteUtf8Prefix("ab\xE4\xBD\xA0"), 5u);
}

}  // namespace
}  // namespace llmux
