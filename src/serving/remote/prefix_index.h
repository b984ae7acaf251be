// What the gateway knows of one worker's models from its load reports: the engine's load and
// the block hashes its prefix cache holds, kept in step with the worker's journal through a
// cursor (full set on first contact or after a gap, changes after that). For cache-aware routing
// and the gateway's per-model metrics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

#include "serving/model_load.h"

namespace llmux::serving {

// Hashes kept per worker and model; a report beyond it is cut (routing is a hint, not a guarantee).
inline constexpr size_t kMaxIndexedHashes = size_t{1} << 20;

class PrefixIndex {
 public:
  struct ModelState {
    ModelLoad load;  // the last report, without its hashes
    PrefixCursor cursor;
    std::unordered_set<uint64_t> hashes;
  };

  // Applies one model's report: replaces the set when it is full or from another epoch,
  // else applies the changes; remembers the cursor for the next request.
  void Apply(ModelLoad report);
  // Forgets the models not in `reported` (unloaded on the worker).
  void Retain(const std::set<std::string>& reported);
  void Clear() { models_.clear(); }

  // The cursors to send with the next Load request.
  std::map<std::string, PrefixCursor> Cursors() const;
  // How many of the chain `blocks` (from the first) this worker's cache holds for `model`.
  int MatchLength(const std::string& model, std::span<const uint64_t> blocks) const;
  const ModelState* Find(const std::string& model) const;
  const std::map<std::string, ModelState>& models() const { return models_; }

 private:
  std::map<std::string, ModelState> models_;
};

// The chain of full-block hashes of `tokens` as BlockManager::HashBlock computes them (the
// keys the workers report); a partial last block has none.
std::vector<uint64_t> PromptBlockHashes(std::span<const int32_t> tokens, int block_size);

}  // namespace llmux::serving
