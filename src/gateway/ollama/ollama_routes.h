// The Ollama API (as Ollama 0.6+ serves it) over the serving core: POST /api/chat and
// /api/generate (NDJSON streams by default), GET /api/tags, POST /api/show, GET /api/ps,
// GET /api/version, and /api/embed + /api/embeddings answered 501 (no embeddings yet).
// Handlers only parse, check the model against the caller's permissions, call the
// InferenceService and format; every failure is Ollama's {"error": "..."}. The routes are
// guarded by the route table like every other (the router's refusals must use
// OllamaErrorResponse: register them on a GuardedRouter built with it).
//
// keep_alive acts as in Ollama where the models are hosted in this process (`models` given):
// after the request the model stays loaded that long without requests (0: unloaded once the
// request ended; negative: until unloaded), and /api/ps shows when it expires. Models given on
// the command line stay loaded whatever it says; a model unloaded so is not reloaded on demand.
#pragma once

#include <string>

#include "net/http/http_types.h"

namespace llmux {
class Status;
}
namespace llmux::serving {
class InferenceService;
class ModelManager;
}

namespace llmux::gateway {

class GuardedRouter;

// The Ollama version /api/version reports: the API level these routes follow, which clients
// compare against their minimum.
inline constexpr const char* kOllamaApiVersion = "0.6.4";

struct OllamaRoutesOptions {
  std::string llmux_version;  // reported beside the Ollama version; empty: not reported
  // The models' lifecycle (keep_alive, /api/ps expiry); null: keep_alive has no effect and
  // every model shows as never expiring.
  serving::ModelManager* models = nullptr;
};

// Also sets the router's server's error formatter for paths under /api/.
void RegisterOllamaRoutes(GuardedRouter& router, serving::InferenceService& service,
                          OllamaRoutesOptions options = {});

// A failed call as Ollama's error object, with the matching HTTP status.
http::Response OllamaErrorResponse(const Status& status);
// The same for errors the HTTP server answers itself (413, 404, ...).
http::Response OllamaServerErrorResponse(int http_status, const std::string& message);

}  // namespace llmux::gateway
