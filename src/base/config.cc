#include "base/config.h"

#include <cctype>
#include <cstdlib>
#include <fstream>

namespace llmux {

namespace {
std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}
}  // namespace

std::string ConfigKeyToEnv(const std::string& key, const std::string& prefix) {
  std::string env = prefix;
  for (char c : key) env += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

Status Config::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot open config file '" + path + "'");
  std::string line, section;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        return InvalidArgumentError(path + ":" + std::to_string(line_no) + ": unterminated section");
      }
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return InvalidArgumentError(path + ":" + std::to_string(line_no) + ": expected 'key = value'");
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (!section.empty()) key = section + "." + key;
    values_[key] = value;
    declared_[key] = true;
  }
  return Status::Ok();
}

void Config::LoadEnvironment(const std::string& prefix) {
  for (const auto& [key, unused] : declared_) {
    if (const char* v = std::getenv(ConfigKeyToEnv(key, prefix).c_str())) values_[key] = v;
  }
}

std::optional<std::string> Config::Get(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Config::GetString(const std::string& key, const std::string& fallback) const {
  return Get(key).value_or(fallback);
}

Result<int64_t> Config::GetInt(const std::string& key, int64_t fallback) const {
  auto v = Get(key);
  if (!v) return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') return InvalidArgumentError("config '" + key + "': not an integer: " + *v);
  return static_cast<int64_t>(x);
}

Result<double> Config::GetDouble(const std::string& key, double fallback) const {
  auto v = Get(key);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') return InvalidArgumentError("config '" + key + "': not a number: " + *v);
  return x;
}

Result<bool> Config::GetBool(const std::string& key, bool fallback) const {
  auto v = Get(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  return InvalidArgumentError("config '" + key + "': not a boolean: " + *v);
}

}  // namespace llmux
