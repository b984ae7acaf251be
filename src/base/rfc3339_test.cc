#include "base/rfc3339.h"

#include <gtest/gtest.h>

namespace llmux {
namespace {

TEST(Rfc3339, FormatsAndParsesBack) {
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Millis(1'780'000'000'123), "2026-05-28T20:26:40.123Z");
  for (int64_t ms : {int64_t{0}, int64_t{951'782'400'000}, int64_t{1'780'000'000'123}}) {
    auto back = ParseRfc3339Millis(FormatRfc3339Millis(ms));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, ms);
  }
}

TEST(Rfc3339, OffsetsFractionsAndRefusals) {
  EXPECT_EQ(*ParseRfc3339Millis("2000-02-29T00:00:00Z"), 951'782'400'000);
  EXPECT_EQ(*ParseRfc3339Millis("2000-02-29T02:00:00.5+02:00"), 951'782'400'500);
  EXPECT_EQ(*ParseRfc3339Millis("2000-02-28 19:00:00.123456-05:00"), 951'782'400'123);
  for (const char* bad : {"", "2000-02-30T00:00:00Z", "2001-02-29T00:00:00Z", "2000-02-29T00:00:00",
                          "2000-02-29T24:00:00Z", "2000-02-29T00:00:00Zx", "2000-02-29T00:00:00.Z",
                          "1700000000000", "2000-02-29T00:00:00+2:00"}) {
    EXPECT_FALSE(ParseRfc3339Millis(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace llmux
