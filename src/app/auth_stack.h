// The auth service's parts for a role that faces clients: the store, the token issuer, the
// optional OIDC verifier, the auth service and its rate limiter.
#pragma once

#include <memory>
#include <string>

#include "auth/limit_counters.h"
#include "auth/local_auth_service.h"
#include "auth/oidc_verifier.h"
#include "auth/rate_limiter.h"
#include "auth/token_issuer.h"
#include "base/status.h"
#include "store/store.h"

namespace llmux::app {

struct AuthStackOptions {
  std::string data_dir = "./llmux-data";  // the signing key, the first admin key, SQLite
  std::string store_url;                  // empty: <data_dir>/llmux.db
  auth::OidcVerifierOptions oidc;         // issuer empty: JWTs of an external issuer are refused
  // host:port of a Redis server that keeps per-key limit counters for every gateway; empty:
  // this process's memory (enough for one gateway).
  std::string redis;
};

struct AuthStack {
  std::unique_ptr<auth::TokenIssuer> issuer;
  std::unique_ptr<auth::OidcVerifier> oidc;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<auth::LocalAuthService> service;
  std::unique_ptr<auth::LimitCounters> counters;
  std::unique_ptr<auth::RateLimiter> limiter;
};

// Opens the store, makes sure the built-in roles exist and, on the first start, creates the
// admin key and prints it (the one time it is shown; it is also in a 0600 file).
Result<AuthStack> StartAuth(const AuthStackOptions& options);

}  // namespace llmux::app
