// `llmux gateway`: the client-facing edge over workers elsewhere (src/app/gateway.h). This file
// only parses flags.
#include <memory>

#include "app/gateway.h"
#include "cli/cli_util.h"
#include "cli/command.h"
#include "cli/role_flags.h"

namespace llmux::cli {

Command AddGatewayCommand(CLI::App& app) {
  auto* sub = app.add_subcommand(
      "gateway", "serve the OpenAI-compatible HTTP API, gRPC and MCP over workers found in etcd "
                 "or listed with --worker");
  auto o = std::make_shared<app::GatewayOptions>();
  sub->add_option("--worker", o->workers.workers,
                  "host:port of a worker's API (repeatable; added to those etcd lists)");
  AddEtcdFlags(sub, &o->discovery.etcd, &o->discovery.prefix);
  sub->add_option("--worker-ca", o->workers.tls_ca_file,
                  "CA certificates of the workers' TLS certificates (workers are then dialled "
                  "over TLS)");
  sub->add_option("--worker-cert", o->workers.tls_cert_file,
                  "PEM client certificate the gateway shows the workers (mutual TLS)");
  sub->add_option("--worker-key", o->workers.tls_key_file, "PEM private key of --worker-cert");
  sub->add_flag("--cache-aware-routing", o->workers.cache_aware_routing,
                "send each request to the worker whose prefix cache holds the longest prefix of "
                "its prompt (from the workers' block-hash reports), unless that worker is at "
                "--cache-aware-max-load; otherwise the least loaded worker");
  sub->add_option("--cache-aware-max-load", o->workers.cache_aware.max_load,
                  "requests outstanding on (or sequences reported by) a worker for a model at "
                  "which cache-aware routing passes it over")
      ->check(CLI::Range(1, 1 << 20));
  AddEdgeFlags(sub, &o->edge);
  return {sub, [o] {
            Status s = app::RunGateway(*o);
            return s.ok() ? 0 : ReportError(s);
          }};
}

}  // namespace llmux::cli
