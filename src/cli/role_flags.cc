#include "cli/role_flags.h"

#include <string>

#include "cli/cli_util.h"
#include "engine/tensor/dtype.h"
#include "gateway/ollama/ollama_request.h"

namespace llmux::cli {

namespace {

void AddLifecycleFlags(CLI::App* sub, serving::ModelLifecycleOptions* o) {
  sub->add_option("--max-loaded-models", o->max_loaded_models,
                  "models loaded at once (0: no limit); loading one more unloads the least "
                  "recently used idle model loaded at run time, or fails when none can go")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option_function<std::string>(
         "--keep-alive",
         [o](const std::string& text) {
           o->default_keep_alive_s = static_cast<double>(*gateway::ParseKeepAliveText(text));
         },
         "how long a model loaded at run time (MCP load_model) stays loaded without requests, "
         "e.g. 5m or 300 (negative: until unloaded); models given with --model stay loaded")
      ->default_str("-1")
      ->check([](const std::string& text) -> std::string {
        auto parsed = gateway::ParseKeepAliveText(text);
        return parsed.ok() ? "" : "--keep-alive: " + parsed.status().message();
      });
  sub->add_option("--load-wait", o->load_wait_s,
                  "seconds a request waits for its model to load on demand (a model that served "
                  "before, or a registered one) before it is answered 503")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
}

}  // namespace

void AddModelHostFlags(CLI::App* sub, serving::ModelHostOptions* o) {
  AddLifecycleFlags(sub, &o->lifecycle);
  o->n_threads = DefaultThreads();
  EngineOptions* e = &o->engine;
  sub->add_option("-t,--threads", o->n_threads, "engine threads per model")->capture_default_str();
  sub->add_option("-c,--ctx-size", e->n_ctx, "context size per sequence")->capture_default_str();
  sub->add_option("--max-waiting", e->max_waiting, "queued requests per model before 429")
      ->capture_default_str();
  sub->add_option("--max-waiting-per-caller", o->max_waiting_per_caller,
                  "queued requests per model one caller (a user, or a key without one) may have; "
                  "0: no share (with --no-auth there is none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--max-running", e->scheduler.max_running, "sequences batched together per model")
      ->capture_default_str()->check(CLI::Range(1, 512));
  sub->add_option("--max-batch-tokens", e->scheduler.max_batch_tokens,
                  "tokens per engine step (decodes plus prefill chunks)")
      ->capture_default_str()->check(CLI::Range(1, 512));
  sub->add_option("--kv-cache-memory", e->kv_cache_bytes,
                  "KV cache budget per model, e.g. 2GiB or 512MiB (default 1GiB; at least one "
                  "full context)")
      ->transform(CLI::AsSizeValue(false));
  sub->add_option_function<std::string>(
         "--kv-type",
         [e](const std::string& name) { e->kv_type = *ParseDType(name); },
         "KV cache element type: f16, f32 or q8_0")
      ->default_str("f16")
      ->check([](const std::string& name) -> std::string {
        auto t = ParseDType(name);
        if (t && (*t == DType::kF16 || *t == DType::kF32 || *t == DType::kQ8_0)) return "";
        return "--kv-type must be f16, f32 or q8_0, not " + name;
      });
}

void AddEtcdFlags(CLI::App* sub, discovery::EtcdClientOptions* etcd, std::string* prefix) {
  sub->add_option("--etcd", etcd->endpoints,
                  "host:port of etcd (repeatable or comma-separated): register and discover "
                  "workers there")
      ->delimiter(',')->envname("LLMUX_ETCD");
  sub->add_option("--etcd-prefix", *prefix, "etcd key prefix of the worker registrations")
      ->capture_default_str();
}

void AddEdgeFlags(CLI::App* sub, app::EdgeOptions* o) {
  sub->add_option("--host", o->host, "address to listen on")->capture_default_str()->envname("LLMUX_HOST");
  sub->add_option("--port", o->port, "HTTP port (0: pick a free one)")->capture_default_str()
      ->envname("LLMUX_PORT");
  sub->add_option("--grpc-port", o->grpc_server.port, "gRPC port (0: pick a free one)")
      ->capture_default_str()->envname("LLMUX_GRPC_PORT");
  sub->add_flag_callback("--no-grpc", [o] { o->grpc = false; }, "do not start the gRPC listener");
  sub->add_option("--data-dir", o->auth_stack.data_dir, "where llmux writes its files")
      ->capture_default_str()->envname("LLMUX_DATA_DIR");
  sub->add_option("--model-dir", o->mcp.model_dir,
                  "the only directory MCP load_model may load GGUF files from (default <data-dir>/models)");
  sub->add_option("--io-threads", o->http.io_threads, "HTTP I/O threads")->capture_default_str();
  sub->add_option_function<int>(
         "--shutdown-grace", [o](int s) { o->grace = std::chrono::seconds(s); },
         "seconds running requests get on SIGTERM")
      ->default_str(std::to_string(o->grace.count()));
  sub->add_option("--max-body-bytes", o->http.max_body_bytes, "largest request body accepted")
      ->capture_default_str();
  sub->add_option("--max-connections", o->http.max_connections, "open HTTP connections before 503")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--connections-per-address", o->http.max_connections_per_address,
                  "open HTTP connections one client address may hold (0: no share; behind a "
                  "reverse proxy every client has the proxy's address)")
      ->capture_default_str();
  sub->add_option("--calls-per-caller", o->access.calls_per_caller,
                  "generations and MCP requests one caller may have in flight, streams included "
                  "(0: no share)")
      ->capture_default_str();
  sub->add_option("--mcp-sessions", o->mcp.sessions.max_sessions, "open MCP sessions in all")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--mcp-sessions-per-caller", o->mcp.sessions.max_sessions_per_caller,
                  "MCP sessions one caller may hold; over it, its least recently used idle one "
                  "ends (0: no share)")
      ->capture_default_str();
  sub->add_option(
      "--pull-local-dir", o->pull.local_dirs,
      "a directory whose files POST /admin/v1/models/pull may copy by path (repeatable; "
      "none by default)");
  sub->add_option("--max-pulls", o->pull.max_pulls, "model pulls at once, in all")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--max-pulls-per-caller", o->pull.max_pulls_per_caller,
                  "model pulls at once per caller")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  requestlog::RequestLogOptions* log = &o->request_log;
  sub->add_flag_callback(
      "--no-request-log", [log] { log->enabled = false; },
      "keep no request log (GET /admin/v1/logs is then not served)");
  sub->add_option("--request-log-retention-days", log->retention_days,
                  "request log records older than this are deleted (0: kept)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--request-log-max-rows", log->max_rows,
                  "the request log keeps at most this many newest records (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--request-log-prompts", log->store_prompts,
                "keep each request's prompt text in the request log (off: never stored)");
  sub->add_option("--request-log-queue", log->queue_capacity,
                  "request log records waiting to be written; beyond, they are dropped and counted")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--request-log-queue-per-caller", log->per_caller_queue,
                  "request log records one principal may have waiting (0: a quarter of the queue)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_flag_callback("--no-auth", [o] { o->auth = false; },
                         "serve without authentication (refused unless listening on loopback)");
  sub->add_flag("--public-metrics", o->access.public_metrics, "serve /metrics without credentials");
  sub->add_option("--store", o->auth_stack.store_url,
                  "auth store: a SQLite file or postgresql://user@host/db (default: "
                  "<data-dir>/llmux.db)")
      ->envname("LLMUX_STORE");
  sub->add_option("--redis", o->auth_stack.redis,
                  "host:port of a Redis server keeping per-key limits for every gateway (default: "
                  "this process's memory)")
      ->envname("LLMUX_REDIS");
  auth::OidcVerifierOptions* oidc = &o->auth_stack.oidc;
  sub->add_option("--oidc-issuer", oidc->issuer,
                  "accept access tokens (JWT) of this OIDC issuer URL; roles come from the roles "
                  "claim")
      ->envname("LLMUX_OIDC_ISSUER");
  sub->add_option("--oidc-audience", oidc->audiences,
                  "audience the issuer's tokens must carry (repeatable; required with "
                  "--oidc-issuer)");
  sub->add_option("--oidc-roles-claim", oidc->roles_claim, "claim holding the caller's roles")
      ->capture_default_str();
  sub->add_option("--oidc-ca-file", oidc->ca_file, "CA certificates to trust for the issuer");
  // One certificate for both listeners.
  sub->add_option_function<std::string>(
         "--tls-cert", [o](const std::string& f) { o->http.tls_cert_file = o->grpc_server.tls_cert_file = f; },
         "PEM certificate chain: serve HTTPS and gRPC over TLS (with --tls-key)")
      ->envname("LLMUX_TLS_CERT");
  sub->add_option_function<std::string>(
         "--tls-key", [o](const std::string& f) { o->http.tls_key_file = o->grpc_server.tls_key_file = f; },
         "PEM private key of --tls-cert (unencrypted)")
      ->envname("LLMUX_TLS_KEY");
  sub->add_option("--grpc-client-ca", o->grpc_server.tls_client_ca_file,
                  "CA certificates for gRPC client certificates (mutual TLS for internal callers)");
  sub->add_flag("--grpc-require-client-cert", o->grpc_server.require_client_cert,
                "refuse gRPC clients without a certificate signed by --grpc-client-ca");
  sub->add_option("--allowed-origin,--mcp-allowed-origin", o->allowed_origins,
                  "a browser Origin allowed to call /mcp (and, with --no-auth, every route) besides "
                  "loopback and this server's own (repeatable; * allows any)");
  sub->add_option(
      "--console-dir", o->console.dir,
      "the built web console to serve at /console/ (`make run` passes web/console/dist; "
      "default: <data-dir>/console)");
  sub->add_flag("--mcp-conformance-fixtures", o->mcp.conformance_fixtures,
                "test only: serve the tools, resources and prompts of the MCP conformance suite "
                "(needs --no-auth)");
}

}  // namespace llmux::cli
