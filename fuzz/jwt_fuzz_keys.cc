#include "jwt_fuzz_keys.h"

#include <cstdlib>

namespace llmux::fuzz {
namespace {

constexpr const char* kRsaPem =
    R"(-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC9aJ63p0ze1BVX
HL2Sls4akxN5Or3KxM4j/jlcKmUpPASEh9Tt0sXdKbUx0vN/gpngJgfo9a/L+gv6
DIAJLEJc8O8gOp0RNKsBiktG6cQEQEmUKyzLL3erxEOAxR0XST/zrExbU8wxkZUw
mRBo/vMaSF+BoaTBbwQ04ILpSU1yrR/yRLWBrzeNmQyMr4P4/lo9g+fa2/J/Qi2C
2NHP7dHUssJUKrVmDURDnlbio0Xr9sDlSzQbwyGqa/metqkaQLIIhnAbv/JUKuzB
/Ozu4k/mn/N622u3NxQ8qnniBhal7/N2uz+6qwXNiojJtjF50rZfoohOYoHkpbx1
141XWFE1AgMBAAECggEAIm5lx9nsUed416ScW4z5e4A3/oYsoTMkjAt3TudQC25j
Hdp5XSA/IsSlsSB5bjkGEuam8nTTF7/lNHfYQJKgn7eWqKOvEMUjvvxuUb5GCUXM
elhc5LTEyt87LCno72Y772ZnXQS/LlWaKsLwZj3OYH0+i1iglB9Dwv77HUBbiVha
Nrrqi05k6oI70m5nLKt3wzpZe02dy4NuTCLQ2pgTnznza47Cjzdgz+bp0McIkNC0
q+ZM64YQCrK9cT1tsD9B8BhVrFzzvY5RBno/s8v8T1aNDmlacIk8CKTXjr5ZS1/s
/CEKxFh+jXzvDDTYKePbbY9dn2G9jbIo3iOKXCO+IQKBgQDoBpsSu2FXz2ne7FkI
hL7ic2mgVMYuq/tW+swkQINKcrRcKavBDkx7JKnmWpzx842D6f7LbOoVt9OSK5Ha
fZrwrd4y4bK03widtJ58GRxbFZ1YulyL6mjywlqKCmnugL9MZfBiMuLRHDR68k4N
SPfJ+Jm9L/8hHKpOqGq9aLLwxQKBgQDQ+rvc2j8g1/TJoJdBmHEYsGk7vrRTECMj
rvkXd4XQcm5AvntBh20RHzf2LxwT1MycXZjTLrQCozu2LB4B8YmyzIy3vNZNndTd
DQTqvJ4EpXTe09OCQN7AG0MB4/e9I8ygvzN450fm3NxgT2u+UiPWP/kipUtSyHCH
E7GK1/wFsQKBgQC49NsU+Y3FQ6+vZlQquDa5qSqgBjPc7Hd0hIPKuipuZDVl6knh
oRZSa42L9Nt6+5zpdNQJMQ8AtQLQWC7yLoIeLVsc0FF2YPwrStmzLwktinNdUWGI
nxl9unQV6es7liHoMrKGdO3dp1AmWZTifjIYLDXRW7tSl9kizpoX1qgdyQKBgCuJ
IJv454/bDYb3qqsiq+T901578ysewINNj10BLGJphGh+hkT3hpQ7kbf6xnmnKl0k
7pKINz4ZbXYdKL8053/VNzeL4oVW7SKD9NNGKhFDut40+Oo4w273/vSk3laL37RZ
QMreO89vkYWK5iJHEGow96DtGI0NbsvlIWaQalNxAoGBAOaQIAEAc4E7VAwxAbCc
F3Ix1my7vqb54qXF2cR8iVZyTlHLMBIyD9sue5YYR9iJyTb6sGNLN4EwCdcA11mt
M6Dwfw5DEGMeknUFeJaC5/lFkFJbsHAm5Hp4Ha8+5+MWiHUljmj9BSAgCigJCbCf
jLhT1f49LUcMQQCRj9pkR/DT
-----END PRIVATE KEY-----)";

constexpr const char* kEcPem =
    R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgp9RkRE/gIWclZ4SI
FFlry/c8yQY5LJ4v6BQ4IQuFlMGhRANCAATSbpD+MtZ+tVCneZVceVc2CEGW3YP4
iTUYpkGDvTl+TEWPnIYDDqnPympe9UTKPwsneDFjZUc+2p+qcmQMN8nc
-----END PRIVATE KEY-----)";

constexpr const char* kEdPem =
    R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ00PKo/17U2KNOvNMiymNiu79AKFsQbBRLHk4jSt5T+
-----END PRIVATE KEY-----)";

auth::JwtKey Must(Result<auth::JwtKey> key) {
  if (!key.ok()) std::abort();  // the fixed keys are valid
  return std::move(key).value();
}

}  // namespace

const std::vector<auth::JwtKey>& JwtFuzzKeys() {
  static const auto* keys = new std::vector<auth::JwtKey>{
      Must(auth::JwtKey::FromHmacSecret("fuzz-only hs256 secret, 32+ bytes long", "hs")),
      Must(auth::JwtKey::FromPem(kRsaPem, "rs")),
      Must(auth::JwtKey::FromPem(kEcPem, "es")),
      Must(auth::JwtKey::FromPem(kEdPem, "ed")),
  };
  return *keys;
}

}  // namespace llmux::fuzz
