// Anthropic Messages API request bodies (POST /v1/messages and /v1/messages/count_tokens) to
// the serving core's ChatRequest. Every type or value error is InvalidArgument with field()
// set to the offending parameter; unknown fields (metadata, service_tier, ...) are ignored.
#pragma once

#include <string_view>

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

struct ParsedMessagesRequest {
  serving::ChatRequest request;
  bool stream = false;
};

// POST /v1/messages: max_tokens is required.
Result<ParsedMessagesRequest> ParseMessagesRequest(std::string_view body);
// POST /v1/messages/count_tokens: the same body without max_tokens (nor stream).
Result<serving::ChatRequest> ParseCountTokensRequest(std::string_view body);

}  // namespace llmux::gateway
