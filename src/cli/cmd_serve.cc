// `llmux serve`: the embedded default. Every role in one process: the OpenAI-compatible
// HTTP API and the gRPC API over models hosted in this process.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include "auth/limit_counters.h"
#include "base/directory_lock.h"
#include "base/private_file.h"
#include "auth/local_auth_service.h"
#include "auth/oidc_verifier.h"
#include "auth/rate_limiter.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_args.h"
#include "engine/tensor/dtype.h"
#include "gateway/access/access_gate.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/admin_routes.h"
#include "gateway/admin/prompt_routes.h"
#include "gateway/admin/session_routes.h"
#include "gateway/grpc/grpc_server.h"
#include "gateway/mcp/mcp_endpoint.h"
#include "gateway/openai/openai_routes.h"
#include "store/open_store.h"
#include "net/http/http_server.h"
#include "net/http/loopback_host.h"
#include "net/http/signal_watcher.h"
#include "serving/local_inference_service.h"

namespace llmux::cli {

namespace {

struct ServeOptions {
  std::vector<std::string> models;  // FILE or NAME=FILE
  std::string host = "127.0.0.1";
  int port = 8080;
  int grpc_port = 50051;  // 0: pick a free port
  bool no_grpc = false;
  std::string data_dir = "./llmux-data";
  int threads = DefaultThreads();
  int ctx = 4096;
  int max_waiting = 256;
  int max_waiting_per_caller = 64;
  int max_running = 16;
  int max_batch_tokens = 512;
  int64_t kv_cache_bytes = 0;
  std::string kv_type = "f16";
  int io_threads = 2;
  int grace_seconds = 30;
  size_t max_body_bytes = 8 * 1024 * 1024;
  size_t max_connections = 1024;
  size_t connections_per_address = 256;
  size_t calls_per_caller = 64;
  size_t mcp_sessions = 10000;
  size_t mcp_sessions_per_caller = 100;
  bool no_auth = false;
  bool public_metrics = false;
  std::string store_url;  // empty: <data_dir>/llmux.db
  std::string oidc_issuer;  // empty: JWTs of an external issuer are refused
  std::vector<std::string> oidc_audiences;
  std::string oidc_roles_claim = "roles";
  std::string oidc_ca_file;
  std::string tls_cert_file;  // HTTPS and gRPC over TLS when set (with tls_key_file)
  std::string tls_key_file;
  std::string grpc_client_ca_file;  // verify gRPC client certificates against these CAs
  bool grpc_require_client_cert = false;
  std::vector<std::string> mcp_allowed_origins;  // browser origins allowed to call /mcp
  bool mcp_conformance_fixtures = false;           // test switch: the MCP suite's fixtures
  std::string model_dir;  // MCP load_model loads from here; empty: <data_dir>/models
};

// Many clients mean many sockets: lift the soft open-file limit to the hard one.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// The auth service's parts, alive for the whole serve.
struct AuthStack {
  std::unique_ptr<auth::TokenIssuer> issuer;
  std::unique_ptr<auth::OidcVerifier> oidc;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<auth::LocalAuthService> service;
  std::unique_ptr<auth::InMemoryLimitCounters> counters;
  std::unique_ptr<auth::RateLimiter> limiter;
};

// Opens the store, makes sure the built-in roles exist and, on the first start, creates the
// admin key and prints it (the one time it is shown; it is also in a 0600 file).
Result<AuthStack> StartAuth(const ServeOptions& o) {
  AuthStack a;
  const std::string url = o.store_url.empty() ? o.data_dir + "/llmux.db" : o.store_url;
  auto store = store::OpenStore(url);
  if (!store.ok()) return store.status().WithContext("opening the store " + store::RedactStoreUrl(url));
  a.store = std::move(store).value();
  auth::LocalAuthOptions auth_options;
  auto issuer = auth::TokenIssuer::LoadOrCreate(o.data_dir + "/token-signing-key.pem");
  if (!issuer.ok()) return issuer.status();
  a.issuer = std::move(issuer).value();
  auth_options.issuer = a.issuer.get();
  if (!o.oidc_issuer.empty()) {
    auth::OidcVerifierOptions oidc;
    oidc.issuer = o.oidc_issuer;
    oidc.audiences = o.oidc_audiences;
    oidc.roles_claim = o.oidc_roles_claim;
    oidc.ca_file = o.oidc_ca_file;
    auto verifier = auth::OidcVerifier::Create(oidc);
    if (!verifier.ok()) return verifier.status().WithContext("--oidc-issuer");
    a.oidc = std::move(verifier).value();
    auth::OidcVerifier* v = a.oidc.get();
    auth_options.verify_external_jwt = [v](std::string_view token) { return v->Verify(token); };
  }
  a.service = std::make_unique<auth::LocalAuthService>(*a.store, auth_options);
  LLMUX_RETURN_IF_ERROR(a.service->Init());
  const std::string key_file = o.data_dir + "/admin-api-key";
  LLMUX_ASSIGN_OR_RETURN(std::optional<std::string> key,
                         auth::BootstrapAdminKey(*a.service, *a.store, key_file));
  if (key) {
    std::string note = "llmux: first start: created the admin API key (shown this once; also in " +
                       key_file + ", mode 0600):\n  " + *key + "\n";
    std::fputs(note.c_str(), stderr);
  }
  a.counters = std::make_unique<auth::InMemoryLimitCounters>();
  a.limiter = std::make_unique<auth::RateLimiter>(*a.counters, a.store.get());
  return a;
}

int Serve(const ServeOptions& o) {
  RaiseOpenFileLimit();
  // The data directory holds the database and the first admin key: created for the owner only.
  bool widened = false;
  if (Status st = CreatePrivateDirectory(o.data_dir, &widened); !st.ok()) {
    return ReportError(st.WithContext("the data directory"));
  }
  if (widened) {
    spdlog::warn("serve: the data directory {} can be entered by other users (chmod 700 it)", o.data_dir);
  }
  // One server per SQLite database; PostgreSQL is made to be shared by several.
  std::unique_ptr<DirectoryLock> data_dir_lock;
  if (!store::IsPostgresUrl(o.store_url)) {
    auto lock = DirectoryLock::Acquire(o.data_dir);
    if (!lock.ok()) return ReportError(lock.status());
    data_dir_lock = std::move(lock).value();
  }
  // --no-auth is only for a server nobody else can reach. --host may be a name, resolved to bind,
  // so only the strict rule will do: "127.0.0.1.evil.com" can resolve to any address.
  if (o.no_auth && !http::IsLoopbackHost(o.host)) {
    return ReportError(InvalidArgumentError(
        "--no-auth is refused on a non-loopback address (" + o.host +
        "): anyone who can reach it could use every model and admin route; listen on "
        "127.0.0.1 or keep authentication on"));
  }
  if (o.mcp_conformance_fixtures && !o.no_auth) {
    return ReportError(InvalidArgumentError(
        "--mcp-conformance-fixtures is a test switch: it needs --no-auth (the suite sends no "
        "credentials)"));
  }
  AuthStack auth_stack;
  if (!o.no_auth) {
    auto started = StartAuth(o);
    if (!started.ok()) return ReportError(started.status());
    auth_stack = std::move(started).value();
  }
  gateway::AccessGateOptions gate_options;
  gate_options.public_metrics = o.public_metrics;
  gate_options.browser_origins.allowed_origins = o.mcp_allowed_origins;
  gate_options.browser_origins.loopback_only = http::IsLoopbackHost(o.host);
  gate_options.calls_per_caller = o.calls_per_caller;
  gateway::AccessGate gate(auth_stack.service.get(), auth_stack.limiter.get(), gate_options);

  std::vector<serving::ModelSpec> specs;
  for (const std::string& m : o.models) specs.push_back(ParseModelArg(m));
  serving::ModelHostOptions host_options;
  host_options.n_threads = o.threads;
  host_options.n_ctx = o.ctx;
  host_options.max_waiting = o.max_waiting;
  host_options.max_waiting_per_caller = o.max_waiting_per_caller;
  host_options.max_running = o.max_running;
  host_options.max_batch_tokens = o.max_batch_tokens;
  host_options.kv_cache_bytes = o.kv_cache_bytes;
  auto kv_type = ParseDType(o.kv_type);
  if (!kv_type || (*kv_type != DType::kF16 && *kv_type != DType::kF32 && *kv_type != DType::kQ8_0)) {
    return ReportError(InvalidArgumentError("--kv-type must be f16, f32 or q8_0, not " + o.kv_type));
  }
  host_options.kv_type = *kv_type;
  serving::LocalInferenceService service(specs, host_options);

  http::HttpServerOptions http_options;
  http_options.io_threads = o.io_threads;
  http_options.max_body_bytes = o.max_body_bytes;
  http_options.max_connections = o.max_connections;
  http_options.max_connections_per_address = o.connections_per_address;
  http_options.tls_cert_file = o.tls_cert_file;
  http_options.tls_key_file = o.tls_key_file;
  http::HttpServer http_server(http_options);
  gateway::GuardedRouter router(http_server, gate, gateway::OpenAiErrorResponse);
  gateway::OpenAiRoutesOptions routes;
  routes.metrics_text = [&service] { return service.metrics().Serialize(); };
  gateway::RegisterOpenAiRoutes(router, service, routes);
  gateway::McpEndpointOptions mcp_options;
  mcp_options.http.origins.allowed_origins = o.mcp_allowed_origins;
  mcp_options.http.origins.loopback_only = http::IsLoopbackHost(o.host);
  if (!o.oidc_issuer.empty()) mcp_options.http.authorization_servers.push_back(o.oidc_issuer);
  mcp_options.sessions.max_sessions = o.mcp_sessions;
  mcp_options.sessions.max_sessions_per_caller = o.mcp_sessions_per_caller;
  mcp_options.metrics_text = routes.metrics_text;
  mcp_options.conformance_fixtures = o.mcp_conformance_fixtures;
  mcp_options.prompt_store = auth_stack.store.get();
  mcp_options.models = &service;  // MCP load_model / unload_model
  mcp_options.model_dir = o.model_dir.empty() ? o.data_dir + "/models" : o.model_dir;
  gateway::McpEndpoint mcp_endpoint(service, mcp_options);
  mcp_endpoint.Register(router);
  if (auth_stack.service) {
    gateway::RegisterAdminRoutes(router, *auth_stack.service);
    gateway::RegisterSessionRoutes(router, *auth_stack.service);
    gateway::RegisterPromptRoutes(router, *auth_stack.store);
  }
  if (Status s = http_server.Listen(o.host, static_cast<uint16_t>(o.port)); !s.ok()) {
    return ReportError(s.WithContext("HTTP listener"));
  }

  std::unique_ptr<gateway::GrpcServer> grpc_server;
  if (!o.no_grpc) {
    gateway::GrpcServerOptions grpc_options;
    grpc_options.host = o.host;
    grpc_options.port = o.grpc_port;
    grpc_options.access_gate = &gate;
    grpc_options.auth_service = auth_stack.service.get();
    grpc_options.tls_cert_file = o.tls_cert_file;
    grpc_options.tls_key_file = o.tls_key_file;
    grpc_options.tls_client_ca_file = o.grpc_client_ca_file;
    grpc_options.require_client_cert = o.grpc_require_client_cert;
    grpc_options.mcp_server = &mcp_endpoint.server();      // llmux.v1.Mcp: MCP over gRPC
    grpc_options.mcp_sessions = &mcp_endpoint.sessions();
    grpc_server = std::make_unique<gateway::GrpcServer>(service, grpc_options);
    if (Status s = grpc_server->Start(); !s.ok()) return ReportError(s.WithContext("gRPC listener"));
  }

  http_server.Start();
  // One write for the whole line: tools (and the tests) read the ports from it.
  const std::string scheme = http_server.tls() ? "https://" : "http://";
  std::string listening = "llmux: HTTP on " + scheme + o.host + ":" + std::to_string(http_server.port());
  if (grpc_server) {
    listening += ", gRPC on " + o.host + ":" + std::to_string(grpc_server->port());
    if (grpc_server->tls()) listening += " (TLS)";
  }
  listening += " (data in " + o.data_dir + (o.no_auth ? "; authentication OFF" : "") + "); loading " +
               std::to_string(specs.size()) + " model(s)\n";
  std::fputs(listening.c_str(), stderr);

  // One shutdown path for signals and load failures: stop taking requests, let running
  // generations finish within the grace period, then close.
  std::promise<int> exit_code;
  std::once_flag once;
  auto shutdown = [&](int code) {
    std::call_once(once, [&] {
      spdlog::info("shutting down (grace {} s)", o.grace_seconds);
      const auto grace = std::chrono::seconds(o.grace_seconds);
      std::thread([&, code, grace] {
        // Both front ends drain at once, so the whole stop takes one grace period.
        std::thread grpc_stop([&, grace] {
          if (grpc_server) grpc_server->Shutdown(grace);
        });
        mcp_endpoint.sessions().EndStreams();
        http_server.Shutdown(grace);
        grpc_stop.join();
        service.Drain(static_cast<int>(std::chrono::milliseconds(grace).count()));
        exit_code.set_value(code);
      }).detach();
    });
  };
  http::SignalWatcher signals([&](int) { shutdown(0); });

  std::thread loader_watch([&] {
    Status loaded = service.WaitLoaded();
    if (!loaded.ok()) {
      ReportError(loaded);
      shutdown(1);
      return;
    }
    if (grpc_server) grpc_server->SetServing(true);
    // With auth on, the examples read the key from the environment (never printed here).
    const std::string auth_header =
        o.no_auth ? "" : " -H \"Authorization: Bearer $LLMUX_API_KEY\"";
    std::string hint = "llmux: ready. Try:\n";
    if (!o.no_auth) hint += "  export LLMUX_API_KEY=$(cat " + o.data_dir + "/admin-api-key)\n";
    hint += "  curl " + scheme + o.host + ":" + std::to_string(http_server.port()) + "/v1/models" +
            auth_header + "\n";
    for (const auto& m : service.ListModels()) {
      hint += "  curl " + scheme + o.host + ":" + std::to_string(http_server.port()) +
              "/v1/chat/completions" + auth_header +
              " -H 'Content-Type: application/json' -d '{\"model\":\"" + m.id +
              "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n";
    }
    std::fputs(hint.c_str(), stderr);
  });
  const int code = exit_code.get_future().get();
  http_server.Wait();
  loader_watch.join();
  return code;
}

}  // namespace

Command AddServeCommand(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "serve models over the OpenAI-compatible HTTP API and gRPC");
  auto o = std::make_shared<ServeOptions>();
  sub->add_option("-m,--model", o->models, "GGUF model to serve, as FILE or NAME=FILE (repeatable)")
      ->required();
  sub->add_option("--host", o->host, "address to listen on")->capture_default_str()->envname("LLMUX_HOST");
  sub->add_option("--port", o->port, "HTTP port (0: pick a free one)")->capture_default_str()->envname("LLMUX_PORT");
  sub->add_option("--grpc-port", o->grpc_port, "gRPC port (0: pick a free one)")->capture_default_str()
      ->envname("LLMUX_GRPC_PORT");
  sub->add_flag("--no-grpc", o->no_grpc, "do not start the gRPC listener");
  sub->add_option("--data-dir", o->data_dir, "where llmux writes its files")->capture_default_str()
      ->envname("LLMUX_DATA_DIR");
  sub->add_option("--model-dir", o->model_dir,
                  "the only directory MCP load_model may load GGUF files from (default <data-dir>/models)");
  sub->add_option("-t,--threads", o->threads, "engine threads per model")->capture_default_str();
  sub->add_option("-c,--ctx-size", o->ctx, "context size per sequence")->capture_default_str();
  sub->add_option("--max-waiting", o->max_waiting, "queued requests per model before 429")
      ->capture_default_str();
  sub->add_option("--max-waiting-per-caller", o->max_waiting_per_caller,
                  "queued requests per model one caller (a user, or a key without one) may have; "
                  "0: no share (with --no-auth there is none)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--max-running", o->max_running, "sequences batched together per model")
      ->capture_default_str()->check(CLI::Range(1, 512));
  sub->add_option("--max-batch-tokens", o->max_batch_tokens,
                  "tokens per engine step (decodes plus prefill chunks)")
      ->capture_default_str()->check(CLI::Range(1, 512));
  sub->add_option("--kv-cache-memory", o->kv_cache_bytes,
                  "KV cache budget per model, e.g. 2GiB or 512MiB (default 1GiB; at least one "
                  "full context)")
      ->transform(CLI::AsSizeValue(false));
  sub->add_option("--kv-type", o->kv_type, "KV cache element type: f16, f32 or q8_0")
      ->capture_default_str();
  sub->add_option("--io-threads", o->io_threads, "HTTP I/O threads")->capture_default_str();
  sub->add_option("--shutdown-grace", o->grace_seconds, "seconds running requests get on SIGTERM")
      ->capture_default_str();
  sub->add_option("--max-body-bytes", o->max_body_bytes, "largest request body accepted")
      ->capture_default_str();
  sub->add_option("--max-connections", o->max_connections, "open HTTP connections before 503")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--connections-per-address", o->connections_per_address,
                  "open HTTP connections one client address may hold (0: no share; behind a "
                  "reverse proxy every client has the proxy's address)")
      ->capture_default_str();
  sub->add_option("--calls-per-caller", o->calls_per_caller,
                  "generations and MCP requests one caller may have in flight, streams included "
                  "(0: no share)")
      ->capture_default_str();
  sub->add_option("--mcp-sessions", o->mcp_sessions, "open MCP sessions in all")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--mcp-sessions-per-caller", o->mcp_sessions_per_caller,
                  "MCP sessions one caller may hold; over it, its least recently used idle one "
                  "ends (0: no share)")
      ->capture_default_str();
  sub->add_flag("--no-auth", o->no_auth,
                "serve without authentication (refused unless listening on loopback)");
  sub->add_flag("--public-metrics", o->public_metrics, "serve /metrics without credentials");
  sub->add_option("--store", o->store_url,
                  "auth store: a SQLite file or postgresql://user@host/db (default: "
                  "<data-dir>/llmux.db)")
      ->envname("LLMUX_STORE");
  sub->add_option("--oidc-issuer", o->oidc_issuer,
                  "accept access tokens (JWT) of this OIDC issuer URL; roles come from the roles "
                  "claim")
      ->envname("LLMUX_OIDC_ISSUER");
  sub->add_option("--oidc-audience", o->oidc_audiences,
                  "audience the issuer's tokens must carry (repeatable; required with "
                  "--oidc-issuer)");
  sub->add_option("--oidc-roles-claim", o->oidc_roles_claim, "claim holding the caller's roles")
      ->capture_default_str();
  sub->add_option("--oidc-ca-file", o->oidc_ca_file, "CA certificates to trust for the issuer");
  sub->add_option("--tls-cert", o->tls_cert_file,
                  "PEM certificate chain: serve HTTPS and gRPC over TLS (with --tls-key)")
      ->envname("LLMUX_TLS_CERT");
  sub->add_option("--tls-key", o->tls_key_file, "PEM private key of --tls-cert (unencrypted)")
      ->envname("LLMUX_TLS_KEY");
  sub->add_option("--grpc-client-ca", o->grpc_client_ca_file,
                  "CA certificates for gRPC client certificates (mutual TLS for internal callers)");
  sub->add_flag("--grpc-require-client-cert", o->grpc_require_client_cert,
                "refuse gRPC clients without a certificate signed by --grpc-client-ca");
  sub->add_option("--allowed-origin,--mcp-allowed-origin", o->mcp_allowed_origins,
                  "a browser Origin allowed to call /mcp (and, with --no-auth, every route) besides "
                  "loopback and this server's own (repeatable; * allows any)");
  sub->add_flag("--mcp-conformance-fixtures", o->mcp_conformance_fixtures,
                "test only: serve the tools, resources and prompts of the MCP conformance suite "
                "(needs --no-auth)");
  return {sub, [o] { return Serve(*o); }};
}

}  // namespace llmux::cli
