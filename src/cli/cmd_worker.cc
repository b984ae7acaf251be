// `llmux worker`: engines for its models behind the worker protocol (src/app/worker.h). This
// file only parses flags.
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "app/worker.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/model_args.h"
#include "cli/role_flags.h"

namespace llmux::cli {

Command AddWorkerCommand(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "worker", "run engines for models behind the internal worker gRPC API, for gateways");
  auto o = std::make_shared<app::WorkerRoleOptions>();
  o->server.port = 50061;
  sub->add_option_function<std::vector<std::string>>(
         "-m,--model",
         [o](const std::vector<std::string>& args) {
           for (const std::string& m : args) o->models.push_back(ParseModelArg(m));
         },
         "GGUF model to serve, as FILE or NAME=FILE (repeatable)")
      ->required();
  sub->add_option("--host", o->server.host, "address the worker API listens on")
      ->capture_default_str()->envname("LLMUX_WORKER_HOST");
  sub->add_option("--port", o->server.port, "worker API port (0: pick a free one)")
      ->capture_default_str()->envname("LLMUX_WORKER_PORT");
  sub->add_option("--advertise", o->advertise,
                  "host:port gateways dial (default: --host and the port listened on)")
      ->envname("LLMUX_WORKER_ADVERTISE");
  sub->add_option("--id", o->id, "the worker's name in etcd (default: the advertised address)")
      ->envname("LLMUX_WORKER_ID");
  sub->add_flag("--standby", o->standby,
                "register as a hot standby: loaded, used when the primaries fail or saturate");
  AddEtcdFlags(sub, &o->registration.etcd, &o->registration.prefix);
  sub->add_option("--lease-ttl", o->registration.ttl_s,
                  "seconds the etcd registration outlives a worker that stopped refreshing it")
      ->capture_default_str()->check(CLI::Range(2, 3600));
  sub->add_option("--tls-cert", o->server.tls_cert_file,
                  "PEM certificate chain: serve the worker API over TLS (with --tls-key)")
      ->envname("LLMUX_TLS_CERT");
  sub->add_option("--tls-key", o->server.tls_key_file, "PEM private key of --tls-cert")
      ->envname("LLMUX_TLS_KEY");
  sub->add_option("--client-ca", o->server.tls_client_ca_file,
                  "CA certificates that sign the gateways' client certificates (mutual TLS: "
                  "callers without one are refused)");
  sub->add_option_function<int>(
         "--shutdown-grace", [o](int s) { o->grace = std::chrono::seconds(s); },
         "seconds running requests get on SIGTERM")
      ->default_str(std::to_string(o->grace.count()));
  sub->add_option_function<double>(
         "--stream-window-ms",
         [o](double ms) { o->server.stream_window = std::chrono::microseconds(std::llround(ms * 1000)); },
         "a generation's tokens produced within this many ms of its previous message go to the "
         "gateway as one message (fewer messages when the model is fast; 0: one per delta)")
      ->default_str(fmt::format("{:g}", o->server.stream_window.count() / 1000.0))
      ->check(CLI::Range(0.0, 1000.0));
  AddModelHostFlags(sub, &o->model_host);
  return {sub, [o] {
            o->server.require_client_cert = !o->server.tls_client_ca_file.empty();
            Status s = app::RunWorker(*o);
            return s.ok() ? 0 : ReportError(s);
          }};
}

}  // namespace llmux::cli
