#include "services/registry/registry_codec.h"

#include <string>

#include "base/json_nesting.h"

namespace llmux::registry {

namespace {

using Json = nlohmann::json;
using P = ModelParameters;

// Each parameter once: its JSON name and its member (of one of three types).
struct Field {
  const char* name;
  std::optional<int64_t> P::*integer = nullptr;
  std::optional<double> P::*real = nullptr;
  std::optional<std::string> P::*text = nullptr;
};

const Field kFields[] = {
    {"context_length", &P::context_length},
    {"kv_type", nullptr, nullptr, &P::kv_type},
    {"kv_budget_mb", &P::kv_budget_mb},
    {"temperature", nullptr, &P::temperature},
    {"top_p", nullptr, &P::top_p},
    {"top_k", &P::top_k},
    {"min_p", nullptr, &P::min_p},
    {"max_tokens", &P::max_tokens},
    {"seed", &P::seed},
    {"system_prompt", nullptr, nullptr, &P::system_prompt},
    {"chat_template", nullptr, nullptr, &P::chat_template},
    {"max_running", &P::max_running},
};

Status WrongType(const std::string& key, const char* what) {
  return InvalidArgumentError(key + " must be " + what).WithField(key);
}

Status Read(const Field& f, const std::string& key, const Json& v, P& p) {
  if (f.integer) {
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX})) {
      return WrongType(key, "an integer");
    }
    p.*f.integer = v.get<int64_t>();
  } else if (f.real) {
    if (!v.is_number()) return WrongType(key, "a number");
    p.*f.real = v.get<double>();
  } else {
    if (!v.is_string()) return WrongType(key, "a string");
    p.*f.text = v.get<std::string>();
  }
  return Status::Ok();
}

}  // namespace

Json ParametersToJson(const ModelParameters& p) {
  Json j = Json::object();
  for (const Field& f : kFields) {
    if (f.integer && p.*f.integer) j[f.name] = *(p.*f.integer);
    if (f.real && p.*f.real) j[f.name] = *(p.*f.real);
    if (f.text && p.*f.text) j[f.name] = *(p.*f.text);
  }
  return j;
}

Result<ModelParameters> ParametersFromJson(const Json& json) {
  if (!json.is_object()) return InvalidArgumentError("parameters must be a JSON object");
  ModelParameters p;
  for (const auto& [key, v] : json.items()) {
    const Field* field = nullptr;
    for (const Field& f : kFields) {
      if (key == f.name) field = &f;
    }
    if (!field) {
      return InvalidArgumentError("unknown parameter '" + key.substr(0, 64) + "'")
          .WithField("parameters");
    }
    if (!v.is_null()) LLMUX_RETURN_IF_ERROR(Read(*field, key, v, p));
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
