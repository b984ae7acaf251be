// API keys: "llmux_<prefix>_<secret>".
//   prefix: 12 chars of lowercase base32 (a-z, 2-7) from separate random bytes; public, used
//           to look the key up and safe to show in logs and listings.
//   secret: the 32 random bytes (RAND_bytes) as a fixed-width 43-char base62 number.
// Only SHA-256(secret) is stored. A fast hash is right here (unlike passwords): the secret
// has 256 bits of entropy, so there is nothing to brute-force, and a slow hash would only
// make every request slower.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::auth {

inline constexpr std::string_view kApiKeyTag = "llmux_";
inline constexpr size_t kApiKeyPrefixChars = 12;
inline constexpr size_t kApiKeySecretBytes = 32;
inline constexpr size_t kApiKeySecretChars = 43;  // ceil(256 / log2(62))

struct NewApiKey {
  std::string full_key;     // shown to the user once, never stored
  std::string prefix;       // stored, indexed
  std::string secret_hash;  // stored: lowercase hex SHA-256 of the secret
};

struct ParsedApiKey {
  std::string prefix;
  std::string secret;
};

Result<NewApiKey> GenerateApiKey();

// Strict: tag, 12 base32 chars, '_', 43 base62 chars, nothing else. The error message never
// contains the input (it may be a real key with a typo).
Result<ParsedApiKey> ParseApiKey(std::string_view key);

// Lowercase hex SHA-256 of the secret.
std::string HashApiKeySecret(std::string_view secret);

// Constant-time comparison of SHA-256(secret) with the stored hash (CRYPTO_memcmp).
bool VerifyApiKeySecret(std::string_view secret, std::string_view stored_hash);

// Replaces every key-looking token "llmux_<prefix>_<secret...>" with "llmux_<prefix>_***"
// (for logs). Also catches truncated secrets and secrets glued to other text.
std::string RedactApiKeys(std::string_view text);

}  // namespace llmux::auth
