// llmux's own access tokens, for users who log in with a password (POST /auth/login): EdDSA
// (Ed25519) JWTs with iss = aud = "llmux", sub = "user:<id>", a short lifetime and a jti. The
// signing key lives in the data directory (PKCS#8 PEM, mode 0600) so tokens survive a restart;
// other services can verify them with the public JWK. Roles are not in the token: they are
// read from the store on each use, so a role change or a disabled user applies at once. The
// token carries the user's login session generation ("sgen"): LocalAuthService accepts it only
// while the stored generation is the same, so ending a user's sessions ends their access tokens
// too (other services that only check the signature cannot see that).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/jwk.h"
#include "auth/jwt.h"
#include "base/status.h"

namespace llmux::auth {

inline constexpr std::string_view kOwnIssuer = "llmux";

struct IssuedToken {
  std::string token;
  int64_t expires_at = 0;  // unix seconds
};

// What a verified token of ours says.
struct OwnTokenClaims {
  int64_t user_id = 0;
  int64_t session_generation = 0;  // 0 for tokens issued before generations existed
};

class TokenIssuer {
 public:
  // Loads the key from `key_file`, or creates it there (0600) when the file does not exist.
  static Result<std::unique_ptr<TokenIssuer>> LoadOrCreate(const std::string& key_file,
                                                           UnixClock clock = nullptr);
  // A fresh in-memory key (tests).
  static Result<std::unique_ptr<TokenIssuer>> Ephemeral(UnixClock clock = nullptr);

  Result<IssuedToken> Issue(int64_t user_id, int64_t session_generation, int64_t lifetime_s) const;

  // True when `token` claims to be ours (header kid is our key's), so it is not sent to an
  // external issuer's verifier.
  bool IsOurs(std::string_view token) const;
  // Verifies signature, iss, aud, exp/nbf; returns the user id of "sub" and the generation.
  Result<OwnTokenClaims> Verify(std::string_view token) const;

  // {"keys":[<our public key>]} for other services.
  Result<std::string> PublicJwks() const;

 private:
  TokenIssuer(JwtKey key, UnixClock clock) : key_(std::move(key)), clock_(std::move(clock)) {}
  int64_t Now() const;

  JwtKey key_;
  UnixClock clock_;
};

// 32 random bytes, base64url: a refresh token. Only its SHA-256 (hex) is stored.
Result<std::string> NewOpaqueToken();
std::string HashOpaqueToken(std::string_view token);

}  // namespace llmux::auth
