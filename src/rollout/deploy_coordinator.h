// DeployCoordinator: runs one rollout as a distributed transaction (docs/deployment.md,
// "Rollouts"). It writes the plan (state preparing), waits for every named worker's report, and
// then either commits in ONE etcd transaction — which holds only if the plan is unchanged, the
// route is what it was when the deploy began and every report still says ready — that puts the
// new route and marks the plan committed; or marks the plan aborted (a worker failed, the
// deadline passed, the transaction's conditions failed), upon which the workers unload.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "discovery/etcd_client.h"
#include "rollout/rollout_records.h"
#include "serving/inference_service.h"

namespace llmux::rollout {

struct DeployRequest {
  std::string model;
  std::string version;
  std::string path;  // as the workers see it
  std::vector<std::string> workers;
  std::chrono::milliseconds timeout{120000};  // for every worker to prepare
};

struct DeployProgress {
  std::string deploy_id;
  std::string model;
  std::string served;  // "<model>@<version>"
  DeployState state = DeployState::kPreparing;
  // worker id -> "preparing", "ready" or "failed: <reason>".
  std::map<std::string, std::string> workers;
  std::string reason;  // why it aborted
  int64_t commit_revision = 0;  // etcd revision of the commit transaction

  bool operator==(const DeployProgress&) const = default;
};

using DeployProgressCallback = std::function<void(const DeployProgress&)>;
// A followed deploy's next progress, or why following it ended.
using DeployFollowCallback = std::function<void(const Result<DeployProgress>&)>;
// Asked, once every worker is ready, before the commit; it may wait (bounded by the deadline it
// is given) until e.g. the gateway sees the new served name on the workers. false aborts.
using BeforeCommit = std::function<bool(const std::string& served,
                                        std::chrono::steady_clock::time_point deadline)>;

// A BeforeCommit that waits until `service` (the gateway's RemoteInferenceService) lists the
// new served name as ready on some worker, so that the first request after the flip finds it.
BeforeCommit WaitUntilListed(const serving::InferenceService& service);

class DeployCoordinator {
 public:
  DeployCoordinator(discovery::EtcdClient& client, std::string prefix = "/llmux/",
                    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(50));

  // Runs the rollout to its end: returns its final progress (committed or aborted), or an
  // error for an invalid request or an etcd that cannot be reached to write the plan.
  // on_progress is called on this thread at every change (first with the plan written).
  Result<DeployProgress> Run(const DeployRequest& request,
                             const DeployProgressCallback& on_progress = {},
                             const BeforeCommit& before_commit = {});

  // A deploy's state as etcd has it (for GET /admin/v1/deploys/<id>).
  Result<DeployProgress> Get(const std::string& deploy_id);

  // Follows a deploy from any gateway: reports its progress now (on this thread) and again, read
  // back from etcd, each time one of its keys changes (on the watch's thread), never the same
  // progress twice in a row, until it has ended (committed or aborted: the last call) or the
  // watch fails (an error: the last call). Errors of the first read are returned instead
  // (kNotFound for a deploy that does not exist). Dropping the handle stops it; it must not
  // be dropped from inside on_change.
  Result<std::unique_ptr<discovery::EtcdWatch>> Follow(const std::string& deploy_id,
                                                       DeployFollowCallback on_change);

 private:
  discovery::EtcdClient& client_;
  const std::string prefix_;
  const std::chrono::milliseconds poll_interval_;
};

}  // namespace llmux::rollout
