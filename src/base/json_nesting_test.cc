#include "base/json_nesting.h"

#include <gtest/gtest.h>

#include <string>

namespace llmux {
namespace {

std::string Nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonNestingTest, CountsArraysAndObjectsUpToTheLimit) {
  EXPECT_TRUE(JsonNestingWithin(Nested(kMaxJsonNesting)));
  EXPECT_FALSE(JsonNestingWithin(Nested(kMaxJsonNesting + 1)));
  EXPECT_FALSE(JsonNestingWithin(Nested(200000)));  // the reported crash: answered, not parsed
  std::string mixed;
  for (int i = 0; i < 5; ++i) mixed += "{\"a\":[";
  EXPECT_TRUE(JsonNestingWithin(mixed, 10));
  EXPECT_FALSE(JsonNestingWithin(mixed, 9));
  EXPECT_TRUE(JsonNestingWithin("{}", 1));
  EXPECT_FALSE(JsonNestingWithin("{}", 0));
}

TEST(JsonNestingTest, SiblingsDoNotAddUp) {
  std::string wide = "[";
  for (int i = 0; i < 1000; ++i) wide += "[[]],";
  wide += "[]]";
  EXPECT_TRUE(JsonNestingWithin(wide, 3));
  EXPECT_FALSE(JsonNestingWithin(wide, 2));
}

TEST(JsonNestingTest, BracketsInsideStringsDoNotCount) {
  const std::string s = "{\"content\":\"" + Nested(1000) + "{{{ \\\" [[[ \\\\\"}";
  EXPECT_TRUE(JsonNestingWithin(s, 1));
  // An escaped quote does not end the string; an escaped backslash before a quote does.
  EXPECT_TRUE(JsonNestingWithin(R"(["\"[[[["])", 1));
  EXPECT_FALSE(JsonNestingWithin(R"(["\\",[[]])", 2));
}

TEST(JsonNestingTest, StrayClosersAndUnterminatedTextDoNotConfuseIt) {
  // Invalid JSON is the parser's to refuse; the count must not go negative and let depth through.
  EXPECT_FALSE(JsonNestingWithin("]]]]" + Nested(5), 4));
  EXPECT_TRUE(JsonNestingWithin("\"[[[[[[", 1));
}

TEST(JsonNestingTest, TheMessageNamesTheLimit) {
  EXPECT_NE(JsonTooDeepMessage().find("128"), std::string::npos);
}

}  // namespace
}  // namespace llmux
