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

Result<DeployProgress> DeployService::Wait(const std::string& deploy_id,
                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(10);
  for (;;) {
    LLMUX_ASSIGN_OR_RETURN(DeployProgress p, coordinator_.Get(deploy_id));
    if (p.state != DeployState::kPreparing) return p;
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("deploy " + deploy_id + " is still preparing");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

namespace {

// A follow's watch, whose place in the counts is given back when the handle goes.
class CountedWatch final : public discovery::EtcdWatch {
 public:
  CountedWatch(std::unique_ptr<discovery::EtcdWatch> watch, std::function<void()> release)
      : watch_(std::move(watch)), release_(std::move(release)) {}
  ~CountedWatch() override {
    watch_.reset();  // its thread ends first
    release_();
  }
  void Cancel() override { watch_->Cancel(); }

 private:
  std::unique_ptr<discovery::EtcdWatch> watch_;
  std::function<void()> release_;
};

}  // namespace

Result<std::unique_ptr<discovery::EtcdWatch>> DeployService::Follow(
    const std::string& deploy_id, const std::string& caller, DeployFollowCallback on_change) {
  {
    std::lock_guard lock(mu_);
    if (follows_ >= options_.max_follows) {
      return ResourceExhaustedError("deploy: " + std::to_string(options_.max_follows) +
                                    " progress streams are open on this gateway already");
    }
    int& mine = follows_by_[caller];
    if (mine >= options_.max_follows_per_caller) {
      if (mine == 0) follows_by_.erase(caller);
      return ResourceExhaustedError("deploy: this caller has " +
                                    std::to_string(options_.max_follows_per_caller) +
                                    " progress streams open already");
    }
    ++mine;
    ++follows_;
  }
  auto release = [this, caller] {
    std::lock_guard lock(mu_);
    --follows_;
    if (--follows_by_[caller] <= 0) follows_by_.erase(caller);
  };
  Result<std::unique_ptr<discovery::EtcdWatch>> watch =
      coordinator_.Follow(deploy_id, std::move(on_change));
  if (!watch.ok()) {
    release();
    return watch.status();
  }
  return std::unique_ptr<discovery::EtcdWatch>(
      new CountedWatch(std::move(watch).value(), std::move(release)));
}
}  // namespace llmux::rollout
