// Writes the seed corpus of jwt_fuzz into a directory (run.sh calls it):
//   jwt_fuzz_seeds OUT_DIR
// Tokens signed with the fuzzer's fixed keys (valid ones, and ones refused for their claims or
// header), inputs of its signing mode, and key sets of their public keys.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/base64url.h"
#include "auth/jws.h"
#include "auth/jwt.h"
#include "jwt_fuzz_keys.h"

namespace {

namespace fs = std::filesystem;
namespace auth = llmux::auth;
using llmux::fuzz::kJwtFuzzNow;
using nlohmann::json;

json Claims(int64_t exp_offset) {
  return json{{"iss", llmux::fuzz::kJwtFuzzIssuer},
              {"aud", llmux::fuzz::kJwtFuzzAudience},
              {"sub", "user:1"},
              {"exp", kJwtFuzzNow + exp_offset},
              {"iat", kJwtFuzzNow},
              {"nbf", kJwtFuzzNow - 10},
              {"scope", "models:use chat"},
              {"roles", {"user"}}};
}

// A token with exactly this header text, signed with `key`.
std::string SignedWithHeader(const auth::JwtKey& key, const std::string& header,
                             const std::string& payload) {
  const std::string input = auth::Base64UrlEncode(header) + "." + auth::Base64UrlEncode(payload);
  return input + "." + auth::Base64UrlEncode(auth::SignJwsInput(key.alg(), key, input).value());
}

bool Write(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: jwt_fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  const auto& keys = llmux::fuzz::JwtFuzzKeys();
  bool ok = true;
  json jwks{{"keys", json::array()}};
  for (size_t i = 0; i < keys.size(); ++i) {
    const auth::JwtKey& key = keys[i];
    const std::string kid = key.kid();
    const std::string alg(auth::JwtAlgName(key.alg()));
    ok &= Write(out / ("valid_" + kid), auth::SignJwt(Claims(3600), key).value());
    ok &= Write(out / ("expired_" + kid), auth::SignJwt(Claims(-3600), key).value());
    ok &=
        Write(out / ("no_kid_" + kid),
              SignedWithHeader(key, R"({"alg":")" + alg + R"(","typ":"JWT"})", Claims(60).dump()));
    // Signing mode: 'S', the key's index, header, newline, payload.
    ok &= Write(out / ("sign_" + kid), "S" + std::string(1, static_cast<char>('0' + i)) +
                                           R"({"alg":")" + alg + R"(","kid":")" + kid + "\"}\n" +
                                           Claims(60).dump());
    if (key.type() != auth::JwtKeyType::kHmac) {
      jwks["keys"].push_back(json::parse(key.PublicJwkJson().value()));
    }
  }
  // Refused for their header: no signature algorithm, algorithm confusion, a critical extension.
  const std::string payload = Claims(3600).dump();
  ok &= Write(out / "alg_none", auth::Base64UrlEncode(R"({"alg":"none"})") + "." +
                                    auth::Base64UrlEncode(payload) + ".");
  ok &= Write(out / "alg_confusion",
              SignedWithHeader(keys[0], R"({"alg":"HS256","kid":"rs"})", payload));
  ok &=
      Write(out / "crit", SignedWithHeader(keys[3], R"({"alg":"EdDSA","crit":["b64"]})", payload));
  ok &= Write(out / "jwks", "K" + jwks.dump());
  ok &= Write(out / "jwks_odd",
              "K" + json{{"keys",
                          {{{"kty", "oct"}, {"k", "c2VjcmV0"}},
                           {{"kty", "EC"}, {"crv", "P-384"}, {"x", "AA"}, {"y", "AA"}},
                           {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AA"}, {"alg", "RS256"}}}}}
                        .dump());
  if (!ok) {
    std::cerr << "jwt_fuzz_seeds: cannot write " << out.string() << "\n";
    return 1;
  }
  return 0;
}
