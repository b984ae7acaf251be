#include "engine/models/attention.h"

#include <atomic>

#include "engine/models/simd_kernels.h"

namespace llmux {

namespace {
// Tokens per task when K is transposed: the copy is amortised over tokens * group rows.
constexpr int kTileTokens = 64;
// Below this many tokens K is read in place (decode); from here on, transposed per task.
constexpr int kTransposeMinTokens = 4;
// Below this many multiply-adds (about 10 microseconds) the caller does all the work: waking
// the pool would cost about as much as it saves (decode steps at short context).
constexpr int64_t kMinParallelMacs = int64_t{1} << 19;
}  // namespace

size_t AttentionScratchFloats(int head_dim, int n_ctx) {
  return simd::AttentionScratchFloats(head_dim, n_ctx);
}

void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer, int pos0, int n_tokens,
               const AttentionShape& shape, float* out, int64_t out_stride, ThreadPool& pool) {
  const simd::Ops* ops = &simd::ActiveOps();
  if (shape.head_dim % ops->width != 0) ops = &simd::ScalarOps();
  simd::AttentionTask base{};
  base.q = q;
  base.q_stride = q_stride;
  base.k = cache.k(layer, 0);
  base.v = cache.v(layer, 0);
  base.kv_stride = cache.kv_dim();
  base.head_dim = shape.head_dim;
  base.group = shape.n_head / shape.n_head_kv;
  base.scale = shape.scale;
  base.pos0 = pos0;
  base.transpose_k = ops->width > 1 && n_tokens >= kTransposeMinTokens;
  base.out = out;
  base.out_stride = out_stride;

  const int tile = base.transpose_k ? kTileTokens : 1;
  const int n_tiles = (n_tokens + tile - 1) / tile;
  const int64_t n_tasks = static_cast<int64_t>(n_tiles) * shape.n_head_kv;
  std::atomic<int64_t> next{0};
  auto work = [&](int ith, int) {
    simd::AttentionTask task = base;
    task.scratch = cache.scratch(ith);
    for (;;) {
      const int64_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n_tasks) break;
      // Later tiles attend to more positions: hand them out first.
      const int tile_index = n_tiles - 1 - static_cast<int>(i / shape.n_head_kv);
      task.g = static_cast<int>(i % shape.n_head_kv);
      task.t_begin = tile_index * tile;
      task.t_end = task.t_begin + tile < n_tokens ? task.t_begin + tile : n_tokens;
      ops->attention(task);
    }
  };
  const int64_t macs = int64_t{2} * n_tokens * shape.n_head * (pos0 + n_tokens) * shape.head_dim;
  if (macs < kMinParallelMacs) {
    work(0, 1);
  } else {
    pool.RunShared(work);
  }
}

}  // namespace llmux
