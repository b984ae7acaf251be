#include "gateway/access/origin_check.h"

#include <gtest/gtest.h>

#include "net/http/loopback_host.h"

namespace llmux::gateway {
namespace {

bool Loopback(std::string_view host_header) {
  auto h = ParseAuthority(host_header);
  return h && http::IsLoopbackHost(h->host);
}

TEST(OriginCheckTest, ReadsAuthoritiesStrictly) {
  auto h = ParseAuthority("Example.COM:8080");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "example.com");
  EXPECT_EQ(h->port, "8080");
  h = ParseAuthority("[::1]:9");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->host, "::1");
  EXPECT_TRUE(h->ipv6);
  for (const char* bad : {"", ":80", "a b", "evil.com@127.0.0.1", "127.0.0.1:80:80", "127.0.0.1:", "127.0.0.1:99999",
                          "127.0.0.1:8o", "[::1", "[zz]", "[::1]x", "host/path", "a..b", ".a"}) {
    EXPECT_FALSE(ParseAuthority(bad)) << bad;
  }
  auto o = ParseOrigin("https://App.Example:3000");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->authority.host, "app.example");
  for (const char* bad : {"null", "app.example", "ftp://app.example", "http://app.example/path",
                          "http://user@app.example", "http://"}) {
    EXPECT_FALSE(ParseOrigin(bad)) << bad;
  }
}

TEST(OriginCheckTest, LoopbackIsExactLiteralsAndLocalhostOnly) {
  for (const char* yes : {"127.0.0.1", "127.0.0.1:8080", "127.1.2.3", "localhost", "LOCALHOST:80", "localhost.",
                          "[::1]:8080", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]"}) {
    EXPECT_TRUE(Loopback(yes)) << yes;
  }
  // Look-alikes a DNS name can take (the reported one first), and other hosts.
  for (const char* no : {"127.0.0.1.evil.com", "127.0.0.1.evil.com:8080", "127.evil.com", "localhost.evil.com",
                         "app.localhost", "localhost-evil.com", "127.0.0.1evil.com", "0x7f.0.0.1", "2130706433",
                         "127.1", "127.0.0.01.nip.io", "10.0.0.1", "[::2]", "[::ffff:10.0.0.1]", "128.0.0.1"}) {
    EXPECT_FALSE(Loopback(no)) << no;
  }
}

TEST(OriginCheckTest, RefusesForeignOriginsAndReboundHosts) {
  OriginPolicy loopback{{}, /*loopback_only=*/true};
  EXPECT_EQ(CheckOrigin(loopback, "", "127.0.0.1:8080"), "");  // not a browser
  EXPECT_EQ(CheckOrigin(loopback, "http://localhost:3000", "localhost:8080"), "");
  EXPECT_EQ(CheckOrigin(loopback, "http://[::1]:3000", "[::1]:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "http://evil.example", "127.0.0.1:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "", "evil.example:8080"), "");  // DNS rebinding
  EXPECT_NE(CheckOrigin(loopback, "null", "127.0.0.1:8080"), "");
  // The reported case: a rebound look-alike name in Host with a matching Origin.
  EXPECT_NE(CheckOrigin(loopback, "http://127.0.0.1.evil.com:8080", "127.0.0.1.evil.com:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "http://localhost.evil.com", "localhost.evil.com"), "");
  EXPECT_NE(CheckOrigin(loopback, "http://127.0.0.1.evil.com", "127.0.0.1:8080"), "");
  EXPECT_NE(CheckOrigin(loopback, "", "evil.com@127.0.0.1"), "");

  // A configured name (a reverse proxy in front of the loopback server) is accepted as Host.
  OriginPolicy proxied{{"https://llm.corp.example"}, true};
  EXPECT_EQ(CheckOrigin(proxied, "https://llm.corp.example", "llm.corp.example"), "");
  EXPECT_NE(CheckOrigin(proxied, "https://llm.corp.example.evil.com", "llm.corp.example.evil.com"), "");
  EXPECT_NE(CheckOrigin(proxied, "http://llm.corp.example", "127.0.0.1"), "");  // other scheme

  OriginPolicy public_server{{"https://app.example"}, false};
  EXPECT_EQ(CheckOrigin(public_server, "", "llm.example"), "");
  EXPECT_EQ(CheckOrigin(public_server, "https://app.example", "llm.example"), "");
  EXPECT_EQ(CheckOrigin(public_server, "https://llm.example", "llm.example"), "");  // own site
  EXPECT_NE(CheckOrigin(public_server, "https://llm.example:8443", "llm.example"), "");
  EXPECT_NE(CheckOrigin(public_server, "https://app.example.evil.com", "llm.example"), "");
  EXPECT_NE(CheckOrigin(public_server, "https://evil.example", "llm.example"), "");
  OriginPolicy any{{"*"}, false};
  EXPECT_EQ(CheckOrigin(any, "https://evil.example", "llm.example"), "");
}

}  // namespace
}  // namespace llmux::gateway
