#include "app/gateway.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "app/served_models.h"
#include "rollout/deploy_service.h"
#include "rollout/route_follower.h"

namespace llmux::app {

namespace {

// Applies etcd's view of the workers to the remote service: the static list stays, workers
// that appeared are added, workers that left (deregistered, or their lease expired) are removed,
// and a worker whose record changed (address, standby flag) is replaced.
class DiscoveredWorkers {
 public:
  DiscoveredWorkers(serving::RemoteInferenceService& remote, std::set<std::string> fixed)
      : remote_(remote), fixed_(std::move(fixed)) {}

  void Apply(const std::vector<discovery::WorkerRecord>& all) {
    const discovery::WorkerViewDiff diff = discovery::DiffWorkerViews(view_, all);
    for (const discovery::WorkerRecord& w : diff.removed) Leave(w);
    for (const discovery::WorkerRecord& w : diff.changed) {  // a new address or standby flag
      for (const discovery::WorkerRecord& old : view_) {
        if (old.id == w.id) Leave(old);
      }
      Join(w);
    }
    for (const discovery::WorkerRecord& w : diff.added) Join(w);
    view_ = all;
  }

 private:
  void Join(const discovery::WorkerRecord& w) {
    if (fixed_.count(w.address)) return;
    spdlog::info("gateway: worker {} joined ({})", w.id, w.address);
    remote_.AddWorker(w.address, w.standby, w.capacity);
  }
  void Leave(const discovery::WorkerRecord& w) {
    if (fixed_.count(w.address)) return;
    spdlog::info("gateway: worker {} at {} left", w.id, w.address);
    remote_.RemoveWorker(w.address);
  }

  serving::RemoteInferenceService& remote_;
  const std::set<std::string> fixed_;
  std::vector<discovery::WorkerRecord> view_;  // etcd's last view
};

}  // namespace

Status RunGateway(const GatewayOptions& o) {
  serving::RemoteInferenceService remote(o.workers);
  LLMUX_RETURN_IF_ERROR(remote.Start().WithContext("the workers' TLS files"));
  std::unique_ptr<discovery::WorkerWatcher> watcher;
  DiscoveredWorkers discovered(remote, {o.workers.workers.begin(), o.workers.workers.end()});
  if (!o.discovery.etcd.endpoints.empty()) {
    LLMUX_ASSIGN_OR_RETURN(
        watcher, discovery::WorkerWatcher::Create(
                     o.discovery, [&discovered](const std::vector<discovery::WorkerRecord>& all) {
                       discovered.Apply(all);
                     }));
    LLMUX_RETURN_IF_ERROR(watcher->Start().WithContext("--etcd"));
  }
  // Rollouts: the routes every request's model is resolved through, kept equal to etcd's, and
  // the deploys this gateway's admin API runs.
  std::unique_ptr<discovery::EtcdClient> etcd;
  auto routes = std::make_shared<serving::ModelRoutes>();
  std::unique_ptr<rollout::RouteFollower> route_follower;
  std::unique_ptr<rollout::DeployService> deploys;
  std::unique_ptr<RolloutServedModels> served;  // tag moves and hot updates as rollouts
  if (watcher) {
    LLMUX_ASSIGN_OR_RETURN(etcd, discovery::EtcdClient::Create(o.discovery.etcd));
    remote.SetModelRoutes(routes);
    route_follower = std::make_unique<rollout::RouteFollower>(*etcd, routes, o.rollout_prefix);
    route_follower->Start();
    rollout::DeployServiceOptions deploy_options;
    deploy_options.prefix = o.rollout_prefix;
    deploy_options.registered_workers = [w = watcher.get()] {
      std::vector<std::string> ids;
      for (const discovery::WorkerRecord& r : w->Current()) {
        if (!r.standby) ids.push_back(r.id);
      }
      return ids;
    };
    deploys = std::make_unique<rollout::DeployService>(*etcd, *routes, remote, deploy_options);
    served = std::make_unique<RolloutServedModels>(*deploys, remote, *routes);
  }
  EdgeBackend backend;
  backend.service = &remote;
  backend.workers = &remote;
  backend.deploys = deploys.get();
  backend.served_models = served.get();
  backend.metrics_text = [&remote] { return remote.MetricsText(); };
  // Ready as soon as some worker serves every model it knows of; with none yet the edge answers
  // 503 on /health until workers join.
  std::atomic<bool> stopping{false};
  backend.wait_ready = [&remote, &stopping]() -> Status {
    while (!remote.Ready()) {
      if (stopping) return UnavailableError("stopped before any worker was ready");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Status::Ok();
  };
  backend.drain = [&stopping](std::chrono::milliseconds) { stopping = true; };
  backend.starting = "workers: " + std::to_string(o.workers.workers.size()) + " listed" +
                     (watcher ? ", more from etcd" : "");
  Status status = RunEdge(o.edge, backend);
  served.reset();
  deploys.reset();  // waits for running deploys
  if (route_follower) route_follower->Stop();
  if (watcher) watcher->Stop();
  return status;
}

}  // namespace llmux::app
