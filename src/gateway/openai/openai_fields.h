// OpenAI's wording of request field errors, shared by its request parsers.
#pragma once

#include "gateway/request/request_fields.h"

namespace llmux::gateway {

inline constexpr request_fields::FieldReader kOpenAiFields({
    .type_error = "Invalid type for '{0}': expected {1}, but got {2}.",
    .out_of_range = "{0} is out of range, got {1}",
    .not_json = "We could not parse the JSON body of your request. The body must be valid JSON.",
    .not_object = "The request body must be a JSON object.",
});

}  // namespace llmux::gateway
