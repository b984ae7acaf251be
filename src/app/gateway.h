// `llmux gateway`: the client-facing edge (HTTP, gRPC, MCP, auth, limits) over workers on other
// machines, found in etcd or given as a static list, reached through the worker protocol.
#pragma once

#include "app/edge.h"
#include "base/status.h"
#include "discovery/worker_watcher.h"
#include "serving/remote/remote_inference_service.h"

namespace llmux::app {

struct GatewayOptions {
  EdgeOptions edge;
  serving::RemoteInferenceOptions workers;  // the static list (--worker) and how to reach them
  // etcd discovery; no endpoints: the static list only.
  discovery::WorkerWatcherOptions discovery;
  // Rollouts (with etcd): routes/ and deploys/ live under this prefix.
  std::string rollout_prefix = "/llmux/";
};

// Runs until SIGINT/SIGTERM; an error when it cannot start.
Status RunGateway(const GatewayOptions& options);

}  // namespace llmux::app
