#include "engine/backend/cpu/rms_norm.h"

#include <cmath>

#include "engine/backend/cpu/simd_kernels.h"

namespace llmux {

void RmsNorm(const float* x, const float* w, float* y, int n, float eps) {
  const double sum = simd::ActiveOps().sum_squares(x, n);
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  if (w != nullptr) {
    // ggml scales first and multiplies by the weight in a second op: keep that rounding.
    for (int i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
  } else {
    for (int i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void RmsNormRows(const float* x, const float* w, float* y, int64_t n_rows, int n, float eps,
                 ThreadPool& pool) {
  // Rows are cheap (a few thousand flops); hand them out in groups.
  const int64_t grain = n >= 1024 ? 8 : 64;
  pool.ParallelFor(n_rows, grain, [&](int64_t r) { RmsNorm(x + r * n, w, y + r * n, n, eps); });
}

}  // namespace llmux
