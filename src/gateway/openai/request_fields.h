// Typed access to the fields of an OpenAI request body, shared by the request parsers. Each
// error is InvalidArgument with field() set to the parameter's path.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::gateway::request_fields {

using Json = nlohmann::ordered_json;

Status Invalid(const std::string& field, const std::string& message);
// The body as a JSON object, refused past the nesting limit or when it is not an object.
Result<Json> ParseBody(std::string_view body);
// Optional field access: absent and null both mean "not given".
const Json* Field(const Json& obj, const char* name);
Status TypeError(const std::string& field, const char* expected, const Json& got);
Result<std::optional<std::string>> GetString(const Json& obj, const char* name,
                                             const std::string& path);
Result<std::optional<double>> GetNumber(const Json& obj, const char* name);
// The error of a number the field's type cannot hold, naming the value as it was sent.
Status OutOfRange(const Json& obj, const char* name);
Result<std::optional<int64_t>> GetInteger(const Json& obj, const char* name);
Result<std::optional<bool>> GetBool(const Json& obj, const char* name, const std::string& path);
// An integer field narrowed to int.
Result<std::optional<int>> GetInt(const Json& obj, const char* name);

}  // namespace llmux::gateway::request_fields
