#include "serving/remote/worker_router.h"

#include <limits>

namespace llmux::serving {

const char* RoutePolicyName(RoutePolicy policy) {
  switch (policy) {
    case RoutePolicy::kLeastOutstanding:
      return "least";
    case RoutePolicy::kPowerOfTwo:
      return "p2c";
    case RoutePolicy::kCacheAware:
      return "cache-aware";
  }
  return "?";
}

Result<RoutePolicy> ParseRoutePolicy(const std::string& name) {
  for (RoutePolicy p : {RoutePolicy::kLeastOutstanding, RoutePolicy::kPowerOfTwo, RoutePolicy::kCacheAware}) {
    if (name == RoutePolicyName(p)) return p;
  }
  return InvalidArgumentError("unknown routing policy '" + name + "' (least, p2c or cache-aware)");
}

std::vector<int> WorkerRouter::Candidates(const std::vector<WorkerView>& workers,
                                          const std::string& model,
                                          const std::set<std::string>& excluded) const {
  std::vector<int> free[2], saturated[2];  // [standby]
  for (int i = 0; i < static_cast<int>(workers.size()); ++i) {
    const WorkerView& w = workers[static_cast<size_t>(i)];
    if (!w.up || !w.models.count(model) || excluded.count(w.address)) continue;
    const bool full = w.capacity > 0 && w.outstanding >= w.capacity;
    (full ? saturated : free)[w.standby ? 1 : 0].push_back(i);
  }
  for (std::vector<int>* c : {&free[0], &free[1], &saturated[0], &saturated[1]}) {
    if (!c->empty()) return std::move(*c);
  }
  return {};
}

int WorkerRouter::Pick(const std::vector<WorkerView>& workers, const std::string& model,
                       const std::set<std::string>& excluded, RoutePolicy policy) {
  const std::vector<int> candidates = Candidates(workers, model, excluded);
  if (policy == RoutePolicy::kPowerOfTwo) return PowerOfTwo(workers, candidates);
  return LeastOutstanding(workers, candidates);
}

int WorkerRouter::LeastOutstanding(const std::vector<WorkerView>& workers,
                                   const std::vector<int>& candidates) {
  std::vector<int> best;
  int least = std::numeric_limits<int>::max();
  for (int i : candidates) {
    const int n = workers[static_cast<size_t>(i)].outstanding;
    if (n < least) {
      least = n;
      best.clear();
    }
    if (n == least) best.push_back(i);
  }
  if (best.empty()) return -1;
  return best[std::uniform_int_distribution<size_t>(0, best.size() - 1)(rng_)];
}

int WorkerRouter::PowerOfTwo(const std::vector<WorkerView>& workers, const std::vector<int>& candidates) {
  if (candidates.size() < 2) return candidates.empty() ? -1 : candidates[0];
  std::uniform_int_distribution<size_t> pick(0, candidates.size() - 1);
  const size_t a = pick(rng_);
  size_t b = pick(rng_);
  while (b == a) b = pick(rng_);
  const int x = candidates[a], y = candidates[b];
  const int nx = workers[static_cast<size_t>(x)].outstanding, ny = workers[static_cast<size_t>(y)].outstanding;
  if (nx != ny) return nx < ny ? x : y;
  return std::uniform_int_distribution<int>(0, 1)(rng_) ? x : y;
}

}  // namespace llmux::serving
