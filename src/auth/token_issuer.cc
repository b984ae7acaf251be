#include "auth/token_issuer.h"

#include <openssl/rand.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "auth/api_key.h"
#include "auth/base64url.h"
#include "auth/jws.h"
#include "base/private_file.h"

namespace llmux::auth {

namespace {

// The user's login session generation when the token was issued (StoredUser).
constexpr char kSessionGenerationClaim[] = "sgen";

Result<std::string> RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    return InternalError("the random generator failed");
  }
  return bytes;
}

// The key id: a short hash of the public key, so a new key gets a new kid.
Result<std::string> KidOf(const JwtKey& key) {
  LLMUX_ASSIGN_OR_RETURN(std::string jwk, key.PublicJwkJson());
  return "llmux-" + HashApiKeySecret(jwk).substr(0, 16);
}

Result<JwtKey> WithKid(const JwtKey& key) {
  LLMUX_ASSIGN_OR_RETURN(std::string pem, key.PrivateKeyPem());
  LLMUX_ASSIGN_OR_RETURN(std::string kid, KidOf(key));
  return JwtKey::FromPem(pem, kid);
}

}  // namespace

Result<std::string> NewOpaqueToken() {
  LLMUX_ASSIGN_OR_RETURN(std::string bytes, RandomBytes(32));
  return Base64UrlEncode(bytes);
}

std::string HashOpaqueToken(std::string_view token) { return HashApiKeySecret(token); }

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::Ephemeral(UnixClock clock) {
  LLMUX_ASSIGN_OR_RETURN(JwtKey fresh, JwtKey::GenerateEd25519());
  LLMUX_ASSIGN_OR_RETURN(JwtKey key, WithKid(fresh));
  return std::unique_ptr<TokenIssuer>(new TokenIssuer(std::move(key), std::move(clock)));
}

Result<std::unique_ptr<TokenIssuer>> TokenIssuer::LoadOrCreate(const std::string& key_file,
                                                               UnixClock clock) {
  std::ifstream in(key_file, std::ios::binary);
  if (in) {
    std::string pem((std::istreambuf_iterator<char>(in)), {});
    auto loaded = JwtKey::FromPem(pem);
    if (!loaded.ok() || loaded->type() != JwtKeyType::kEd25519 || !loaded->has_private_key()) {
      return DataLossError("the token signing key " + key_file + " is not an Ed25519 private key");
    }
    LLMUX_ASSIGN_OR_RETURN(JwtKey key, WithKid(*loaded));
    return std::unique_ptr<TokenIssuer>(new TokenIssuer(std::move(key), std::move(clock)));
  }
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<TokenIssuer> issuer, Ephemeral(std::move(clock)));
  LLMUX_ASSIGN_OR_RETURN(std::string pem, issuer->key_.PrivateKeyPem());
  LLMUX_RETURN_IF_ERROR(WriteNewPrivateFile(key_file, pem).WithContext("the token signing key"));
  return issuer;
}

int64_t TokenIssuer::Now() const { return clock_ ? clock_() : SystemUnixSeconds(); }

Result<IssuedToken> TokenIssuer::Issue(int64_t user_id, int64_t session_generation,
                                       int64_t lifetime_s) const {
  const int64_t now = Now();
  LLMUX_ASSIGN_OR_RETURN(std::string jti, RandomBytes(16));
  nlohmann::json claims = {{"iss", kOwnIssuer},
                           {"aud", kOwnIssuer},
                           {"sub", "user:" + std::to_string(user_id)},
                           {"iat", now},
                           {"nbf", now},
                           {"exp", now + lifetime_s},
                           {"jti", Base64UrlEncode(jti)},
                           {kSessionGenerationClaim, session_generation}};
  LLMUX_ASSIGN_OR_RETURN(std::string token, SignJwt(claims, key_));
  return IssuedToken{std::move(token), now + lifetime_s};
}

bool TokenIssuer::IsOurs(std::string_view token) const {
  auto jws = ParseCompactJws(token);
  return jws.ok() && jws->kid == key_.kid();
}

Result<OwnTokenClaims> TokenIssuer::Verify(std::string_view token) const {
  JwtValidationOptions options;
  options.allowed_algs = {JwtAlg::kEdDSA};
  options.issuer = std::string(kOwnIssuer);
  options.audiences = {std::string(kOwnIssuer)};
  options.leeway_seconds = 5;
  if (clock_) options.clock = clock_;
  LLMUX_ASSIGN_OR_RETURN(JwtClaims claims, VerifyJwt(token, key_, options));
  constexpr std::string_view kUserPrefix = "user:";
  if (claims.subject.rfind(kUserPrefix, 0) != 0) return InvalidArgumentError("token subject is not a user");
  const std::string_view digits = std::string_view(claims.subject).substr(kUserPrefix.size());
  int64_t id = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || end != digits.data() + digits.size() || id <= 0) {
    return InvalidArgumentError("token subject is not a user");
  }
  OwnTokenClaims out;
  out.user_id = id;
  // Absent in tokens issued before generations existed: those count as generation 0.
  if (auto gen = claims.raw.find(kSessionGenerationClaim); gen != claims.raw.end()) {
    if (!gen->is_number_integer() || gen->get<int64_t>() < 0) {
      return InvalidArgumentError("token session generation is malformed");
    }
    out.session_generation = gen->get<int64_t>();
  }
  return out;
}

Result<std::string> TokenIssuer::PublicJwks() const {
  LLMUX_ASSIGN_OR_RETURN(std::string jwk, key_.PublicJwkJson());
  return "{\"keys\":[" + jwk + "]}";
}

}  // namespace llmux::auth
