// OidcVerifier against a real OIDC issuer: npm oauth2-mock-server, started by
// mock_issuer.mjs on a free loopback port. Tokens come from the issuer itself (its control
// API and its real POST /token); forged ones are built here from them.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "auth/base64url.h"
#include "auth/jwk.h"
#include "auth/oidc_verifier.h"
#include "auth/test_keys.h"
#include "net/http/http_client.h"

namespace llmux::auth {
namespace {

using nlohmann::json;
namespace t = testing;

// The node process running mock_issuer.mjs. Killed by the destructor, and by the kernel
// (PR_SET_PDEATHSIG) or by the end of its stdin if this process dies first.
class MockIssuer {
 public:
  ~MockIssuer() { Stop(); }

  Status Start() {
    const std::string node = LLMUX_NODE;
    if (node.empty() || node.find("NOTFOUND") != std::string::npos ||
        access(node.c_str(), X_OK) != 0)
      return UnavailableError("node was not found when CMake configured (need Node 20 on PATH)");
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return IoError("pipe failed");
    // LLMUX_E2E_DIR in the environment overrides where node_modules is looked for.
    const char* e2e = getenv("LLMUX_E2E_DIR");
    std::vector<std::string> args = {node, LLMUX_OIDC_MOCK_SCRIPT, e2e ? e2e : LLMUX_E2E_DIR};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return IoError("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      dup2(in[0], 0);
      dup2(out[1], 1);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];

    // The ready line: {"port","issuer","version","kid"}.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return DeadlineExceededError("mock issuer did not start in 20 s");
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[512];
      const ssize_t n = read(stdout_, buf, sizeof buf);
      if (n <= 0) {
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return UnavailableError("mock issuer exited with code " + std::to_string(code) +
                                " before it was ready; its stderr is above. Is "
                                "oauth2-mock-server installed in tests/e2e (scripts/setup)?");
      }
      line.append(buf, static_cast<size_t>(n));
    }
    json ready = json::parse(line.substr(0, line.find('\n')), nullptr, false);
    if (!ready.is_object() || !ready.contains("port"))
      return InternalError("mock issuer said: " + line);
    port_ = ready["port"].get<int>();
    issuer_ = ready["issuer"].get<std::string>();
    first_kid_ = ready["kid"].get<std::string>();
    if (ready["version"] != "8.2.3") return InternalError("unexpected oauth2-mock-server version");
    return Status::Ok();
  }

  void Stop() {
    if (stdin_ >= 0) close(stdin_);  // the script exits on end of stdin
    stdin_ = -1;
    if (pid_ > 0) {
      int status = 0;
      bool gone = false;
      for (int i = 0; i < 100 && !gone; ++i) {
        gone = waitpid(pid_, &status, WNOHANG) == pid_;
        if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (!gone) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
      pid_ = -1;
    }
    if (stdout_ >= 0) close(stdout_);
    stdout_ = -1;
  }

  const std::string& issuer() const { return issuer_; }
  const std::string& first_kid() const { return first_kid_; }
  int port() const { return port_; }

  Result<http::ClientResponse> Call(const std::string& method, const std::string& path,
                                    std::string body = "",
                                    std::string content_type = "application/json") const {
    http::ClientRequest req;
    req.method = method;
    req.url = issuer_ + path;
    req.body = std::move(body);
    if (!req.body.empty()) req.headers.Set("Content-Type", std::move(content_type));
    return http::Fetch(req);
  }
  json Control(const std::string& path, const json& body = json::object()) const {
    auto r = body.is_null() ? Call("GET", path) : Call("POST", path, body.dump());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json();
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body, nullptr, false);
  }
  std::string Mint(const json& claims, json extra = json::object()) const {
    extra["claims"] = claims;
    return Control("/__control/token", extra).value("token", "");
  }
  int JwksRequests() const { return Control("/__control/stats", nullptr).value("jwks", -1); }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int stdout_ = -1;
  int port_ = 0;
  std::string issuer_;
  std::string first_kid_;
};

struct Jwt {
  json header, payload;
  std::string h64, p64, sig64;
};

Jwt Split(const std::string& token) {
  Jwt j;
  const size_t a = token.find('.'), b = token.rfind('.');
  j.h64 = token.substr(0, a);
  j.p64 = token.substr(a + 1, b - a - 1);
  j.sig64 = token.substr(b + 1);
  j.header = json::parse(Base64UrlDecode(j.h64).value());
  j.payload = json::parse(Base64UrlDecode(j.p64).value());
  return j;
}

std::string Join(const json& header, const json& payload, const std::string& sig64) {
  return t::B64u(header.dump()) + "." + t::B64u(payload.dump()) + "." + sig64;
}

class OidcIssuerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    issuer_ = new MockIssuer();
    Status st = issuer_->Start();
    if (!st.ok()) start_error_ = new std::string(st.ToString());
  }
  static void TearDownTestSuite() {
    delete issuer_;  // stops node
    issuer_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    // Fail, never skip: this test is the proof that OIDC works with a real issuer.
    ASSERT_TRUE(start_error_ == nullptr) << *start_error_;
  }

  OidcVerifierOptions Options() const {
    OidcVerifierOptions o;
    o.issuer = issuer_->issuer();
    o.audiences = {"llmux"};
    o.leeway_seconds = 5;
    o.roles_claim = "roles";
    return o;
  }
  std::unique_ptr<OidcVerifier> Make(OidcVerifierOptions o) const {
    auto v = OidcVerifier::Create(std::move(o));
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? std::move(v).value() : nullptr;
  }
  std::unique_ptr<OidcVerifier> Make() const { return Make(Options()); }
  json GoodClaims() const {
    return {{"sub", "alice"},
            {"aud", json::array({"llmux", "other-app"})},
            {"roles", json::array({"operator", "user"})},
            {"scope", "models:use logs:read"}};
  }

  static MockIssuer* issuer_;
  static std::string* start_error_;
};
MockIssuer* OidcIssuerTest::issuer_ = nullptr;
std::string* OidcIssuerTest::start_error_ = nullptr;

void ExpectRefused(OidcVerifier& v, const std::string& token, const std::string& why) {
  auto r = v.Verify(token);
  ASSERT_FALSE(r.ok()) << "accepted: " << why;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument)
      << why << ": " << r.status().ToString();
  const Jwt j = Split(token);
  for (const std::string& part : {token, j.p64, j.sig64}) {
    if (part.size() > 8) {
      EXPECT_EQ(r.status().message().find(part), std::string::npos)
          << why << ": the message contains the token";
    }
  }
}

TEST_F(OidcIssuerTest, ValidTokenIsAccepted) {
  auto v = Make();
  ASSERT_TRUE(v);
  const std::string token = issuer_->Mint(GoodClaims(), {{"kid", issuer_->first_kid()}});
  auto c = v->Verify(token);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subject, "alice");
  EXPECT_EQ(c->issuer, issuer_->issuer());
  EXPECT_EQ(c->alg, JwtAlg::kRS256);
  EXPECT_EQ(c->kid, issuer_->first_kid());
  EXPECT_EQ(c->audience, (std::vector<std::string>{"llmux", "other-app"}));
  EXPECT_EQ(c->roles, (std::vector<std::string>{"operator", "user"}));
  EXPECT_EQ(c->scopes, (std::vector<std::string>{"models:use", "logs:read"}));
  ASSERT_TRUE(c->expires_at.has_value());
  EXPECT_NEAR(static_cast<double>(*c->expires_at), static_cast<double>(SystemUnixSeconds() + 3600),
              30);
  EXPECT_EQ(v->jwks_uri(), issuer_->issuer() + "/jwks");
  EXPECT_EQ(v->discovery_fetch_count(), 1);
}

TEST_F(OidcIssuerTest, TokenFromTheTokenEndpointIsAccepted) {
  issuer_->Control("/__control/token-endpoint-claims",
                   {{"claims", {{"sub", "svc-42"}, {"roles", json::array({"user"})}}}});
  auto resp =
      issuer_->Call("POST", "/token", "grant_type=client_credentials&scope=models%3Ause&aud=llmux",
                    "application/x-www-form-urlencoded");
  issuer_->Control("/__control/token-endpoint-claims", {{"claims", json::object()}});
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  ASSERT_EQ(resp->status, 200) << resp->body;
  const std::string token = json::parse(resp->body).at("access_token").get<std::string>();

  auto v = Make();
  auto c = v->Verify(token);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subject, "svc-42");
  EXPECT_EQ(c->audience, std::vector<std::string>{"llmux"});
  EXPECT_EQ(c->scopes, std::vector<std::string>{"models:use"});
  EXPECT_EQ(c->roles, std::vector<std::string>{"user"});
}

TEST_F(OidcIssuerTest, BadTokensAreRefused) {
  auto v = Make();
  const std::string kid = issuer_->first_kid();
  const json pin = {{"kid", kid}};
  const std::string good = issuer_->Mint(GoodClaims(), pin);
  ASSERT_TRUE(v->Verify(good).ok())
      << "the unmodified token must pass for this test to mean anything";
  const int64_t now = SystemUnixSeconds();
  auto with = [&](const char* name, json value) {
    json c = GoodClaims();
    c[name] = std::move(value);
    return issuer_->Mint(c, pin);
  };

  json expired_opts = pin;
  expired_opts["expiresIn"] = -60;
  ExpectRefused(*v, issuer_->Mint(GoodClaims(), expired_opts), "expired");
  ExpectRefused(*v, with("nbf", now + 600), "not yet valid (nbf in the future)");
  ExpectRefused(*v, with("aud", "someone-else"), "wrong audience");
  ExpectRefused(*v, with("aud", nullptr), "no audience");
  ExpectRefused(*v, with("iss", "http://127.0.0.1:1"), "wrong issuer");
  ExpectRefused(*v, with("iss", issuer_->issuer() + "/"), "issuer with a trailing slash");

  // Tampered: payload changed after signing, or the signature changed.
  Jwt j = Split(good);
  json elevated = j.payload;
  elevated["sub"] = "root";
  elevated["roles"] = json::array({"admin"});
  ExpectRefused(*v, j.h64 + "." + t::B64u(elevated.dump()) + "." + j.sig64, "tampered payload");
  std::string bad_sig = j.sig64;
  bad_sig[bad_sig.size() / 2] = bad_sig[bad_sig.size() / 2] == 'A' ? 'B' : 'A';
  ExpectRefused(*v, j.h64 + "." + j.p64 + "." + bad_sig, "tampered signature");
  ExpectRefused(*v, j.h64 + "." + j.p64 + ".", "signature removed");

  // alg none, with and without the original signature.
  for (const char* none : {"none", "None", "NONE"}) {
    json h = j.header;
    h["alg"] = none;
    ExpectRefused(*v, Join(h, j.payload, ""), std::string("alg ") + none);
    ExpectRefused(*v, Join(h, j.payload, j.sig64),
                  std::string("alg ") + none + " with a signature");
  }
}

TEST_F(OidcIssuerTest, Hs256SignedWithThePublicKeyIsRefused) {
  auto v = Make();
  ASSERT_TRUE(v->Verify(issuer_->Mint(GoodClaims())).ok());
  auto jwks_resp = issuer_->Call("GET", "/jwks");
  ASSERT_TRUE(jwks_resp.ok());
  const json jwks = json::parse(jwks_resp->body);
  ASSERT_FALSE(jwks["keys"].empty());
  json claims = GoodClaims();
  claims["iss"] = issuer_->issuer();
  claims["exp"] = SystemUnixSeconds() + 600;

  for (const json& jwk : jwks["keys"]) {
    auto key = JwtKey::FromJwk(jwk.dump());
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    const std::string kid = jwk["kid"].get<std::string>();
    // The public key as an attacker would find it: PEM, the JWK as served, or its "n".
    std::vector<std::pair<std::string, std::string>> secrets = {
        {"PEM", t::PublicPem(key->pkey())},
        {"JWK JSON", jwk.dump()},
        {"JWKS document", jwks_resp->body},
    };
    if (jwk.contains("n")) secrets.push_back({"RSA modulus", jwk["n"].get<std::string>()});
    for (const auto& [form, secret] : secrets) {
      for (const json& header : {json{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", kid}},
                                 json{{"alg", "HS256"}, {"typ", "JWT"}}}) {
        const std::string forged = t::Sign(header, claims, nullptr, secret);
        const std::string why =
            "HS256 with the " + form + " of " + kid + (header.contains("kid") ? "" : " (no kid)");
        ExpectRefused(*v, forged, why);

        // Defence in depth: even with every algorithm allowed, the issuer's key only
        // verifies its own algorithm.
        JwtValidationOptions any;
        any.issuer = issuer_->issuer();
        any.audiences = {"llmux"};
        EXPECT_FALSE(VerifyJwt(forged, *key, any).ok()) << why;
      }
    }
  }
}

TEST_F(OidcIssuerTest, MisconfiguredOrUnreachableIssuerIsUnavailable) {
  // Same server, other spelling of the issuer: discovery names 127.0.0.1, not localhost.
  OidcVerifierOptions o = Options();
  o.issuer = "http://localhost:" + std::to_string(issuer_->port());
  auto mismatched = Make(o);
  auto r = mismatched->Verify(issuer_->Mint(GoodClaims()));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(mismatched->jwks_fetch_count(), 0);

  // A port nobody listens on.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int dead_port = ntohs(addr.sin_port);
  close(fd);
  o.issuer = "http://127.0.0.1:" + std::to_string(dead_port);
  auto dead = Make(o);
  const std::string token = issuer_->Mint(GoodClaims());
  auto d = dead->Verify(token);
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable) << d.status().ToString();
  EXPECT_EQ(d.status().message().find(token), std::string::npos);
}

// Runs last: it retires the first key.
TEST_F(OidcIssuerTest, RotatedKeysArePickedUpAndUnknownKidsAreRateLimited) {
  std::atomic<int64_t> offset{0};  // lets the test skip past the refetch interval
  OidcVerifierOptions o = Options();
  o.jwks_min_refetch_interval_s = 60;
  o.clock = [&offset] { return SystemUnixSeconds() + offset.load(); };
  auto v = Make(o);
  const std::string old_kid = issuer_->first_kid();
  const std::string old_token = issuer_->Mint(GoodClaims(), {{"kid", old_kid}});
  ASSERT_TRUE(v->Verify(old_token).ok());
  const int base = issuer_->JwksRequests();

  // The issuer adds a new RSA key and signs with it.
  const json rotated = issuer_->Control("/__control/rotate", {{"alg", "RS256"}});
  const std::string new_kid = rotated.value("kid", "");
  ASSERT_FALSE(new_kid.empty());
  const std::string new_token = issuer_->Mint(GoodClaims(), {{"kid", new_kid}});
  // Right after a fetch the unknown kid does not cause another one...
  ExpectRefused(*v, new_token, "kid unknown within the refetch interval");
  EXPECT_EQ(issuer_->JwksRequests(), base);
  // ...once the interval has passed it does, and the new key is used.
  offset += 61;
  auto c = v->Verify(new_token);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kid, new_kid);
  EXPECT_EQ(issuer_->JwksRequests(), base + 1);
  EXPECT_TRUE(v->Verify(old_token).ok()) << "the old key is still published";

  // A flood of forged kids: at most one fetch per interval.
  const Jwt j = Split(new_token);
  auto flood = [&](int round) {
    for (int i = 0; i < 200; ++i) {
      json h = j.header;
      h["kid"] = "forged-" + std::to_string(round) + "-" + std::to_string(i);
      auto r = v->Verify(Join(h, j.payload, j.sig64));
      ASSERT_FALSE(r.ok());
      ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    }
  };
  flood(1);
  EXPECT_EQ(issuer_->JwksRequests(), base + 1) << "refetched within the interval";
  offset += 61;
  flood(2);
  EXPECT_EQ(issuer_->JwksRequests(), base + 2) << "more than one refetch per interval";
  EXPECT_EQ(v->jwks_fetch_count(), 3);

  // The issuer switches to an ES256 key and retires the others; then to EdDSA.
  const json es = issuer_->Control("/__control/rotate", {{"alg", "ES256"}, {"retire", true}});
  ASSERT_EQ(es["kids"].size(), 1u);
  offset += 61;
  auto ces = v->Verify(issuer_->Mint(GoodClaims(), {{"kid", es["kid"]}}));
  ASSERT_TRUE(ces.ok()) << ces.status().ToString();
  EXPECT_EQ(ces->alg, JwtAlg::kES256);
  ExpectRefused(*v, old_token, "token of a retired key");
  ExpectRefused(*v, new_token, "token of a retired key");

  const json ed = issuer_->Control("/__control/rotate", {{"alg", "EdDSA"}});
  offset += 61;
  auto ced = v->Verify(issuer_->Mint(GoodClaims(), {{"kid", ed["kid"]}}));
  ASSERT_TRUE(ced.ok()) << ced.status().ToString();
  EXPECT_EQ(ced->alg, JwtAlg::kEdDSA);
  EXPECT_EQ(v->discovery_fetch_count(), 1);
}

}  // namespace
}  // namespace llmux::auth
