// Keys for JSON Web Tokens: an HMAC secret or an OpenSSL EVP_PKEY, and JWKS (RFC 7517)
// parsing for an external OIDC issuer's public keys.
//
// Why not a library: Debian 12's libjwt (1.10.2) knows HS/RS/ES but not EdDSA, and has no
// JWK/JWKS support; nothing else in Debian 12 fits a C++ build. The JOSE layer we need is
// small, so it is written here on OpenSSL 3's EVP API, which does the actual cryptography.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::auth {

// The algorithms llmux accepts. Each key type serves exactly one of them, which is what
// makes algorithm confusion impossible: the key decides, not the token header.
enum class JwtAlg { kHS256, kRS256, kES256, kEdDSA };

std::string_view JwtAlgName(JwtAlg alg);
// Case-sensitive, as JOSE says; "none" in any spelling gets its own explicit error.
Result<JwtAlg> ParseJwtAlg(std::string_view name);

enum class JwtKeyType { kHmac, kRsa, kEcP256, kEd25519 };
std::string_view JwtKeyTypeName(JwtKeyType type);

inline constexpr size_t kMinHmacSecretBytes = 32;
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;

class JwtKey {
 public:
  // HS256 secret, at least 32 bytes.
  static Result<JwtKey> FromHmacSecret(std::string secret, std::string kid = "");
  // PEM private key ("BEGIN PRIVATE KEY", can sign and verify) or public key ("BEGIN PUBLIC
  // KEY", verify only): RSA >= 2048 bits, EC P-256 or Ed25519.
  static Result<JwtKey> FromPem(std::string_view pem, std::string kid = "");
  // Takes one reference to `pkey` (the caller keeps its own).
  static Result<JwtKey> FromPkey(EVP_PKEY* pkey, bool has_private, std::string kid = "");
  static Result<JwtKey> GenerateEd25519(std::string kid = "");
  // One JWK object (public parts only; "oct" keys are refused: a symmetric key published
  // in a key document would be public).
  static Result<JwtKey> FromJwk(std::string_view jwk_json);

  JwtKeyType type() const { return type_; }
  const std::string& kid() const { return kid_; }
  // The JWK's optional "alg" member ("" when absent).
  const std::string& jwk_alg() const { return jwk_alg_; }
  bool has_private_key() const { return has_private_; }
  // The one algorithm this key is for.
  JwtAlg alg() const;
  // alg matches the key type, and the JWK's "alg" member when it has one.
  bool CanVerify(JwtAlg alg) const;

  EVP_PKEY* pkey() const { return pkey_.get(); }
  const std::string& hmac_secret() const { return secret_; }

  // {"kty":...,"kid":...,"use":"sig","alg":...} with public parts only; for serving
  // llmux's own key set. Not for HMAC keys.
  Result<std::string> PublicJwkJson() const;
  // PKCS#8 PEM of the private key (to persist a generated signing key).
  Result<std::string> PrivateKeyPem() const;

 private:
  JwtKeyType type_ = JwtKeyType::kHmac;
  std::string kid_;
  std::string jwk_alg_;
  bool has_private_ = false;
  std::string secret_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// {"keys":[...]}: keys we cannot use (other kty or curve, "use" other than "sig", broken
// members) are skipped so one odd key does not take the whole set down. Error only when
// the document itself is malformed.
Result<std::vector<JwtKey>> ParseJwks(std::string_view json);

}  // namespace llmux::auth
