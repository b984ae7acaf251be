// Element-wise pieces of the transformer block: the SwiGLU gate and residual adds.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"

namespace llmux {

// gate[i] = silu(gate[i]) * up[i] for n values, silu(x) = x / (1 + exp(-x)).
void SwiGlu(float* gate, const float* up, int64_t n, ThreadPool& pool);

// x[i] += y[i] for n values.
void AddInPlace(float* x, const float* y, int64_t n, ThreadPool& pool);

// x[t * n + i] += b[i] for n_rows rows (a bias broadcast over tokens).
void AddBiasRows(float* x, const float* b, int64_t n_rows, int n, ThreadPool& pool);

}  // namespace llmux
