// DeployService: the gateway's side of rollouts, behind the admin API (POST/GET
// /admin/v1/deploys). Start runs a DeployCoordinator on a thread of its own and returns as soon
// as the plan is in etcd; when the deploy commits, this gateway's ModelRoutes take the new
// route at once (other gateways follow through their RouteFollower's watch). Get reads a
// deploy's state back from etcd, and Follow watches it there, so any gateway can answer both.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"
#include "rollout/deploy_coordinator.h"
#include "services/audit/audit_log.h"
#include "serving/inference_service.h"
#include "serving/remote/model_routes.h"

namespace llmux::rollout {

struct DeployServiceOptions {
  std::string prefix = "/llmux/";
  // The ids of the workers a deploy without a worker list goes to (the registered ones).
  std::function<std::vector<std::string>()> registered_workers;
  // Progress streams (Follow) open at once, each holding an etcd watch and its thread: on this
  // gateway, and per caller, so that one caller cannot take them all.
  int max_follows = 64;
  int max_follows_per_caller = 4;
};

class DeployService {
 public:
  // `remote` (the gateway's service) is asked before each commit whether it sees the new
  // version served; `client`, `routes` and `remote` must outlive this.
  DeployService(discovery::EtcdClient& client, serving::ModelRoutes& routes,
                const serving::InferenceService& remote, DeployServiceOptions options);
  ~DeployService();  // waits for running deploys to end
  DeployService(const DeployService&) = delete;
  DeployService& operator=(const DeployService&) = delete;

  // Where Start records who started which deploy (an audit event "deploys.start", ok or
  // failed); null (the default) records nothing. Set before the first Start.
  void SetAuditLog(audit::AuditLog* log) { audit_ = log; }

  // The deploy's first progress (plan written, every worker preparing), or why it was refused.
  Result<DeployProgress> Start(DeployRequest request, const audit::Actor& actor = {});
  Result<DeployProgress> Get(const std::string& deploy_id);
  // Blocks until the deploy commits or aborts (its state read from etcd every 100 ms) and
  // returns its last progress; kDeadlineExceeded when it is still preparing after `timeout`
  // (plus a grace for the commit). Call it off the io threads.
  Result<DeployProgress> Wait(const std::string& deploy_id, std::chrono::milliseconds timeout);
  // DeployCoordinator::Follow (for the streamed GET /admin/v1/deploys?id=&stream=true) on
  // behalf of `caller` (a principal's subject): kResourceExhausted past max_follows on this
  // gateway or max_follows_per_caller for the caller. The handle must go before this service.
  Result<std::unique_ptr<discovery::EtcdWatch>> Follow(const std::string& deploy_id,
                                                       const std::string& caller,
                                                       DeployFollowCallback on_change);

 private:
  Result<DeployProgress> StartCoordinator(DeployRequest request);

  discovery::EtcdClient& client_;
  serving::ModelRoutes& routes_;
  const serving::InferenceService& remote_;
  const DeployServiceOptions options_;
  audit::AuditLog* audit_ = nullptr;
  DeployCoordinator coordinator_;
  std::mutex mu_;
  std::vector<std::thread> running_;
  int follows_ = 0;                        // open progress streams
  std::map<std::string, int> follows_by_;  // ... by caller
};

}  // namespace llmux::rollout
