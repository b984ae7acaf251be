#include "gateway/request/request_fields.h"

#include <fmt/format.h>

#include <cmath>

#include "base/json_nesting.h"

namespace llmux::gateway::request_fields {

const Json* Field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status FieldReader::Invalid(const std::string& path, const std::string& message) const {
  return InvalidArgumentError(w_.prefix_path ? path + ": " + message : message).WithField(path);
}

Status FieldReader::TypeError(const std::string& path, const char* expected,
                              const Json& got) const {
  return Invalid(path, fmt::format(fmt::runtime(w_.type_error), path, expected, got.type_name()));
}

Status FieldReader::OutOfRange(const std::string& path, const Json& got) const {
  return Invalid(path, fmt::format(fmt::runtime(w_.out_of_range), path, got.dump()));
}

Result<Json> FieldReader::ParseBody(std::string_view body) const {
  if (!JsonNestingWithin(body)) return InvalidArgumentError(JsonTooDeepMessage());
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgumentError(w_.not_json);
  if (!j.is_object()) return InvalidArgumentError(w_.not_object);
  return j;
}

Result<std::optional<std::string>> FieldReader::GetString(const Json& obj, const char* name,
                                                          const std::string& path) const {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(path, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<bool>> FieldReader::GetBool(const Json& obj, const char* name,
                                                 const std::string& path) const {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return TypeError(path, "a boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<float>> FieldReader::GetFloat(const Json& obj, const char* name,
                                                   const std::string& path) const {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<float>();
  if (!v->is_number()) return TypeError(path, "a number", *v);
  const double d = v->get<double>();
  if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
    return OutOfRange(path, *v);
  }
  return std::optional<float>(static_cast<float>(d));
}

Result<std::optional<int64_t>> FieldReader::GetInteger(const Json& obj, const char* name,
                                                       const std::string& path, int64_t lo,
                                                       int64_t hi) const {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<int64_t>();
  int64_t n = 0;
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() > static_cast<uint64_t>(hi)) return OutOfRange(path, *v);
    n = static_cast<int64_t>(v->get<uint64_t>());
  } else if (v->is_number_integer()) {
    n = v->get<int64_t>();
  } else if (v->is_number_float() && w_.integral_floats && std::isfinite(v->get<double>()) &&
             std::floor(v->get<double>()) == v->get<double>()) {
    const double d = v->get<double>();
    if (std::fabs(d) >= 9e15) return OutOfRange(path, *v);  // integral, but past exact doubles
    n = static_cast<int64_t>(d);
  } else {
    return TypeError(path, "an integer", *v);
  }
  if (n < lo || n > hi) return OutOfRange(path, *v);
  return std::optional<int64_t>(n);
}

Result<std::optional<int>> FieldReader::GetInt(const Json& obj, const char* name,
                                               const std::string& path) const {
  LLMUX_ASSIGN_OR_RETURN(auto v, GetInteger(obj, name, path, std::numeric_limits<int>::min(),
                                            std::numeric_limits<int>::max()));
  if (!v) return std::optional<int>();
  return std::optional<int>(static_cast<int>(*v));
}

}  // namespace llmux::gateway::request_fields
