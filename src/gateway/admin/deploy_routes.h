// The admin HTTP API of rollouts (docs/deployment.md, "Rollouts"):
//
//   POST /admin/v1/deploys  {model, version, path, workers?, timeout_s?}      models:manage
//        starts a deploy and answers 202 with its progress once the plan is in etcd
//   GET  /admin/v1/deploys?id=D                                                models:manage
//        its progress: {id, model, served, state: preparing|committed|aborted, reason?,
//        workers: {<id>: preparing|ready|failed: <reason>}}
//
// The deploy service writes the audit event of each deploy started.
#pragma once

namespace llmux::rollout {
class DeployService;
}

namespace llmux::gateway {

class GuardedRouter;

// `deploys` must outlive the server.
void RegisterDeployRoutes(GuardedRouter& router, rollout::DeployService& deploys);

}  // namespace llmux::gateway
