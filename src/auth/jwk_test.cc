#include "auth/jwk.h"

#include <gtest/gtest.h>

#include "auth/test_keys.h"

namespace llmux::auth {
namespace {

using nlohmann::json;
namespace t = testing;

// Found by fuzz/jwt_fuzz: a "crv" that is not a string made ParseJwks throw (json::value()),
// out of the OIDC verifier's key fetch. Such a key is skipped like any other unusable one.
TEST(Jwk, ACurveThatIsNotAStringSkipsTheKey) {
  json ed = t::EdJwk(t::Ed(), "ed");
  ed["crv"] = -1;
  json ec = t::EcJwk(t::Ec(), "ec");
  ec["crv"] = json::array({"P-256"});
  json ec_null = t::EcJwk(t::Ec(), "ec-null");
  ec_null["crv"] = nullptr;
  auto keys = ParseJwks(t::Jwks({ed, ec, ec_null, t::EdJwk(t::Ed(), "good")}));
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid(), "good");
  EXPECT_EQ(JwtKey::FromJwk(ed.dump()).status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(JwtKey::FromJwk(ec.dump()).status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace llmux::auth
