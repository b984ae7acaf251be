#include "engine/models/kv_cache.h"

#include <limits>
#include <new>
#include <string>

namespace llmux {

Result<std::unique_ptr<KvCache>> KvCache::Create(int n_layer, int n_ctx, int kv_dim, int n_threads,
                                                 size_t scratch_floats) {
  if (n_layer <= 0 || n_ctx <= 0 || kv_dim <= 0 || n_threads <= 0) {
    return InvalidArgumentError("kv cache: n_layer, n_ctx, kv_dim and threads must be > 0 (n_ctx " +
                                std::to_string(n_ctx) + ")");
  }
  constexpr size_t kMaxFloats = std::numeric_limits<size_t>::max() / 4 / sizeof(float);
  const size_t per_tensor = static_cast<size_t>(n_layer) * n_ctx * kv_dim;
  if (per_tensor / n_ctx / n_layer != static_cast<size_t>(kv_dim) || per_tensor > kMaxFloats ||
      scratch_floats > kMaxFloats / n_threads) {
    return ResourceExhaustedError("kv cache too large");
  }
  std::unique_ptr<KvCache> cache(new KvCache());
  cache->n_layer_ = n_layer;
  cache->n_ctx_ = n_ctx;
  cache->kv_dim_ = kv_dim;
  cache->n_threads_ = n_threads;
  cache->scratch_floats_ = scratch_floats;
  // new float[n] without () leaves the memory untouched: pages are mapped on first write.
  cache->k_.reset(new (std::nothrow) float[per_tensor]);
  cache->v_.reset(new (std::nothrow) float[per_tensor]);
  cache->scratch_.reset(new (std::nothrow) float[scratch_floats * n_threads + 1]);
  if (!cache->k_ || !cache->v_ || !cache->scratch_) {
    return ResourceExhaustedError("cannot allocate kv cache of " +
                                  std::to_string(2 * per_tensor * sizeof(float)) + " bytes");
  }
  return cache;
}

size_t KvCache::bytes() const {
  return (2 * static_cast<size_t>(n_layer_) * n_ctx_ * kv_dim_ + scratch_floats_ * n_threads_) *
         sizeof(float);
}

}  // namespace llmux
