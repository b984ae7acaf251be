// libFuzzer target: the JWT/JWS parser and verifier and the JWKS parser (src/auth: jws, jwt,
// jwk) with fixed keys (jwt_fuzz_keys.h). The first byte picks what the rest is:
//   'S'  a key (next byte) and "<header bytes>\n<payload bytes>": signed here with that key,
//        then verified, and verified again with one character of the token changed;
//   'K'  a JWKS document: its keys are checked and verify tokens signed with the fixed keys;
//   else the whole input is a compact token, verified with every fixed key.
//
// What must hold: nothing crashes; a refusal is InvalidArgument (NotFound for an unknown kid);
// a parsed token re-encodes to its own text (the base64url decoder accepts one encoding per
// byte string); a token is accepted only with the signature its key makes (HS256, RS256 and
// EdDSA signatures are deterministic; an ES256 one is checked with OpenSSL directly) and with
// the claims the options require; a key verifies what it signed; a token with one character
// changed is refused; a key read from a JWKS reads back the same from its own JWK, and
// verifies a token only when it is the signer's public key.
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/base64url.h"
#include "auth/jws.h"
#include "auth/jwt.h"
#include "fuzz_check.h"
#include "json_mutator.h"
#include "jwt_fuzz_keys.h"

namespace {

namespace auth = llmux::auth;
using auth::JwtAlg;
using auth::JwtKey;
using llmux::StatusCode;

auth::JwtValidationOptions Strict() {
  auth::JwtValidationOptions o;
  o.issuer = llmux::fuzz::kJwtFuzzIssuer;
  o.audiences = {llmux::fuzz::kJwtFuzzAudience};
  o.clock = [] { return llmux::fuzz::kJwtFuzzNow; };
  return o;
}

auth::JwtValidationOptions Lax() {
  auth::JwtValidationOptions o;
  o.require_exp = false;
  o.clock = [] { return llmux::fuzz::kJwtFuzzNow; };
  return o;
}

// An ES256 signature (r || s) over `input`, checked by OpenSSL without llmux's conversion.
bool EcdsaValid(const JwtKey& key, std::string_view input, std::string_view sig) {
  if (sig.size() != 64) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* s = ECDSA_SIG_new();
  ECDSA_SIG_set0(s, BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(s, &der);
  ECDSA_SIG_free(s);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      der_len > 0 && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.pkey()) == 1 &&
      EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

// Whether `sig` is what `key` makes over `input`.
bool Genuine(const JwtKey& key, std::string_view input, std::string_view sig) {
  if (key.alg() == JwtAlg::kES256) return EcdsaValid(key, input, sig);
  auto made = auth::SignJwsInput(key.alg(), key, input);
  FUZZ_CHECK(made.ok(), "the fixed keys sign");
  return *made == sig;
}

void CheckRefusal(const llmux::Status& s) {
  FUZZ_CHECK(s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound,
             "a refused token is InvalidArgument or NotFound");
  FUZZ_CHECK(!s.message().empty(), "a refusal says why");
}

void CheckParsed(std::string_view token, const auth::CompactJws& jws) {
  FUZZ_CHECK(token.size() <= auth::kMaxJwsBytes, "no token over the size limit is parsed");
  const size_t d1 = token.find('.');
  const size_t d2 = token.rfind('.');
  FUZZ_CHECK(jws.signing_input == token.substr(0, d2), "the signing input is the token's head");
  const auto header = auth::Base64UrlDecode(token.substr(0, d1));
  FUZZ_CHECK(header.ok() && auth::Base64UrlEncode(*header) == token.substr(0, d1),
             "the header has one encoding");
  FUZZ_CHECK(auth::Base64UrlEncode(jws.payload) == token.substr(d1 + 1, d2 - d1 - 1),
             "the payload has one encoding");
  FUZZ_CHECK(auth::Base64UrlEncode(jws.signature) == token.substr(d2 + 1),
             "the signature has one encoding");
  FUZZ_CHECK(jws.header.is_object() && jws.header.at("alg") == jws.alg,
             "alg comes from the header");
}

// A token accepted with `key` under `options`.
void CheckAccepted(const auth::JwtClaims& claims, const auth::CompactJws& jws, const JwtKey& key,
                   const auth::JwtValidationOptions& options) {
  FUZZ_CHECK(claims.alg == key.alg() && jws.alg == auth::JwtAlgName(key.alg()),
             "a key accepts only its own algorithm");
  FUZZ_CHECK(Genuine(key, jws.signing_input, jws.signature),
             "a token is accepted only with its key's signature");
  const int64_t now = llmux::fuzz::kJwtFuzzNow;
  if (options.require_exp) {
    FUZZ_CHECK(claims.expires_at && now < *claims.expires_at + options.leeway_seconds,
               "an accepted token has not expired");
  }
  if (!options.issuer.empty()) FUZZ_CHECK(claims.issuer == options.issuer, "the issuer matches");
  if (!options.audiences.empty()) {
    FUZZ_CHECK(std::find(claims.audience.begin(), claims.audience.end(), options.audiences[0]) !=
                   claims.audience.end(),
               "the audience matches");
  }
}

// Verifies `token` with each fixed key and with the whole set; returns whether any accepted.
bool VerifyEveryWay(std::string_view token) {
  const auto jws = auth::ParseCompactJws(token);
  if (jws.ok()) CheckParsed(token, *jws);
  bool accepted = false;
  for (const auto& options : {Strict(), Lax()}) {
    for (const JwtKey& key : llmux::fuzz::JwtFuzzKeys()) {
      auto claims = auth::VerifyJwt(token, key, options);
      if (!claims.ok()) {
        CheckRefusal(claims.status());
        continue;
      }
      FUZZ_CHECK(jws.ok(), "an accepted token parses");
      CheckAccepted(*claims, *jws, key, options);
      accepted = true;
    }
    auto claims = auth::VerifyJwt(token, llmux::fuzz::JwtFuzzKeys(), options);
    if (!claims.ok()) {
      CheckRefusal(claims.status());
      continue;
    }
    FUZZ_CHECK(jws.ok(), "an accepted token parses");
    bool signer = false;
    for (const JwtKey& key : llmux::fuzz::JwtFuzzKeys()) {
      signer =
          signer || (key.alg() == claims->alg && Genuine(key, jws->signing_input, jws->signature));
    }
    FUZZ_CHECK(signer, "a key set accepts a token only with one of its keys' signatures");
    accepted = true;
  }
  return accepted;
}

void SignAndVerify(std::string_view rest) {
  if (rest.empty()) return;
  const auto& keys = llmux::fuzz::JwtFuzzKeys();
  const JwtKey& key = keys[static_cast<unsigned char>(rest[0]) % keys.size()];
  rest.remove_prefix(1);
  const size_t nl = std::min(rest.find('\n'), rest.size());
  const std::string input = auth::Base64UrlEncode(rest.substr(0, nl)) + "." +
                            auth::Base64UrlEncode(rest.substr(std::min(nl + 1, rest.size())));
  auto sig = auth::SignJwsInput(key.alg(), key, input);
  FUZZ_CHECK(sig.ok(), "the fixed keys sign");
  const std::string token = input + "." + auth::Base64UrlEncode(*sig);
  if (auto jws = auth::ParseCompactJws(token);
      jws.ok() && jws->alg == auth::JwtAlgName(key.alg())) {
    FUZZ_CHECK(auth::VerifyJwsSignature(key.alg(), key, jws->signing_input, jws->signature).ok(),
               "a key verifies its own signature");
  }
  VerifyEveryWay(token);

  // One character changed, to another one of the alphabet or a dot: never accepted.
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  const size_t at = (rest.size() * 7919) % token.size();
  std::string changed = token;
  changed[at] = kChars[(kChars.find(token[at]) + 1 + rest.size()) % kChars.size()];
  if (changed[at] == token[at]) changed[at] = changed[at] == 'A' ? 'B' : 'A';
  FUZZ_CHECK(!VerifyEveryWay(changed), "a token with a character changed is refused");
}

// Tokens signed with each fixed key, made once.
const std::vector<std::string>& SignedTokens() {
  static const auto* tokens = [] {
    auto* all = new std::vector<std::string>;
    for (const JwtKey& key : llmux::fuzz::JwtFuzzKeys()) {
      auto token = auth::SignJwt({{"sub", "fuzz"}, {"exp", llmux::fuzz::kJwtFuzzNow + 60}}, key);
      FUZZ_CHECK(token.ok(), "the fixed keys sign");
      all->push_back(*token);
    }
    return all;
  }();
  return *tokens;
}

void CheckJwks(std::string_view text) {
  auto set = auth::ParseJwks(text);
  if (!set.ok()) {
    FUZZ_CHECK(set.status().code() == StatusCode::kInvalidArgument,
               "a bad JWKS is InvalidArgument");
    return;
  }
  for (const JwtKey& key : *set) {
    FUZZ_CHECK(!key.has_private_key() && key.type() != auth::JwtKeyType::kHmac,
               "a key set holds public keys only");
    FUZZ_CHECK(key.CanVerify(key.alg()), "a key from a JWKS verifies its algorithm");
    auto jwk = key.PublicJwkJson();
    FUZZ_CHECK(jwk.ok(), "a key from a JWKS is written as a JWK");
    auto again = JwtKey::FromJwk(*jwk);
    FUZZ_CHECK(again.ok() && again->type() == key.type() && again->kid() == key.kid(),
               "a written JWK reads back");
    FUZZ_CHECK(again->PublicJwkJson().value() == *jwk, "a JWK reads back the same");
  }
  const auto& signers = llmux::fuzz::JwtFuzzKeys();
  for (size_t i = 0; i < signers.size(); ++i) {
    auto claims = auth::VerifyJwt(SignedTokens()[i], *set, Lax());
    if (!claims.ok()) {
      CheckRefusal(claims.status());
      continue;
    }
    bool holds_signer = false;
    for (const JwtKey& key : *set) {
      holds_signer = holds_signer || (signers[i].pkey() != nullptr &&
                                      EVP_PKEY_eq(key.pkey(), signers[i].pkey()) == 1);
    }
    FUZZ_CHECK(holds_signer, "a key set verifies a token only with the signer's public key");
  }
}

}  // namespace

LLMUX_FUZZ_JSON_MUTATOR

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (!in.empty() && in[0] == 'S') {
    SignAndVerify(in.substr(1));
  } else if (!in.empty() && in[0] == 'K') {
    CheckJwks(in.substr(1));
  } else {
    VerifyEveryWay(in);
  }
  return 0;
}
