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
// evicted). kv_bytes is the KV cache's capacity.
#pragma once

namespace llmux::serving {
class ModelManager;
}

namespace llmux::gateway {

class GuardedRouter;

// `models` must outlive the server.
void RegisterModelRoutes(GuardedRouter& router, serving::ModelManager& models);

}  // namespace llmux::gateway
