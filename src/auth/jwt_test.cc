#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <limits>

#include "auth/base64url.h"
#include "auth/test_keys.h"

namespace llmux::auth {
namespace {

using nlohmann::json;
namespace t = testing;

constexpr int64_t kNow = 1'700'000'000;
const std::string kIss = "https://issuer.example";
const std::string kAud = "llmux";

JwtValidationOptions Opts() {
  JwtValidationOptions o;
  o.issuer = kIss;
  o.audiences = {kAud};
  o.clock = [] { return kNow; };
  return o;
}

json Claims() {
  return {{"iss", kIss},          {"aud", kAud},       {"sub", "alice"},
          {"iat", kNow - 10},     {"exp", kNow + 300}, {"scope", "openid models.read"},
          {"roles", {"operator"}}};
}

std::vector<JwtKey> OidcKeys() {
  auto keys = ParseJwks(
      t::Jwks({t::RsaJwk(t::Rsa(), "rsa1"), t::EcJwk(t::Ec(), "ec1"), t::EdJwk(t::Ed(), "ed1")}));
  EXPECT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 3u);
  return *keys;
}

std::string Rs256(const json& claims, const std::string& kid = "rsa1") {
  return t::Sign({{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}}, claims, t::Rsa());
}

void ExpectRefused(const Result<JwtClaims>& r, const std::string& why) {
  ASSERT_FALSE(r.ok()) << "accepted a token that must be refused: " << why;
  EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().ToString();
}

// --- known answers from the RFCs ---

TEST(Jwt, Rfc7515HmacExampleVerifies) {
  auto key = JwtKey::FromHmacSecret(*Base64UrlDecode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"));
  ASSERT_TRUE(key.ok());
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  JwtValidationOptions o;
  o.clock = [] { return int64_t{1300819000}; };
  auto c = VerifyJwt(token, *key, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->issuer, "joe");
  EXPECT_EQ(*c->expires_at, 1300819380);
  EXPECT_EQ(c->raw["http://example.com/is_root"], true);
  o.clock = [] { return int64_t{1300819380 + 61}; };
  ExpectRefused(VerifyJwt(token, *key, o), "expired");
}

TEST(Jwt, Rfc8037Ed25519ExampleSignsAndVerifies) {
  // RFC 8037 A.1-A.4: Ed25519 is deterministic, so the signature must be exactly this.
  std::string d = *Base64UrlDecode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
  EVP_PKEY* pk = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.data()), d.size());
  ASSERT_NE(pk, nullptr);
  auto key = JwtKey::FromPkey(pk, true);
  EVP_PKEY_free(pk);
  ASSERT_TRUE(key.ok());
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  const std::string expected =
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  auto sig = SignJwsInput(JwtAlg::kEdDSA, *key, input);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(Base64UrlEncode(*sig), expected);
  auto pub = JwtKey::FromJwk(
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})");
  ASSERT_TRUE(pub.ok());
  EXPECT_FALSE(pub->has_private_key());
  EXPECT_TRUE(VerifyJwsSignature(JwtAlg::kEdDSA, *pub, input, *Base64UrlDecode(expected)).ok());
  EXPECT_FALSE(
      VerifyJwsSignature(JwtAlg::kEdDSA, *pub, input + "x", *Base64UrlDecode(expected)).ok());
}

// --- llmux's own tokens ---

TEST(Jwt, IssueAndVerifyHs256) {
  auto key = JwtKey::FromHmacSecret(std::string(32, 's'), "k1");
  ASSERT_TRUE(key.ok());
  auto tok = SignJwt(Claims(), *key);
  ASSERT_TRUE(tok.ok());
  // The HMAC computed independently by the test helper must match.
  EXPECT_EQ(*tok, t::SignRaw(json({{"typ", "JWT"}, {"alg", "HS256"}, {"kid", "k1"}}).dump(),
                             Claims().dump(), "HS256", nullptr, std::string(32, 's')));
  auto c = VerifyJwt(*tok, *key, Opts());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->subject, "alice");
  EXPECT_EQ(c->alg, JwtAlg::kHS256);
  EXPECT_EQ(c->kid, "k1");
  EXPECT_EQ(c->audience, std::vector<std::string>{kAud});
  EXPECT_EQ(c->scopes, (std::vector<std::string>{"openid", "models.read"}));
  EXPECT_EQ(c->roles, std::vector<std::string>{"operator"});
  EXPECT_EQ(*c->issued_at, kNow - 10);
  auto other = JwtKey::FromHmacSecret(std::string(32, 't'));
  ExpectRefused(VerifyJwt(*tok, *other, Opts()), "signature mismatch");
}

TEST(Jwt, HmacSecretTooShortIsRefused) {
  EXPECT_FALSE(JwtKey::FromHmacSecret(std::string(31, 's')).ok());
  EXPECT_TRUE(JwtKey::FromHmacSecret(std::string(32, 's')).ok());
}

TEST(Jwt, IssueEdDsaVerifiedByPublishedJwk) {
  auto key = JwtKey::GenerateEd25519("own-1");
  ASSERT_TRUE(key.ok());
  auto tok = SignJwt(Claims(), *key);
  ASSERT_TRUE(tok.ok());
  auto jwk = key->PublicJwkJson();
  ASSERT_TRUE(jwk.ok());
  EXPECT_EQ(jwk->find("\"d\""), std::string::npos);  // no private part published
  auto keys = ParseJwks("{\"keys\":[" + *jwk + "]}");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  auto c = VerifyJwt(*tok, *keys, Opts());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->alg, JwtAlg::kEdDSA);
  // The private key survives a PEM round trip.
  auto pem = key->PrivateKeyPem();
  ASSERT_TRUE(pem.ok());
  auto reloaded = JwtKey::FromPem(*pem, "own-1");
  ASSERT_TRUE(reloaded.ok());
  EXPECT_TRUE(reloaded->has_private_key());
  auto tok2 = SignJwt(Claims(), *reloaded);
  EXPECT_EQ(*tok2, *tok);  // Ed25519 is deterministic
}

TEST(Jwt, EdDsaTokenSignedByOpenSslVerifies) {
  std::string tok = t::Sign({{"alg", "EdDSA"}, {"kid", "ed1"}}, Claims(), t::Ed());
  auto c = VerifyJwt(tok, OidcKeys(), Opts());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
}

// --- external OIDC tokens ---

TEST(Jwt, Rs256AndEs256FromJwksVerify) {
  auto keys = OidcKeys();
  auto rs = VerifyJwt(Rs256(Claims()), keys, Opts());
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  EXPECT_EQ(rs->alg, JwtAlg::kRS256);
  EXPECT_EQ(rs->kid, "rsa1");
  std::string es = t::Sign({{"alg", "ES256"}, {"kid", "ec1"}}, Claims(), t::Ec());
  auto ec = VerifyJwt(es, keys, Opts());
  ASSERT_TRUE(ec.ok()) << ec.status().ToString();
  EXPECT_EQ(ec->alg, JwtAlg::kES256);
  // Without a kid, the key is chosen by algorithm.
  auto nokid = VerifyJwt(t::Sign({{"alg", "ES256"}}, Claims(), t::Ec()), keys, Opts());
  EXPECT_TRUE(nokid.ok()) << nokid.status().ToString();
}

TEST(Jwt, Es256SignedByLibraryVerifiesAndDerConversionRoundTrips) {
  auto key = JwtKey::FromPem(t::PrivatePem(t::Ec()), "ec1");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->type(), JwtKeyType::kEcP256);
  auto tok = SignJwt(Claims(), *key);
  ASSERT_TRUE(tok.ok());
  EXPECT_TRUE(VerifyJwt(*tok, OidcKeys(), Opts()).ok());
  std::string jose(64, '\0');
  jose[0] = 0x00;  // leading zero bytes in r must survive the DER round trip
  jose[1] = 0x7f;
  jose[32] = static_cast<char>(0xff);
  jose[63] = 0x01;
  auto der = EcdsaJoseToDer(jose);
  ASSERT_TRUE(der.ok());
  auto back = EcdsaDerToJose(*der, 32);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, jose);
  EXPECT_FALSE(EcdsaDerToJose("\x30\x02garbage", 32).ok());
}

TEST(Jwt, AudienceMayBeAnArray) {
  json c = Claims();
  c["aud"] = {"other", kAud};
  auto r = VerifyJwt(Rs256(c), OidcKeys(), Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->audience, (std::vector<std::string>{"other", kAud}));
  c["aud"] = {"other", "another"};
  ExpectRefused(VerifyJwt(Rs256(c), OidcKeys(), Opts()), "wrong audience");
  c["aud"] = 42;
  EXPECT_FALSE(VerifyJwt(Rs256(c), OidcKeys(), Opts()).ok());
  c.erase("aud");
  ExpectRefused(VerifyJwt(Rs256(c), OidcKeys(), Opts()), "wrong audience");
}

// --- rejections ---

TEST(Jwt, AlgNoneIsRefusedInAnySpelling) {
  auto keys = OidcKeys();
  auto hkey = JwtKey::FromHmacSecret(std::string(40, 'k'));
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    std::string tok = t::B64u(json({{"alg", none}, {"kid", "rsa1"}}).dump()) + "." +
                      t::B64u(Claims().dump()) + ".";
    ExpectRefused(VerifyJwt(tok, keys, Opts()), "alg none");
    ExpectRefused(VerifyJwt(tok, *hkey, Opts()), "alg none");
    // With some signature bytes too.
    ExpectRefused(VerifyJwt(tok + "c2ln", keys, Opts()), "alg none");
  }
}

TEST(Jwt, HmacSignedWithPublicKeyIsRefused) {
  // The classic algorithm confusion: the attacker signs HS256 with the RSA public key
  // material (PEM or DER) and hopes the verifier uses it as an HMAC secret.
  auto keys = OidcKeys();
  for (const std::string& secret : {t::PublicPem(t::Rsa()), t::PublicDer(t::Rsa())}) {
    std::string tok = t::Sign({{"alg", "HS256"}, {"kid", "rsa1"}}, Claims(), nullptr, secret);
    ExpectRefused(VerifyJwt(tok, keys, Opts()), "not allowed for a RSA key");
    JwtValidationOptions permissive = Opts();
    permissive.allowed_algs = {JwtAlg::kHS256, JwtAlg::kRS256};
    ExpectRefused(VerifyJwt(tok, keys, permissive), "not allowed for a RSA key");
    // Single-key form, as when the RSA key is configured directly.
    auto pub = JwtKey::FromPem(t::PublicPem(t::Rsa()));
    ASSERT_TRUE(pub.ok());
    ExpectRefused(VerifyJwt(tok, *pub, permissive), "not allowed for a RSA key");
    // No kid: there is no HMAC key in the set at all.
    std::string nokid = t::Sign({{"alg", "HS256"}}, Claims(), nullptr, secret);
    ExpectRefused(VerifyJwt(nokid, keys, permissive), "no key for algorithm HS256");
  }
  std::string ec_conf =
      t::Sign({{"alg", "HS256"}, {"kid", "ec1"}}, Claims(), nullptr, t::PublicPem(t::Ec()));
  ExpectRefused(VerifyJwt(ec_conf, keys, Opts()), "not allowed for a EC P-256 key");
  // And cross-asymmetric: an RS256 header on the EC key's kid.
  std::string cross = t::Sign({{"alg", "RS256"}, {"kid", "ec1"}}, Claims(), t::Rsa());
  ExpectRefused(VerifyJwt(cross, keys, Opts()), "not allowed");
}

TEST(Jwt, AllowedAlgorithmsAreEnforced) {
  JwtValidationOptions o = Opts();
  o.allowed_algs = {JwtAlg::kES256};
  ExpectRefused(VerifyJwt(Rs256(Claims()), OidcKeys(), o), "algorithm RS256 is not allowed");
  ExpectRefused(VerifyJwt(t::Sign({{"alg", "RS512"}, {"kid", "rsa1"}}, Claims(), nullptr),
                          OidcKeys(), Opts()),
                "unsupported algorithm");
  // The JWK's own "alg" member restricts the key too.
  json jwk = t::RsaJwk(t::Rsa(), "rsa1");
  jwk["alg"] = "ES256";
  EXPECT_FALSE(JwtKey::FromJwk(jwk.dump()).ok());
}

TEST(Jwt, UnknownKidIsNotFound) {
  auto r = VerifyJwt(Rs256(Claims(), "nope"), OidcKeys(), Opts());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(Jwt, TamperedPayloadAndSignatureAreRefused) {
  auto keys = OidcKeys();
  std::string tok = Rs256(Claims());
  size_t d1 = tok.find('.'), d2 = tok.rfind('.');
  json evil = Claims();
  evil["sub"] = "admin";
  std::string swapped = tok.substr(0, d1 + 1) + t::B64u(evil.dump()) + tok.substr(d2);
  ExpectRefused(VerifyJwt(swapped, keys, Opts()), "signature mismatch");
  std::string bad_sig = tok;
  bad_sig[d2 + 5] = bad_sig[d2 + 5] == 'A' ? 'B' : 'A';
  ExpectRefused(VerifyJwt(bad_sig, keys, Opts()), "signature");
  // A valid signature of another key with the same kid.
  std::string other = t::Sign({{"alg", "RS256"}, {"kid", "rsa1"}}, Claims(), t::Rsa2());
  ExpectRefused(VerifyJwt(other, keys, Opts()), "signature mismatch");
  // ES256 with a DER signature instead of r||s.
  std::string es = t::Sign({{"alg", "ES256"}, {"kid", "ec1"}}, Claims(), t::Ec());
  std::string rs = *Base64UrlDecode(es.substr(es.rfind('.') + 1));
  std::string der = *EcdsaJoseToDer(rs);
  ExpectRefused(VerifyJwt(es.substr(0, es.rfind('.') + 1) + t::B64u(der), keys, Opts()),
                "64 bytes");
  // Tampered EdDSA.
  std::string ed = t::Sign({{"alg", "EdDSA"}, {"kid", "ed1"}}, Claims(), t::Ed());
  evil["aud"] = kAud;
  std::string ed_swapped =
      ed.substr(0, ed.find('.') + 1) + t::B64u(evil.dump()) + ed.substr(ed.rfind('.'));
  ExpectRefused(VerifyJwt(ed_swapped, keys, Opts()), "signature mismatch");
}

TEST(Jwt, MalformedTokensAreRefused) {
  auto keys = OidcKeys();
  std::string good = Rs256(Claims());
  size_t d1 = good.find('.'), d2 = good.rfind('.');
  std::string header = good.substr(0, d1), payload = good.substr(d1 + 1, d2 - d1 - 1),
              sig = good.substr(d2 + 1);
  const std::vector<std::string> bad = {
      "",
      ".",
      "..",
      "...",
      "a.b",
      good + ".",
      header + "." + payload,
      header + "=." + payload + "." + sig,  // padding
      header + "." + payload + "=." + sig,
      header + "." + payload + "." + sig + "=",
      header + "." + payload + "." + sig + "*",
      std::string("!").append(header, 1) + "." + payload + "." + sig,
      t::B64u("not json") + "." + payload + "." + sig,
      t::B64u("[1,2]") + "." + payload + "." + sig,               // header not an object
      t::B64u("{\"kid\":\"rsa1\"}") + "." + payload + "." + sig,  // no alg
      t::B64u("{\"alg\":5}") + "." + payload + "." + sig,
      t::B64u("{\"alg\":\"RS256\",\"kid\":7}") + "." + payload + "." + sig,
      std::string(kMaxJwsBytes + 1, 'a'),
  };
  for (const auto& b : bad) EXPECT_FALSE(VerifyJwt(b, keys, Opts()).ok()) << b.substr(0, 80);
  // Signed but with a malformed payload.
  std::string notjson =
      t::SignRaw(R"({"alg":"RS256","kid":"rsa1"})", "not json", "RS256", t::Rsa());
  ExpectRefused(VerifyJwt(notjson, keys, Opts()), "payload is not a JSON object");
  std::string arr = t::SignRaw(R"({"alg":"RS256","kid":"rsa1"})", "[1]", "RS256", t::Rsa());
  ExpectRefused(VerifyJwt(arr, keys, Opts()), "payload is not a JSON object");
  std::string crit =
      t::Sign({{"alg", "RS256"}, {"kid", "rsa1"}, {"crit", {"exp"}}}, Claims(), t::Rsa());
  ExpectRefused(VerifyJwt(crit, keys, Opts()), "critical");
  json badexp = Claims();
  badexp["exp"] = "tomorrow";
  ExpectRefused(VerifyJwt(Rs256(badexp), keys, Opts()), "NumericDate");
  json badsub = Claims();
  badsub["sub"] = 12;
  EXPECT_FALSE(VerifyJwt(Rs256(badsub), keys, Opts()).ok());
}

TEST(Jwt, TimeClaimsWithLeeway) {
  auto keys = OidcKeys();
  auto at = [&](const json& c, int64_t now, int64_t leeway = 60) {
    JwtValidationOptions o = Opts();
    o.clock = [now] { return now; };
    o.leeway_seconds = leeway;
    return VerifyJwt(Rs256(c), keys, o);
  };
  json c = Claims();
  c["exp"] = kNow;
  EXPECT_TRUE(at(c, kNow + 59).ok());
  ExpectRefused(at(c, kNow + 60), "expired");
  ExpectRefused(at(c, kNow, 0), "expired");
  EXPECT_TRUE(at(c, kNow - 1, 0).ok());
  c["exp"] = kNow + 1000;
  c["nbf"] = kNow + 100;
  ExpectRefused(at(c, kNow), "not yet valid");
  EXPECT_TRUE(at(c, kNow + 40).ok());  // within leeway
  c.erase("nbf");
  c["iat"] = kNow + 100;
  ExpectRefused(at(c, kNow), "issued in the future");
  c["iat"] = kNow + 30;
  EXPECT_TRUE(at(c, kNow).ok());
  c.erase("exp");
  ExpectRefused(at(c, kNow), "no exp");
  JwtValidationOptions no_exp = Opts();
  no_exp.require_exp = false;
  EXPECT_TRUE(VerifyJwt(Rs256(c), keys, no_exp).ok());
  // Fractional NumericDate.
  c["exp"] = static_cast<double>(kNow) + 0.5;
  c["iat"] = kNow - 100;
  EXPECT_TRUE(at(c, kNow - 10, 0).ok());
  ExpectRefused(at(c, kNow + 1, 0), "expired");
}

// Found by fuzz/jwt_fuzz: nbf = INT64_MIN overflowed "nbf - leeway" (undefined behaviour; UBSan
// stops there). A NumericDate must lie within 1e15 s of the epoch, as a fractional one already had
// to.
TEST(Jwt, NumericDatesFarFromTheEpochAreRefused) {
  auto keys = OidcKeys();
  for (const char* claim : {"exp", "nbf", "iat"}) {
    for (const json& date :
         {json(std::numeric_limits<int64_t>::min()), json(std::numeric_limits<int64_t>::max()),
          json(std::numeric_limits<uint64_t>::max()), json(1'000'000'000'000'000),
          json(-1'000'000'000'000'000)}) {
      json c = Claims();
      c[claim] = date;
      ExpectRefused(VerifyJwt(Rs256(c), keys, Opts()), "not a valid NumericDate");
    }
  }
  json c = Claims();
  c["nbf"] = -999'999'999'999'999;
  EXPECT_TRUE(VerifyJwt(Rs256(c), keys, Opts()).ok());
  JwtValidationOptions huge_leeway = Opts();
  huge_leeway.leeway_seconds = std::numeric_limits<int64_t>::max();
  c["exp"] = kNow - 100;
  EXPECT_TRUE(VerifyJwt(Rs256(c), keys, huge_leeway).ok());
}

TEST(Jwt, IssuerMustMatchExactly) {
  json c = Claims();
  c["iss"] = "https://evil.example";
  ExpectRefused(VerifyJwt(Rs256(c), OidcKeys(), Opts()), "wrong issuer");
  c["iss"] = kIss + "/";
  ExpectRefused(VerifyJwt(Rs256(c), OidcKeys(), Opts()), "wrong issuer");
  c.erase("iss");
  ExpectRefused(VerifyJwt(Rs256(c), OidcKeys(), Opts()), "wrong issuer");
}

TEST(Jwks, SkipsUnusableKeysAndRejectsBadDocuments) {
  json weird_use = t::EcJwk(t::Ec(), "enc1");
  weird_use["use"] = "enc";
  json bad_x = t::EcJwk(t::Ec(), "badx");
  bad_x["x"] = t::B64u(std::string(32, '\x01'));  // not on the curve
  json short_x = t::EdJwk(t::Ed(), "short");
  short_x["x"] = "AAAA";
  json p384 = t::EcJwk(t::Ec(), "p384");
  p384["crv"] = "P-384";
  json oct = {{"kty", "oct"}, {"kid", "sym"}, {"k", t::B64u(std::string(32, 'k'))}};
  json unknown = {{"kty", "XYZ"}, {"kid", "u"}};
  std::string doc =
      t::Jwks({t::RsaJwk(t::Rsa(), "rsa1"), weird_use, bad_x, short_x, p384, oct, unknown});
  auto keys = ParseJwks(doc);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid(), "rsa1");
  EXPECT_EQ((*keys)[0].type(), JwtKeyType::kRsa);
  // A small RSA key is refused.
  auto small = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024));
  ASSERT_NE(small, nullptr);
  EXPECT_FALSE(JwtKey::FromJwk(t::RsaJwk(small, "small").dump()).ok());
  EVP_PKEY_free(small);
  for (const char* bad : {"", "{", "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "null"}) {
    EXPECT_FALSE(ParseJwks(bad).ok()) << bad;
  }
  auto empty = ParseJwks("{\"keys\":[]}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace llmux::auth

namespace llmux::auth {
namespace {

TEST(Jwt, HeaderOrPayloadNestedPastTheLimitIsRefusedBeforeParsing) {
  // 129 levels: inside the size limit of a token, one past the nesting limit.
  const std::string deep = std::string(128, '[') + std::string(128, ']');
  const std::string ok_header = Base64UrlEncode(R"({"alg":"HS256"})");
  const std::string ok_payload = Base64UrlEncode(R"({"sub":"u"})");
  const std::string sig = Base64UrlEncode("signature");
  for (const std::string& token :
       {Base64UrlEncode(R"({"alg":"HS256","x":)" + deep + "}") + "." + ok_payload + "." + sig,
        ok_header + "." + Base64UrlEncode(R"({"sub":"u","x":)" + deep + "}") + "." + sig}) {
    auto jws = ParseCompactJws(token);
    ASSERT_FALSE(jws.ok());
    EXPECT_EQ(jws.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(jws.status().message().find("nested deeper than 128"), std::string::npos) << jws.status().ToString();
  }
  EXPECT_TRUE(ParseCompactJws(ok_header + "." + ok_payload + "." + sig).ok());
}

}  // namespace
}  // namespace llmux::auth
