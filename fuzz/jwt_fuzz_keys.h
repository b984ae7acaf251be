// The fixed keys of jwt_fuzz and its seed corpus: an HS256 secret and RS256, ES256 and EdDSA
// key pairs, so that the seed tokens and the fuzzer agree. Generated once with `openssl genpkey`
// for fuzzing; they protect nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "auth/jwk.h"

namespace llmux::fuzz {

// HS256, RS256, ES256 and EdDSA, in that order, each with its private part and its kid
// ("hs", "rs", "es", "ed").
const std::vector<auth::JwtKey>& JwtFuzzKeys();

// "Now" for every claim check of the fuzzer, so that the seed tokens never expire.
inline constexpr int64_t kJwtFuzzNow = 1700000000;
inline constexpr const char* kJwtFuzzIssuer = "https://issuer.fuzz";
inline constexpr const char* kJwtFuzzAudience = "llmux";

}  // namespace llmux::fuzz
