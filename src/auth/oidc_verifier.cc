#include "auth/oidc_verifier.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json_nesting.h"
#include "net/http/loopback_host.h"

namespace llmux::auth {
namespace {

constexpr size_t kMaxDocumentBytes = 1024 * 1024;

// http:// only where nobody on the network path can swap the keys: on this machine's loopback,
// by the strict rule (a name like "127.0.0.1.evil.com" resolves wherever its owner wants).
Status CheckScheme(const std::string& url, bool allow_insecure_http, std::string_view what) {
  auto parsed = http::ParseUrl(url);
  if (!parsed.ok()) return parsed.status().WithContext(std::string(what));
  if (!parsed->tls && !allow_insecure_http && !http::IsLoopbackHost(parsed->host)) {
    return InvalidArgumentError(std::string(what) +
                                " must use https (or set allow_insecure_http): " + url);
  }
  return Status::Ok();
}

// The refusal a caller answers with 401; other codes from the JWT layer are kept.
Status AsRefusal(const Status& s) {
  if (s.code() == StatusCode::kNotFound) return InvalidArgumentError(s.message());
  return s;
}

}  // namespace

Result<std::unique_ptr<OidcVerifier>> OidcVerifier::Create(OidcVerifierOptions options) {
  if (options.issuer.empty()) return InvalidArgumentError("OIDC: issuer URL is required");
  LLMUX_RETURN_IF_ERROR(CheckScheme(options.issuer, options.allow_insecure_http, "OIDC issuer"));
  if (options.audiences.empty()) {
    // Without an audience check any token the issuer minted for any client would pass.
    return InvalidArgumentError("OIDC: at least one audience is required");
  }
  if (options.allowed_algs.empty())
    return InvalidArgumentError("OIDC: at least one algorithm must be allowed");
  if (std::find(options.allowed_algs.begin(), options.allowed_algs.end(), JwtAlg::kHS256) !=
      options.allowed_algs.end()) {
    return InvalidArgumentError("OIDC: HS256 cannot be allowed for an external issuer");
  }
  if (options.fetch_timeout.count() <= 0)
    return InvalidArgumentError("OIDC: fetch timeout must be positive");
  return std::unique_ptr<OidcVerifier>(new OidcVerifier(std::move(options)));
}

OidcVerifier::OidcVerifier(OidcVerifierOptions options) : options_(std::move(options)) {
  if (!options_.fetch) options_.fetch = http::Fetch;
  validation_.allowed_algs = options_.allowed_algs;
  validation_.issuer = options_.issuer;
  validation_.audiences = options_.audiences;
  validation_.require_exp = true;
  validation_.leeway_seconds = options_.leeway_seconds;
  validation_.clock = options_.clock;
  validation_.roles_claim = options_.roles_claim;
}

int64_t OidcVerifier::Now() const {
  return options_.clock ? options_.clock() : SystemUnixSeconds();
}

Result<std::string> OidcVerifier::Get(const std::string& url, std::string_view what) const {
  http::ClientRequest req;
  req.url = url;
  req.timeout = options_.fetch_timeout;
  req.max_response_bytes = kMaxDocumentBytes;
  req.ca_file = options_.ca_file;
  req.headers.Set("Accept", "application/json");
  auto resp = options_.fetch(req);
  if (!resp.ok()) {
    return UnavailableError("OIDC: fetching " + std::string(what) + " from " + url + ": " +
                            resp.status().message());
  }
  if (resp->status < 200 || resp->status > 299) {
    return UnavailableError("OIDC: fetching " + std::string(what) + " from " + url + ": HTTP " +
                            std::to_string(resp->status));
  }
  return std::move(resp->body);
}

Result<std::string> OidcVerifier::Discover() {
  std::string base = options_.issuer;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string url = base + "/.well-known/openid-configuration";
  LLMUX_ASSIGN_OR_RETURN(std::string body, Get(url, "discovery document"));
  if (!JsonNestingWithin(body)) return UnavailableError("OIDC: discovery document at " + url + ": " + JsonTooDeepMessage());
  auto doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return UnavailableError("OIDC: discovery document at " + url + " is not a JSON object");
  auto iss = doc.find("issuer");
  if (iss == doc.end() || !iss->is_string())
    return UnavailableError("OIDC: discovery document at " + url + " has no issuer");
  // OIDC Discovery 1.0 section 4.3: the issuer must be identical to the one we asked.
  if (iss->get_ref<const std::string&>() != options_.issuer) {
    return UnavailableError("OIDC: discovery document names issuer '" +
                            iss->get<std::string>().substr(0, 200) + "', expected '" +
                            options_.issuer + "'");
  }
  auto jwks = doc.find("jwks_uri");
  if (jwks == doc.end() || !jwks->is_string() || jwks->get_ref<const std::string&>().empty())
    return UnavailableError("OIDC: discovery document at " + url + " has no jwks_uri");
  std::string jwks_uri = jwks->get<std::string>();
  Status scheme = CheckScheme(jwks_uri, options_.allow_insecure_http, "OIDC jwks_uri");
  if (!scheme.ok()) return UnavailableError(scheme.message());
  return jwks_uri;
}

Result<std::string> OidcVerifier::FetchJwks() {
  std::string uri = jwks_uri();
  auto body = Get(uri, "JWKS");
  Status st = body.status();
  if (st.ok()) {
    // Parsed again by the cache; checked here so that a broken document counts as the
    // issuer's failure (Unavailable), not as an unknown kid.
    auto keys = ParseJwks(*body);
    if (!keys.ok())
      st = UnavailableError("OIDC: JWKS from " + uri + ": " + keys.status().message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  jwks_error_ = st;
  if (!st.ok()) return st;
  return body;
}

Result<std::shared_ptr<JwksCache>> OidcVerifier::Keys() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jwks_) return jwks_;
  }
  std::lock_guard<std::mutex> discovery_lock(discovery_mu_);
  const int64_t now = Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (jwks_) return jwks_;  // another caller just finished discovery
    if (discovery_attempted_ && now - discovery_last_attempt_ < options_.discovery_retry_interval_s)
      return discovery_error_;
    discovery_attempted_ = true;
    discovery_last_attempt_ = now;
    ++discovery_count_;
  }
  auto uri = Discover();
  std::lock_guard<std::mutex> lock(mu_);
  if (!uri.ok()) {
    discovery_error_ = uri.status();
    return discovery_error_;
  }
  jwks_uri_ = *uri;
  JwksCache::Options cache_options;
  cache_options.min_refetch_interval_s = options_.jwks_min_refetch_interval_s;
  cache_options.max_age_s = options_.jwks_max_age_s;
  cache_options.clock = options_.clock;
  jwks_ = std::make_shared<JwksCache>([this] { return FetchJwks(); }, cache_options);
  return jwks_;
}

Result<JwtClaims> OidcVerifier::Verify(std::string_view token) {
  // Malformed tokens, alg none and disallowed algorithms are refused before any network.
  auto parsed = ParseCompactJws(token);
  if (!parsed.ok()) return parsed.status();
  auto alg = ParseJwtAlg(parsed->alg);
  if (!alg.ok()) return alg.status();
  if (std::find(options_.allowed_algs.begin(), options_.allowed_algs.end(), *alg) ==
      options_.allowed_algs.end()) {
    return InvalidArgumentError("JWT: algorithm " + std::string(JwtAlgName(*alg)) +
                                " is not allowed for OIDC issuer " + options_.issuer);
  }
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<JwksCache> cache, Keys());
  auto claims = cache->Verify(token, validation_);
  if (claims.ok()) return claims;
  if (claims.status().code() == StatusCode::kNotFound || cache->key_count() == 0) {
    // No key for this token and the key set could not be fetched: the issuer is the
    // problem, not (necessarily) the token.
    std::lock_guard<std::mutex> lock(mu_);
    if (!jwks_error_.ok()) return jwks_error_;
  }
  return AsRefusal(claims.status());
}

Status OidcVerifier::Prefetch() {
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<JwksCache> cache, Keys());
  if (cache->fetch_count() == 0) return cache->Refresh();
  std::lock_guard<std::mutex> lock(mu_);
  return jwks_error_;
}

std::string OidcVerifier::jwks_uri() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jwks_uri_;
}

int OidcVerifier::discovery_fetch_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return discovery_count_;
}

int OidcVerifier::jwks_fetch_count() const {
  std::shared_ptr<JwksCache> cache;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cache = jwks_;
  }
  return cache ? cache->fetch_count() : 0;
}

}  // namespace llmux::auth
