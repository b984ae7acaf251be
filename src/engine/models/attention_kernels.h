// Internal interface between attention.cc (work split, dispatch) and the per-ISA attention
// kernels (attention_simd.h instantiated for scalar, AVX2 and AVX-512 code).
#pragma once

#include <cstddef>
#include <cstdint>

namespace llmux::attention_internal {

// Query rows per block: scores, softmax and the V sum run on this many rows at a time.
inline constexpr int kRowBlock = 4;
// Position padding of the score rows and the transposed K copy (a multiple of every
// kernel's vector width, times two for the paired score blocks).
inline constexpr int kPosPad = 32;

inline int PadPositions(int n) { return (n + kPosPad - 1) / kPosPad * kPosPad; }

// One unit of work: the query heads of kv head `g` for tokens [t_begin, t_end).
struct Task {
  const float* q;        // query rows: token t, head h at q + t * q_stride + h * head_dim
  int64_t q_stride;
  const float* k;        // cache K row of position p at k + p * kv_stride (layer base)
  const float* v;        // same for V
  int kv_stride;
  int head_dim;
  int group;             // query heads per kv head
  float scale;
  int pos0;              // position of token 0; token t sees positions [0, pos0 + t]
  int g;                 // kv head
  int t_begin, t_end;
  bool transpose_k;      // copy K transposed into scratch first (pays off for many rows)
  float* out;            // output rows, laid out like q
  int64_t out_stride;
  float* scratch;        // ScratchFloats(head_dim, n_ctx) floats, this thread's
};

// Per-thread scratch: kRowBlock score rows plus a transposed copy of one kv head's K.
inline size_t ScratchFloats(int head_dim, int n_ctx) {
  return static_cast<size_t>(PadPositions(n_ctx)) * (kRowBlock + head_dim);
}

// Each kernel handles any task whose head_dim is a multiple of its vector width; the
// scalar one handles every task.
void RunTaskScalar(const Task& task);
void RunTaskAvx2(const Task& task);
void RunTaskAvx512(const Task& task);
inline constexpr int kAvx2Width = 8;
inline constexpr int kAvx512Width = 16;

}  // namespace llmux::attention_internal
