#include "gateway/openai/request_fields.h"

#include <cmath>
#include <limits>

#include "base/json_nesting.h"

namespace llmux::gateway::request_fields {

Status Invalid(const std::string& field, const std::string& message) {
  return InvalidArgumentError(message).WithField(field);
}

Result<Json> ParseBody(std::string_view body) {
  if (!JsonNestingWithin(body)) return InvalidArgumentError(JsonTooDeepMessage());
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return InvalidArgumentError(
        "We could not parse the JSON body of your request. The body must be valid JSON.");
  }
  if (!j.is_object()) return InvalidArgumentError("The request body must be a JSON object.");
  return j;
}

// Optional field access: absent and null both mean "not given".
const Json* Field(const Json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status TypeError(const std::string& field, const char* expected, const Json& got) {
  return Invalid(field, "Invalid type for '" + field + "': expected " + expected + ", but got " +
                            std::string(got.type_name()) + ".");
}

Result<std::optional<std::string>> GetString(const Json& obj, const char* name,
                                             const std::string& path) {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<std::string>();
  if (!v->is_string()) return TypeError(path, "a string", *v);
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<double>> GetNumber(const Json& obj, const char* name) {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<double>();
  if (!v->is_number()) return TypeError(name, "a number", *v);
  return std::optional<double>(v->get<double>());
}

// The error of a number the field's type cannot hold, naming the value as it was sent (not a
// clamped or overflowed one).
Status OutOfRange(const Json& obj, const char* name) {
  return Invalid(name, std::string(name) + " is out of range, got " + obj.at(name).dump());
}

Result<std::optional<int64_t>> GetInteger(const Json& obj, const char* name) {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<int64_t>();
  if (v->is_number_unsigned() &&
      v->get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()}) {
    return OutOfRange(obj, name);
  }
  if (v->is_number_integer()) return std::optional<int64_t>(v->get<int64_t>());
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::isfinite(d) && std::floor(d) == d) {
      if (std::fabs(d) >= 9e15) return OutOfRange(obj, name);  // integral, but past exact doubles
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return TypeError(name, "an integer", *v);
}

Result<std::optional<bool>> GetBool(const Json& obj, const char* name, const std::string& path) {
  const Json* v = Field(obj, name);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return TypeError(path, "a boolean", *v);
  return std::optional<bool>(v->get<bool>());
}

// An integer field narrowed to int.
Result<std::optional<int>> GetInt(const Json& obj, const char* name) {
  LLMUX_ASSIGN_OR_RETURN(auto v, GetInteger(obj, name));
  if (!v) return std::optional<int>();
  if (*v < std::numeric_limits<int>::min() || *v > std::numeric_limits<int>::max())
    return OutOfRange(obj, name);
  return std::optional<int>(static_cast<int>(*v));
}

}  // namespace llmux::gateway::request_fields
