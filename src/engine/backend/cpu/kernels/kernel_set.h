// Internal interface between the MatMul driver and the per-ISA kernel implementations.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {

// Weight formats MatMul handles, as a dense index. kQ4_0P: Q4_0 in 16-row panels; kQ6_KL:
// Q6_K in sub-block lanes (q6k_lanes.h).
enum class WType : int {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ5_0,
  kQ4_K,
  kQ6_K,
  kQ4_0P,
  kQ6_KL,
  kCount
};
constexpr int kNumWTypes = static_cast<int>(WType::kCount);

// How activations are rounded and laid out in scratch, one padded row per token.
//  kNone: F32 math on x itself (no scratch).
//  kQ8:   Q8_0 rounding. Row = int8 qs[cols] | float d[cols/32] | int32 sum[cols/32], where
//         d is the f16-rounded block scale and sum the sum of the block's qs.
//  kQ8K:  BlockQ8_K[cols/256] (ggml layout).
//  kF16:  float[cols], each value rounded to binary16.
//  kBF16: uint16 bf16 bits[cols].
//  kQ8KLanes: kQ8K, then the codes again in the order of Q6_K's lanes layout (q6k_lanes.h).
enum class ActKind : int { kNone, kQ8, kQ8K, kF16, kBF16, kQ8KLanes, kCount };
constexpr int kNumActKinds = static_cast<int>(ActKind::kCount);
constexpr size_t kActAlign = 64;

ActKind ActKindFor(WType t);
size_t ActRowBytes(ActKind kind, int64_t cols);  // padded to kActAlign

// Views into a kQ8 activation row.
struct ActQ8 {
  const int8_t* qs;
  const float* d;
  const int32_t* sum;
};
// `static`: this header is included by files built with different ISA flags, and an inline
// function with external linkage could be shared between them by the linker (a baseline
// caller might then run a copy compiled for AVX-512).
static inline ActQ8 ViewActQ8(const uint8_t* row, int64_t cols) {
  const int8_t* qs = reinterpret_cast<const int8_t*>(row);
  const float* d = reinterpret_cast<const float*>(row + cols);
  const int32_t* sum = reinterpret_cast<const int32_t*>(row + cols + (cols / 32) * 4);
  return {qs, d, sum};
}

// The operands of one MatMul: y[t * y_stride + r] = dot(w row r, activation row t).
struct GemmArgs {
  const uint8_t* w;
  size_t w_stride;
  const uint8_t* act;  // activation rows (quantized scratch, or x itself for F32)
  size_t act_stride;
  int64_t cols;
  float* y;
  int64_t y_stride;
  // The rows are prefill tokens (MatMul's batch class): kernels that have a separate batch
  // path take it for any number of tokens, so that a row's arithmetic never depends on the
  // size of the call.
  bool batch = false;
};

// Computes rows [r0, r1) x tokens [t0, t1).
using GemmFn = void (*)(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1);
// Rounds one token's activations into an ActKind row (bit-identical across ISAs).
using ActQuantFn = void (*)(const float* x, int64_t cols, uint8_t* row);

struct KernelSet {
  Isa isa = Isa::kScalar;
  GemmFn gemm[kNumWTypes] = {};
  ActQuantFn act_quant[kNumActKinds] = {};
  float (*dot_f32)(const float* a, const float* b, int64_t n) = nullptr;
  void (*axpy_f32)(float a, const float* x, float* y, int64_t n) = nullptr;
  // Exact binary16 -> binary32 conversion (F16 rows of the KV cache and of embeddings).
  void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t n) = nullptr;
};

// Several single tokens (decode of several sequences) over rows [r0, r1): a row at a time,
// unpacked once for tiles of 8, 4, 2 and 1 tokens (Tile<1, NT>::Run(a, r, t)), rows outside so
// the weights stream from memory once. `static` (see ViewActQ8): each kernel file gets its own
// copy, built with its own flags.
template <template <int, int> class Tile>
static void GemmRowTokenTiles(const GemmArgs& a, int64_t r0, int64_t r1, int64_t t0, int64_t t1) {
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t t = t0; t < t1;) {
      const int64_t left = t1 - t;
      if (left >= 8) {
        Tile<1, 8>::Run(a, r, t);
        t += 8;
      } else if (left >= 4) {
        Tile<1, 4>::Run(a, r, t);
        t += 4;
      } else if (left >= 2) {
        Tile<1, 2>::Run(a, r, t);
        t += 2;
      } else {
        Tile<1, 1>::Run(a, r, t);
        t += 1;
      }
    }
  }
}

// Each fills the entries it implements and leaves the rest null (the dispatcher falls back
// to the next lower ISA).
void FillScalarKernels(KernelSet* ks);
void FillAvx2Kernels(KernelSet* ks);
void FillAvx512Kernels(KernelSet* ks, bool has_bf16, bool has_gfni);
// Whether the CPU has GFNI (the Q6_K lanes kernel needs it besides AVX-512).
bool CpuHasGfni();

// The kernels of the active ISA (detected, or forced by SetIsaForTesting).
const KernelSet& ActiveKernels();
// The kernels of one ISA (must be supported by the CPU), for tests and benchmarks.
const KernelSet& KernelsFor(Isa isa);

}  // namespace llmux::kernels
