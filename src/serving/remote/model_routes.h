// ModelRoutes: which served name a client's model name goes to (rollouts flip it: "stories" ->
// "stories@v2"). The gateway's RemoteInferenceService resolves every request's model through
// it before picking a worker; a name without a route is sent as it is. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>

namespace llmux::serving {

class ModelRoutes {
 public:
  // The served name for `model`: its route, else `model` itself.
  std::string Resolve(const std::string& model) const {
    std::lock_guard lock(mu_);
    auto it = routes_.find(model);
    return it == routes_.end() ? model : it->second;
  }
  void Set(const std::string& model, const std::string& served) {
    std::lock_guard lock(mu_);
    routes_[model] = served;
  }
  void Remove(const std::string& model) {
    std::lock_guard lock(mu_);
    routes_.erase(model);
  }
  // Replaces every route at once.
  void Replace(std::map<std::string, std::string> routes) {
    std::lock_guard lock(mu_);
    routes_ = std::move(routes);
  }
  std::map<std::string, std::string> All() const {
    std::lock_guard lock(mu_);
    return routes_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> routes_;
};

}  // namespace llmux::serving
