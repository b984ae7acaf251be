#include "engine/convert/hf_checkpoint.h"

#include <cmath>

namespace llmux::convert {

const HfScalar* HfConfig::Find(const std::string& key) const {
  auto it = values.find(key);
  return it == values.end() ? nullptr : &it->second;
}

std::optional<int64_t> HfConfig::Int(const std::string& key) const {
  const HfScalar* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->kind == HfScalar::Kind::kInt) return v->i;
  if (v->kind == HfScalar::Kind::kFloat && std::isfinite(v->f) && v->f == std::floor(v->f) &&
      std::abs(v->f) < 9.0e15) {
    return static_cast<int64_t>(v->f);
  }
  return std::nullopt;
}

std::optional<double> HfConfig::Float(const std::string& key) const {
  const HfScalar* v = Find(key);
  if (v == nullptr) return std::nullopt;
  if (v->kind == HfScalar::Kind::kFloat) return v->f;
  if (v->kind == HfScalar::Kind::kInt) return static_cast<double>(v->i);
  return std::nullopt;
}

std::optional<bool> HfConfig::Bool(const std::string& key) const {
  const HfScalar* v = Find(key);
  if (v == nullptr || v->kind != HfScalar::Kind::kBool) return std::nullopt;
  return v->b;
}

std::optional<std::string> HfConfig::String(const std::string& key) const {
  const HfScalar* v = Find(key);
  if (v == nullptr || v->kind != HfScalar::Kind::kString) return std::nullopt;
  return v->s;
}

std::optional<int64_t> HfConfig::FirstInt(std::initializer_list<const char*> keys) const {
  for (const char* k : keys) {
    if (auto v = Int(k)) return v;
  }
  return std::nullopt;
}

}  // namespace llmux::convert
