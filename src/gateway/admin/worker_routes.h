// The workers behind a gateway, for operators:
//
//   GET  /admin/v1/workers                 {workers: [{address, state, standby, models,
//                                                      outstanding}]}            models:manage
//   POST /admin/v1/workers/drain {worker}  drains that worker as SIGTERM would: it leaves
//                                          discovery, finishes its running generations and
//                                          exits; this gateway sends it nothing new
//                                          -> {worker, draining: true, in_flight}  models:manage
#pragma once

namespace llmux::serving {
class WorkerAdmin;
}

namespace llmux::gateway {

class GuardedRouter;

// `workers` must outlive the server.
void RegisterWorkerRoutes(GuardedRouter& router, serving::WorkerAdmin& workers);

}  // namespace llmux::gateway
