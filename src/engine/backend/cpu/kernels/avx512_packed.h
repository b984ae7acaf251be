// Packed-panel AVX-512 VNNI GEMMs for batches of tokens (prefill). Internal to the AVX-512
// kernel set: call only when the CPU has the features of LLMUX_AVX512_FLAGS.
#pragma once

#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

// The packed GEMM for Q8_0 / Q4_0 / Q5_0 weights x kQ8 activations (null for other types).
// It unpacks each 16-row panel once per call, so it pays off from a few tokens per call on;
// MatMul uses it for every batch-class (prefill) row.
GemmFn PackedQ0GemmAvx512(WType t);

// The packed GEMM for Q4_K / Q6_K (either layout) weights x kQ8K activations (null for other
// types; kQ8KLanes rows start with their kQ8K part), the
// same scheme per sub-block; MatMul uses it for every batch-class (prefill) row.
GemmFn PackedKGemmAvx512(WType t);

// Both classes of products on Q4_0 stored in 16-row panels (panels16.h).
GemmFn Panels16GemmAvx512();

// Both classes of products on Q6_K in the lanes layout (q6k_lanes.h) x kQ8KLanes
// activations. Needs GFNI besides LLMUX_AVX512_FLAGS.
GemmFn Q6KLanesGemmAvx512();

}  // namespace llmux::kernels
