#include "engine/models/attention.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "engine/kernels/kernels.h"

namespace llmux {

namespace {

// One (token, head): softmax(q . K[0..n_kv) * scale) . V[0..n_kv).
void AttendOne(const float* q, const KvCache& cache, int layer, int n_kv, int kv_offset,
               int head_dim, int kv_stride, float scale, float* scores, float* out) {
  const float* k = cache.k(layer, 0) + kv_offset;
  float max = -INFINITY;
  for (int p = 0; p < n_kv; ++p) {
    const float s = kernels::DotF32(q, k + static_cast<int64_t>(p) * kv_stride, head_dim) * scale;
    scores[p] = s;
    if (s > max) max = s;
  }
  double sum = 0.0;
  for (int p = 0; p < n_kv; ++p) {
    const float e = std::exp(scores[p] - max);
    scores[p] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  const float* v = cache.v(layer, 0) + kv_offset;
  std::memset(out, 0, sizeof(float) * head_dim);
  for (int p = 0; p < n_kv; ++p) {
    kernels::AxpyF32(scores[p] * inv, v + static_cast<int64_t>(p) * kv_stride, out, head_dim);
  }
}

}  // namespace

void Attention(const float* q, int64_t q_stride, KvCache& cache, int layer, int pos0,
               int n_tokens, const AttentionShape& shape, float* out, int64_t out_stride,
               ThreadPool& pool) {
  const int group = shape.n_head / shape.n_head_kv;
  const int64_t n_items = static_cast<int64_t>(n_tokens) * shape.n_head;
  const int kv_stride = cache.kv_dim();
  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int ith, int) {
    float* scores = cache.score_row(ith);
    for (;;) {
      const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
      if (item >= n_items) break;
      const int t = static_cast<int>(item / shape.n_head);
      const int h = static_cast<int>(item % shape.n_head);
      const int kv_offset = (h / group) * shape.head_dim;
      AttendOne(q + t * q_stride + static_cast<int64_t>(h) * shape.head_dim, cache, layer,
                pos0 + t + 1, kv_offset, shape.head_dim, kv_stride, shape.scale, scores,
                out + t * out_stride + static_cast<int64_t>(h) * shape.head_dim);
    }
  });
}

}  // namespace llmux
