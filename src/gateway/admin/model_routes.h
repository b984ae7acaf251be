// The models this process hosts and their lifecycle, for operators:
//
//   GET /admin/v1/models                                                      models:manage
//     -> {"models": [{"name", "path", "state", "reason", "pinned", "keep_alive_s",
//                     "expires_at", "loaded_at", "last_used", "in_flight",
//                     "weights_bytes", "kv_bytes", "memory_bytes"}]}
//
// state: loading, loaded (requests in flight), idle, unloading, failed (`reason` says why; the
// last 16 failures are kept). keep_alive_s and expires_at (unix seconds) are null for a model
// that stays loaded; pinned: given on the command line (never unloaded for idleness or
// evicted). kv_bytes is the KV cache's capacity. On a gateway (RegisterWorkerModelRoutes) the
// list holds every worker's models as the worker last reported them, each entry with the
// worker's address in "worker" (a model served by two workers is listed twice). Pulls running
// in this process (`pulls`) come first, as {"name" (the name asked for, else the source),
// "source", "state": "downloading", "digest", "completed", "total"} (total 0 while unknown).
#pragma once

namespace llmux::serving {
class ModelManager;
class WorkerAdmin;
}
namespace llmux::pull {
class ModelPuller;
}

namespace llmux::gateway {

class GuardedRouter;

// `models` (and `pulls`) must outlive the server.
void RegisterModelRoutes(GuardedRouter& router, serving::ModelManager& models,
                         const pull::ModelPuller* pulls = nullptr);
// The same route on a gateway, over its workers' reports; `workers` must outlive the server.
void RegisterWorkerModelRoutes(GuardedRouter& router, serving::WorkerAdmin& workers,
                               const pull::ModelPuller* pulls = nullptr);

}  // namespace llmux::gateway
