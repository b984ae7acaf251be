#include "serving/stop_matcher.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

// Feeds pieces one at a time; returns everything emitted and whether it stopped.
std::pair<std::string, bool> RunMatcher(std::vector<std::string> stops, std::vector<std::string> pieces) {
  StopMatcher m(std::move(stops));
  std::string out;
  for (const auto& p : pieces) {
    out += m.Push(p);
    if (m.stopped()) return {out, true};
  }
  out += m.Flush();
  return {out, false};
}

TEST(StopMatcherTest, NoStopsPassesThrough) {
  EXPECT_EQ(RunMatcher({}, {"a", "b", "c"}), std::make_pair(std::string("abc"), false));
}

TEST(StopMatcherTest, StopAcrossPiecesIsCutAndNeverEmitted) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.Push("hello E"), "hello ");  // "E" could start END: held back
  EXPECT_EQ(m.Push("N"), "");
  EXPECT_EQ(m.Push("D tail"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Flush(), "");
  EXPECT_EQ(m.matched(), "END");
}

TEST(StopMatcherTest, MatchedNamesTheEarliestStop) {
  StopMatcher m({"cd", "b", "zz"});
  EXPECT_EQ(m.matched(), "");
  EXPECT_EQ(m.Push("abcd"), "a");
  EXPECT_EQ(m.matched(), "b");
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  EXPECT_EQ(RunMatcher({"END"}, {"E", "N", "X", "!"}), std::make_pair(std::string("ENX!"), false));
  EXPECT_EQ(RunMatcher({"END"}, {"abcE"}), std::make_pair(std::string("abcE"), false));
}

TEST(StopMatcherTest, EarliestOfSeveralWins) {
  EXPECT_EQ(RunMatcher({"cd", "b"}, {"abcd"}), std::make_pair(std::string("a"), true));
  EXPECT_EQ(RunMatcher({"\n\n", "."}, {"one.", " two"}), std::make_pair(std::string("one"), true));
}

TEST(StopMatcherTest, MultiByteStop) {
  EXPECT_EQ(RunMatcher({"。"}, {"你好", "\xE3\x80\x82", "x"}), std::make_pair(std::string("你好"), true));
}

}  // namespace
}  // namespace llmux::serving
