#include "gateway/mcp/origin_check.h"

#include <gtest/gtest.h>

namespace llmux::gateway {
namespace {

TEST(OriginCheckTest, ReadsHostsOfOriginsAndHostHeaders) {
  EXPECT_EQ(HostOf("http://Example.COM:8080"), "example.com");
  EXPECT_EQ(HostOf("https://[::1]:9"), "::1");
  EXPECT_EQ(HostOf("localhost:8080"), "localhost");
  EXPECT_EQ(HostOf("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(HostOf("null"), "null");
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("app.localhost"));
  EXPECT_FALSE(IsLoopbackHost("localhost.evil.com"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(OriginCheckTest, RefusesForeignOriginsAndReboundHosts) {
  OriginPolicy loopback{{}, /*loopback_only=*/true};
  EXPECT_EQ(CheckOrigin(loopback, "", "127.0.0.1:8080"), "");  // not a browser
  EXPECT_EQ(CheckOrigin(loopback, "http://localhost:3000", "localhost:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "http://evil.example", "127.0.0.1:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "", "evil.example:8080"), "");  // DNS rebinding
  EXPECT_NE(CheckOrigin(loopback, "null", "127.0.0.1:8080"), "");

  OriginPolicy public_server{{"https://app.example"}, false};
  EXPECT_EQ(CheckOrigin(public_server, "", "llm.example"), "");
  EXPECT_EQ(CheckOrigin(public_server, "https://app.example", "llm.example"), "");
  EXPECT_EQ(CheckOrigin(public_server, "https://llm.example", "llm.example"), "");  // own site
  EXPECT_NE(CheckOrigin(public_server, "https://evil.example", "llm.example"), "");
  OriginPolicy any{{"*"}, false};
  EXPECT_EQ(CheckOrigin(any, "https://evil.example", "llm.example"), "");
}

}  // namespace
}  // namespace llmux::gateway
