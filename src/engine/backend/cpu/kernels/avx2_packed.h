// Packed-panel AVX2 GEMMs for batches of tokens (prefill). Internal to the AVX2 kernel set:
// call only when the CPU has the features of LLMUX_AVX2_FLAGS.
#pragma once

#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

// The packed GEMM for Q4_K / Q6_K weights x kQ8K activations (null for other types). It
// unpacks each 16-row panel once per call; the AVX2 GemmK uses it for every batch-class
// (prefill) row.
GemmFn PackedKGemmAvx2(WType t);

// The packed GEMM for Q8_0 / Q4_0 / Q5_0 weights x kQ8 activations (null for other types),
// the same scheme per block; the AVX2 Q*_0 GEMMs use it for every batch-class row.
GemmFn PackedQ0GemmAvx2(WType t);

}  // namespace llmux::kernels
