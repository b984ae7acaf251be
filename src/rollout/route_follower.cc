#include "rollout/route_follower.h"

#include <spdlog/spdlog.h>

#include "rollout/rollout_records.h"

namespace llmux::rollout {

RouteFollower::RouteFollower(discovery::EtcdClient& client,
                             std::shared_ptr<serving::ModelRoutes> routes, std::string prefix)
    : routes_(std::move(routes)),
      routes_prefix_(RoutesPrefix(prefix)),
      follower_(client, routes_prefix_, [this](const PrefixUpdate& u) { OnUpdate(u); }) {}

void RouteFollower::OnUpdate(const PrefixUpdate& update) {
  std::map<std::string, std::string> all;
  for (const discovery::EtcdKeyValue& kv : update.puts) {
    const std::string model = kv.key.substr(routes_prefix_.size());
    Result<Route> route = DecodeRoute(kv.value);
    if (model.empty() || !route.ok()) {
      spdlog::warn("rollout: ignoring route {}: {}", kv.key,
                   route.ok() ? "no model name" : route.status().ToString());
      continue;
    }
    if (update.full) {
      all[model] = route->served;
    } else {
      routes_->Set(model, route->served);
    }
  }
  if (update.full) {
    routes_->Replace(std::move(all));
    return;
  }
  for (const std::string& key : update.deletes) routes_->Remove(key.substr(routes_prefix_.size()));
}

}  // namespace llmux::rollout
