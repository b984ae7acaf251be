// Anthropic's Messages API over the serving core: POST /v1/messages (whole or streamed as
// Anthropic's SSE events) and POST /v1/messages/count_tokens. Handlers only parse, check the
// model against the caller's permissions, call the InferenceService and format; errors use
// Anthropic's error object. Generations are charged and logged like OpenAI's.
#pragma once

#include "net/http/http_types.h"

namespace llmux::serving {
class InferenceService;
}

namespace llmux {
class Status;
}

namespace llmux::gateway {

class GuardedRouter;

// Registers the routes behind `router`'s access gate (build it with AnthropicErrorResponse),
// and Anthropic's error formatter for the server's own errors under /v1/messages. The service
// must outlive the server.
void RegisterAnthropicRoutes(GuardedRouter& router, serving::InferenceService& service);

// A failed call as Anthropic's error object, with the matching HTTP status.
http::Response AnthropicErrorResponse(const Status& status);

}  // namespace llmux::gateway
