// What a worker tells gateways about its models beyond generating: each model's engine load
// (for routing and for the autoscaler's metrics), the block hashes its prefix cache holds (for
// cache-aware routing), and the model's vocabulary (so a gateway can compute the prompt tokens,
// and so the block hashes, the worker would). Implemented by the services that host models.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/runtime/prefix_cache_journal.h"

namespace llmux::serving {

// A reader's position in a model's prefix-cache journal (PrefixCacheJournal::Since).
struct PrefixCursor {
  uint64_t epoch = 0;
  uint64_t seq = 0;
};

struct ModelLoad {
  std::string model;
  int running = 0;
  int waiting = 0;
  int kv_blocks_total = 0;
  int kv_blocks_used = 0;  // held by sequences
  int kv_blocks_free = 0;  // free or cached (evictable): what new work can take
  int block_size = 0;
  PrefixCacheUpdate prefix;
};

class ModelLoadSource {
 public:
  virtual ~ModelLoadSource() = default;
  // Every served model's load, with its prefix-cache changes since cursors[model] (the whole
  // set for a model without a cursor), at most max_hashes hashes per model.
  virtual std::vector<ModelLoad> ModelLoads(const std::map<std::string, PrefixCursor>& cursors,
                                            size_t max_hashes) const = 0;
  // A GGUF without tensors holding the model's tokenizer and chat template
  // (gguf/vocab_only.h). NotFound for a model not served.
  virtual Result<std::string> VocabGguf(const std::string& model) const = 0;
};

}  // namespace llmux::serving
