#include "auth/api_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>

namespace llmux::auth {
namespace {

constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";
constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool IsBase32Char(char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); }
bool IsBase62Char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Big-endian bytes -> base62, left-padded with '0' to `width` chars (schoolbook division).
std::string ToBase62(const unsigned char* bytes, size_t n, size_t width) {
  std::string digits;
  std::array<unsigned char, kApiKeySecretBytes> num{};
  std::copy(bytes, bytes + n, num.begin());
  bool nonzero = true;
  while (nonzero) {
    nonzero = false;
    uint32_t rem = 0;
    for (size_t i = 0; i < n; ++i) {
      uint32_t cur = (rem << 8) | num[i];
      num[i] = static_cast<unsigned char>(cur / 62);
      rem = cur % 62;
      if (num[i] != 0) nonzero = true;
    }
    digits += kBase62[rem];
  }
  while (digits.size() < width) digits += '0';
  return std::string(digits.rbegin(), digits.rend());
}

}  // namespace

Result<NewApiKey> GenerateApiKey() {
  unsigned char secret[kApiKeySecretBytes];
  unsigned char prefix_bytes[kApiKeyPrefixChars];
  if (RAND_bytes(secret, sizeof(secret)) != 1 ||
      RAND_bytes(prefix_bytes, sizeof(prefix_bytes)) != 1) {
    return InternalError("RAND_bytes failed");
  }
  NewApiKey k;
  // 256 is a multiple of 32, so taking the low 5 bits of a random byte is unbiased.
  for (unsigned char b : prefix_bytes) k.prefix += kBase32[b & 31];
  std::string secret_text = ToBase62(secret, sizeof(secret), kApiKeySecretChars);
  OPENSSL_cleanse(secret, sizeof(secret));
  k.full_key = std::string(kApiKeyTag) + k.prefix + "_" + secret_text;
  k.secret_hash = HashApiKeySecret(secret_text);
  return k;
}

Result<ParsedApiKey> ParseApiKey(std::string_view key) {
  const size_t want = kApiKeyTag.size() + kApiKeyPrefixChars + 1 + kApiKeySecretChars;
  if (key.substr(0, kApiKeyTag.size()) != kApiKeyTag)
    return InvalidArgumentError("not an llmux API key");
  if (key.size() != want) return InvalidArgumentError("malformed API key: wrong length");
  std::string_view prefix = key.substr(kApiKeyTag.size(), kApiKeyPrefixChars);
  for (char c : prefix) {
    if (!IsBase32Char(c)) return InvalidArgumentError("malformed API key: bad prefix");
  }
  if (key[kApiKeyTag.size() + kApiKeyPrefixChars] != '_')
    return InvalidArgumentError("malformed API key");
  std::string_view secret = key.substr(kApiKeyTag.size() + kApiKeyPrefixChars + 1);
  for (char c : secret) {
    if (!IsBase62Char(c)) return InvalidArgumentError("malformed API key: bad secret");
  }
  return ParsedApiKey{std::string(prefix), std::string(secret)};
}

std::string HashApiKeySecret(std::string_view secret) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(secret.data(), secret.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

bool VerifyApiKeySecret(std::string_view secret, std::string_view stored_hash) {
  std::string h = HashApiKeySecret(secret);
  // The length is public (always 64); only the content is compared in constant time.
  if (stored_hash.size() != h.size()) return false;
  return CRYPTO_memcmp(h.data(), stored_hash.data(), h.size()) == 0;
}

std::string RedactApiKeys(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t hit = text.find(kApiKeyTag, i);
    if (hit == std::string_view::npos) break;
    size_t p = hit + kApiKeyTag.size();
    size_t q = p;
    while (q < text.size() && q - p < kApiKeyPrefixChars && IsBase32Char(text[q])) ++q;
    bool looks_like_key = q - p == kApiKeyPrefixChars && q < text.size() && text[q] == '_' &&
                          q + 1 < text.size() && IsBase62Char(text[q + 1]);
    if (!looks_like_key) {
      out.append(text.substr(i, p - i));
      i = p;
      continue;
    }
    size_t end = q + 1;
    while (end < text.size() && IsBase62Char(text[end])) ++end;
    out.append(text.substr(i, q + 1 - i));  // text before, tag, prefix, '_'
    out += "***";
    i = end;
  }
  out.append(text.substr(i));
  return out;
}

}  // namespace llmux::auth
