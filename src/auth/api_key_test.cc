#include "auth/api_key.h"

#include <gtest/gtest.h>

#include <set>

namespace llmux::auth {
namespace {

TEST(ApiKey, GenerateParseVerifyRoundTrip) {
  auto k = GenerateApiKey();
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->full_key.size(), 6u + 12u + 1u + 43u) << k->full_key;
  EXPECT_EQ(k->full_key.rfind("llmux_" + k->prefix + "_", 0), 0u);
  EXPECT_EQ(k->prefix.size(), 12u);
  EXPECT_EQ(k->secret_hash.size(), 64u);
  auto p = ParseApiKey(k->full_key);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->prefix, k->prefix);
  EXPECT_EQ(k->full_key, "llmux_" + p->prefix + "_" + p->secret);
  EXPECT_TRUE(VerifyApiKeySecret(p->secret, k->secret_hash));
  // The stored hash must not contain the secret.
  EXPECT_EQ(k->secret_hash.find(p->secret), std::string::npos);
}

TEST(ApiKey, HashIsSha256OfSecret) {
  // SHA-256("abc") from FIPS 180-2.
  EXPECT_EQ(HashApiKeySecret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKey, WrongSecretFails) {
  auto k = GenerateApiKey();
  ASSERT_TRUE(k.ok());
  auto p = ParseApiKey(k->full_key);
  ASSERT_TRUE(p.ok());
  std::string wrong = p->secret;
  wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyApiKeySecret(wrong, k->secret_hash));
  EXPECT_FALSE(VerifyApiKeySecret("", k->secret_hash));
  EXPECT_FALSE(VerifyApiKeySecret(p->secret, ""));
  EXPECT_FALSE(VerifyApiKeySecret(p->secret, k->secret_hash.substr(0, 63)));
  auto other = GenerateApiKey();
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(VerifyApiKeySecret(p->secret, other->secret_hash));
}

TEST(ApiKey, KeysAreDistinctAndUseTheFullAlphabetRange) {
  std::set<std::string> prefixes, keys;
  std::set<char> secret_chars;
  for (int i = 0; i < 200; ++i) {
    auto k = GenerateApiKey();
    ASSERT_TRUE(k.ok());
    prefixes.insert(k->prefix);
    keys.insert(k->full_key);
    auto p = ParseApiKey(k->full_key);
    ASSERT_TRUE(p.ok());
    for (char c : p->secret) secret_chars.insert(c);
  }
  EXPECT_EQ(prefixes.size(), 200u);
  EXPECT_EQ(keys.size(), 200u);
  EXPECT_GT(secret_chars.size(), 55u);  // base62: 200 * 43 chars should hit nearly all 62
}

TEST(ApiKey, MalformedKeysAreRejected) {
  const std::string good = "llmux_abcdefgh2345_" + std::string(43, 'Z');
  ASSERT_TRUE(ParseApiKey(good).ok());
  EXPECT_FALSE(ParseApiKey("").ok());
  EXPECT_FALSE(ParseApiKey("llmux_").ok());
  EXPECT_FALSE(ParseApiKey("sk-" + good.substr(6)).ok());
  EXPECT_FALSE(ParseApiKey("LLMUX_abcdefgh2345_" + std::string(43, 'Z')).ok());
  EXPECT_FALSE(ParseApiKey(good + "Z").ok());                                    // too long
  EXPECT_FALSE(ParseApiKey(good.substr(0, good.size() - 1)).ok());               // too short
  EXPECT_FALSE(ParseApiKey("llmux_abcdefgh2341_" + std::string(43, 'Z')).ok());  // '1' not base32
  EXPECT_FALSE(
      ParseApiKey("llmux_ABCDEFGH2345_" + std::string(43, 'Z')).ok());  // upper case prefix
  EXPECT_FALSE(ParseApiKey("llmux_abcdefgh2345-" + std::string(43, 'Z')).ok());        // separator
  EXPECT_FALSE(ParseApiKey("llmux_abcdefgh2345_" + std::string(42, 'Z') + "-").ok());  // not base62
  EXPECT_FALSE(ParseApiKey("llmux_abcdefgh2345_" + std::string(42, 'Z') + " ").ok());
  auto st = ParseApiKey("llmux_abcdefgh2345_" + std::string(42, 'Q') + "!").status();
  EXPECT_EQ(st.message().find("QQQQ"), std::string::npos);  // errors never echo the key
}

TEST(ApiKey, RedactionHidesSecretsOnly) {
  auto k = GenerateApiKey();
  ASSERT_TRUE(k.ok());
  std::string redacted_key = "llmux_" + k->prefix + "_***";
  std::string line = "auth ok key=" + k->full_key + ", again:" + k->full_key + "\n";
  std::string out = RedactApiKeys(line);
  EXPECT_EQ(out, "auth ok key=" + redacted_key + ", again:" + redacted_key + "\n");
  EXPECT_EQ(RedactApiKeys("Bearer " + k->full_key), "Bearer " + redacted_key);
  // Truncated secrets and keys glued to other text are still redacted.
  EXPECT_EQ(RedactApiKeys(std::string("x").append(k->full_key, 0, 30).append("\"}")),
            "x" + redacted_key + "\"}");
  // Nothing key-like: unchanged.
  for (const std::string s : {"", "llmux_", "llmux_serve started", "llmux_abc_def", "no keys here",
                              "llmux_abcdefgh2345_", "llmux_abcdefgh2345_!"}) {
    EXPECT_EQ(RedactApiKeys(s), s);
  }
}

}  // namespace
}  // namespace llmux::auth
