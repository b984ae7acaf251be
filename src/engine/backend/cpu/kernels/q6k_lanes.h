// Q6_K weights re-laid for single-token products (decode), made by the CPU backend at load.
//
// A row-major Q6_K product spends most of its instructions on bookkeeping, not on the
// multiplies: every 64 codes are assembled from a nibble and two high bits, and because one
// code vector spans four sub-blocks, each needs its own permuted scale vector and a vpdpwssd
// (docs/performance.md). Here each block's codes are stored so that lane i (4 bytes) of every
// code vector belongs to sub-block i: the four vpdpbusd of a block add into the same lanes,
// and one multiply by the 16 scales finishes the block. The activations are permuted to
// match once per product (ActKind::kQ8KLanes).
//
// Row layout (Q6KLanesRowBytes(cols), the size of a Q6_K row: padding rows to cache lines
// made the products of short rows slower from memory): the codes of the row's nb blocks, 192
// bytes each, then their 16 int8 scales each, then their f16 scales d. A block's 192 code bytes
// are three vectors a, b, c of 64. Code vector k (0..3) holds at byte 4i + j the code (q + 32,
// six bits) of element 16i + 4k + j; vectors 0, 1, 2 are bits 0-5 of a, b, c, and vector 3's
// bits 0-1, 2-3, 4-5 are bits 6-7 of a, b, c.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {

constexpr size_t kQ6KLanesCodeBytes = 192;   // per block
constexpr size_t kQ8KLanesBlockBytes = 320;  // per activation block: 4 code vectors, 1 bias

// Whether PackQ6KLanes takes w: row-major Q6_K, and the active kernels have a fast product
// for the layout (AVX-512 with GFNI); others would read it through the scalar reference.
bool CanPackQ6KLanes(const MatrixView& w);
size_t Q6KLanesRowBytes(int64_t cols);
size_t Q6KLanesBytes(const MatrixView& w);
// Writes w in the lanes layout to `out` (Q6KLanesBytes bytes, 64-byte aligned) and returns
// its view (same type, rows, cols and row_bytes; layout kQ6KLanes).
MatrixView PackQ6KLanes(const MatrixView& w, void* out, ThreadPool& pool);
// Row r of a lanes-layout matrix back in the Q6_K encoding (RowBytes(kQ6_K, cols) bytes).
void UnpackQ6KLanesRow(const MatrixView& packed, int64_t r, uint8_t* row);
// Row r of a lanes-layout matrix as floats (cols of them), as DequantizeRow gives the source.
void DequantizeQ6KLanesRow(const MatrixView& packed, int64_t r, float* out);

// Activations (ActKind::kQ8KLanes): a kQ8K row (BlockQ8_K[nb]), padded to 64 bytes, then per
// block the four code vectors in the lanes order of the weights (vector k byte 4i + j: code
// 16i + 4k + j) and 16 int32 biases (-32 times the sum of sub-block i's codes, the
// correction for the weights' + 32).
size_t Q8KLanesOffset(int64_t cols);
size_t Q8KLanesRowBytes(int64_t cols);
// Fills the lanes part of a row whose kQ8K part is written.
void AppendQ8KLanes(int64_t cols, uint8_t* row);

}  // namespace llmux::kernels
