#include "auth/jwks_cache.h"

#include <gtest/gtest.h>

#include <atomic>

#include "auth/test_keys.h"

namespace llmux::auth {
namespace {

using nlohmann::json;
namespace t = testing;

struct Fixture {
  int64_t now = 1'700'000'000;
  std::string doc;
  int fetches = 0;
  bool fail = false;

  JwksCache Make(int64_t interval = 60, int64_t max_age = 3600) {
    JwksCache::Options o;
    o.min_refetch_interval_s = interval;
    o.max_age_s = max_age;
    o.clock = [this] { return now; };
    return JwksCache(
        [this]() -> Result<std::string> {
          ++fetches;
          if (fail) return UnavailableError("issuer down");
          return doc;
        },
        o);
  }
  JwtValidationOptions Opts() {
    JwtValidationOptions v;
    v.issuer = "iss";
    v.audiences = {"aud"};
    v.clock = [this] { return now; };
    return v;
  }
  std::string Token(EVP_PKEY* k, const std::string& kid) {
    return t::Sign({{"alg", "RS256"}, {"kid", kid}},
                   {{"iss", "iss"}, {"aud", "aud"}, {"exp", now + 600}}, k);
  }
};

TEST(JwksCache, RotatedKeyIsPickedUpWithOneRefetch) {
  Fixture f;
  f.doc = t::Jwks({t::RsaJwk(t::Rsa(), "A")});
  JwksCache cache = f.Make();
  auto a = cache.Verify(f.Token(t::Rsa(), "A"), f.Opts());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(f.fetches, 1);
  EXPECT_TRUE(cache.Verify(f.Token(t::Rsa(), "A"), f.Opts()).ok());
  EXPECT_EQ(f.fetches, 1);  // cached

  // The issuer rotates to key B.
  f.now += 120;
  f.doc = t::Jwks({t::RsaJwk(t::Rsa2(), "B")});
  auto b = cache.Verify(f.Token(t::Rsa2(), "B"), f.Opts());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(f.fetches, 2);
  EXPECT_EQ(cache.key_count(), 1u);
  EXPECT_EQ(cache.fetch_count(), 2);

  // A second unknown kid within the interval does not refetch.
  f.now += 10;
  auto c = cache.Verify(f.Token(t::Rsa(), "C"), f.Opts());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  for (int i = 0; i < 50; ++i)
    EXPECT_FALSE(cache.Verify(f.Token(t::Rsa(), "forged" + std::to_string(i)), f.Opts()).ok());
  EXPECT_EQ(f.fetches, 2);
  // After the interval, an unknown kid may refetch again (once).
  f.now += 60;
  EXPECT_FALSE(cache.Verify(f.Token(t::Rsa(), "C"), f.Opts()).ok());
  EXPECT_FALSE(cache.Verify(f.Token(t::Rsa(), "D"), f.Opts()).ok());
  EXPECT_EQ(f.fetches, 3);
}

TEST(JwksCache, FailedFetchKeepsOldKeysAndIsRateLimited) {
  Fixture f;
  f.doc = t::Jwks({t::RsaJwk(t::Rsa(), "A")});
  JwksCache cache = f.Make(60, 300);
  ASSERT_TRUE(cache.Refresh().ok());
  EXPECT_EQ(f.fetches, 1);
  f.fail = true;
  f.now += 400;  // keys are stale: a refresh is attempted, fails, old keys still verify
  EXPECT_TRUE(cache.Verify(f.Token(t::Rsa(), "A"), f.Opts()).ok());
  EXPECT_EQ(f.fetches, 2);
  EXPECT_TRUE(cache.Verify(f.Token(t::Rsa(), "A"), f.Opts()).ok());
  EXPECT_EQ(f.fetches, 2);  // failures are rate-limited too
  EXPECT_EQ(cache.Refresh().code(),
            StatusCode::kUnavailable);  // within the interval: no fetch, last error
  EXPECT_EQ(f.fetches, 2);
  EXPECT_EQ(cache.Refresh(/*force=*/true).code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.fetches, 3);
  // A malformed document does not replace good keys.
  f.fail = false;
  f.doc = "{not json";
  EXPECT_FALSE(cache.Refresh(true).ok());
  EXPECT_EQ(cache.key_count(), 1u);
  EXPECT_TRUE(cache.Verify(f.Token(t::Rsa(), "A"), f.Opts()).ok());
}

TEST(JwksCache, RefusedTokensDoNotCauseFetches) {
  Fixture f;
  f.doc = t::Jwks({t::RsaJwk(t::Rsa(), "A")});
  JwksCache cache = f.Make();
  ASSERT_TRUE(cache.Refresh().ok());
  f.now += 1000;  // past the refetch interval
  std::string none =
      t::B64u(R"({"alg":"none","kid":"Z"})") + "." + t::B64u(R"({"iss":"iss"})") + ".";
  EXPECT_FALSE(cache.Verify(none, f.Opts()).ok());
  EXPECT_FALSE(cache.Verify("garbage", f.Opts()).ok());
  EXPECT_EQ(f.fetches, 1);
  // Algorithm confusion through the cache.
  std::string conf = t::Sign({{"alg", "HS256"}, {"kid", "A"}},
                             {{"iss", "iss"}, {"aud", "aud"}, {"exp", f.now + 60}}, nullptr,
                             t::PublicPem(t::Rsa()));
  auto r = cache.Verify(conf, f.Opts());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not allowed"), std::string::npos);
}

}  // namespace
}  // namespace llmux::auth
