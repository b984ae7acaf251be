// The OpenAI-compatible HTTP API over the serving core: /v1/chat/completions,
// /v1/completions, /v1/models, plus /health and /metrics. Handlers only parse, call the
// InferenceService and format; errors use OpenAI's error object.
#pragma once

#include <functional>
#include <string>

namespace llmux::http {
class HttpServer;
}
namespace llmux::serving {
class InferenceService;
}

namespace llmux::gateway {

struct OpenAiRoutesOptions {
  // Prometheus text for GET /metrics.
  std::function<std::string()> metrics_text;
};

// Registers the routes and the OpenAI-shaped error formatter on `server`. The service must
// outlive the server.
void RegisterOpenAiRoutes(http::HttpServer& server, serving::InferenceService& service,
                          OpenAiRoutesOptions options);

}  // namespace llmux::gateway
