// CPU compute kernels: block (de)quantization in the GGUF/ggml formats, matrix-vector and
// matrix-matrix products over quantized weights, and small dispatched vector helpers.
//
// Every product path has a scalar reference and AVX2 / AVX-512 variants chosen at run time
// from the CPU's features. Results of the SIMD paths equal the scalar reference up to float
// summation order (integer parts are exact).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/tensor/dtype.h"

namespace llmux::kernels {

// How a matrix's rows lie in memory.
enum class WeightLayout : uint8_t {
  kRowMajor,  // row after row, as in GGUF
  kPanels16,  // Q4_0 in 16-row panels (panels16.h), made by the CPU backend at load
  kQ6KLanes,  // Q6_K with codes in sub-block lanes (q6k_lanes.h), made by the CPU backend
};

// A matrix in one of the DType formats; each row holds `cols` elements in `row_bytes` bytes
// (RowBytes(type, cols), or more for padded storage), row-major unless `layout` says not.
struct MatrixView {
  DType type;
  int64_t rows;
  int64_t cols;
  const void* data;
  size_t row_bytes;
  WeightLayout layout = WeightLayout::kRowMajor;
};

// True for the weight types MatMul accepts: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q6_K.
bool MatMulSupports(DType type);

// Scratch bytes MatMul needs for these shapes (the quantized activations). May be 0.
size_t MatMulScratchBytes(DType type, int64_t cols, int64_t n_tokens);

// y[t * w.rows + r] = dot(row r of W, x[t * w.cols .. +cols]) for t in [0, n_tokens).
// scratch: >= MatMulScratchBytes bytes (quantized activations), allocated once by the caller.
// Arithmetic like ggml's CPU backend: activations rounded to Q8_0 blocks for Q4_0/Q5_0/Q8_0
// weights, to Q8_K for Q4_K/Q6_K, to F16 for F16, BF16 for BF16; F32 weights use F32 math.
// cols must be a whole number of blocks of w.type (the caller checks shapes at load time).
//
// Rows come in two classes, each computed by its own kernels: the first n_single rows as
// single tokens (decode), the rest as a batch (prefill). A row's result depends only on its
// x and its class, never on how many other rows share the call, so continuous batching
// gives every sequence the numbers it would get alone. n_single < 0: a lone row is a single
// token, several rows are a batch.
void MatMul(const MatrixView& w, const float* x, int64_t n_tokens, float* y, void* scratch,
            ThreadPool& pool, int64_t n_single = -1);

// One product of MatMulMany: y = W x, laid out as in MatMul (y[t * w.rows + r]).
struct MatMulOut {
  MatrixView w;
  float* y;
};

// Several matrices applied to the same input x, e.g. Q, K and V, or gate and up. When they
// share cols and activation rounding (see MatMul), x is rounded once and all products run in
// one parallel pass balanced across the matrices; otherwise they run one after the other.
// Results equal separate MatMul calls up to float summation order. scratch: the largest
// MatMulScratchBytes of the matrices. n_single as in MatMul.
void MatMulMany(std::span<const MatMulOut> outs, const float* x, int64_t n_tokens, void* scratch,
                ThreadPool& pool, int64_t n_single = -1);

// Converts n elements (a whole number of blocks) of `type` to float. Every MatMul type, plus
// Q8_K. Unsupported types write zeros.
void DequantizeRow(DType type, const void* src, float* dst, int64_t n);

// Encodes n floats (a whole number of blocks) as `type` (F32, F16, BF16, Q8_0, Q4_0, Q5_0,
// Q4_K, Q6_K), like ggml's reference quantizers.
Status QuantizeRow(DType type, const float* src, void* dst, int64_t n);

float DotF32(const float* a, const float* b, int64_t n);     // dispatched SIMD
void AxpyF32(float a, const float* x, float* y, int64_t n);  // y += a*x

enum class Isa { kScalar, kAvx2, kAvx512 };
Isa DetectedIsa();
// The instruction set every dispatched kernel uses now: the detected one, or the one forced
// by SetIsaForTesting. The backend's attention and element-wise kernels follow it too.
Isa ActiveIsa();
const char* IsaName(Isa);
// Forces a path for every later call in the process (only if the CPU supports it; an
// unsupported request is ignored). Not thread-safe with concurrent kernel calls.
void SetIsaForTesting(Isa);

}  // namespace llmux::kernels
