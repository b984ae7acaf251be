// `llmux serve`: the embedded default. Every role in one process: the OpenAI-compatible
// HTTP API and the gRPC API over models hosted in this process.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>

#include <sys/resource.h>

#include <spdlog/spdlog.h>

#include "cli/cli_util.h"
#include "cli/command.h"
#include "engine/tensor/dtype.h"
#include "gateway/grpc/grpc_server.h"
#include "gateway/openai/openai_routes.h"
#include "net/http/http_server.h"
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
  int max_running = 16;
  int max_batch_tokens = 512;
  int64_t kv_cache_bytes = 0;
  std::string kv_type = "f16";
  int io_threads = 2;
  int grace_seconds = 30;
  size_t max_body_bytes = 8 * 1024 * 1024;
};

serving::ModelSpec ParseModelArg(const std::string& arg) {
  const size_t eq = arg.find('=');
  // NAME=FILE, unless the '=' is part of a path (NAME has no '/').
  if (eq != std::string::npos && arg.substr(0, eq).find('/') == std::string::npos) {
    return serving::ModelSpec{arg.substr(0, eq), arg.substr(eq + 1)};
  }
  return serving::ModelSpec{"", arg};
}

// Many clients mean many sockets: lift the soft open-file limit to the hard one.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Serve(const ServeOptions& o) {
  RaiseOpenFileLimit();
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (ec) return ReportError(IoError("cannot create the data directory " + o.data_dir + ": " + ec.message()));

  std::vector<serving::ModelSpec> specs;
  for (const std::string& m : o.models) specs.push_back(ParseModelArg(m));
  serving::ModelHostOptions host_options;
  host_options.n_threads = o.threads;
  host_options.n_ctx = o.ctx;
  host_options.max_waiting = o.max_waiting;
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
  http::HttpServer http_server(http_options);
  gateway::OpenAiRoutesOptions routes;
  routes.metrics_text = [&service] { return service.metrics().Serialize(); };
  gateway::RegisterOpenAiRoutes(http_server, service, routes);
  if (Status s = http_server.Listen(o.host, static_cast<uint16_t>(o.port)); !s.ok()) {
    return ReportError(s.WithContext("HTTP listener"));
  }

  std::unique_ptr<gateway::GrpcServer> grpc_server;
  if (!o.no_grpc) {
    gateway::GrpcServerOptions grpc_options;
    grpc_options.host = o.host;
    grpc_options.port = o.grpc_port;
    grpc_server = std::make_unique<gateway::GrpcServer>(service, grpc_options);
    if (Status s = grpc_server->Start(); !s.ok()) return ReportError(s.WithContext("gRPC listener"));
  }

  http_server.Start();
  // One write for the whole line: tools (and the tests) read the ports from it.
  std::string listening = "llmux: HTTP on http://" + o.host + ":" + std::to_string(http_server.port());
  if (grpc_server) listening += ", gRPC on " + o.host + ":" + std::to_string(grpc_server->port());
  listening += " (data in " + o.data_dir + "); loading " + std::to_string(specs.size()) + " model(s)\n";
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
    std::fprintf(stderr, "llmux: ready. Try:\n  curl http://%s:%u/v1/models\n", o.host.c_str(),
                 http_server.port());
    for (const auto& m : service.ListModels()) {
      std::fprintf(stderr,
                   "  curl http://%s:%u/v1/chat/completions -H 'Content-Type: application/json' "
                   "-d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'\n",
                   o.host.c_str(), http_server.port(), m.id.c_str());
    }
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
  sub->add_option("-t,--threads", o->threads, "engine threads per model")->capture_default_str();
  sub->add_option("-c,--ctx-size", o->ctx, "context size per sequence")->capture_default_str();
  sub->add_option("--max-waiting", o->max_waiting, "queued requests per model before 429")
      ->capture_default_str();
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
  return {sub, [o] { return Serve(*o); }};
}

}  // namespace llmux::cli
