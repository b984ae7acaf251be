// The OpenAI-compatible HTTP API over the serving core: /v1/chat/completions,
// /v1/completions, /v1/models, plus /health and /metrics. Handlers only parse, check the
// model against the caller's permissions, call the InferenceService and format; errors use
// OpenAI's error object. /v1/models lists only the models the caller may use.
#pragma once

#include <functional>
#include <string>

#include "net/http/http_types.h"

namespace llmux::http {
class HttpServer;
}
namespace llmux::serving {
class InferenceService;
}

namespace llmux {
class Status;
}

namespace llmux::gateway {

class GuardedRouter;

struct OpenAiRoutesOptions {
  // Prometheus text for GET /metrics.
  std::function<std::string()> metrics_text;
};

// Registers the routes behind `router`'s access gate, and the OpenAI-shaped error formatter on
// its server. The service must outlive the server.
void RegisterOpenAiRoutes(GuardedRouter& router, serving::InferenceService& service,
                          OpenAiRoutesOptions options);

// A failed call as OpenAI's error object, with the matching HTTP status.
http::Response OpenAiErrorResponse(const Status& status);

}  // namespace llmux::gateway
