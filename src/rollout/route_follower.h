// RouteFollower (gateway side of a rollout): keeps a ModelRoutes equal to <prefix>routes/ in
// etcd, so that every gateway sends a model's requests to the version the last committed
// rollout chose. A value that does not decode is left out, with a warning.
#pragma once

#include <memory>
#include <string>

#include "discovery/etcd_client.h"
#include "rollout/prefix_follower.h"
#include "serving/remote/model_routes.h"

namespace llmux::rollout {

class RouteFollower {
 public:
  RouteFollower(discovery::EtcdClient& client, std::shared_ptr<serving::ModelRoutes> routes,
                std::string prefix = "/llmux/");
  void Start() { follower_.Start(); }
  void Stop() { follower_.Stop(); }
  bool synced() const { return follower_.synced(); }

 private:
  void OnUpdate(const PrefixUpdate& update);

  const std::shared_ptr<serving::ModelRoutes> routes_;
  const std::string routes_prefix_;
  PrefixFollower follower_;
};

}  // namespace llmux::rollout
