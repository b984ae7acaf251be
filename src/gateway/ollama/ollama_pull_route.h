// Ollama's POST /api/pull over llmux's model pulls: {"model": URL, "stream"?: bool,
// "insecure"?: bool}. llmux has no registry to resolve names like "qwen3:8b", so `model` must
// be an http(s) URL of the file (400 otherwise); a URL whose last segment is sha256:<hex> is
// checked against that digest. Streams NDJSON {status, digest?, total?, completed?} lines
// ("pulling manifest", "downloading", "verifying sha256 digest", "writing manifest",
// "success"), or with stream false answers one final {"status": "success"}. Needs
// models:manage (the route table); refusals are Ollama's {"error"} with 400/409/429 as for
// POST /admin/v1/models/pull.
#pragma once

namespace llmux::pull {
class ModelPuller;
}

namespace llmux::gateway {

class GuardedRouter;

// Register on the router built with OllamaErrorResponse. `puller` must outlive the server.
void RegisterOllamaPullRoute(GuardedRouter& router, pull::ModelPuller& puller);

}  // namespace llmux::gateway
