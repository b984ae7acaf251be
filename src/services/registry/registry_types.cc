#include "services/registry/registry_types.h"

#include <cmath>
#include <string>

namespace llmux::registry {

namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status Invalid(const char* field, std::string message) {
  return InvalidArgumentError(std::move(message)).WithField(field);
}

Status IntRange(const char* field, const std::optional<int64_t>& v, int64_t lo, int64_t hi) {
  if (v && (*v < lo || *v > hi)) {
    return Invalid(field, std::string(field) + " must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi));
  }
  return Status::Ok();
}

Status RealRange(const char* field, const std::optional<double>& v, double lo, double hi,
                 bool lo_open) {
  if (v && (!std::isfinite(*v) || *v > hi || *v < lo || (lo_open && *v == lo))) {
    return Invalid(field, std::string(field) + " must be " +
                              (lo_open ? "greater than " : "at least ") + std::to_string(lo) +
                              " and at most " + std::to_string(hi));
  }
  return Status::Ok();
}

}  // namespace

Status ValidateModelName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return Invalid("name", "a model name must be 1 to 128 characters long");
  }
  if (!IsAlnum(name.front())) {
    return Invalid("name", "a model name must start with a letter or a digit");
  }
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-' && c != '/') {
      return Invalid("name", "a model name may hold only letters, digits and . _ - /");
    }
  }
  if (name.find("//") != std::string_view::npos || name.find("..") != std::string_view::npos ||
      name.back() == '/') {
    return Invalid("name", "a model name must not hold '//' or '..' or end with '/'");
  }
  return Status::Ok();
}

Status ValidateTagName(std::string_view tag) {
  if (tag.empty() || tag.size() > 64)
    return Invalid("tag", "a tag must be 1 to 64 characters long");
  if (!IsAlnum(tag.front()) && tag.front() != '_') {
    return Invalid("tag", "a tag must start with a letter, a digit or '_'");
  }
  for (char c : tag) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') {
      return Invalid("tag", "a tag may hold only letters, digits and . _ -");
    }
  }
  return Status::Ok();
}

Status ValidateDigest(std::string_view digest) {
  constexpr std::string_view kPrefix = "sha256:";
  bool ok = digest.size() == kPrefix.size() + 64 && digest.substr(0, kPrefix.size()) == kPrefix;
  for (size_t i = kPrefix.size(); ok && i < digest.size(); ++i) {
    const char c = digest[i];
    ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
  if (!ok) return Invalid("digest", "a digest is 'sha256:' and 64 lowercase hex digits");
  return Status::Ok();
}

Status ValidateParameters(const ModelParameters& p) {
  constexpr int64_t k16M = int64_t{1} << 24;
  LLMUX_RETURN_IF_ERROR(IntRange("context_length", p.context_length, 1, k16M));
  if (p.kv_type && *p.kv_type != "f32" && *p.kv_type != "f16" && *p.kv_type != "q8_0") {
    return Invalid("kv_type", "kv_type must be f32, f16 or q8_0");
  }
  LLMUX_RETURN_IF_ERROR(IntRange("kv_budget_mb", p.kv_budget_mb, 1, k16M));
  LLMUX_RETURN_IF_ERROR(RealRange("temperature", p.temperature, 0.0, 2.0, false));
  LLMUX_RETURN_IF_ERROR(RealRange("top_p", p.top_p, 0.0, 1.0, true));
  LLMUX_RETURN_IF_ERROR(IntRange("top_k", p.top_k, 0, 1000000));
  LLMUX_RETURN_IF_ERROR(RealRange("min_p", p.min_p, 0.0, 1.0, false));
  LLMUX_RETURN_IF_ERROR(IntRange("max_tokens", p.max_tokens, 1, 1000000));
  LLMUX_RETURN_IF_ERROR(IntRange("seed", p.seed, 0, int64_t{0xFFFFFFFF}));
  if (p.system_prompt && p.system_prompt->size() > 64 * 1024) {
    return Invalid("system_prompt", "system_prompt must be at most 64 KiB");
  }
  if (p.chat_template && p.chat_template->size() > 256 * 1024) {
    return Invalid("chat_template", "chat_template must be at most 256 KiB");
  }
  LLMUX_RETURN_IF_ERROR(IntRange("max_running", p.max_running, 1, 4096));
  return Status::Ok();
}

Result<ModelRef> ParseModelRef(std::string_view ref) {
  ModelRef out;
  const size_t colon = ref.find(':');
  out.name = std::string(ref.substr(0, colon));
  out.tag = colon == std::string_view::npos ? std::string(kDefaultTag)
                                            : std::string(ref.substr(colon + 1));
  LLMUX_RETURN_IF_ERROR(ValidateModelName(out.name));
  LLMUX_RETURN_IF_ERROR(ValidateTagName(out.tag));
  return out;
}

}  // namespace llmux::registry
