// requestState of multi-round-trip results (MCP 2026-07-28, SEP-2322): the server hands the
// client an opaque string and gets it back with the client's answers on the next call. It is
// signed (HMAC-SHA256 with a key made at start), so a client cannot forge or alter it.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::mcp {

// "<payload hex>.<mac hex>".
std::string SignRequestState(std::string_view payload);
// The payload, or kInvalidArgument when the state was not made by this process or was changed.
Result<std::string> VerifyRequestState(std::string_view state);

}  // namespace llmux::mcp
