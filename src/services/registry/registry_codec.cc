#include "services/registry/registry_codec.h"

#include <string>

#include "base/json_nesting.h"

namespace llmux::registry {

namespace {

using Json = nlohmann::json;

Status WrongType(const std::string& key, const char* what) {
  return InvalidArgumentError(key + " must be " + what).WithField(key);
}

template <typename T>
void PutIf(Json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

}  // namespace

Json ParametersToJson(const ModelParameters& p) {
  Json j = Json::object();
  PutIf(j, "context_length", p.context_length);
  PutIf(j, "kv_type", p.kv_type);
  PutIf(j, "kv_budget_mb", p.kv_budget_mb);
  PutIf(j, "temperature", p.temperature);
  PutIf(j, "top_p", p.top_p);
  PutIf(j, "top_k", p.top_k);
  PutIf(j, "min_p", p.min_p);
  PutIf(j, "max_tokens", p.max_tokens);
  PutIf(j, "seed", p.seed);
  PutIf(j, "system_prompt", p.system_prompt);
  PutIf(j, "chat_template", p.chat_template);
  PutIf(j, "max_running", p.max_running);
  return j;
}

Result<ModelParameters> ParametersFromJson(const Json& json) {
  if (!json.is_object()) return InvalidArgumentError("parameters must be a JSON object");
  ModelParameters p;
  for (const auto& [key, v] : json.items()) {
    if (v.is_null()) continue;
    auto integer = [&](std::optional<int64_t>& out) -> Status {
      if (!v.is_number_integer()) return WrongType(key, "an integer");
      if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}) {
        return WrongType(key, "an integer in range");
      }
      out = v.get<int64_t>();
      return Status::Ok();
    };
    auto real = [&](std::optional<double>& out) -> Status {
      if (!v.is_number()) return WrongType(key, "a number");
      out = v.get<double>();
      return Status::Ok();
    };
    auto text = [&](std::optional<std::string>& out) -> Status {
      if (!v.is_string()) return WrongType(key, "a string");
      out = v.get<std::string>();
      return Status::Ok();
    };
    Status st;
    if (key == "context_length") st = integer(p.context_length);
    else if (key == "kv_type") st = text(p.kv_type);
    else if (key == "kv_budget_mb") st = integer(p.kv_budget_mb);
    else if (key == "temperature") st = real(p.temperature);
    else if (key == "top_p") st = real(p.top_p);
    else if (key == "top_k") st = integer(p.top_k);
    else if (key == "min_p") st = real(p.min_p);
    else if (key == "max_tokens") st = integer(p.max_tokens);
    else if (key == "seed") st = integer(p.seed);
    else if (key == "system_prompt") st = text(p.system_prompt);
    else if (key == "chat_template") st = text(p.chat_template);
    else if (key == "max_running") st = integer(p.max_running);
    else st = InvalidArgumentError("unknown parameter '" + key.substr(0, 64) + "'").WithField("parameters");
    LLMUX_RETURN_IF_ERROR(st);
  }
  return p;
}

std::string ParametersText(const ModelParameters& p) { return ParametersToJson(p).dump(); }

Result<ModelParameters> ParseParametersText(std::string_view text) {
  if (!JsonNestingWithin(text)) return DataLossError("stored model parameters nest too deeply");
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return DataLossError("stored model parameters are not JSON");
  auto p = ParametersFromJson(j);
  if (!p.ok()) return DataLossError("stored model parameters: " + p.status().message());
  return p;
}

Json VersionToJson(const Version& v) {
  return Json{{"digest", v.digest},
              {"path", v.path},
              {"size_bytes", v.size_bytes},
              {"format", v.format},
              {"architecture", v.architecture}};
}

std::string TagTargetText(std::string_view digest) {
  return Json{{"digest", std::string(digest)}}.dump();
}

Result<std::optional<std::string>> ParseTagTargetText(std::string_view text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_null()) return std::optional<std::string>();
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string()) {
    return DataLossError("a recorded tag target is malformed");
  }
  return std::optional<std::string>(j["digest"].get<std::string>());
}

}  // namespace llmux::registry
