// RMSNorm as llama.cpp computes it: y = x * 1/sqrt(mean(x^2) + eps) * w, with the sum of
// squares accumulated in double (ggml does the same).
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace llmux {

// One row of n values. y may alias x. w may be null (no weight multiply).
void RmsNorm(const float* x, const float* w, float* y, int n, float eps);

// n_rows contiguous rows of n values each, split over the pool's threads. y may alias x.
void RmsNormRows(const float* x, const float* w, float* y, int64_t n_rows, int n, float eps,
                 ThreadPool& pool);

}  // namespace llmux
