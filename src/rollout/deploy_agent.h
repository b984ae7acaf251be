// DeployAgent (worker side of a rollout): follows <prefix>deploys/ and, for each plan that names
// this worker and is preparing, loads the plan's file under the served name "<model>@<version>"
// and reports ready or failed under deploys/<id>/workers/<worker id>. When a plan it prepared
// is aborted it unloads what it loaded; when it is committed it keeps it (and keeps the older
// versions too: see docs/deployment.md, "Rollouts").
#pragma once

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

 private:
  void OnUpdate(const PrefixUpdate& update);
  void Work();
  void Handle(const DeployPlan& plan);

  discovery::EtcdClient& client_;
  serving::ModelManager& models_;
  const DeployAgentOptions options_;
  PrefixFollower follower_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<DeployPlan> queue_;
  bool stopping_ = false;
  std::thread worker_;
  // Touched by the work thread only.
  std::set<std::string> prepared_;             // deploy ids already prepared (or refused)
  std::map<std::string, std::string> loaded_;  // deploy id -> served name this agent loaded
  size_t handled_ = 0;                         // under mu_
};

}  // namespace llmux::rollout
