#include "serving/remote/worker_router.h"

#include <limits>

namespace llmux::serving {

int WorkerRouter::Pick(const std::vector<WorkerView>& workers, const std::string& model,
                       const std::set<std::string>& excluded) {
  for (const bool standby : {false, true}) {
    std::vector<int> best;
    int least = std::numeric_limits<int>::max();
    for (int i = 0; i < static_cast<int>(workers.size()); ++i) {
      const WorkerView& w = workers[static_cast<size_t>(i)];
      if (!w.up || w.standby != standby || !w.models.count(model) || excluded.count(w.address)) continue;
      if (w.outstanding < least) {
        least = w.outstanding;
        best.clear();
      }
      if (w.outstanding == least) best.push_back(i);
    }
    if (!best.empty()) {
      return best[std::uniform_int_distribution<size_t>(0, best.size() - 1)(rng_)];
    }
  }
  return -1;
}

}  // namespace llmux::serving
