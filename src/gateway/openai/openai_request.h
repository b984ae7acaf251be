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

// POST /tokenize and /detokenize, in vLLM's shape: {"model", "prompt", "add_special_tokens"
// (default true)} and {"model", "tokens"}.
struct ParsedTokenizeRequest {
  std::string model;
  std::string prompt;
  bool add_special_tokens = true;
};
struct ParsedDetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;
};
Result<ParsedTokenizeRequest> ParseTokenizeRequest(std::string_view body);

// POST /v1/embeddings: {"model", "input": string | [string] | [int] | [[int]],
// "encoding_format": "float" (default) | "base64", "dimensions", "user", and vLLM's "normalize"
// (default true)}.
struct ParsedEmbeddingsRequest {
  serving::EmbedRequest request;
  bool base64 = false;
};
Result<ParsedEmbeddingsRequest> ParseEmbeddingsRequest(std::string_view body);
Result<ParsedDetokenizeRequest> ParseDetokenizeRequest(std::string_view body);

}  // namespace llmux::gateway
