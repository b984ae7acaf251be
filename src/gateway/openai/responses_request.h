// POST /v1/responses bodies (OpenAI's Responses API) to a chat request. Input items become
// chat messages: messages, function_call items (assistant tool calls) and
// function_call_output items (tool results). Errors are InvalidArgument naming the parameter.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/chat_types.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

// At most this many input items in one request (each becomes a message).
inline constexpr size_t kMaxResponseInputItems = 2048;

struct ParsedResponsesRequest {
  // model, tools, tool_choice, options, response format; messages hold only this request's
  // input (without instructions or the previous response's conversation).
  serving::ChatRequest request;
  std::optional<std::string> instructions;  // becomes the leading system message
  std::string previous_response_id;
  bool stream = false;
  bool store = true;
  // Request fields the response object echoes (instructions, tools, tool_choice, text,
  // temperature, top_p, max_output_tokens, reasoning, metadata), as sent.
  chat::Json echo = chat::Json::object();
};

// A chat message of `role` with text `content`.
chat::Message MakeMessage(std::string role, std::string content);

Result<ParsedResponsesRequest> ParseResponsesRequest(std::string_view body);

}  // namespace llmux::gateway
