// Layered configuration: built-in defaults < config file < environment < command-line flags.
// Keys are dotted lower-case names ("server.port"); the environment form is
// LLMUX_SERVER_PORT. Flags are parsed by CLI11 in the cli layer and handed in with Set().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/status.h"

namespace llmux {

class Config {
 public:
  // Reads "key = value" lines; '#' starts a comment; "[section]" prefixes later keys
  // with "section.". Unknown keys are kept: each component reads what it knows.
  Status LoadFile(const std::string& path);
  // Overlays every known key whose environment variable (prefix + KEY_WITH_UNDERSCORES) is set.
  void LoadEnvironment(const std::string& prefix = "LLMUX_");
  void Set(const std::string& key, const std::string& value) { values_[key] = value; }

  std::optional<std::string> Get(const std::string& key) const;
  std::string GetString(const std::string& key, const std::string& fallback) const;
  Result<int64_t> GetInt(const std::string& key, int64_t fallback) const;
  Result<double> GetDouble(const std::string& key, double fallback) const;
  Result<bool> GetBool(const std::string& key, bool fallback) const;

  // Declares a key so LoadEnvironment() looks for it even if no file mentioned it.
  void Declare(const std::string& key) { declared_[key] = true; }

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> declared_;
};

// "server.port" -> "LLMUX_SERVER_PORT"
std::string ConfigKeyToEnv(const std::string& key, const std::string& prefix = "LLMUX_");

}  // namespace llmux
