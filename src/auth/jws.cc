#include "auth/jws.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>

#include "auth/base64url.h"
#include "auth/openssl_util.h"
#include "base/json_nesting.h"

namespace llmux::auth {
namespace {

using nlohmann::json;

const unsigned char* U8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), U8(data), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

const EVP_MD* DigestFor(JwtAlg alg) { return alg == JwtAlg::kEdDSA ? nullptr : EVP_sha256(); }

}  // namespace

Result<CompactJws> ParseCompactJws(std::string_view token) {
  if (token.size() > kMaxJwsBytes) return InvalidArgumentError("JWT: token too large");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return InvalidArgumentError("JWT: expected three dot-separated parts");
  }
  CompactJws jws;
  jws.signing_input = std::string(token.substr(0, d2));
  auto header = Base64UrlDecode(token.substr(0, d1));
  if (!header.ok()) return header.status().WithContext("JWT header");
  auto payload = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload.ok()) return payload.status().WithContext("JWT payload");
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!sig.ok()) return sig.status().WithContext("JWT signature");
  if (!JsonNestingWithin(*header) || !JsonNestingWithin(*payload)) {
    return InvalidArgumentError("JWT: " + JsonTooDeepMessage());
  }
  jws.header = json::parse(*header, nullptr, /*allow_exceptions=*/false);
  if (jws.header.is_discarded() || !jws.header.is_object())
    return InvalidArgumentError("JWT: header is not a JSON object");
  auto alg = jws.header.find("alg");
  if (alg == jws.header.end() || !alg->is_string())
    return InvalidArgumentError("JWT: header has no alg");
  jws.alg = alg->get<std::string>();
  if (auto kid = jws.header.find("kid"); kid != jws.header.end()) {
    if (!kid->is_string()) return InvalidArgumentError("JWT: kid must be a string");
    jws.kid = kid->get<std::string>();
  }
  if (jws.header.contains("crit"))
    return InvalidArgumentError("JWT: critical header extensions are not supported");
  jws.payload = std::move(payload).value();
  jws.signature = std::move(sig).value();
  return jws;
}

Result<std::string> SignJwsInput(JwtAlg alg, const JwtKey& key, std::string_view input) {
  if (!key.CanVerify(alg)) {
    return InvalidArgumentError("algorithm " + std::string(JwtAlgName(alg)) + " does not fit a " +
                                std::string(JwtKeyTypeName(key.type())) + " key");
  }
  if (!key.has_private_key()) return InvalidArgumentError("signing needs a private key");
  if (alg == JwtAlg::kHS256) return HmacSha256(key.hmac_secret(), input);
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(alg), nullptr, key.pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, U8(input), input.size()) != 1) {
    return InternalError("sign init: " + ossl::DrainErrors());
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, U8(input),
                     input.size()) != 1) {
    return InternalError("sign: " + ossl::DrainErrors());
  }
  sig.resize(len);
  if (alg == JwtAlg::kES256) return EcdsaDerToJose(sig, 32);
  return sig;
}

Status VerifyJwsSignature(JwtAlg alg, const JwtKey& key, std::string_view input,
                          std::string_view sig) {
  // The key's type decides which algorithm is possible. An HS256 header presented with an
  // RSA/EC/Ed25519 key fails here, whatever "secret" the attacker used.
  if (!key.CanVerify(alg)) {
    return InvalidArgumentError("JWT: algorithm " + std::string(JwtAlgName(alg)) +
                                " is not allowed for a " + std::string(JwtKeyTypeName(key.type())) +
                                " key");
  }
  if (alg == JwtAlg::kHS256) {
    std::string mac = HmacSha256(key.hmac_secret(), input);
    if (sig.size() != mac.size() || CRYPTO_memcmp(mac.data(), sig.data(), mac.size()) != 0) {
      return InvalidArgumentError("JWT: signature mismatch");
    }
    return Status::Ok();
  }
  std::string der;
  std::string_view raw = sig;
  if (alg == JwtAlg::kES256) {
    if (sig.size() != 64) return InvalidArgumentError("JWT: ES256 signature must be 64 bytes");
    auto d = EcdsaJoseToDer(sig);
    if (!d.ok()) return d.status();
    der = std::move(d).value();
    raw = der;
  } else if (alg == JwtAlg::kEdDSA && sig.size() != 64) {
    return InvalidArgumentError("JWT: EdDSA signature must be 64 bytes");
  } else if (alg == JwtAlg::kRS256 &&
             sig.size() != static_cast<size_t>(EVP_PKEY_get_size(key.pkey()))) {
    return InvalidArgumentError("JWT: RS256 signature has the wrong length");
  }
  ossl::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(alg), nullptr, key.pkey()) != 1) {
    return InternalError("verify init: " + ossl::DrainErrors());
  }
  int rc = EVP_DigestVerify(ctx.get(), U8(raw), raw.size(), U8(input), input.size());
  if (rc != 1) {
    ossl::DrainErrors();
    return InvalidArgumentError("JWT: signature mismatch");
  }
  return Status::Ok();
}

Result<std::string> SignCompactJws(const JwtKey& key, json header, std::string_view payload) {
  if (!header.is_object()) return InvalidArgumentError("JWS header must be an object");
  header["alg"] = std::string(JwtAlgName(key.alg()));
  if (!key.kid().empty()) header["kid"] = key.kid();
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload);
  LLMUX_ASSIGN_OR_RETURN(std::string sig, SignJwsInput(key.alg(), key, input));
  return input + "." + Base64UrlEncode(sig);
}

Result<std::string> EcdsaDerToJose(std::string_view der, size_t coord_bytes) {
  const unsigned char* p = U8(der);
  ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (s == nullptr) return InvalidArgumentError("bad DER ECDSA signature: " + ossl::DrainErrors());
  const BIGNUM* r = nullptr;
  const BIGNUM* sv = nullptr;
  ECDSA_SIG_get0(s, &r, &sv);
  std::string out(2 * coord_bytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int ok = BN_bn2binpad(r, o, static_cast<int>(coord_bytes)) > 0 &&
           BN_bn2binpad(sv, o + coord_bytes, static_cast<int>(coord_bytes)) > 0;
  ECDSA_SIG_free(s);
  if (!ok) return InvalidArgumentError("ECDSA signature component too large");
  return out;
}

Result<std::string> EcdsaJoseToDer(std::string_view jose) {
  if (jose.empty() || jose.size() % 2 != 0)
    return InvalidArgumentError("bad JOSE ECDSA signature length");
  size_t half = jose.size() / 2;
  BIGNUM* r = BN_bin2bn(U8(jose), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(U8(jose) + half, static_cast<int>(half), nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return InternalError("ECDSA_SIG: " + ossl::DrainErrors());
  }
  int len = i2d_ECDSA_SIG(sig, nullptr);
  std::string der(len > 0 ? static_cast<size_t>(len) : 0, '\0');
  unsigned char* p = reinterpret_cast<unsigned char*>(der.data());
  if (len <= 0 || i2d_ECDSA_SIG(sig, &p) != len) {
    ECDSA_SIG_free(sig);
    return InternalError("i2d_ECDSA_SIG: " + ossl::DrainErrors());
  }
  ECDSA_SIG_free(sig);
  return der;
}

}  // namespace llmux::auth
