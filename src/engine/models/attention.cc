#include "engine/models/attention.h"

#include <atomic>

#include "engine/kernels/kernels.h"
#include "engine/models/attention_kernels.h"

namespace llmux {

namespace ai = attention_internal;

namespace {

// Tokens per task when K is transposed: the copy is amortised over tokens * group rows.
constexpr int kTileTokens = 32;
// Below this many tokens K is read in place (decode); above, transposed once per task.
constexpr int kTransposeMinTokens = 4;

std::atomic<AttentionPath> g_forced_path{AttentionPath::kAuto};

using TaskFn = void (*)(const ai::Task&);

// The kernel for this head_dim and whether it is a vector one.
TaskFn SelectKernel(int head_dim, bool* vector) {
  AttentionPath path = g_forced_path.load(std::memory_order_relaxed);
  const kernels::Isa isa = kernels::DetectedIsa();
  const bool has512 = isa == kernels::Isa::kAvx512;
  const bool has2 = has512 || isa == kernels::Isa::kAvx2;
  if (path == AttentionPath::kAuto) {
    path = has512 ? AttentionPath::kAvx512 : has2 ? AttentionPath::kAvx2 : AttentionPath::kScalar;
  }
  *vector = true;
  if (path == AttentionPath::kAvx512 && has512 && head_dim % ai::kAvx512Width == 0) {
    return ai::RunTaskAvx512;
  }
  if ((path == AttentionPath::kAvx512 || path == AttentionPath::kAvx2) && has2 &&
      head_dim % ai::kAvx2Width == 0) {
    return ai::RunTaskAvx2;
  }
  *vector = false;
  return ai::RunTaskScalar;
}

}  // namespace

void SetAttentionPathForTesting(AttentionPath path) { g_forced_path.store(path); }

size_t AttentionScratchFloats(int head_dim, int n_ctx) {
  return ai::ScratchFloats(head_dim, n_ctx);
}

void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer, int pos0,
               int n_tokens, const AttentionShape& shape, float* out, int64_t out_stride,
               ThreadPool& pool) {
  bool vector = false;
  const TaskFn run = SelectKernel(shape.head_dim, &vector);
  ai::Task base{};
  base.q = q;
  base.q_stride = q_stride;
  base.k = cache.k(layer, 0);
  base.v = cache.v(layer, 0);
  base.kv_stride = cache.kv_dim();
  base.head_dim = shape.head_dim;
  base.group = shape.n_head / shape.n_head_kv;
  base.scale = shape.scale;
  base.pos0 = pos0;
  base.transpose_k = vector && n_tokens >= kTransposeMinTokens;
  base.out = out;
  base.out_stride = out_stride;

  const int tile = base.transpose_k ? kTileTokens : 1;
  const int n_tiles = (n_tokens + tile - 1) / tile;
  const int64_t n_tasks = static_cast<int64_t>(n_tiles) * shape.n_head_kv;
  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int ith, int) {
    ai::Task task = base;
    task.scratch = cache.scratch(ith);
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_tasks) break;
      // Later tiles attend to more positions: hand them out first.
      const int tile_index = n_tiles - 1 - static_cast<int>(i / shape.n_head_kv);
      task.g = static_cast<int>(i % shape.n_head_kv);
      task.t_begin = tile_index * tile;
      task.t_end = task.t_begin + tile < n_tokens ? task.t_begin + tile : n_tokens;
      run(task);
    }
  });
}

}  // namespace llmux
