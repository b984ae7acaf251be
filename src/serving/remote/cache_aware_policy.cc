#include "serving/remote/cache_aware_policy.h"

#include <algorithm>

namespace llmux::serving {

int CacheAwarePolicy::Load(const WorkerView& worker, const PrefixIndex* index, const std::string& model) {
  int reported = 0;
  if (index) {
    if (const PrefixIndex::ModelState* s = index->Find(model)) reported = s->load.running + s->load.waiting;
  }
  return std::max(worker.outstanding, reported);
}

int CacheAwarePolicy::Pick(const std::vector<WorkerView>& workers,
                           const std::vector<const PrefixIndex*>& indexes, const std::string& model,
                           const std::set<std::string>& excluded, const std::vector<uint64_t>& blocks) {
  if (!blocks.empty()) {
    for (const bool standby : {false, true}) {
      int best = -1;
      int best_match = 0;
      int best_load = 0;
      bool any = false;
      for (size_t i = 0; i < workers.size(); ++i) {
        const WorkerView& w = workers[i];
        if (!w.up || w.standby != standby || !w.models.count(model) || excluded.count(w.address)) continue;
        any = true;
        const PrefixIndex* index = i < indexes.size() ? indexes[i] : nullptr;
        const int match = index ? index->MatchLength(model, blocks) : 0;
        if (match < std::max(options_.min_match_blocks, 1)) continue;
        const int load = Load(w, index, model);
        if (match > best_match || (match == best_match && load < best_load)) {
          best = static_cast<int>(i);
          best_match = match;
          best_load = load;
        }
      }
      if (best >= 0 && best_load < options_.max_load) return best;
      if (any) break;  // primaries exist: the fallback picks among them
    }
  }
  // Least loaded, by the same measure as the threshold (this gateway's outstanding requests or
  // the worker's reported queue, whichever is larger).
  std::vector<WorkerView> by_load = workers;
  for (size_t i = 0; i < by_load.size(); ++i) {
    by_load[i].outstanding = Load(workers[i], i < indexes.size() ? indexes[i] : nullptr, model);
  }
  return fallback_.Pick(by_load, model, excluded);
}

}  // namespace llmux::serving
