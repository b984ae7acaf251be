#include "app/edge.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "app/registry_pull_sink.h"
#include "base/directory_lock.h"
#include "base/private_file.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/admin_routes.h"
#include "gateway/admin/deploy_routes.h"
#include "gateway/admin/me_route.h"
#include "gateway/admin/metrics_history_routes.h"
#include "gateway/admin/model_pull_routes.h"
#include "gateway/admin/model_routes.h"
#include "gateway/admin/prompt_routes.h"
#include "gateway/admin/registry_routes.h"
#include "gateway/admin/request_log_routes.h"
#include "gateway/admin/session_routes.h"
#include "gateway/admin/worker_routes.h"
#include "gateway/anthropic/anthropic_routes.h"
#include "gateway/ollama/ollama_pull_route.h"
#include "gateway/ollama/ollama_routes.h"
#include "gateway/openai/openai_routes.h"
#include "net/http/loopback_host.h"
#include "net/http/signal_watcher.h"
#include "rollout/deploy_service.h"
#include "services/prompts/prompt_service.h"
#include "services/registry/load_settings.h"
#include "services/registry/model_defaults.h"
#include "services/registry/registry_service.h"
#include "store/open_store.h"

namespace llmux::app {

namespace {

// Many clients mean many sockets: lift the soft open-file limit to the hard one.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The request log's counters in the Prometheus text format, after the serving metrics.
std::string RequestLogMetrics(const requestlog::RequestLog& log) {
  return "# HELP llmux_request_log_dropped_total Request log records dropped: the write queue was "
         "full.\n"
         "# TYPE llmux_request_log_dropped_total counter\n"
         "llmux_request_log_dropped_total " +
         std::to_string(log.dropped()) +
         "\n"
         "# HELP llmux_request_log_written_total Request log records stored.\n"
         "# TYPE llmux_request_log_written_total counter\n"
         "llmux_request_log_written_total " +
         std::to_string(log.written()) +
         "\n"
         "# HELP llmux_request_log_write_failures_total Request log records lost to failed "
         "writes.\n"
         "# TYPE llmux_request_log_write_failures_total counter\n"
         "llmux_request_log_write_failures_total " +
         std::to_string(log.write_failures()) +
         "\n"
         "# HELP llmux_request_log_queued Request log records waiting to be written.\n"
         "# TYPE llmux_request_log_queued gauge\n"
         "llmux_request_log_queued " +
         std::to_string(log.queued()) + "\n";
}

Status CheckOptions(const EdgeOptions& o) {
  // --no-auth is only for a server nobody else can reach. --host may be a name, resolved to
  // bind, so only the strict rule will do: "127.0.0.1.evil.com" can resolve to any address.
  if (!o.auth && !http::IsLoopbackHost(o.host)) {
    return InvalidArgumentError(
        "--no-auth is refused on a non-loopback address (" + o.host +
        "): anyone who can reach it could use every model and admin route; listen on "
        "127.0.0.1 or keep authentication on");
  }
  if (o.mcp.conformance_fixtures && o.auth) {
    return InvalidArgumentError(
        "--mcp-conformance-fixtures is a test switch: it needs --no-auth (the suite sends no "
        "credentials)");
  }
  return Status::Ok();
}

// The data directory holds the database and the first admin key: created for the owner only,
// and used by one server at a time unless the store is PostgreSQL (made to be shared).
Result<std::unique_ptr<DirectoryLock>> PrepareDataDirectory(const AuthStackOptions& o) {
  bool widened = false;
  if (Status st = CreatePrivateDirectory(o.data_dir, &widened); !st.ok()) {
    return st.WithContext("the data directory");
  }
  if (widened) {
    spdlog::warn("the data directory {} can be entered by other users (chmod 700 it)", o.data_dir);
  }
  if (store::IsPostgresUrl(o.store_url)) return std::unique_ptr<DirectoryLock>();
  return DirectoryLock::Acquire(o.data_dir);
}

}  // namespace

Status RunEdge(const EdgeOptions& o, const EdgeBackend& backend) {
  RaiseOpenFileLimit();
  LLMUX_RETURN_IF_ERROR(CheckOptions(o));
  LLMUX_ASSIGN_OR_RETURN(std::unique_ptr<DirectoryLock> data_dir_lock,
                         PrepareDataDirectory(o.auth_stack));
  AuthStack auth_stack;
  if (o.auth) {
    LLMUX_ASSIGN_OR_RETURN(auth_stack, StartAuth(o.auth_stack));
  }
  // The prompt templates live in the auth stack's store (none without authentication).
  std::unique_ptr<prompts::PromptService> prompt_service;
  if (auth_stack.store) {
    prompt_service = std::make_unique<prompts::PromptService>(*auth_stack.store, *auth_stack.store);
  }
  // So is the model registry; requests that leave a value out get their model's defaults.
  std::unique_ptr<registry::RegistryService> registry_service;
  if (auth_stack.store) {
    registry_service =
        std::make_unique<registry::RegistryService>(*auth_stack.store, *auth_stack.store);
  }
  // Load settings (context length, KV cache, chat template, max running) come from the registry.
  if (backend.start_models) {
    backend.start_models(registry_service ? registry::RegistryLoadSettings(*registry_service)
                                          : serving::ModelLoadSettingsLookup());
  }
  // So is the request log. Declared before the gate and the servers, so that it outlives them.
  std::unique_ptr<requestlog::RequestLog> request_log;
  if (auth_stack.store && o.request_log.enabled) {
    request_log = std::make_unique<requestlog::RequestLog>(*auth_stack.store, o.request_log);
  }
  std::function<std::string()> metrics_text = backend.metrics_text;
  if (request_log) {
    metrics_text = [serving = backend.metrics_text, log = request_log.get()] {
      return (serving ? serving() : std::string()) + RequestLogMetrics(*log);
    };
  }
  std::unique_ptr<registry::ModelDefaultsService> with_defaults;
  if (registry_service) {
    with_defaults = std::make_unique<registry::ModelDefaultsService>(
        *backend.service,
        [r = registry_service.get()](std::string_view model) { return r->DefaultsFor(model); });
  }
  serving::InferenceService& service =
      with_defaults ? static_cast<serving::InferenceService&>(*with_defaults) : *backend.service;
  const bool loopback = http::IsLoopbackHost(o.host);

  gateway::AccessGateOptions gate_options = o.access;
  gate_options.browser_origins.allowed_origins = o.allowed_origins;
  gate_options.browser_origins.loopback_only = loopback;
  gateway::AccessGate gate(auth_stack.service.get(), auth_stack.limiter.get(), gate_options);
  gate.SetRequestLog(request_log.get());

  http::HttpServer http_server(o.http);
  gateway::GuardedRouter router(http_server, gate, gateway::OpenAiErrorResponse);
  gateway::OpenAiRoutesOptions routes;
  routes.metrics_text = metrics_text;
  gateway::RegisterOpenAiRoutes(router, service, routes);
  // Anthropic's Messages API: the same gate, refusals in Anthropic's shape.
  gateway::GuardedRouter anthropic_router(http_server, gate, gateway::AnthropicErrorResponse);
  gateway::RegisterAnthropicRoutes(anthropic_router, service);
  // The Ollama API: the same gate, refusals in Ollama's shape.
  gateway::GuardedRouter ollama_router(http_server, gate, gateway::OllamaErrorResponse);
  gateway::RegisterOllamaRoutes(ollama_router, service, {LLMUX_VERSION_STRING, backend.models});
  gateway::McpEndpointOptions mcp_options = o.mcp;
  mcp_options.http.origins.allowed_origins = o.allowed_origins;
  mcp_options.http.origins.loopback_only = loopback;
  if (!o.auth_stack.oidc.issuer.empty()) {
    mcp_options.http.authorization_servers.push_back(o.auth_stack.oidc.issuer);
  }
  mcp_options.metrics_text = metrics_text;
  mcp_options.prompt_service = prompt_service.get();
  mcp_options.models = backend.models;
  if (mcp_options.model_dir.empty()) mcp_options.model_dir = o.auth_stack.data_dir + "/models";
  gateway::McpEndpoint mcp_endpoint(service, mcp_options);
  mcp_endpoint.Register(router);
  if (backend.workers) gateway::RegisterWorkerRoutes(router, *backend.workers);
  if (backend.metric_history)
    gateway::RegisterMetricsHistoryRoutes(router, *backend.metric_history);
  pull::PullerOptions pull_options = o.pull;
  if (pull_options.models_dir.empty()) pull_options.models_dir = mcp_options.model_dir;
  std::unique_ptr<RegistryPullSink> pull_sink;
  if (registry_service) pull_sink = std::make_unique<RegistryPullSink>(*registry_service);
  pull::ModelPuller puller(pull_options, pull_sink.get());
  if (backend.models && backend.model_lifecycle) {
    gateway::RegisterModelRoutes(router, *backend.models, &puller);
  } else if (backend.workers) {
    gateway::RegisterWorkerModelRoutes(router, *backend.workers, &puller);
  }
  gateway::RegisterModelPullRoutes(router, puller);
  gateway::RegisterOllamaPullRoute(ollama_router, puller);
  gateway::RegisterMeRoute(router);
  gateway::ConsoleOptions console = o.console;
  if (console.dir.empty()) console.dir = o.auth_stack.data_dir + "/console";
  if (std::error_code ec; std::filesystem::is_regular_file(console.dir + "/index.html", ec)) {
    spdlog::info("web console at /console/ from {}", console.dir);
  } else if (!o.console.dir.empty()) {  // asked for by --console-dir: say why it is missing
    spdlog::warn("no web console in {} (its index.html is missing: build the llmux_console target)",
                 console.dir);
  }
  gateway::RegisterConsoleRoutes(router, console);
  if (auth_stack.service) {
    gateway::RegisterAdminRoutes(router, *auth_stack.service);
    gateway::RegisterSessionRoutes(router, *auth_stack.service);
    gateway::RegisterPromptRoutes(router, *prompt_service);
    gateway::RegisterRegistryRoutes(router, *registry_service, backend.models,
                                    backend.served_models);
    if (request_log) gateway::RegisterRequestLogRoutes(router, *request_log);
    if (backend.deploys) {
      backend.deploys->SetAuditLog(auth_stack.store.get());
      gateway::RegisterDeployRoutes(router, *backend.deploys);
    }
  }
  if (Status s = http_server.Listen(o.host, static_cast<uint16_t>(o.port)); !s.ok()) {
    return s.WithContext("HTTP listener");
  }

  std::unique_ptr<gateway::GrpcServer> grpc_server;
  if (o.grpc) {
    gateway::GrpcServerOptions grpc_options = o.grpc_server;
    grpc_options.host = o.host;
    grpc_options.access_gate = &gate;
    grpc_options.auth_service = auth_stack.service.get();
    grpc_options.registry_service = registry_service.get();
    grpc_options.request_log = request_log.get();
    grpc_options.mcp_server = &mcp_endpoint.server();  // llmux.v1.Mcp: MCP over gRPC
    grpc_options.mcp_sessions = &mcp_endpoint.sessions();
    grpc_server = std::make_unique<gateway::GrpcServer>(service, grpc_options);
    if (Status s = grpc_server->Start(); !s.ok()) return s.WithContext("gRPC listener");
  }

  http_server.Start();
  // One write for the whole line: tools (and the tests) read the ports from it.
  const std::string scheme = http_server.tls() ? "https://" : "http://";
  const std::string base = scheme + o.host + ":" + std::to_string(http_server.port());
  std::string listening = "llmux: HTTP on " + base;
  if (grpc_server) {
    listening += ", gRPC on " + o.host + ":" + std::to_string(grpc_server->port());
    if (grpc_server->tls()) listening += " (TLS)";
  }
  listening += " (data in " + o.auth_stack.data_dir + (o.auth ? "" : "; authentication OFF") +
               "); " + backend.starting + "\n";
  std::fputs(listening.c_str(), stderr);

  // One shutdown path for signals and failures to get ready: stop taking requests, let
  // running generations finish within the grace period, then close.
  std::promise<Status> result;
  std::once_flag once;
  auto shutdown = [&](Status why) {
    std::call_once(once, [&] {
      spdlog::info("shutting down (grace {} s)", o.grace.count());
      std::thread([&, why] {
        // Both front ends drain at once, so the whole stop takes one grace period.
        std::thread grpc_stop([&] {
          if (grpc_server) grpc_server->Shutdown(o.grace);
        });
        mcp_endpoint.sessions().EndStreams();
        http_server.Shutdown(o.grace);
        grpc_stop.join();
        if (backend.drain) backend.drain(o.grace);
        result.set_value(why);
      }).detach();
    });
  };
  http::SignalWatcher signals([&](int) { shutdown(Status::Ok()); });

  std::thread ready_watch([&] {
    if (Status ready = backend.wait_ready ? backend.wait_ready() : Status::Ok(); !ready.ok()) {
      shutdown(ready);
      return;
    }
    if (grpc_server) grpc_server->SetServing(true);
    // With auth on, the examples read the key from the environment (never printed here).
    const std::string auth_header = o.auth ? " -H \"Authorization: Bearer $LLMUX_API_KEY\"" : "";
    std::string hint = "llmux: ready. Try:\n";
    if (o.auth) hint += "  export LLMUX_API_KEY=$(cat " + o.auth_stack.data_dir + "/admin-api-key)\n";
    hint += "  curl " + base + "/v1/models" + auth_header + "\n";
    for (const auto& m : service.ListModels()) {
      hint += "  curl " + base + "/v1/chat/completions" + auth_header +
              " -H 'Content-Type: application/json' -d '{\"model\":\"" + m.id +
              "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n";
    }
    std::fputs(hint.c_str(), stderr);
  });
  Status status = result.get_future().get();
  http_server.Wait();
  ready_watch.join();
  return status;
}

}  // namespace llmux::app
