// The key set of an external OIDC issuer, fetched through an injected callback (the HTTP
// client lives elsewhere) and cached. Rotated keys are picked up: a token whose kid is
// unknown triggers a refetch, but at most one per `min_refetch_interval_s`, so a stream of
// forged kids cannot turn into a stream of requests to the issuer. Keys are also refreshed
// after `max_age_s`. Thread-safe; verification runs outside the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "base/status.h"

namespace llmux::auth {

class JwksCache {
 public:
  using Fetcher = std::function<Result<std::string>()>;  // returns the JWKS JSON document

  struct Options {
    int64_t min_refetch_interval_s = 60;
    int64_t max_age_s = 3600;
    UnixClock clock;  // null = system clock
  };

  JwksCache(Fetcher fetcher, Options options);

  // Fetches now (subject to the refetch interval unless `force`). Keeps the old keys when
  // the fetch or the parse fails.
  Status Refresh(bool force = false);

  // Verifies `token` against the cached keys, refetching once if its kid is unknown.
  Result<JwtClaims> Verify(std::string_view token, const JwtValidationOptions& options);

  size_t key_count() const;
  int fetch_count() const;  // fetch attempts, for tests and metrics

 private:
  using KeySet = std::shared_ptr<const std::vector<JwtKey>>;
  int64_t Now() const;
  KeySet Snapshot() const;
  // Refetch unless one happened within the interval; true if a fetch was attempted.
  bool MaybeRefetch(bool force, int64_t now);

  Fetcher fetcher_;
  Options options_;
  std::mutex fetch_mu_;    // one fetch at a time
  mutable std::mutex mu_;  // guards the fields below
  KeySet keys_;
  int64_t last_attempt_ = 0;
  int64_t last_success_ = 0;
  bool attempted_ = false;
  int fetch_count_ = 0;
  Status last_error_;
};

}  // namespace llmux::auth
