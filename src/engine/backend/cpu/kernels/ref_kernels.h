// Scalar reference kernels: the definition of every product's arithmetic. SIMD paths must
// match these up to float summation order (tests compare against them).
#pragma once

#include <cstdint>

#include "engine/backend/cpu/kernels/kernel_set.h"

namespace llmux::kernels {

// dot(weight row, activation row) for a weight type; act_row is in ActKindFor(t) layout
// (for F32 it is the float row itself).
float RefDotRow(WType t, const uint8_t* wrow, const uint8_t* act_row, int64_t cols);

// Scalar activation rounding for each ActKind (kNone is not valid here).
void RefQuantizeAct(ActKind kind, const float* x, int64_t cols, uint8_t* row);

}  // namespace llmux::kernels
