// Base64url without padding (RFC 4648 section 5), as JOSE uses it (RFC 7515 section 2).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::auth {

std::string Base64UrlEncode(std::string_view bytes);
// Standard base64 with '=' padding (RFC 4648 section 4), e.g. OpenAI's base64 embeddings.
std::string Base64Encode(std::string_view bytes);

// Strict: only the URL-safe alphabet, no '=' padding, no whitespace, no impossible length
// (len % 4 == 1) and the unused low bits of the last character must be zero, so every
// byte string has exactly one accepted encoding.
Result<std::string> Base64UrlDecode(std::string_view text);

}  // namespace llmux::auth
