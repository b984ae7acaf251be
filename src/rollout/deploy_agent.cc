#include "rollout/deploy_agent.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace llmux::rollout {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DeployAgent::DeployAgent(discovery::EtcdClient& client, serving::ModelManager& models,
                         DeployAgentOptions options)
    : client_(client),
      models_(models),
      options_(std::move(options)),
      follower_(client_, DeploysPrefix(options_.prefix),
                [this](const PrefixUpdate& update) { OnUpdate(update); }) {}

DeployAgent::~DeployAgent() { Stop(); }

void DeployAgent::Start() {
  {
    std::lock_guard lock(mu_);
    if (worker_.joinable()) return;
    stopping_ = false;
    worker_ = std::thread([this] { Work(); });
  }
  follower_.Start();
}

void DeployAgent::Stop() {
  follower_.Stop();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

size_t DeployAgent::handled() const {
  std::lock_guard lock(mu_);
  return handled_;
}

void DeployAgent::OnUpdate(const PrefixUpdate& update) {
  std::vector<DeployPlan> mine;
  for (const discovery::EtcdKeyValue& kv : update.puts) {
    std::optional<DeployKey> key = ParseDeployKey(options_.prefix, kv.key);
    if (!key || !key->worker_id.empty()) continue;  // reports are the coordinator's business
    Result<DeployPlan> plan = DecodeDeployPlan(kv.value);
    if (!plan.ok()) {
      spdlog::warn("rollout: ignoring {}: {}", kv.key, plan.status().ToString());
      continue;
    }
    if (plan->id != key->deploy_id) continue;
    bool named = false;
    for (const std::string& w : plan->workers) named = named || w == options_.worker_id;
    if (named) mine.push_back(std::move(plan).value());
  }
  if (mine.empty()) return;
  std::lock_guard lock(mu_);
  for (DeployPlan& plan : mine) queue_.push_back(std::move(plan));
  cv_.notify_all();
}

void DeployAgent::Work() {
  for (;;) {
    DeployPlan plan;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      plan = std::move(queue_.front());
      queue_.pop_front();
    }
    Handle(plan);
  }
}

void DeployAgent::Handle(const DeployPlan& plan) {
  const std::string served = ServedName(plan);
  switch (plan.state) {
    case DeployState::kPreparing: {
      if (!prepared_.insert(plan.id).second) return;
      WorkerReport report;
      if (NowUnixMs() > plan.deadline_unix_ms) {
        report.reason = "the deploy's deadline had passed when the worker saw it";
      } else {
        spdlog::info("rollout: deploy {}: loading {} as {}", plan.id, plan.path, served);
        Status loaded = models_.LoadModel({served, plan.path});
        if (loaded.ok()) {
          loaded_[plan.id] = served;
          report.ready = true;
        } else if (loaded.code() == StatusCode::kAlreadyExists) {
          report.ready = true;  // the same version is served already (not ours to unload)
        } else {
          report.reason = loaded.ToString();
        }
      }
      if (!report.ready) spdlog::warn("rollout: deploy {}: not ready: {}", plan.id, report.reason);
      const std::string key = ReportKey(options_.prefix, plan.id, options_.worker_id);
      // A lost report only makes the coordinator time out and abort (which unloads).
      if (auto put = client_.Put(key, EncodeWorkerReport(report)); !put.ok()) {
        spdlog::warn("rollout: deploy {}: reporting: {}", plan.id, put.status().ToString());
      }
      break;
    }
    case DeployState::kAborted: {
      prepared_.insert(plan.id);  // never prepare it later
      auto it = loaded_.find(plan.id);
      if (it != loaded_.end()) {
        spdlog::info("rollout: deploy {} aborted: unloading {}", plan.id, it->second);
        if (Status s = models_.UnloadModel(it->second); !s.ok() && s.code() != StatusCode::kNotFound) {
          spdlog::warn("rollout: deploy {}: unloading {}: {}", plan.id, it->second, s.ToString());
        }
        loaded_.erase(it);
      }
      break;
    }
    case DeployState::kCommitted:
      prepared_.insert(plan.id);
      loaded_.erase(plan.id);  // now served for good
      break;
  }
  std::lock_guard lock(mu_);
  ++handled_;
}

}  // namespace llmux::rollout
