#include "auth/test_keys.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <vector>

namespace llmux::auth::testing {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "test helper failed: %s\n", what);
    std::abort();
  }
}

std::string Bn(EVP_PKEY* k, const char* name, int pad) {
  BIGNUM* bn = nullptr;
  Check(EVP_PKEY_get_bn_param(k, name, &bn) == 1, name);
  int n = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  BN_free(bn);
  return out;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<size_t>(n));
  BIO_free(bio);
  return s;
}

}  // namespace

Pkey NewRsa() {
  return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
}
Pkey NewEc() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }
Pkey NewEd() { return Pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); }
EVP_PKEY* Rsa() {
  static Pkey k = NewRsa();
  return k.get();
}
EVP_PKEY* Rsa2() {
  static Pkey k = NewRsa();
  return k.get();
}
EVP_PKEY* Ec() {
  static Pkey k = NewEc();
  return k.get();
}
EVP_PKEY* Ed() {
  static Pkey k = NewEd();
  return k.get();
}

std::string B64u(std::string_view bytes) {
  std::vector<unsigned char> out(4 * ((bytes.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  std::string s(reinterpret_cast<char*>(out.data()), static_cast<size_t>(n));
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

nlohmann::json RsaJwk(EVP_PKEY* k, const std::string& kid) {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"use", "sig"},
          {"n", B64u(Bn(k, OSSL_PKEY_PARAM_RSA_N, 0))},
          {"e", B64u(Bn(k, OSSL_PKEY_PARAM_RSA_E, 0))}};
}

nlohmann::json EcJwk(EVP_PKEY* k, const std::string& kid) {
  return {{"kty", "EC"},
          {"kid", kid},
          {"crv", "P-256"},
          {"x", B64u(Bn(k, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", B64u(Bn(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

nlohmann::json EdJwk(EVP_PKEY* k, const std::string& kid) {
  unsigned char raw[32];
  size_t len = sizeof(raw);
  Check(EVP_PKEY_get_raw_public_key(k, raw, &len) == 1, "raw public key");
  return {{"kty", "OKP"},
          {"kid", kid},
          {"crv", "Ed25519"},
          {"x", B64u(std::string(reinterpret_cast<char*>(raw), len))}};
}

std::string Jwks(std::initializer_list<nlohmann::json> keys) {
  nlohmann::json j;
  j["keys"] = nlohmann::json::array();
  for (const auto& k : keys) j["keys"].push_back(k);
  return j.dump();
}

std::string PublicPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_PUBKEY(bio, k) == 1, "PEM_write_bio_PUBKEY");
  return BioString(bio);
}

std::string PrivatePem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return BioString(bio);
}

std::string PublicDer(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(k, &der);
  Check(n > 0, "i2d_PUBKEY");
  std::string s(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return s;
}

std::string SignRaw(const std::string& header_json, const std::string& payload_json,
                    const std::string& alg, EVP_PKEY* key, std::string_view hmac_secret) {
  std::string input = B64u(header_json) + "." + B64u(payload_json);
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  std::string sig;
  if (alg == "HS256") {
    unsigned char md[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), hmac_secret.data(), static_cast<int>(hmac_secret.size()), in, input.size(),
         md, &len);
    sig.assign(reinterpret_cast<char*>(md), len);
  } else if (alg == "RS256" || alg == "ES256" || alg == "EdDSA") {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    Check(EVP_DigestSignInit(ctx, nullptr, alg == "EdDSA" ? nullptr : EVP_sha256(), nullptr, key) ==
              1,
          "sign init");
    size_t len = 0;
    Check(EVP_DigestSign(ctx, nullptr, &len, in, input.size()) == 1, "sign len");
    std::string der(len, '\0');
    Check(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(der.data()), &len, in,
                         input.size()) == 1,
          "sign");
    der.resize(len);
    EVP_MD_CTX_free(ctx);
    if (alg == "ES256") {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
      Check(es != nullptr, "d2i_ECDSA_SIG");
      unsigned char rs[64];
      BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32);
      ECDSA_SIG_free(es);
      sig.assign(reinterpret_cast<char*>(rs), 64);
    } else {
      sig = der;
    }
  }
  return input + "." + B64u(sig);
}

std::string Sign(const nlohmann::json& header, const nlohmann::json& payload, EVP_PKEY* key,
                 std::string_view hmac_secret) {
  return SignRaw(header.dump(), payload.dump(), header.value("alg", ""), key, hmac_secret);
}

}  // namespace llmux::auth::testing
