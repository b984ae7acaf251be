#include "auth/jwk.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include "auth/base64url.h"
#include "auth/openssl_util.h"
#include "base/json_nesting.h"

namespace llmux::auth {
namespace {

using nlohmann::json;

// The curve named by a JWK's "crv" ("" when absent or not a string: json::value() would throw).
std::string Curve(const json& j) {
  auto it = j.find("crv");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::string> B64Member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string())
    return InvalidArgumentError(std::string("JWK: missing member ") + name);
  auto r = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!r.ok()) return r.status().WithContext(std::string("JWK member ") + name);
  return r;
}

Result<ossl::BnPtr> ToBn(const std::string& bytes) {
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr);
  if (bn == nullptr) return InternalError("BN_bin2bn: " + ossl::DrainErrors());
  return ossl::BnPtr(bn);
}

Result<EVP_PKEY*> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  ossl::ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pk = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pk, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return InvalidArgumentError(std::string("JWK: invalid ") + type +
                                " key: " + ossl::DrainErrors());
  }
  return pk;
}

Result<EVP_PKEY*> RsaFromJwk(const json& j) {
  LLMUX_ASSIGN_OR_RETURN(std::string n, B64Member(j, "n"));
  LLMUX_ASSIGN_OR_RETURN(std::string e, B64Member(j, "e"));
  if (n.empty() || e.empty() || e.size() > 8) return InvalidArgumentError("JWK: bad RSA n/e");
  LLMUX_ASSIGN_OR_RETURN(ossl::BnPtr nb, ToBn(n));
  LLMUX_ASSIGN_OR_RETURN(ossl::BnPtr eb, ToBn(e));
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, nb.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, eb.get()) != 1) {
    return InternalError("OSSL_PARAM_BLD: " + ossl::DrainErrors());
  }
  return FromData("RSA", bld.get());
}

Result<EVP_PKEY*> EcFromJwk(const json& j) {
  if (Curve(j) != "P-256") return UnimplementedError("JWK: only EC curve P-256 is supported");
  LLMUX_ASSIGN_OR_RETURN(std::string x, B64Member(j, "x"));
  LLMUX_ASSIGN_OR_RETURN(std::string y, B64Member(j, "y"));
  if (x.size() != 32 || y.size() != 32)
    return InvalidArgumentError("JWK: P-256 x/y must be 32 bytes");
  std::string point = "\x04" + x + y;  // SEC1 uncompressed point
  ossl::ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return InternalError("OSSL_PARAM_BLD: " + ossl::DrainErrors());
  }
  return FromData("EC", bld.get());
}

Result<EVP_PKEY*> OkpFromJwk(const json& j) {
  if (Curve(j) != "Ed25519") return UnimplementedError("JWK: only OKP curve Ed25519 is supported");
  LLMUX_ASSIGN_OR_RETURN(std::string x, B64Member(j, "x"));
  if (x.size() != 32) return InvalidArgumentError("JWK: Ed25519 x must be 32 bytes");
  EVP_PKEY* pk = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size());
  if (pk == nullptr)
    return InvalidArgumentError("JWK: invalid Ed25519 key: " + ossl::DrainErrors());
  return pk;
}

Result<JwtKey> FromJwkObject(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("JWK must be a JSON object");
  auto kty_it = j.find("kty");
  if (kty_it == j.end() || !kty_it->is_string()) return InvalidArgumentError("JWK: missing kty");
  const std::string& kty = kty_it->get_ref<const std::string&>();
  if (j.contains("use") && j["use"] != "sig")
    return InvalidArgumentError("JWK: not a signing key (use != sig)");
  std::string kid, alg;
  if (j.contains("kid")) {
    if (!j["kid"].is_string()) return InvalidArgumentError("JWK: kid must be a string");
    kid = j["kid"].get<std::string>();
  }
  if (j.contains("alg")) {
    if (!j["alg"].is_string()) return InvalidArgumentError("JWK: alg must be a string");
    alg = j["alg"].get<std::string>();
  }
  Result<EVP_PKEY*> pk = UnimplementedError("JWK: unsupported kty '" + kty + "'");
  if (kty == "RSA")
    pk = RsaFromJwk(j);
  else if (kty == "EC")
    pk = EcFromJwk(j);
  else if (kty == "OKP")
    pk = OkpFromJwk(j);
  else if (kty == "oct")
    return InvalidArgumentError("JWK: symmetric (oct) keys are not accepted from a key set");
  if (!pk.ok()) return pk.status();
  auto key = JwtKey::FromPkey(*pk, /*has_private=*/false, kid);
  EVP_PKEY_free(*pk);
  if (!key.ok()) return key.status();
  if (!alg.empty()) {
    // Keep the JWK's declared alg; CanVerify() insists on it.
    JwtKey k = std::move(key).value();
    auto parsed = ParseJwtAlg(alg);
    if (!parsed.ok() || *parsed != k.alg()) {
      return InvalidArgumentError("JWK: alg '" + alg + "' does not fit a " +
                                  std::string(JwtKeyTypeName(k.type())) + " key");
    }
    return k;
  }
  return key;
}

std::string BnToBytes(const BIGNUM* bn, int pad) {
  int n = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

Result<std::string> BnParamB64(EVP_PKEY* pk, const char* name, int pad) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
    return InternalError(std::string("key param ") + name + ": " + ossl::DrainErrors());
  ossl::BnPtr owned(bn);
  return Base64UrlEncode(BnToBytes(bn, pad));
}

}  // namespace

std::string_view JwtAlgName(JwtAlg alg) {
  switch (alg) {
    case JwtAlg::kHS256:
      return "HS256";
    case JwtAlg::kRS256:
      return "RS256";
    case JwtAlg::kES256:
      return "ES256";
    case JwtAlg::kEdDSA:
      return "EdDSA";
  }
  return "?";
}

Result<JwtAlg> ParseJwtAlg(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "none") return InvalidArgumentError("JWT: unsigned tokens (alg none) are refused");
  if (name == "HS256") return JwtAlg::kHS256;
  if (name == "RS256") return JwtAlg::kRS256;
  if (name == "ES256") return JwtAlg::kES256;
  if (name == "EdDSA") return JwtAlg::kEdDSA;
  return InvalidArgumentError("JWT: unsupported algorithm '" + std::string(name.substr(0, 32)) +
                              "'");
}

std::string_view JwtKeyTypeName(JwtKeyType type) {
  switch (type) {
    case JwtKeyType::kHmac:
      return "HMAC";
    case JwtKeyType::kRsa:
      return "RSA";
    case JwtKeyType::kEcP256:
      return "EC P-256";
    case JwtKeyType::kEd25519:
      return "Ed25519";
  }
  return "?";
}

JwtAlg JwtKey::alg() const {
  switch (type_) {
    case JwtKeyType::kHmac:
      return JwtAlg::kHS256;
    case JwtKeyType::kRsa:
      return JwtAlg::kRS256;
    case JwtKeyType::kEcP256:
      return JwtAlg::kES256;
    case JwtKeyType::kEd25519:
      return JwtAlg::kEdDSA;
  }
  return JwtAlg::kHS256;
}

bool JwtKey::CanVerify(JwtAlg a) const {
  if (a != alg()) return false;
  return jwk_alg_.empty() || jwk_alg_ == JwtAlgName(a);
}

Result<JwtKey> JwtKey::FromHmacSecret(std::string secret, std::string kid) {
  if (secret.size() < kMinHmacSecretBytes) {
    return InvalidArgumentError("HS256 secret must be at least " +
                                std::to_string(kMinHmacSecretBytes) + " bytes");
  }
  JwtKey k;
  k.type_ = JwtKeyType::kHmac;
  k.secret_ = std::move(secret);
  k.kid_ = std::move(kid);
  k.has_private_ = true;
  return k;
}

Result<JwtKey> JwtKey::FromPkey(EVP_PKEY* pkey, bool has_private, std::string kid) {
  if (pkey == nullptr) return InvalidArgumentError("null key");
  JwtKey k;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      return InvalidArgumentError("RSA key size " + std::to_string(bits) +
                                  " outside [2048, 8192] bits");
    }
    k.type_ = JwtKeyType::kRsa;
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1) {
      return InvalidArgumentError("EC key without a named group: " + ossl::DrainErrors());
    }
    std::string g(group, len);
    if (g != "prime256v1" && g != "P-256")
      return UnimplementedError("EC curve " + g + " is not supported (P-256 only)");
    // Make sure the public point is valid on the curve.
    ossl::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1) {
      return InvalidArgumentError("EC public key check failed: " + ossl::DrainErrors());
    }
    k.type_ = JwtKeyType::kEcP256;
  } else if (EVP_PKEY_is_a(pkey, "ED25519")) {
    k.type_ = JwtKeyType::kEd25519;
  } else {
    return UnimplementedError("key type is not supported (RSA, EC P-256, Ed25519)");
  }
  EVP_PKEY_up_ref(pkey);
  k.pkey_ = ossl::SharePkey(pkey);
  k.has_private_ = has_private;
  k.kid_ = std::move(kid);
  return k;
}

Result<JwtKey> JwtKey::FromPem(std::string_view pem, std::string kid) {
  bool is_private = pem.find("PRIVATE KEY-----") != std::string_view::npos;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return InternalError("BIO_new_mem_buf failed");
  EVP_PKEY* pk = is_private ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                            : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (pk == nullptr) return InvalidArgumentError("cannot read PEM key: " + ossl::DrainErrors());
  auto k = FromPkey(pk, is_private, std::move(kid));
  EVP_PKEY_free(pk);
  return k;
}

Result<JwtKey> JwtKey::GenerateEd25519(std::string kid) {
  EVP_PKEY* pk = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pk == nullptr) return InternalError("Ed25519 keygen: " + ossl::DrainErrors());
  auto k = FromPkey(pk, true, std::move(kid));
  EVP_PKEY_free(pk);
  return k;
}

Result<JwtKey> JwtKey::FromJwk(std::string_view jwk_json) {
  if (!JsonNestingWithin(jwk_json)) return InvalidArgumentError("JWK: " + JsonTooDeepMessage());
  json j = json::parse(jwk_json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("JWK: invalid JSON");
  return FromJwkObject(j);
}

Result<std::string> JwtKey::PublicJwkJson() const {
  json j;
  switch (type_) {
    case JwtKeyType::kHmac:
      return InvalidArgumentError("HMAC keys are never published");
    case JwtKeyType::kRsa: {
      j["kty"] = "RSA";
      LLMUX_ASSIGN_OR_RETURN(j["n"], BnParamB64(pkey(), OSSL_PKEY_PARAM_RSA_N, 0));
      LLMUX_ASSIGN_OR_RETURN(j["e"], BnParamB64(pkey(), OSSL_PKEY_PARAM_RSA_E, 0));
      break;
    }
    case JwtKeyType::kEcP256: {
      j["kty"] = "EC";
      j["crv"] = "P-256";
      LLMUX_ASSIGN_OR_RETURN(j["x"], BnParamB64(pkey(), OSSL_PKEY_PARAM_EC_PUB_X, 32));
      LLMUX_ASSIGN_OR_RETURN(j["y"], BnParamB64(pkey(), OSSL_PKEY_PARAM_EC_PUB_Y, 32));
      break;
    }
    case JwtKeyType::kEd25519: {
      unsigned char raw[32];
      size_t len = sizeof(raw);
      if (EVP_PKEY_get_raw_public_key(pkey(), raw, &len) != 1 || len != 32) {
        return InternalError("Ed25519 raw public key: " + ossl::DrainErrors());
      }
      j["kty"] = "OKP";
      j["crv"] = "Ed25519";
      j["x"] = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), len));
      break;
    }
  }
  if (!kid_.empty()) j["kid"] = kid_;
  j["use"] = "sig";
  j["alg"] = std::string(JwtAlgName(alg()));
  return j.dump();
}

Result<std::string> JwtKey::PrivateKeyPem() const {
  if (type_ == JwtKeyType::kHmac || !has_private_) return InvalidArgumentError("no private key");
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return InternalError("BIO_new failed");
  std::string out;
  if (PEM_write_bio_PrivateKey(bio, pkey(), nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    out.assign(data, static_cast<size_t>(n));
  }
  BIO_free(bio);
  if (out.empty()) return InternalError("PEM_write_bio_PrivateKey: " + ossl::DrainErrors());
  return out;
}

Result<std::vector<JwtKey>> ParseJwks(std::string_view text) {
  if (!JsonNestingWithin(text)) return InvalidArgumentError("JWKS: " + JsonTooDeepMessage());
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError("JWKS: invalid JSON");
  if (!j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
    return InvalidArgumentError("JWKS: expected an object with a \"keys\" array");
  }
  std::vector<JwtKey> keys;
  for (const json& k : j["keys"]) {
    auto key = FromJwkObject(k);
    if (key.ok()) keys.push_back(std::move(key).value());
  }
  return keys;
}

}  // namespace llmux::auth
