// The edge every client-facing role runs (all-in-one and gateway): the OpenAI-compatible HTTP
// API, MCP at /mcp, the admin routes, gRPC (llmux.v1), authentication and limits, over one
// InferenceService that the role provides (models in this process, or workers elsewhere).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "app/auth_stack.h"
#include "base/status.h"
#include "gateway/access/access_gate.h"
#include "gateway/console/console_routes.h"
#include "gateway/grpc/grpc_server.h"
#include "gateway/mcp/mcp_endpoint.h"
#include "net/http/http_server.h"
#include "net/pull/model_puller.h"
#include "services/requestlog/request_log.h"
#include "serving/inference_service.h"
#include "serving/model_load_settings.h"
#include "serving/model_manager.h"
#include "serving/worker_admin.h"

namespace llmux::serving {
class MetricHistory;
}
namespace llmux::rollout {
class DeployService;
}
namespace llmux::gateway {
class ServedModels;
}

namespace llmux::app {

struct EdgeOptions {
  std::string host = "127.0.0.1";  // HTTP and gRPC listen here
  int port = 8080;                 // HTTP; 0 picks a free port
  bool auth = true;  // false (--no-auth): every caller may do everything; loopback only
  AuthStackOptions auth_stack;
  // Browser origins allowed besides loopback and the server's own (for /mcp, and with auth off
  // for every route).
  std::vector<std::string> allowed_origins;
  http::HttpServerOptions http;
  gateway::AccessGateOptions access;
  // One record per finished generation, in the auth store (none without authentication).
  requestlog::RequestLogOptions request_log;
  gateway::McpEndpointOptions mcp;  // model_dir empty: <data_dir>/models
  // Model pulls (POST /admin/v1/models/pull, /api/pull); models_dir empty: the MCP model_dir.
  pull::PullerOptions pull;
  gateway::ConsoleOptions console;  // the web console at /console/; dir empty: <data_dir>/console
  bool grpc = true;
  gateway::GrpcServerOptions grpc_server;  // its host is `host`
  std::chrono::seconds grace{30};  // running requests get this long on SIGTERM
};

// What the role puts behind the edge.
struct EdgeBackend {
  serving::InferenceService* service = nullptr;
  serving::ModelManager* models = nullptr;  // MCP load_model / unload_model; null: not offered
  // `models` keeps each model's lifecycle (GET /admin/v1/models is offered).
  bool model_lifecycle = false;
  serving::WorkerAdmin* workers = nullptr;  // /admin/v1/workers; null: no workers (all in one)
  rollout::DeployService* deploys = nullptr;  // /admin/v1/deploys (with auth); null: not offered
  // What a registry tag move, its rollback and POST /admin/v1/models/update do to the served
  // models (app/served_models.h); null: tags move in the registry only, no hot update.
  gateway::ServedModels* served_models = nullptr;
  std::function<std::string()> metrics_text;
  // GET /admin/v1/metrics/history; null: not offered (no serving metrics in this process).
  serving::MetricHistory* metric_history = nullptr;
  // Called once, before wait_ready, when the registry is open: starts loading the role's models
  // with each model's load settings from the registry (null without one). Null: nothing to start.
  std::function<void(serving::ModelLoadSettingsLookup)> start_models;
  // Blocks until the models are served; an error stops the edge with it.
  std::function<Status()> wait_ready;
  // Called once the front ends have stopped: refuse new work, let running work finish.
  std::function<void(std::chrono::milliseconds grace)> drain;
  std::string starting;  // the end of the listening line, e.g. "loading 2 model(s)"
};

// Runs until SIGINT/SIGTERM (Ok) or a failure to start or to get ready (its status).
Status RunEdge(const EdgeOptions& options, const EdgeBackend& backend);

}  // namespace llmux::app
