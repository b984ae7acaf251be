#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace llmux {

void InitLogging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("llmux");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace llmux
