// Which worker takes a request: among the live workers that serve the model and that the
// request has not already tried, the one with the fewest requests outstanding from this
// gateway (least outstanding requests); ties go to a random one, so that equal workers share
// the load instead of the first one taking it all. A policy of its own, so that others
// (cache-aware, power of two choices) can take its place per model.
#pragma once

#include <random>
#include <set>
#include <string>
#include <vector>

namespace llmux::serving {

struct WorkerView {
  std::string address;
  bool up = false;
  bool standby = false;  // used only when no primary can take the request
  std::set<std::string> models;  // ready models
  int outstanding = 0;
};

class WorkerRouter {
 public:
  explicit WorkerRouter(uint64_t seed = std::random_device{}()) : rng_(seed) {}
  // The index in `workers` of the chosen one, or -1 when none can take the request.
  int Pick(const std::vector<WorkerView>& workers, const std::string& model,
           const std::set<std::string>& excluded);

 private:
  std::mt19937_64 rng_;
};

}  // namespace llmux::serving
