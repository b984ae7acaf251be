#include "auth/jwks_cache.h"

#include <algorithm>

namespace llmux::auth {

JwksCache::JwksCache(Fetcher fetcher, Options options)
    : fetcher_(std::move(fetcher)),
      options_(std::move(options)),
      keys_(std::make_shared<std::vector<JwtKey>>()) {}

int64_t JwksCache::Now() const { return options_.clock ? options_.clock() : SystemUnixSeconds(); }

JwksCache::KeySet JwksCache::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_;
}

size_t JwksCache::key_count() const { return Snapshot()->size(); }

int JwksCache::fetch_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetch_count_;
}

bool JwksCache::MaybeRefetch(bool force, int64_t now) {
  std::lock_guard<std::mutex> fetch_lock(fetch_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Re-checked under fetch_mu_: a concurrent caller may just have fetched.
    if (!force && attempted_ && now - last_attempt_ < options_.min_refetch_interval_s) return false;
    attempted_ = true;
    last_attempt_ = now;
    ++fetch_count_;
  }
  Status st;
  KeySet fresh;
  auto doc = fetcher_ ? fetcher_() : Result<std::string>(UnavailableError("no JWKS fetcher"));
  if (!doc.ok()) {
    st = doc.status().WithContext("fetching JWKS");
  } else {
    auto parsed = ParseJwks(*doc);
    if (!parsed.ok())
      st = parsed.status();
    else
      fresh = std::make_shared<const std::vector<JwtKey>>(std::move(parsed).value());
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = st;
  if (fresh) {
    keys_ = std::move(fresh);
    last_success_ = now;
  }
  return true;
}

Status JwksCache::Refresh(bool force) {
  MaybeRefetch(force, Now());
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

Result<JwtClaims> JwksCache::Verify(std::string_view token, const JwtValidationOptions& options) {
  LLMUX_ASSIGN_OR_RETURN(CompactJws jws, ParseCompactJws(token));
  // Refuse alg none and unknown algorithms before they can cause a fetch.
  LLMUX_ASSIGN_OR_RETURN(JwtAlg alg, ParseJwtAlg(jws.alg));
  const int64_t now = Now();
  bool stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stale = !attempted_ || now - last_success_ >= options_.max_age_s;
  }
  if (stale) MaybeRefetch(false, now);

  KeySet keys = Snapshot();
  auto known = [&](const std::vector<JwtKey>& ks) {
    if (jws.kid.empty())
      return std::any_of(ks.begin(), ks.end(), [&](const JwtKey& k) { return k.CanVerify(alg); });
    return std::any_of(ks.begin(), ks.end(), [&](const JwtKey& k) { return k.kid() == jws.kid; });
  };
  if (!known(*keys) && MaybeRefetch(false, now)) keys = Snapshot();
  return VerifyParsedJwt(jws, *keys, options);
}

}  // namespace llmux::auth
