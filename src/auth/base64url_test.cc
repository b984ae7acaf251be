#include "auth/base64url.h"

#include <gtest/gtest.h>

namespace llmux::auth {
namespace {

TEST(Base64Url, Rfc4648Vectors) {
  // RFC 4648 section 10, without padding.
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(*Base64UrlDecode("Zm9vYmE"), "fooba");
  EXPECT_EQ(*Base64UrlDecode(""), "");
}

TEST(Base64Url, UsesUrlSafeAlphabet) {
  // 0xfb 0xff 0xbf is "+/+/" in standard base64.
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(*Base64UrlDecode("-_-_"), "\xfb\xff\xbf");
  EXPECT_FALSE(Base64UrlDecode("+/+/").ok());
}

TEST(Base64Url, RoundTripsAllLengthsAndBytes) {
  std::string s;
  for (int i = 0; i < 300; ++i) {
    s += static_cast<char>(i * 37 + 11);
    auto d = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(d.ok());
    ASSERT_EQ(*d, s);
  }
}

TEST(Base64Url, StrictRejections) {
  EXPECT_FALSE(Base64UrlDecode("Zg==").ok());    // padding
  EXPECT_FALSE(Base64UrlDecode("Zm9v\n").ok());  // whitespace
  EXPECT_FALSE(Base64UrlDecode("Zm 9v").ok());
  EXPECT_FALSE(Base64UrlDecode("Z").ok());  // len % 4 == 1
  EXPECT_FALSE(Base64UrlDecode("Zm9vY").ok());
  EXPECT_FALSE(
      Base64UrlDecode("Zh").ok());  // 'h' leaves non-zero trailing bits ("Zg" is canonical)
  EXPECT_FALSE(Base64UrlDecode("Zm9").ok());  // "Zm8" is canonical for "fo"
  EXPECT_FALSE(Base64UrlDecode(std::string("Zm\0v", 4)).ok());
  EXPECT_FALSE(Base64UrlDecode("Zm9v\xc3\xa9").ok());
}

}  // namespace
}  // namespace llmux::auth

namespace llmux::auth {
namespace {

TEST(Base64, Rfc4648StandardVectorsWithPadding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2)), "+/8=");
}

}  // namespace
}  // namespace llmux::auth
