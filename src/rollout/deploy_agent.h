// DeployAgent (worker side of a rollout): follows <prefix>deploys/ and, for each plan that names
// this worker and is preparing, loads the plan's file under the served name "<model>@<version>"
// and reports ready or failed under deploys/<id>/workers/<worker id>. When a plan it prepared
// is aborted it unloads what it loaded; when it is committed it keeps it (and keeps the older
// versions too: see docs/deployment.md, "Rollouts").
// A participant timeout settles a plan whose coordinator died: a plan naming this worker that is
// still preparing abort_grace after its deadline is marked aborted by the agent itself, in a
// transaction that holds only if the plan is unchanged since the agent read it (so a commit that
// reached etcd first wins, and never both).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "discovery/etcd_client.h"
#include "rollout/prefix_follower.h"
#include "rollout/rollout_records.h"
#include "serving/model_manager.h"

namespace llmux::rollout {

struct DeployAgentOptions {
  std::string prefix = "/llmux/";
  std::string worker_id;  // WorkerRecord::id of this worker
  // How long after a plan's deadline the agent waits for the coordinator's decision before it
  // aborts the plan itself. It covers a commit transaction sent just before the deadline and
  // the clock difference between the gateway's machine and this one.
  std::chrono::milliseconds abort_grace{5000};
};

class DeployAgent {
 public:
  DeployAgent(discovery::EtcdClient& client, serving::ModelManager& models,
              DeployAgentOptions options);
  ~DeployAgent();  // Stop()
  DeployAgent(const DeployAgent&) = delete;
  DeployAgent& operator=(const DeployAgent&) = delete;

  void Start();
  // Stops following; what was loaded stays loaded.
  void Stop();

  // Deploys this agent has handled (prepared, or found already decided), for tests.
  size_t handled() const;
  // Times this agent tried to abort a plan left preparing past its deadline + grace, for tests.
  size_t timeout_aborts_tried() const;

 private:
  // A plan as read from etcd, with the revision it was read at.
  struct SeenPlan {
    DeployPlan plan;
    int64_t mod_revision = 0;
  };
  // A plan seen preparing: when to settle it if it still is, and at which revision it was seen.
  struct Pending {
    int64_t abort_at_unix_ms = 0;
    SeenPlan seen;
  };

  void OnUpdate(const PrefixUpdate& update);
  void Work();
  void Handle(const SeenPlan& seen);
  // Aborts the plan (if still as seen) because its coordinator did not decide in time.
  void AbortUndecided(const SeenPlan& seen);
  void Unload(const std::string& deploy_id);

  discovery::EtcdClient& client_;
  serving::ModelManager& models_;
  const DeployAgentOptions options_;
  PrefixFollower follower_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<SeenPlan> queue_;
  bool stopping_ = false;
  std::thread worker_;
  // Touched by the work thread only.
  std::set<std::string> prepared_;             // deploy ids already prepared (or refused)
  std::map<std::string, std::string> loaded_;  // deploy id -> served name this agent loaded
  std::map<std::string, Pending> pending_;     // deploy id -> plans seen preparing
  size_t handled_ = 0;                         // under mu_
  size_t timeout_aborts_tried_ = 0;            // under mu_
};

}  // namespace llmux::rollout
