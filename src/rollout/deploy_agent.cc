#include "rollout/deploy_agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

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

size_t DeployAgent::timeout_aborts_tried() const {
  std::lock_guard lock(mu_);
  return timeout_aborts_tried_;
}

void DeployAgent::OnUpdate(const PrefixUpdate& update) {
  std::vector<SeenPlan> mine;
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
    if (named) mine.push_back({std::move(plan).value(), kv.mod_revision});
  }
  if (mine.empty()) return;
  std::lock_guard lock(mu_);
  for (SeenPlan& seen : mine) queue_.push_back(std::move(seen));
  cv_.notify_all();
}

void DeployAgent::Work() {
  for (;;) {
    std::deque<SeenPlan> batch;
    std::vector<std::string> due;
    {
      std::unique_lock lock(mu_);
      // Sleeps until a plan arrives, Stop, or the earliest pending plan's time to settle.
      for (;;) {
        if (stopping_) return;
        const int64_t now = NowUnixMs();
        int64_t earliest = INT64_MAX;
        for (const auto& [id, pending] : pending_) {
          if (pending.abort_at_unix_ms <= now) due.push_back(id);
          earliest = std::min(earliest, pending.abort_at_unix_ms);
        }
        if (!queue_.empty() || !due.empty()) break;
        if (earliest == INT64_MAX) {
          cv_.wait(lock);
        } else {
          cv_.wait_for(lock, std::chrono::milliseconds(earliest - now));
        }
      }
      batch.swap(queue_);
    }
    // Timers first: a decision that reached etcd before the agent's abort is settled by the
    // abort transaction's condition (it fails), whatever order the watch delivers things in.
    for (const std::string& id : due) {
      auto it = pending_.find(id);
      if (it == pending_.end()) continue;
      const SeenPlan seen = it->second.seen;  // a copy: AbortUndecided erases the entry
      AbortUndecided(seen);
    }
    for (const SeenPlan& seen : batch) Handle(seen);
  }
}

void DeployAgent::AbortUndecided(const SeenPlan& seen) {
  const DeployPlan& plan = seen.plan;
  {
    std::lock_guard lock(mu_);
    ++timeout_aborts_tried_;
  }
  DeployPlan aborted = plan;
  aborted.state = DeployState::kAborted;
  aborted.reason = "worker " + options_.worker_id +
                   ": the coordinator did not decide by the deadline (aborted " +
                   std::to_string(options_.abort_grace.count()) + " ms after it)";
  const std::string key = PlanKey(options_.prefix, plan.id);
  discovery::EtcdTxn txn;
  txn.compares.push_back({key, discovery::EtcdCompare::Target::kModRevision,
                          discovery::EtcdCompare::Op::kEqual, seen.mod_revision, {}});
  txn.success.push_back(discovery::EtcdOp::Put(key, EncodeDeployPlan(aborted)));
  Result<discovery::EtcdTxnResult> done = client_.Txn(txn);
  if (!done.ok()) {
    // Unknown whether it applied; try again (the condition makes a second try harmless).
    spdlog::warn("rollout: deploy {}: aborting it: {}", plan.id, done.status().ToString());
    pending_[plan.id].abort_at_unix_ms = NowUnixMs() + 1000;
    return;
  }
  pending_.erase(plan.id);
  if (!done->succeeded) {
    // Someone decided (or rewrote the plan) first; the watch brings what it is now.
    spdlog::info("rollout: deploy {}: changed before this worker could abort it", plan.id);
    return;
  }
  spdlog::warn("rollout: deploy {} aborted by this worker: {}", plan.id, aborted.reason);
  prepared_.insert(plan.id);
  Unload(plan.id);
}

void DeployAgent::Unload(const std::string& deploy_id) {
  auto it = loaded_.find(deploy_id);
  if (it == loaded_.end()) return;
  spdlog::info("rollout: deploy {} aborted: unloading {}", deploy_id, it->second);
  if (Status s = models_.UnloadModel(it->second); !s.ok() && s.code() != StatusCode::kNotFound) {
    spdlog::warn("rollout: deploy {}: unloading {}: {}", deploy_id, it->second, s.ToString());
  }
  loaded_.erase(it);
}

void DeployAgent::Handle(const SeenPlan& seen) {
  const DeployPlan& plan = seen.plan;
  const std::string served = ServedName(plan);
  if (plan.state == DeployState::kPreparing) {
    // Settled by this agent if no one has decided by then (also for a plan found at start-up
    // long past its deadline, which this agent refuses to load but must not leave lingering).
    pending_[plan.id] = {plan.deadline_unix_ms + options_.abort_grace.count(), seen};
  } else {
    pending_.erase(plan.id);
  }
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
    case DeployState::kAborted:
      prepared_.insert(plan.id);  // never prepare it later
      Unload(plan.id);
      break;
    case DeployState::kCommitted:
      prepared_.insert(plan.id);
      loaded_.erase(plan.id);  // now served for good
      break;
  }
  std::lock_guard lock(mu_);
  ++handled_;
}

}  // namespace llmux::rollout
