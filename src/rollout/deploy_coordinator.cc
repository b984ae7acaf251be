#include "rollout/deploy_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace llmux::rollout {
namespace {

using discovery::EtcdCompare;
using discovery::EtcdOp;
using Clock = std::chrono::steady_clock;

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NewDeployId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(rng()));
  return std::to_string(NowUnixMs()) + "-" + std::string(buffer, 8);
}

// Reads the reports under the plan into progress.workers; returns the raw values by worker.
Result<std::map<std::string, std::string>> ReadReports(discovery::EtcdClient& client,
                                                       const std::string& prefix,
                                                       DeployProgress& progress) {
  LLMUX_ASSIGN_OR_RETURN(discovery::EtcdRange range,
                         client.GetPrefix(PlanKey(prefix, progress.deploy_id) + "/workers/"));
  std::map<std::string, std::string> raw;
  for (const discovery::EtcdKeyValue& kv : range.kvs) {
    std::optional<DeployKey> key = ParseDeployKey(prefix, kv.key);
    if (!key || key->deploy_id != progress.deploy_id || key->worker_id.empty()) continue;
    auto it = progress.workers.find(key->worker_id);
    if (it == progress.workers.end()) continue;  // not in the plan
    Result<WorkerReport> report = DecodeWorkerReport(kv.value);
    if (!report.ok()) {
      it->second = "failed: unreadable report (" + report.status().message() + ")";
    } else {
      it->second = report->ready ? "ready" : "failed: " + report->reason;
    }
    raw[key->worker_id] = kv.value;
  }
  return raw;
}

}  // namespace

BeforeCommit WaitUntilListed(const serving::InferenceService& service) {
  return [&service](const std::string& served, Clock::time_point deadline) {
    for (;;) {
      for (const serving::ModelInfo& m : service.ListModels()) {
        if (m.id == served && m.ready) return true;
      }
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };
}

DeployCoordinator::DeployCoordinator(discovery::EtcdClient& client, std::string prefix,
                                     std::chrono::milliseconds poll_interval)
    : client_(client), prefix_(std::move(prefix)), poll_interval_(poll_interval) {}

Result<DeployProgress> DeployCoordinator::Run(const DeployRequest& request,
                                              const DeployProgressCallback& on_progress,
                                              const BeforeCommit& before_commit) {
  const auto report = [&](const DeployProgress& p) {
    if (on_progress) on_progress(p);
  };
  if (request.timeout <= std::chrono::milliseconds::zero()) {
    return InvalidArgumentError("deploy: the timeout must be positive").WithField("timeout");
  }
  DeployPlan plan;
  plan.id = NewDeployId();
  plan.model = request.model;
  plan.version = request.version;
  plan.path = request.path;
  plan.workers = request.workers;
  // The local deadline is taken first, so it never falls after the one the workers are told
  // (they abort the plan themselves some grace after theirs: DeployAgentOptions::abort_grace).
  const auto deadline = Clock::now() + request.timeout;
  plan.deadline_unix_ms = NowUnixMs() + request.timeout.count();
  LLMUX_RETURN_IF_ERROR(ValidateDeployPlan(plan));
  const std::string plan_key = PlanKey(prefix_, plan.id);
  const std::string route_key = RouteKey(prefix_, plan.model);

  // The route as it is now: the commit holds only if no one changed it meanwhile.
  LLMUX_ASSIGN_OR_RETURN(discovery::EtcdRange route_now, client_.Get(route_key));
  const int64_t route_revision = route_now.kvs.empty() ? 0 : route_now.kvs[0].mod_revision;

  discovery::EtcdTxn create;
  create.compares.push_back({plan_key, EtcdCompare::Target::kCreateRevision,
                             EtcdCompare::Op::kEqual, 0, {}});
  create.success.push_back(EtcdOp::Put(plan_key, EncodeDeployPlan(plan)));
  LLMUX_ASSIGN_OR_RETURN(discovery::EtcdTxnResult created, client_.Txn(create));
  if (!created.succeeded) return AlreadyExistsError("deploy " + plan.id + " exists already");
  const int64_t plan_revision = created.revision;

  DeployProgress progress;
  progress.deploy_id = plan.id;
  progress.model = plan.model;
  progress.served = ServedName(plan);
  for (const std::string& w : plan.workers) progress.workers[w] = "preparing";
  report(progress);
  spdlog::info("rollout: deploy {}: {} to {} worker(s)", plan.id, progress.served,
               plan.workers.size());

  // Marks the plan aborted, unless someone else changed it first (a worker that gave up on the
  // deadline): then the outcome is what etcd has.
  const auto abort = [&](std::string reason) -> Result<DeployProgress> {
    DeployPlan aborted = plan;
    aborted.state = DeployState::kAborted;
    aborted.reason = reason;
    discovery::EtcdTxn txn;
    txn.compares.push_back(
        {plan_key, EtcdCompare::Target::kModRevision, EtcdCompare::Op::kEqual, plan_revision, {}});
    txn.success.push_back(EtcdOp::Put(plan_key, EncodeDeployPlan(aborted)));
    // Retried until the deadline plus a while: workers unload only once they see it.
    for (int attempt = 0;; ++attempt) {
      Result<discovery::EtcdTxnResult> done = client_.Txn(txn);
      if (done.ok() && done->succeeded) break;
      if (done.ok()) {
        Result<DeployProgress> now = Get(plan.id);
        if (now.ok() && now->state != DeployState::kPreparing) {
          progress.state = now->state;
          progress.reason = now->reason;
          progress.commit_revision = now->commit_revision;
          spdlog::warn("rollout: deploy {} was settled elsewhere: {} {}", plan.id,
                       DeployStateName(progress.state), progress.reason);
          report(progress);
          return progress;
        }
        break;  // changed, yet still preparing: not this coordinator's to settle any more
      }
      if (attempt >= 20) return done.status().WithContext("deploy " + plan.id + ": aborting");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    progress.state = DeployState::kAborted;
    progress.reason = std::move(reason);
    spdlog::warn("rollout: deploy {} aborted: {}", plan.id, progress.reason);
    report(progress);
    return progress;
  };

  std::map<std::string, std::string> raw;
  for (;;) {
    const auto before = progress.workers;
    Result<std::map<std::string, std::string>> read = ReadReports(client_, prefix_, progress);
    if (read.ok()) raw = std::move(read).value();
    if (progress.workers != before) report(progress);
    std::string failed, waiting;
    for (const auto& [worker, state] : progress.workers) {
      if (state.starts_with("failed")) failed += (failed.empty() ? "" : "; ") + worker + ": " + state;
      if (state == "preparing") waiting += (waiting.empty() ? "" : ", ") + worker;
    }
    if (!failed.empty()) return abort("worker " + failed);
    if (waiting.empty()) break;
    if (Clock::now() >= deadline) return abort("timed out waiting for worker(s) " + waiting);
    std::this_thread::sleep_for(poll_interval_);
  }
  if (before_commit && !before_commit(progress.served, deadline)) {
    return abort("the gateway did not see " + progress.served + " served in time");
  }
  if (Clock::now() >= deadline) return abort("the deadline passed before the commit");

  // The flip: one transaction.
  DeployPlan committed = plan;
  committed.state = DeployState::kCommitted;
  Route route{plan.version, progress.served, plan.id};
  discovery::EtcdTxn txn;
  txn.compares.push_back(
      {plan_key, EtcdCompare::Target::kModRevision, EtcdCompare::Op::kEqual, plan_revision, {}});
  txn.compares.push_back(
      {route_key, EtcdCompare::Target::kModRevision, EtcdCompare::Op::kEqual, route_revision, {}});
  for (const std::string& w : plan.workers) {
    txn.compares.push_back({ReportKey(prefix_, plan.id, w), EtcdCompare::Target::kValue,
                            EtcdCompare::Op::kEqual, 0, raw[w]});
  }
  txn.success.push_back(EtcdOp::Put(route_key, EncodeRoute(route)));
  txn.success.push_back(EtcdOp::Put(plan_key, EncodeDeployPlan(committed)));
  Result<discovery::EtcdTxnResult> flipped = client_.Txn(txn);
  if (!flipped.ok()) {
    // Unknown whether it applied: read back rather than guess.
    Result<DeployProgress> now = Get(plan.id);
    if (now.ok() && now->state == DeployState::kCommitted) {
      progress.state = DeployState::kCommitted;
      progress.commit_revision = now->commit_revision;
      report(progress);
      return progress;
    }
    return abort("the commit failed: " + flipped.status().ToString());
  }
  if (!flipped->succeeded) {
    return abort("the plan, the route or a report changed before the commit");
  }
  progress.state = DeployState::kCommitted;
  progress.commit_revision = flipped->revision;
  spdlog::info("rollout: deploy {} committed: {} now goes to {}", plan.id, plan.model,
               progress.served);
  report(progress);
  return progress;
}

Result<DeployProgress> DeployCoordinator::Get(const std::string& deploy_id) {
  if (!ParseDeployKey(prefix_, PlanKey(prefix_, deploy_id)).has_value()) {
    return InvalidArgumentError("deploy: malformed id");
  }
  LLMUX_ASSIGN_OR_RETURN(discovery::EtcdRange range, client_.Get(PlanKey(prefix_, deploy_id)));
  if (range.kvs.empty()) return NotFoundError("deploy " + deploy_id + " does not exist");
  LLMUX_ASSIGN_OR_RETURN(DeployPlan plan, DecodeDeployPlan(range.kvs[0].value));
  DeployProgress progress;
  progress.deploy_id = plan.id;
  progress.model = plan.model;
  progress.served = ServedName(plan);
  progress.state = plan.state;
  progress.reason = plan.reason;
  if (plan.state == DeployState::kCommitted) progress.commit_revision = range.kvs[0].mod_revision;
  for (const std::string& w : plan.workers) progress.workers[w] = "preparing";
  LLMUX_RETURN_IF_ERROR(ReadReports(client_, prefix_, progress).status());
  return progress;
}

namespace {

// What Follow delivers, one call at a time (the first read and the watch's thread may race).
struct Followed {
  std::mutex mu;
  std::optional<DeployProgress> last;
  bool ended = false;
  DeployFollowCallback on_change;

  void Deliver(const Result<DeployProgress>& now) {
    std::lock_guard lock(mu);
    if (ended) return;
    if (now.ok()) {
      if (last && *last == *now) return;
      last = *now;
      ended = now->state != DeployState::kPreparing;
    } else {
      ended = true;
    }
    on_change(now);
  }
};

}  // namespace

Result<std::unique_ptr<discovery::EtcdWatch>> DeployCoordinator::Follow(
    const std::string& deploy_id, DeployFollowCallback on_change) {
  if (!ParseDeployKey(prefix_, PlanKey(prefix_, deploy_id)).has_value()) {
    return InvalidArgumentError("deploy: malformed id");
  }
  auto followed = std::make_shared<Followed>();
  followed->on_change = std::move(on_change);
  const std::string plan_key = PlanKey(prefix_, deploy_id);
  // The watch starts before the first read, so that no change falls between the two; a change
  // both see is delivered once.
  LLMUX_ASSIGN_OR_RETURN(
      std::unique_ptr<discovery::EtcdWatch> watch,
      client_.Watch(
          plan_key, 0, [this, followed, plan_key, deploy_id](const discovery::EtcdWatchUpdate& u) {
            if (!u.error.ok()) {
              followed->Deliver(u.error.WithContext("following deploy " + deploy_id));
              return;
            }
            // The prefix also holds other deploys whose id begins with this one.
            const bool ours =
                std::any_of(u.events.begin(), u.events.end(), [&](const discovery::EtcdEvent& e) {
                  return e.kv.key == plan_key || e.kv.key.rfind(plan_key + "/", 0) == 0;
                });
            if (ours) followed->Deliver(Get(deploy_id));
          }));
  Result<DeployProgress> first = Get(deploy_id);
  if (!first.ok()) return first.status();
  followed->Deliver(first);
  return watch;
}

}  // namespace llmux::rollout
