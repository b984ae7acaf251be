// Verifies access tokens of an external OpenID Connect issuer, known by its issuer URL.
// On first use it reads `<issuer>/.well-known/openid-configuration` (OIDC Discovery 1.0),
// checks that the document names exactly the configured issuer, and from then on keeps
// the issuer's key set (jwks_uri) in a JwksCache: rotated keys are picked up by a
// rate-limited refetch on an unknown kid. Discovery that fails (issuer down, bad document)
// is retried on a later call, at most once per `discovery_retry_interval_s`.
//
// Only asymmetric algorithms are accepted: an issuer's published key must never become
// an HMAC secret (the HS256-with-the-public-key confusion attack).
//
// Errors of Verify: InvalidArgument when the token is refused (malformed, alg none or not
// allowed, unknown kid, bad signature, expired, not yet valid, wrong iss/aud; callers
// answer 401); Unavailable when the issuer's keys cannot be obtained (unreachable, non-2xx,
// or a document that fails the checks above; callers answer 503). No message ever
// contains the token. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwks_cache.h"
#include "auth/jwt.h"
#include "base/status.h"
#include "net/http/http_client.h"

namespace llmux::auth {

// The HTTP call used for discovery and JWKS; http::Fetch unless a test injects another.
using OidcFetchFn = std::function<Result<http::ClientResponse>(const http::ClientRequest&)>;

struct OidcVerifierOptions {
  std::string issuer;                  // http(s) URL; tokens' "iss" must equal it exactly
  std::vector<std::string> audiences;  // required: "aud" must contain one of them
  std::vector<JwtAlg> allowed_algs = {JwtAlg::kRS256, JwtAlg::kES256, JwtAlg::kEdDSA};
  int64_t leeway_seconds = 60;  // clock skew for exp, nbf, iat
  std::string roles_claim = "roles";
  std::string ca_file;  // https: trust these CAs instead of the system store
  std::chrono::milliseconds fetch_timeout{5000};
  // Plain http is accepted for loopback issuers (tests, sidecars; http::IsLoopbackHost, which
  // refuses look-alike names) or with this flag.
  bool allow_insecure_http = false;
  int64_t discovery_retry_interval_s = 10;
  int64_t jwks_min_refetch_interval_s = 60;  // unknown kids refetch at most this often
  int64_t jwks_max_age_s = 3600;             // keys are refreshed after this long
  UnixClock clock;                           // null = system clock
  OidcFetchFn fetch;                         // null = http::Fetch
};

class OidcVerifier {
 public:
  // Checks the options (no network): issuer URL, non-empty audiences, non-empty allowed
  // algorithms without HS256.
  static Result<std::unique_ptr<OidcVerifier>> Create(OidcVerifierOptions options);

  OidcVerifier(const OidcVerifier&) = delete;
  OidcVerifier& operator=(const OidcVerifier&) = delete;

  Result<JwtClaims> Verify(std::string_view token);

  // Runs discovery and the first JWKS fetch now (e.g. at start, to log a misconfigured
  // issuer early). Subject to the same retry intervals as Verify.
  Status Prefetch();

  const std::string& issuer() const { return options_.issuer; }
  // The jwks_uri from discovery ("" before discovery succeeded).
  std::string jwks_uri() const;
  int discovery_fetch_count() const;  // discovery attempts, for tests and metrics
  int jwks_fetch_count() const;       // JWKS fetch attempts

 private:
  explicit OidcVerifier(OidcVerifierOptions options);

  int64_t Now() const;
  // The key cache, running discovery first if needed (and allowed by the retry interval).
  Result<std::shared_ptr<JwksCache>> Keys();
  Result<std::string> Discover();
  // GET `url`; a 2xx body or Unavailable.
  Result<std::string> Get(const std::string& url, std::string_view what) const;
  Result<std::string> FetchJwks();

  OidcVerifierOptions options_;
  JwtValidationOptions validation_;

  std::mutex discovery_mu_;  // one discovery at a time
  mutable std::mutex mu_;    // guards the fields below
  std::shared_ptr<JwksCache> jwks_;
  std::string jwks_uri_;
  bool discovery_attempted_ = false;
  int64_t discovery_last_attempt_ = 0;
  Status discovery_error_;
  int discovery_count_ = 0;
  Status jwks_error_;  // of the latest JWKS fetch
};

}  // namespace llmux::auth
