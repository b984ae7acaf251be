// Cache-aware routing: a request goes to the worker whose prefix cache holds the longest run
// of its prompt's full blocks from the start (as the workers' block-hash reports say), unless
// that worker is loaded at or above a threshold; then, and when no worker holds any of its
// blocks, the least loaded one takes it (WorkerRouter over Load(): this gateway's outstanding
// requests or the worker's reported running + waiting, whichever is larger). Among equal matches the less
// loaded worker wins. It picks among the workers WorkerRouter::Candidates gives (standbys only
// when no primary can take the request, saturated workers last).
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "serving/remote/prefix_index.h"
#include "serving/remote/worker_router.h"

namespace llmux::serving {

struct CacheAwareOptions {
  // A worker is overloaded for a model when its load — the larger of the requests this
  // gateway has outstanding on it and the running plus waiting sequences it last reported for
  // the model — is at least this.
  int max_load = 8;
  // Matches shorter than this many blocks do not count (the least outstanding worker takes
  // the request).
  int min_match_blocks = 1;
};

class CacheAwarePolicy {
 public:
  explicit CacheAwarePolicy(CacheAwareOptions options = {}, uint64_t seed = std::random_device{}())
      : options_(options), fallback_(seed) {}

  // The index in `workers` of the chosen one, or -1. `indexes[i]` is workers[i]'s prefix index
  // (null: nothing known); `blocks` the request's chain of block hashes (PromptBlockHashes).
  int Pick(const std::vector<WorkerView>& workers, const std::vector<const PrefixIndex*>& indexes,
           const std::string& model, const std::set<std::string>& excluded,
           const std::vector<uint64_t>& blocks);

  // The load the threshold is compared with.
  static int Load(const WorkerView& worker, const PrefixIndex* index, const std::string& model);
  const CacheAwareOptions& options() const { return options_; }

 private:
  CacheAwareOptions options_;
  WorkerRouter fallback_;
};

}  // namespace llmux::serving
