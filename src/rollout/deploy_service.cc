#include "rollout/deploy_service.h"

#include <spdlog/spdlog.h>

#include <future>

namespace llmux::rollout {

DeployService::DeployService(discovery::EtcdClient& client, serving::ModelRoutes& routes,
                             const serving::InferenceService& remote, DeployServiceOptions options)
    : client_(client),
      routes_(routes),
      remote_(remote),
      options_(std::move(options)),
      coordinator_(client_, options_.prefix) {}

DeployService::~DeployService() {
  std::vector<std::thread> running;
  {
    std::lock_guard lock(mu_);
    running.swap(running_);
  }
  for (std::thread& t : running) t.join();
}

Result<DeployProgress> DeployService::Start(DeployRequest request, const audit::Actor& actor) {
  const std::string target = "model:" + request.model + "@" + request.version;
  Result<DeployProgress> started = StartCoordinator(std::move(request));
  if (audit_ != nullptr) {
    audit::Event e;
    e.actor = actor.subject;
    e.action = "deploys.start";
    e.target = started.ok() ? "deploy:" + started->deploy_id : target;
    e.source = actor.source;
    e.outcome = started.ok() ? "ok" : "failed";
    e.detail = started.ok() ? target : started.status().message();
    audit::AppendOrWarn(*audit_, e);
  }
  return started;
}

Result<DeployProgress> DeployService::StartCoordinator(DeployRequest request) {
  if (request.workers.empty() && options_.registered_workers) {
    request.workers = options_.registered_workers();
  }
  if (request.workers.empty()) {
    return InvalidArgumentError("deploy: no workers given and none registered").WithField("workers");
  }
  auto first = std::make_shared<std::promise<Result<DeployProgress>>>();
  auto future = first->get_future();
  std::thread thread([this, request = std::move(request), first] {
    bool told = false;
    Result<DeployProgress> end = coordinator_.Run(
        request,
        [&](const DeployProgress& p) {
          if (p.state == DeployState::kCommitted) routes_.Set(p.model, p.served);
          if (!told) {
            told = true;
            first->set_value(p);
          }
        },
        WaitUntilListed(remote_));
    if (!told) first->set_value(end.status());
    if (!end.ok()) spdlog::warn("rollout: deploy failed: {}", end.status().ToString());
  });
  {
    std::lock_guard lock(mu_);
    running_.push_back(std::move(thread));
  }
  return future.get();
}

Result<DeployProgress> DeployService::Get(const std::string& deploy_id) {
  return coordinator_.Get(deploy_id);
}

Result<std::unique_ptr<discovery::EtcdWatch>> DeployService::Follow(
    const std::string& deploy_id, DeployFollowCallback on_change) {
  return coordinator_.Follow(deploy_id, std::move(on_change));
}

}  // namespace llmux::rollout
