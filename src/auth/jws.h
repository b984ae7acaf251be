// Compact JWS (RFC 7515): parsing, serialization, and the raw sign/verify step for the
// algorithms in JwtAlg. Claims are jwt.h's job.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "auth/jwk.h"
#include "base/status.h"

namespace llmux::auth {

inline constexpr size_t kMaxJwsBytes = 16 * 1024;

struct CompactJws {
  std::string signing_input;  // "<b64 header>.<b64 payload>", exactly as received
  nlohmann::json header;      // a JSON object
  std::string payload;        // decoded bytes
  std::string signature;      // decoded bytes (JOSE format: ES256 is r||s)
  std::string alg;            // header "alg" (not yet checked)
  std::string kid;            // header "kid" ("" when absent)
};

// Strict: three base64url parts, header a JSON object with a string "alg", "kid" a string
// if present, no "crit" (we implement no extensions, so RFC 7515 says refuse).
Result<CompactJws> ParseCompactJws(std::string_view token);

// Signs header.payload; header gets "alg" (from the key) and "kid" (when the key has one).
Result<std::string> SignCompactJws(const JwtKey& key, nlohmann::json header,
                                   std::string_view payload);

// Raw signature in JOSE format over `signing_input`. Needs a private key (or HMAC secret).
Result<std::string> SignJwsInput(JwtAlg alg, const JwtKey& key, std::string_view signing_input);

// Ok only if `key` is for `alg` (algorithm confusion is refused here, before any
// cryptography) and the signature matches.
Status VerifyJwsSignature(JwtAlg alg, const JwtKey& key, std::string_view signing_input,
                          std::string_view signature);

// ECDSA signature conversion between DER (OpenSSL) and JOSE's fixed-width r||s.
Result<std::string> EcdsaDerToJose(std::string_view der, size_t coord_bytes);
Result<std::string> EcdsaJoseToDer(std::string_view jose);

}  // namespace llmux::auth
