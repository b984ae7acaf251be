// JSON Web Tokens (RFC 7519) on top of jws.h: issuing llmux's own HS256/EdDSA access
// tokens and verifying tokens (also RS256/ES256 of an external OIDC issuer) with claim checks.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/jwk.h"
#include "auth/jws.h"
#include "base/status.h"

namespace llmux::auth {

// Unix time in seconds; injectable for tests.
using UnixClock = std::function<int64_t()>;
int64_t SystemUnixSeconds();

struct JwtValidationOptions {
  // Algorithms accepted at all; empty = any in JwtAlg. Independently of this list, a key
  // only ever verifies the one algorithm of its type.
  std::vector<JwtAlg> allowed_algs;
  std::string issuer;                  // non-empty: "iss" must equal it
  std::vector<std::string> audiences;  // non-empty: "aud" (string or array) must contain one
  bool require_exp = true;
  int64_t leeway_seconds = 60;  // clock skew allowed for exp, nbf and iat
  UnixClock clock;              // null = system clock
  std::string roles_claim = "roles";
};

struct JwtClaims {
  JwtAlg alg = JwtAlg::kHS256;
  std::string kid;
  std::string subject;
  std::string issuer;
  std::string jwt_id;
  std::vector<std::string> audience;
  std::optional<int64_t> expires_at;
  std::optional<int64_t> not_before;
  std::optional<int64_t> issued_at;
  std::vector<std::string> scopes;  // "scope" (space-separated) or "scp" (string or array)
  std::vector<std::string> roles;   // options.roles_claim (string or array of strings)
  nlohmann::json raw;               // the whole verified payload
};

// Signs `claims` (a JSON object) with the key's algorithm; header {"alg","typ":"JWT","kid"}.
Result<std::string> SignJwt(const nlohmann::json& claims, const JwtKey& key);

// Verifies signature, then claims. Errors: InvalidArgument for every refusal (malformed,
// alg none, algorithm confusion, bad signature, expired, ...), NotFound for an unknown kid.
Result<JwtClaims> VerifyJwt(std::string_view token, const JwtKey& key,
                            const JwtValidationOptions& options);
// Picks the key by "kid"; without a kid tries every key that fits the algorithm.
Result<JwtClaims> VerifyJwt(std::string_view token, const std::vector<JwtKey>& keys,
                            const JwtValidationOptions& options);
Result<JwtClaims> VerifyParsedJwt(const CompactJws& jws, const std::vector<JwtKey>& keys,
                                  const JwtValidationOptions& options);

}  // namespace llmux::auth
