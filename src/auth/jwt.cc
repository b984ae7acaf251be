#include "auth/jwt.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace llmux::auth {
namespace {

using nlohmann::json;

// NumericDate: a JSON number of seconds (fractions allowed, truncated here), within 1e15 of the
// epoch either way (31 million years), so that adding the leeway never overflows.
constexpr int64_t kMaxNumericDate = 1'000'000'000'000'000;

Result<std::optional<int64_t>> NumericDate(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() < static_cast<uint64_t>(kMaxNumericDate))
      return std::optional<int64_t>(static_cast<int64_t>(it->get<uint64_t>()));
  } else if (it->is_number_integer()) {
    const int64_t v = it->get<int64_t>();
    if (v > -kMaxNumericDate && v < kMaxNumericDate) return std::optional<int64_t>(v);
  } else if (it->is_number_float()) {
    double v = it->get<double>();
    if (std::isfinite(v) && std::fabs(v) < 1e15)
      return std::optional<int64_t>(static_cast<int64_t>(v));
  }
  return InvalidArgumentError(std::string("JWT: claim ") + name + " is not a valid NumericDate");
}

Result<std::vector<std::string>> StringOrArray(const json& claims, const std::string& name,
                                               bool split_spaces) {
  std::vector<std::string> out;
  auto it = claims.find(name);
  if (it == claims.end()) return out;
  auto add = [&](const std::string& s) {
    if (!split_spaces) {
      out.push_back(s);
      return;
    }
    size_t i = 0;
    while (i < s.size()) {
      size_t j = s.find(' ', i);
      if (j == std::string::npos) j = s.size();
      if (j > i) out.push_back(s.substr(i, j - i));
      i = j + 1;
    }
  };
  if (it->is_string()) {
    add(it->get<std::string>());
  } else if (it->is_array()) {
    for (const json& v : *it) {
      if (!v.is_string()) return InvalidArgumentError("JWT: claim " + name + " must hold strings");
      out.push_back(v.get<std::string>());
    }
  } else {
    return InvalidArgumentError("JWT: claim " + name + " must be a string or an array of strings");
  }
  return out;
}

Result<std::string> OptionalString(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::string();
  if (!it->is_string())
    return InvalidArgumentError(std::string("JWT: claim ") + name + " must be a string");
  return it->get<std::string>();
}

Result<JwtClaims> CheckClaims(const CompactJws& jws, JwtAlg alg, const JwtValidationOptions& o) {
  JwtClaims c;
  c.alg = alg;
  c.kid = jws.kid;
  c.raw = json::parse(jws.payload, nullptr, /*allow_exceptions=*/false);
  if (c.raw.is_discarded() || !c.raw.is_object())
    return InvalidArgumentError("JWT: payload is not a JSON object");
  LLMUX_ASSIGN_OR_RETURN(c.subject, OptionalString(c.raw, "sub"));
  LLMUX_ASSIGN_OR_RETURN(c.issuer, OptionalString(c.raw, "iss"));
  LLMUX_ASSIGN_OR_RETURN(c.jwt_id, OptionalString(c.raw, "jti"));
  LLMUX_ASSIGN_OR_RETURN(c.audience, StringOrArray(c.raw, "aud", false));
  LLMUX_ASSIGN_OR_RETURN(c.expires_at, NumericDate(c.raw, "exp"));
  LLMUX_ASSIGN_OR_RETURN(c.not_before, NumericDate(c.raw, "nbf"));
  LLMUX_ASSIGN_OR_RETURN(c.issued_at, NumericDate(c.raw, "iat"));
  if (c.raw.contains("scope")) {
    LLMUX_ASSIGN_OR_RETURN(c.scopes, StringOrArray(c.raw, "scope", true));
  } else {
    LLMUX_ASSIGN_OR_RETURN(c.scopes, StringOrArray(c.raw, "scp", true));
  }
  if (!o.roles_claim.empty()) {
    LLMUX_ASSIGN_OR_RETURN(c.roles, StringOrArray(c.raw, o.roles_claim, false));
  }

  const int64_t now = o.clock ? o.clock() : SystemUnixSeconds();
  const int64_t leeway = std::clamp<int64_t>(o.leeway_seconds, 0, kMaxNumericDate);
  if (!c.expires_at && o.require_exp) return InvalidArgumentError("JWT: token has no exp");
  if (c.expires_at && now >= *c.expires_at + leeway)
    return InvalidArgumentError("JWT: token expired");
  if (c.not_before && now < *c.not_before - leeway)
    return InvalidArgumentError("JWT: token not yet valid (nbf)");
  if (c.issued_at && *c.issued_at > now + leeway)
    return InvalidArgumentError("JWT: token issued in the future (iat)");
  if (!o.issuer.empty() && c.issuer != o.issuer) return InvalidArgumentError("JWT: wrong issuer");
  if (!o.audiences.empty()) {
    bool match = std::any_of(c.audience.begin(), c.audience.end(), [&](const std::string& a) {
      return std::find(o.audiences.begin(), o.audiences.end(), a) != o.audiences.end();
    });
    if (!match) return InvalidArgumentError("JWT: wrong audience");
  }
  return c;
}

}  // namespace

int64_t SystemUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> SignJwt(const json& claims, const JwtKey& key) {
  if (!claims.is_object()) return InvalidArgumentError("JWT claims must be a JSON object");
  return SignCompactJws(key, json{{"typ", "JWT"}}, claims.dump());
}

Result<JwtClaims> VerifyParsedJwt(const CompactJws& jws, const std::vector<JwtKey>& keys,
                                  const JwtValidationOptions& o) {
  LLMUX_ASSIGN_OR_RETURN(JwtAlg alg, ParseJwtAlg(jws.alg));
  if (!o.allowed_algs.empty() &&
      std::find(o.allowed_algs.begin(), o.allowed_algs.end(), alg) == o.allowed_algs.end()) {
    return InvalidArgumentError("JWT: algorithm " + jws.alg + " is not allowed");
  }
  std::vector<const JwtKey*> candidates;
  if (!jws.kid.empty()) {
    for (const JwtKey& k : keys) {
      if (k.kid() == jws.kid) candidates.push_back(&k);
    }
    if (candidates.empty()) return NotFoundError("JWT: unknown kid");
  } else {
    for (const JwtKey& k : keys) {
      if (k.CanVerify(alg)) candidates.push_back(&k);
    }
    if (candidates.empty()) return InvalidArgumentError("JWT: no key for algorithm " + jws.alg);
  }
  Status last = InvalidArgumentError("JWT: signature mismatch");
  for (const JwtKey* k : candidates) {
    Status s = VerifyJwsSignature(alg, *k, jws.signing_input, jws.signature);
    if (s.ok()) return CheckClaims(jws, alg, o);
    last = s;
  }
  return last;
}

Result<JwtClaims> VerifyJwt(std::string_view token, const std::vector<JwtKey>& keys,
                            const JwtValidationOptions& o) {
  LLMUX_ASSIGN_OR_RETURN(CompactJws jws, ParseCompactJws(token));
  return VerifyParsedJwt(jws, keys, o);
}

Result<JwtClaims> VerifyJwt(std::string_view token, const JwtKey& key,
                            const JwtValidationOptions& o) {
  LLMUX_ASSIGN_OR_RETURN(CompactJws jws, ParseCompactJws(token));
  // A single configured key: the kid, if any, is informational.
  LLMUX_ASSIGN_OR_RETURN(JwtAlg alg, ParseJwtAlg(jws.alg));
  if (!o.allowed_algs.empty() &&
      std::find(o.allowed_algs.begin(), o.allowed_algs.end(), alg) == o.allowed_algs.end()) {
    return InvalidArgumentError("JWT: algorithm " + jws.alg + " is not allowed");
  }
  LLMUX_RETURN_IF_ERROR(VerifyJwsSignature(alg, key, jws.signing_input, jws.signature));
  return CheckClaims(jws, alg, o);
}

}  // namespace llmux::auth
