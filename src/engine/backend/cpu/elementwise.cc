#include "engine/backend/cpu/elementwise.h"

#include "engine/backend/cpu/simd_kernels.h"

namespace llmux {

namespace {
// Element-wise loops are split into chunks this long; shorter inputs run on the caller.
constexpr int64_t kChunk = 16384;

template <typename F>
void ForChunks(int64_t n, ThreadPool& pool, F&& fn) {
  const int64_t n_chunks = (n + kChunk - 1) / kChunk;
  pool.ParallelFor(n_chunks, 1, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    fn(begin, end);
  });
}
}  // namespace

void SwiGlu(float* gate, const float* up, int64_t n, ThreadPool& pool) {
  const auto swiglu = simd::ActiveOps().swiglu;
  ForChunks(n, pool,
            [&](int64_t begin, int64_t end) { swiglu(gate + begin, up + begin, end - begin); });
}

void AddInPlace(float* x, const float* y, int64_t n, ThreadPool& pool) {
  ForChunks(n, pool, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) x[i] += y[i];
  });
}

void AddBiasRows(float* x, const float* b, int64_t n_rows, int n, ThreadPool& pool) {
  pool.ParallelFor(n_rows, 16, [&](int64_t r) {
    float* row = x + r * n;
    for (int i = 0; i < n; ++i) row[i] += b[i];
  });
}

}  // namespace llmux
