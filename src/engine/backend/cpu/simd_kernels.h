// The model code's own vector kernels (attention, SwiGLU, sums of squares), written once
// in simd_impl.h over a small vector interface and instantiated for scalar, AVX2 and
// AVX-512 code (simd_scalar.cc, simd_avx2.cc, simd_avx512.cc, each compiled with its
// ISA's flags). Ops() returns the table for this CPU, chosen once like the matmul kernels.
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmux::simd {

// Query rows per block: scores, softmax and the V sum run on this many rows at a time.
inline constexpr int kRowBlock = 4;
// Position padding of the score rows and the transposed K copy (a multiple of every
// kernel's vector width, times two for the paired score blocks).
inline constexpr int kPosPad = 32;

inline int PadPositions(int n) { return (n + kPosPad - 1) / kPosPad * kPosPad; }

// One unit of attention work: the query heads of kv head `g` for tokens [t_begin, t_end).
struct AttentionTask {
  const float* q;  // query rows: token t, head h at q + t * q_stride + h * head_dim
  int64_t q_stride;
  const float* k;  // K row of kv head g at position p: k + p * kv_stride
  const float* v;  // same for V
  int kv_stride;
  int head_dim;
  int v_dim;  // floats of V read per row and written per output head (<= head_dim with MLA)
  int group;  // query heads per kv head
  float scale;
  int pos0;  // position of token 0; token t sees positions [0, pos0 + t]
  int g;     // kv head
  int t_begin, t_end;
  bool transpose_k;  // copy K transposed into scratch first (pays off for many rows)
  float* out;        // output rows: token t, head h at out + t * out_stride + h * v_dim
  int64_t out_stride;
  float* scratch;  // AttentionScratchFloats(head_dim, n_ctx) floats, this thread's
  // When k16 is set, K/V are F16 rows in place in a paged cache instead of k/v (direct
  // scores only, no transposition): the row of position p is at
  // k16 + blocks[p >> block_shift] * block_stride + (p % block size) * head_dim.
  const uint16_t* k16 = nullptr;
  const uint16_t* v16 = nullptr;
  const int32_t* blocks = nullptr;
  int block_shift = 0;
  int64_t block_stride = 0;
};

// Per-thread attention scratch: kRowBlock score rows plus a transposed copy of one kv
// head's K.
inline size_t AttentionScratchFloats(int head_dim, int n_ctx) {
  return static_cast<size_t>(PadPositions(n_ctx)) * (kRowBlock + head_dim);
}

struct Ops {
  const char* name;
  int width;  // floats per vector; attention needs head_dim % width == 0
  void (*attention)(const AttentionTask& task);
  // gate[i] = silu(gate[i]) * up[i]
  void (*swiglu)(float* gate, const float* up, int64_t n);
  // sum of x[i]^2, accumulated in double
  double (*sum_squares)(const float* x, int64_t n);
};

// The ops for kernels::ActiveIsa(): this CPU's, or the instruction set a test forced with
// kernels::SetIsaForTesting, so that matmul and these kernels never run on different paths.
const Ops& ActiveOps();
// The scalar ops, which take every shape.
const Ops& ScalarOps();

void FillScalarOps(Ops* ops);
void FillAvx2Ops(Ops* ops);
void FillAvx512Ops(Ops* ops);

}  // namespace llmux::simd
