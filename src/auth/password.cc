#include "auth/password.h"

#include <argon2.h>
#include <openssl/rand.h>

#include <string>
#include <vector>

namespace llmux::auth {

Result<std::string> HashPassword(std::string_view password, const Argon2Params& params) {
  if (password.empty()) return InvalidArgumentError("password must not be empty");
  if (password.size() > kMaxPasswordBytes) return InvalidArgumentError("password is too long");
  unsigned char salt[kArgon2SaltBytes];
  if (RAND_bytes(salt, sizeof(salt)) != 1) return InternalError("RAND_bytes failed");
  size_t len = argon2_encodedlen(params.t_cost, params.m_cost_kib, params.parallelism,
                                 kArgon2SaltBytes, kArgon2HashBytes, Argon2_id);
  std::vector<char> encoded(len + 1, '\0');
  int rc = argon2id_hash_encoded(params.t_cost, params.m_cost_kib, params.parallelism,
                                 password.data(), password.size(), salt, sizeof(salt),
                                 kArgon2HashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return InvalidArgumentError(std::string("argon2id: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  if (encoded.substr(0, 10) != "$argon2id$") return InvalidArgumentError("not an argon2id hash");
  if (password.empty() || password.size() > kMaxPasswordBytes) return false;
  std::string enc(encoded);  // libargon2 wants a NUL-terminated string
  int rc = argon2id_verify(enc.c_str(), password.data(), password.size());
  if (rc == ARGON2_OK) return true;
  if (rc == ARGON2_VERIFY_MISMATCH) return false;
  return InvalidArgumentError(std::string("argon2id: ") + argon2_error_message(rc));
}

bool PasswordNeedsRehash(std::string_view encoded, const Argon2Params& p) {
  std::string want = "$argon2id$v=19$m=" + std::to_string(p.m_cost_kib) +
                     ",t=" + std::to_string(p.t_cost) + ",p=" + std::to_string(p.parallelism) + "$";
  return encoded.substr(0, want.size()) != want;
}

}  // namespace llmux::auth
