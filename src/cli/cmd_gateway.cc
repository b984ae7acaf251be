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
  auto policies = std::make_shared<std::vector<std::string>>();
  sub->add_option("--route-policy", *policies,
                  "how a worker is chosen: least (fewest requests outstanding), p2c (power of two "
                  "choices) or cache-aware (the worker whose prefix cache holds the longest prefix "
                  "of the prompt, unless it is at --cache-aware-max-load); MODEL=POLICY for one "
                  "model (repeatable). Default: least");
  sub->add_option("--cache-aware-max-load", o->workers.cache_aware.max_load,
                  "requests outstanding on (or sequences reported by) a worker for a model at "
                  "which cache-aware routing passes it over")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--worker-capacity", o->workers.worker_capacity,
                  "requests outstanding on a worker at which it counts as saturated and standbys "
                  "take the overflow (0: the max running it registered in etcd)")
      ->check(CLI::Range(0, 1 << 20));
  sub->add_option("--breaker-failures", o->workers.breaker.consecutive_failures,
                  "failed calls in a row that open a worker's circuit breaker")
      ->check(CLI::Range(1, 1000));
  sub->add_option("--breaker-failure-rate", o->workers.breaker.failure_rate,
                  "share of failed calls among a worker's last 20 that opens its circuit breaker")
      ->check(CLI::Range(0.01, 1.0));
  auto cool_down_ms = std::make_shared<int>(static_cast<int>(o->workers.breaker.cool_down.count()));
  sub->add_option("--breaker-cool-down-ms", *cool_down_ms,
                  "how long an open circuit breaker sends the worker nothing before a probe "
                  "(doubles after a failed probe, up to 30 s)")
      ->check(CLI::Range(10, 600000));
  auto accept_timeout_ms = std::make_shared<int>(static_cast<int>(o->workers.accept_timeout.count()));
  sub->add_option("--accept-timeout-ms", *accept_timeout_ms,
                  "how long a worker may take to accept a request before it counts as failed and "
                  "the request goes to another worker")
      ->check(CLI::Range(100, 600000));
  auto keepalive_ms = std::make_shared<int>(static_cast<int>(o->workers.keepalive.count()));
  sub->add_option("--worker-keepalive-ms", *keepalive_ms,
                  "how often each worker connection is pinged; one whose pings go unanswered this "
                  "long is closed and its streams in flight move to another worker")
      ->check(CLI::Range(100, 600000));
  AddEdgeFlags(sub, &o->edge);
  return {sub, [o, policies, cool_down_ms, accept_timeout_ms, keepalive_ms] {
            o->workers.breaker.cool_down = std::chrono::milliseconds(*cool_down_ms);
            o->workers.accept_timeout = std::chrono::milliseconds(*accept_timeout_ms);
            o->workers.keepalive = std::chrono::milliseconds(*keepalive_ms);
            for (const std::string& entry : *policies) {
              const size_t eq = entry.find('=');
              Result<serving::RoutePolicy> p =
                  serving::ParseRoutePolicy(eq == std::string::npos ? entry : entry.substr(eq + 1));
              if (!p.ok()) return ReportError(p.status().WithContext("--route-policy"));
              if (eq == std::string::npos) {
                o->workers.route_policy = *p;
              } else {
                o->workers.model_policies[entry.substr(0, eq)] = *p;
              }
            }
            Status s = app::RunGateway(*o);
            return s.ok() ? 0 : ReportError(s);
          }};
}

}  // namespace llmux::cli
