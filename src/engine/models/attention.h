// Causal multi-head attention with grouped KV heads (GQA) over one sequence's KvCache,
// as llama.cpp computes it without flash attention: scores q.k * scale, softmax in F32
// with max subtraction, then the score-weighted sum of V rows.
//
// The kernels (simd_impl.h) come in scalar, AVX2 and AVX-512 builds picked at run time.
// Work is split over the pool by (kv head, tile of tokens); each thread uses its own
// scratch area of the cache.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "engine/models/kv_cache.h"

namespace llmux {

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;  // q head h reads kv head h / (n_head / n_head_kv)
  int head_dim = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
};

// Floats of per-thread scratch Attention needs over a cache of n_ctx positions.
size_t AttentionScratchFloats(int head_dim, int n_ctx);

// Query token t (position pos0 + t) attends to cache positions [0, pos0 + t]; the cache
// must already hold K and V for all of them, and scratch for pool.size() threads of
// AttentionScratchFloats(head_dim, cache.n_ctx()) floats. q row t starts at
// q + t * q_stride (n_head heads of head_dim floats); output row t at out + t * out_stride.
void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer, int pos0, int n_tokens,
               const AttentionShape& shape, float* out, int64_t out_stride, ThreadPool& pool);

}  // namespace llmux
