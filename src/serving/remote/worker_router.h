// Which worker takes a request, among the live workers that serve the model and that the
// request has not already tried (`up` also means: its circuit breaker lets a request through).
// Primaries first: standbys take requests only when every primary is down or saturated (its
// outstanding requests at its capacity); when everything is saturated the primaries take the
// overflow. Among the candidates, a policy per model:
//   least outstanding: the fewest requests outstanding from this gateway; ties go to a random one,
//     so that equal workers share the load instead of the first taking it all;
//   power of two choices: two random candidates, the less loaded wins (no herd on one
//     momentarily idle worker when many gateways route on stale counts).
// The cache-aware policy (cache_aware_policy.h) picks among the candidates this narrows to.
#pragma once

#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::serving {

struct WorkerView {
  std::string address;
  bool up = false;
  bool standby = false;  // used only when no primary can take the request
  std::set<std::string> models;  // ready models
  int outstanding = 0;
  int capacity = 0;  // outstanding requests at which it is saturated; 0: never
};

enum class RoutePolicy { kLeastOutstanding, kPowerOfTwo, kCacheAware };
const char* RoutePolicyName(RoutePolicy policy);  // "least", "p2c", "cache-aware"
Result<RoutePolicy> ParseRoutePolicy(const std::string& name);

class WorkerRouter {
 public:
  explicit WorkerRouter(uint64_t seed = std::random_device{}()) : rng_(seed) {}

  // The indexes in `workers` that may take the request: the eligible primaries that are not
  // saturated, else such standbys, else every eligible primary, else every eligible standby.
  std::vector<int> Candidates(const std::vector<WorkerView>& workers, const std::string& model,
                              const std::set<std::string>& excluded) const;
  // The index in `workers` of the chosen one, or -1 when none can take the request.
  // kCacheAware falls back to least outstanding here (it needs the request's blocks).
  int Pick(const std::vector<WorkerView>& workers, const std::string& model,
           const std::set<std::string>& excluded, RoutePolicy policy = RoutePolicy::kLeastOutstanding);
  // Least outstanding among `candidates` (random ties); -1 if empty.
  int LeastOutstanding(const std::vector<WorkerView>& workers, const std::vector<int>& candidates);

 private:
  int PowerOfTwo(const std::vector<WorkerView>& workers, const std::vector<int>& candidates);

  std::mt19937_64 rng_;
};

}  // namespace llmux::serving
