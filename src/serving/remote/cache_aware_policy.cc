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
  // The workers the router would choose among (primaries before standbys, saturated ones last).
  const std::vector<int> candidates = fallback_.Candidates(workers, model, excluded);
  auto index_of = [&](int i) { return static_cast<size_t>(i) < indexes.size() ? indexes[static_cast<size_t>(i)] : nullptr; };
  if (!blocks.empty()) {
    int best = -1;
    int best_match = 0;
    int best_load = 0;
    for (int i : candidates) {
      const PrefixIndex* index = index_of(i);
      const int match = index ? index->MatchLength(model, blocks) : 0;
      if (match < std::max(options_.min_match_blocks, 1)) continue;
      const int load = Load(workers[static_cast<size_t>(i)], index, model);
      if (match > best_match || (match == best_match && load < best_load)) {
        best = i;
        best_match = match;
        best_load = load;
      }
    }
    if (best >= 0 && best_load < options_.max_load) return best;
  }
  // Least loaded, by the same measure as the threshold (this gateway's outstanding requests or
  // the worker's reported queue, whichever is larger).
  std::vector<WorkerView> by_load = workers;
  for (int i : candidates) {
    by_load[static_cast<size_t>(i)].outstanding = Load(workers[static_cast<size_t>(i)], index_of(i), model);
  }
  return fallback_.LeastOutstanding(by_load, candidates);
}

}  // namespace llmux::serving
