// Logging: a thin setup layer over spdlog. Use spdlog::info/warn/error directly.
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace llmux {

// Sets the global level from a name ("trace", "debug", "info", "warn", "error", "off").
// Logs go to stderr so that stdout stays clean for generated text and machine output.
void InitLogging(std::string_view level = "info");

}  // namespace llmux
