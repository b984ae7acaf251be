// RFC 3339 timestamps <-> unix milliseconds (UTC).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux {

// "2026-12-06T04:39:53.123Z"; whole seconds print without the fraction.
std::string FormatRfc3339Millis(int64_t unix_ms);

// "2026-12-06T04:39:53Z", "2026-12-06T04:39:53.5+02:00", "2026-12-06 04:39:53z" (a space or
// lower-case t/z allowed, as RFC 3339 notes); fractions beyond milliseconds are truncated.
// kInvalidArgument for anything else.
Result<int64_t> ParseRfc3339Millis(std::string_view text);

}  // namespace llmux
