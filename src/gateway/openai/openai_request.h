// OpenAI request bodies (JSON) to the serving core's request types. Every type or value
// error comes back as InvalidArgument with field() set to the offending parameter, so the
// caller can answer with OpenAI's error object. Unknown fields are ignored.
#pragma once

#include <string_view>

#include "base/status.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

struct StreamSettings {
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

struct ParsedChatRequest {
  serving::ChatRequest request;
  StreamSettings stream;
};

struct ParsedCompletionRequest {
  serving::CompletionRequest request;
  StreamSettings stream;
  bool echo = false;
};

Result<ParsedChatRequest> ParseChatCompletionRequest(std::string_view body);
Result<ParsedCompletionRequest> ParseCompletionRequest(std::string_view body);

}  // namespace llmux::gateway
