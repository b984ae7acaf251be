// The registry's records as JSON documents: how parameters are stored, and what a change
// record's before/after text holds. One shape, so the history reads like the parameters the
// admin API takes and shows.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "services/registry/registry_types.h"

namespace llmux::registry {

// Only the fields that are set: {"temperature": 0.2, "max_tokens": 64, ...}.
nlohmann::json ParametersToJson(const ModelParameters& parameters);
// An object of the fields above; a field given as null is unset. kInvalidArgument (with the
// field) for an unknown field or a value of the wrong type; ranges are ValidateParameters'.
Result<ModelParameters> ParametersFromJson(const nlohmann::json& json);
// The text forms, as stored. ParseParametersText: kDataLoss for text that is not such a document.
std::string ParametersText(const ModelParameters& parameters);
Result<ModelParameters> ParseParametersText(std::string_view text);

// {"digest", "path", "size_bytes", "format", "architecture"}: a version as history records it.
nlohmann::json VersionToJson(const Version& version);
// A tag's target as history records it: {"digest": d}.
std::string TagTargetText(std::string_view digest);
// The digest in a TagTargetText, or nullopt for "null". kDataLoss for anything else.
Result<std::optional<std::string>> ParseTagTargetText(std::string_view text);

}  // namespace llmux::registry
