// Argon2id password hashing (libargon2), stored as the standard encoded PHC string
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", so parameters travel with each hash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::auth {

struct Argon2Params {
  // OWASP's minimum recommendation for Argon2id: 19 MiB, 2 passes, 1 lane.
  uint32_t t_cost = 2;
  uint32_t m_cost_kib = 19 * 1024;
  uint32_t parallelism = 1;
};

inline constexpr size_t kMaxPasswordBytes = 4096;  // bounds the work one login attempt can cause
inline constexpr size_t kArgon2SaltBytes = 16;
inline constexpr size_t kArgon2HashBytes = 32;

// Hashes with a fresh random salt (OpenSSL RAND_bytes). Empty or over-long passwords are
// InvalidArgument. Tests may pass cheaper params; production uses the defaults.
Result<std::string> HashPassword(std::string_view password, const Argon2Params& params = {});

// true: matches; false: wrong password (or empty password). Error: `encoded` is not an
// Argon2id PHC string. Comparison is constant-time (libargon2's verify).
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// True when `encoded` was made with parameters other than `params` (rehash after login).
bool PasswordNeedsRehash(std::string_view encoded, const Argon2Params& params = {});

}  // namespace llmux::auth
