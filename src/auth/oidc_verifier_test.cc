// OidcVerifier against a scripted issuer (injected fetch function and clock). The real
// issuer (npm oauth2-mock-server) is exercised in tests/oidc/.
#include "auth/oidc_verifier.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "auth/test_keys.h"

namespace llmux::auth {
namespace {

using nlohmann::json;
namespace t = testing;

constexpr char kIssuer[] = "https://login.example.com/realm";
constexpr char kDiscoveryUrl[] = "https://login.example.com/realm/.well-known/openid-configuration";
constexpr char kJwksUrl[] = "https://login.example.com/realm/keys";

// A scripted issuer: url -> response (or a transport error while `down`).
struct FakeIssuer {
  std::mutex mu;
  int64_t now = 1'700'000'000;
  bool down = false;
  std::map<std::string, std::pair<int, std::string>> pages;
  std::map<std::string, int> hits;

  FakeIssuer() {
    pages[kDiscoveryUrl] = {200, json{{"issuer", kIssuer}, {"jwks_uri", kJwksUrl}}.dump()};
    pages[kJwksUrl] = {200, t::Jwks({t::RsaJwk(t::Rsa(), "k1"), t::EcJwk(t::Ec(), "k2")})};
  }
  void SetDiscovery(const json& doc) {
    std::lock_guard<std::mutex> lock(mu);
    pages[kDiscoveryUrl] = {200, doc.dump()};
  }
  int Hits(const std::string& url) {
    std::lock_guard<std::mutex> lock(mu);
    return hits[url];
  }

  OidcVerifierOptions Options() {
    OidcVerifierOptions o;
    o.issuer = kIssuer;
    o.audiences = {"llmux"};
    o.roles_claim = "groups";
    o.clock = [this] {
      std::lock_guard<std::mutex> lock(mu);
      return now;
    };
    o.fetch = [this](const http::ClientRequest& req) -> Result<http::ClientResponse> {
      std::lock_guard<std::mutex> lock(mu);
      ++hits[req.url];
      if (down) return UnavailableError("connect: connection refused");
      auto it = pages.find(req.url);
      http::ClientResponse resp;
      if (it == pages.end()) {
        resp.status = 404;
        return resp;
      }
      resp.status = it->second.first;
      resp.body = it->second.second;
      return resp;
    };
    return o;
  }
  std::unique_ptr<OidcVerifier> Make() {
    auto v = OidcVerifier::Create(Options());
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }

  json Claims() {
    return {{"iss", kIssuer},
            {"sub", "alice"},
            {"aud", json::array({"other", "llmux"})},
            {"exp", now + 300},
            {"groups", json::array({"operator", "dev"})}};
  }
  std::string Token(const std::string& kid = "k1", EVP_PKEY* key = nullptr) {
    return t::Sign({{"alg", "RS256"}, {"kid", kid}}, Claims(), key ? key : t::Rsa());
  }
};

void ExpectRefused(const Result<JwtClaims>& r, const std::string& token, const std::string& why) {
  ASSERT_FALSE(r.ok()) << "accepted: " << why;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument)
      << why << ": " << r.status().ToString();
  EXPECT_EQ(r.status().message().find(token), std::string::npos) << "message leaks the token";
  const std::string signature = token.substr(token.rfind('.') + 1);
  if (signature.size() > 8) {
    EXPECT_EQ(r.status().message().find(signature), std::string::npos) << "message leaks the token";
  }
}

TEST(OidcVerifier, CreateChecksOptions) {
  FakeIssuer f;
  auto with = [&](auto change) {
    OidcVerifierOptions o = f.Options();
    change(o);
    return OidcVerifier::Create(std::move(o)).status();
  };
  EXPECT_TRUE(with([](OidcVerifierOptions&) {}).ok());
  EXPECT_FALSE(with([](OidcVerifierOptions& o) { o.issuer = ""; }).ok());
  EXPECT_FALSE(with([](OidcVerifierOptions& o) { o.issuer = "ftp://x"; }).ok());
  EXPECT_FALSE(with([](OidcVerifierOptions& o) { o.issuer = "http://login.example.com"; }).ok());
  EXPECT_TRUE(with([](OidcVerifierOptions& o) {
                o.issuer = "http://login.example.com";
                o.allow_insecure_http = true;
              }).ok());
  // Plain http only on loopback, by the strict rule: names that look like loopback are not.
  for (const char* loopback :
       {"http://127.0.0.1:8080", "http://127.3.2.1/realm", "http://localhost:8080",
        "http://LOCALHOST/realm", "http://[::1]:8080"}) {
    EXPECT_TRUE(with([&](OidcVerifierOptions& o) { o.issuer = loopback; }).ok()) << loopback;
  }
  for (const char* lookalike :
       {"http://127.0.0.1.evil.com", "http://127.0.0.1.evil.com:8080/realm",
        "http://localhost.evil.com", "http://127.evil.com", "http://app.localhost",
        "http://2130706433", "http://0x7f.0.0.1", "http://[::2]:8080"}) {
    EXPECT_FALSE(with([&](OidcVerifierOptions& o) { o.issuer = lookalike; }).ok()) << lookalike;
  }
  EXPECT_FALSE(with([](OidcVerifierOptions& o) { o.audiences.clear(); }).ok());
  EXPECT_FALSE(with([](OidcVerifierOptions& o) { o.allowed_algs.clear(); }).ok());
  Status hs = with([](OidcVerifierOptions& o) { o.allowed_algs.push_back(JwtAlg::kHS256); });
  EXPECT_EQ(hs.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(hs.message().find("HS256"), std::string::npos) << hs.message();
}

TEST(OidcVerifier, ValidTokenAfterDiscovery) {
  FakeIssuer f;
  auto v = f.Make();
  ASSERT_TRUE(v);
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 0) << "discovery must be lazy";
  auto c = v->Verify(f.Token());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subject, "alice");
  EXPECT_EQ(c->issuer, kIssuer);
  EXPECT_EQ(c->alg, JwtAlg::kRS256);
  EXPECT_EQ(c->audience, (std::vector<std::string>{"other", "llmux"}));
  EXPECT_EQ(c->roles, (std::vector<std::string>{"operator", "dev"}));
  EXPECT_EQ(v->jwks_uri(), kJwksUrl);

  // ES256 from the same key set; nothing is fetched again.
  auto es = v->Verify(t::Sign({{"alg", "ES256"}, {"kid", "k2"}}, f.Claims(), t::Ec()));
  ASSERT_TRUE(es.ok()) << es.status().ToString();
  EXPECT_EQ(es->alg, JwtAlg::kES256);
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);
  EXPECT_EQ(f.Hits(kJwksUrl), 1);
  EXPECT_EQ(v->discovery_fetch_count(), 1);
  EXPECT_EQ(v->jwks_fetch_count(), 1);
}

TEST(OidcVerifier, IssuerWithTrailingSlashFindsDiscovery) {
  FakeIssuer f;
  const std::string issuer = std::string(kIssuer) + "/";
  f.SetDiscovery({{"issuer", issuer}, {"jwks_uri", kJwksUrl}});
  OidcVerifierOptions o = f.Options();
  o.issuer = issuer;
  auto v = OidcVerifier::Create(std::move(o));
  ASSERT_TRUE(v.ok());
  json claims = f.Claims();
  claims["iss"] = issuer;
  auto c = (*v)->Verify(t::Sign({{"alg", "RS256"}, {"kid", "k1"}}, claims, t::Rsa()));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);
}

TEST(OidcVerifier, DiscoveryIssuerMismatchIsRefused) {
  for (const char* other : {"https://evil.example.com/realm", "https://login.example.com/realm/",
                            "https://login.example.com/Realm"}) {
    FakeIssuer f;
    f.SetDiscovery({{"issuer", other}, {"jwks_uri", kJwksUrl}});
    auto v = f.Make();
    ASSERT_TRUE(v);
    auto r = v->Verify(f.Token());
    ASSERT_FALSE(r.ok()) << other;
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    EXPECT_NE(r.status().message().find("issuer"), std::string::npos) << r.status().message();
    EXPECT_EQ(f.Hits(kJwksUrl), 0) << "keys of a mismatched issuer must not be fetched";
    EXPECT_EQ(v->Prefetch().code(), StatusCode::kUnavailable);
  }
}

TEST(OidcVerifier, BadDiscoveryDocumentsAreRefused) {
  const json docs[] = {
      json{{"issuer", kIssuer}},                                                  // no jwks_uri
      json{{"issuer", kIssuer}, {"jwks_uri", ""}},                                // empty
      json{{"issuer", kIssuer}, {"jwks_uri", 42}},                                // not a string
      json{{"issuer", kIssuer}, {"jwks_uri", "http://login.example.com/keys"}},   // downgrade
      json{{"issuer", kIssuer}, {"jwks_uri", "http://127.0.0.1.evil.com/keys"}},  // look-alike
      json{{"issuer", kIssuer}, {"jwks_uri", "http://localhost.evil.com/keys"}},  // look-alike
      json{{"jwks_uri", kJwksUrl}},                                               // no issuer
      json::array({1, 2}),                                                        // not an object
  };
  for (const json& doc : docs) {
    FakeIssuer f;
    f.SetDiscovery(doc);
    auto v = f.Make();
    ASSERT_TRUE(v);
    auto r = v->Verify(f.Token());
    ASSERT_FALSE(r.ok()) << doc.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << doc.dump();
    EXPECT_EQ(v->jwks_fetch_count(), 0);
  }
  FakeIssuer f;
  f.pages[kDiscoveryUrl] = {200, "{not json"};
  auto v = f.Make();
  EXPECT_EQ(v->Verify(f.Token()).status().code(), StatusCode::kUnavailable);
}

TEST(OidcVerifier, IssuerDownThenUp) {
  FakeIssuer f;
  f.down = true;
  auto v = f.Make();
  ASSERT_TRUE(v);
  const std::string token = f.Token();
  auto r = v->Verify(token);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connection refused"), std::string::npos);
  EXPECT_EQ(r.status().message().find(token), std::string::npos);

  // Within the retry interval the issuer is not asked again, even once it is back.
  f.down = false;
  f.now += 5;
  EXPECT_EQ(v->Verify(token).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);

  f.now += 6;  // 11 s > the 10 s default
  auto ok = v->Verify(token);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 2);
}

TEST(OidcVerifier, HttpErrorStatusIsUnavailable) {
  FakeIssuer f;
  f.pages[kDiscoveryUrl] = {503, "maintenance"};
  auto v = f.Make();
  auto r = v->Verify(f.Token());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("503"), std::string::npos) << r.status().message();
}

TEST(OidcVerifier, JwksDownThenUp) {
  FakeIssuer f;
  f.pages[kJwksUrl] = {500, ""};
  auto v = f.Make();
  const std::string token = f.Token();
  auto r = v->Verify(token);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);

  f.pages[kJwksUrl] = {200, "{\"keys\": 7}"};  // malformed: still the issuer's fault
  f.now += 61;
  EXPECT_EQ(v->Verify(token).status().code(), StatusCode::kUnavailable);

  f.pages[kJwksUrl] = {200, t::Jwks({t::RsaJwk(t::Rsa(), "k1")})};
  f.now += 61;
  auto ok = v->Verify(token);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1) << "discovery is not repeated once it succeeded";
  EXPECT_EQ(f.Hits(kJwksUrl), 3);
}

TEST(OidcVerifier, RefusalsAreInvalidArgumentWithoutTheToken) {
  FakeIssuer f;
  auto v = f.Make();
  json c = f.Claims();
  auto sign = [&](const json& claims) {
    return t::Sign({{"alg", "RS256"}, {"kid", "k1"}}, claims, t::Rsa());
  };
  auto with = [&](const char* name, json value) {
    json x = c;
    if (value.is_null())
      x.erase(name);
    else
      x[name] = std::move(value);
    return sign(x);
  };
  const std::pair<std::string, std::string> cases[] = {
      {"expired", with("exp", f.now - 120)},
      {"no exp", with("exp", nullptr)},
      {"not yet valid", with("nbf", f.now + 600)},
      {"wrong audience", with("aud", "someone-else")},
      {"no audience", with("aud", nullptr)},
      {"wrong issuer", with("iss", "https://evil.example.com/realm")},
      {"unknown kid", t::Sign({{"alg", "RS256"}, {"kid", "nope"}}, c, t::Rsa())},
      {"other key, same kid", t::Sign({{"alg", "RS256"}, {"kid", "k1"}}, c, t::Rsa2())},
      {"ES256 header on RSA key", t::Sign({{"alg", "ES256"}, {"kid", "k1"}}, c, t::Ec())},
      {"garbage", "not-a-token"},
  };
  for (const auto& [why, token] : cases) ExpectRefused(v->Verify(token), token, why);
  // An unknown kid never makes Verify report NotFound.
  auto unknown = v->Verify(cases[6].second);
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
}

TEST(OidcVerifier, AlgNoneAndHmacAreRefusedBeforeAnyFetch) {
  FakeIssuer f;
  auto v = f.Make();
  const json c = f.Claims();
  const std::string none =
      t::SignRaw(json{{"alg", "none"}, {"kid", "k1"}}.dump(), c.dump(), "none", nullptr);
  ExpectRefused(v->Verify(none), none, "alg none");
  const std::string pem = t::PublicPem(t::Rsa());
  const std::string hs = t::Sign({{"alg", "HS256"}, {"kid", "k1"}}, c, nullptr, pem);
  ExpectRefused(v->Verify(hs), hs, "HS256 with the public key");
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 0);

  // Also after the keys are known.
  ASSERT_TRUE(v->Verify(f.Token()).ok());
  ExpectRefused(v->Verify(hs), hs, "HS256 with the public key");
  ExpectRefused(v->Verify(none), none, "alg none");
}

TEST(OidcVerifier, ConcurrentFirstUseDiscoversOnce) {
  FakeIssuer f;
  auto v = f.Make();
  const std::string token = f.Token();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) {
        if (v->Verify(token).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);
  EXPECT_EQ(f.Hits(kJwksUrl), 1);
}

TEST(OidcVerifier, PrefetchWarmsTheCache) {
  FakeIssuer f;
  auto v = f.Make();
  ASSERT_TRUE(v->Prefetch().ok());
  EXPECT_EQ(f.Hits(kDiscoveryUrl), 1);
  EXPECT_EQ(f.Hits(kJwksUrl), 1);
  ASSERT_TRUE(v->Verify(f.Token()).ok());
  EXPECT_EQ(f.Hits(kJwksUrl), 1);
}

}  // namespace
}  // namespace llmux::auth
