#include "net/http/loopback_host.h"

#include <gtest/gtest.h>

#include <string>

namespace llmux::http {
namespace {

TEST(LoopbackHostTest, ExactLiteralsAndLocalhost) {
  for (const char* yes :
       {"127.0.0.1", "127.1.2.3", "127.255.255.255", "localhost", "LocalHost", "localhost.", "::1",
        "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::FFFF:127.9.9.9"}) {
    EXPECT_TRUE(IsLoopbackHost(yes)) << yes;
  }
}

TEST(LoopbackHostTest, LookAlikesAndOtherHostsAreNot) {
  // Names a DNS owner can point anywhere (the reported ones first), other spellings of numbers
  // that resolvers, but not inet_pton, read as 127.0.0.1, and plain other hosts.
  for (const char* no : {"127.0.0.1.evil.com",
                         "localhost.evil.com",
                         "127.evil.com",
                         "127.",
                         "127.0.0.1.",
                         "app.localhost",
                         "localhost-evil.com",
                         "evil-localhost",
                         "localhost..",
                         ".localhost",
                         "127.0.0.1evil.com",
                         "127.0.0.1:8080",
                         "[::1]",
                         "0x7f.0.0.1",
                         "0177.0.0.1",
                         "2130706433",
                         "127.1",
                         "127.0.1",
                         " 127.0.0.1",
                         "127.0.0.1 ",
                         "10.0.0.1",
                         "128.0.0.1",
                         "126.255.255.255",
                         "0.0.0.0",
                         "::",
                         "::2",
                         "::ffff:10.0.0.1",
                         "::ffff:128.0.0.1",
                         "fe80::1%lo",
                         "::1%lo",
                         "",
                         "localhos",
                         "localhostt"}) {
    EXPECT_FALSE(IsLoopbackHost(no)) << "'" << no << "'";
  }
  // inet_pton stops at a NUL; the whole string must be the literal.
  EXPECT_FALSE(IsLoopbackHost(std::string("127.0.0.1\0.evil.com", 19)));
  EXPECT_FALSE(IsLoopbackHost(std::string("localhost\0", 10)));
}

}  // namespace
}  // namespace llmux::http
