// Typed access to the fields of a JSON request body, one set for every front end's request
// parser (OpenAI, Anthropic, Ollama). Each protocol words its errors its own way: a parser
// reads its body through a FieldReader holding that wording. Every error is InvalidArgument
// with field() set to the parameter's path.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::gateway::request_fields {

using Json = nlohmann::ordered_json;

// Optional field access: absent and null both mean "not given".
const Json* Field(const Json& obj, const char* name);

// How one protocol words its field errors. The patterns are fmt format strings.
struct Wording {
  const char* type_error;       // {0} path, {1} what was expected ("a string"), {2} the JSON type
  const char* out_of_range;     // {0} path, {1} the value as it was sent
  const char* not_json;         // the body does not parse
  const char* not_object;       // the body is not a JSON object
  bool prefix_path = false;     // every message starts "path: "
  bool integral_floats = true;  // 2.0 is taken where an integer is expected
};

class FieldReader {
 public:
  constexpr explicit FieldReader(Wording wording) : w_(wording) {}

  Status Invalid(const std::string& path, const std::string& message) const;
  Status TypeError(const std::string& path, const char* expected, const Json& got) const;
  // A number the field's type cannot hold, naming the value as it was sent.
  Status OutOfRange(const std::string& path, const Json& got) const;
  // The body as a JSON object, refused past the nesting limit or when it is not an object.
  Result<Json> ParseBody(std::string_view body) const;

  Result<std::optional<std::string>> GetString(const Json& obj, const char* name,
                                               const std::string& path) const;
  Result<std::optional<bool>> GetBool(const Json& obj, const char* name,
                                      const std::string& path) const;
  // A number a float holds (finite, within its range).
  Result<std::optional<float>> GetFloat(const Json& obj, const char* name,
                                        const std::string& path) const;
  // An integer within [lo, hi]; a float with no fraction too where the wording allows it
  // (JSON clients send them), up to the integers a double holds exactly.
  Result<std::optional<int64_t>> GetInteger(const Json& obj, const char* name,
                                            const std::string& path,
                                            int64_t lo = std::numeric_limits<int64_t>::min(),
                                            int64_t hi = std::numeric_limits<int64_t>::max()) const;
  // An integer field narrowed to int.
  Result<std::optional<int>> GetInt(const Json& obj, const char* name,
                                    const std::string& path) const;

 private:
  Wording w_;
};

}  // namespace llmux::gateway::request_fields
