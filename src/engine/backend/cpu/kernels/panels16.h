// Q4_0 weights stored in 16-row panels, the layout the AVX-512 and AVX2 kernels read fastest.
//
// Row-major Q4_0 makes a single-token product unpack nibbles, convert a scale and sum lanes
// horizontally for every row; with 16 rows interleaved, one zmm lane per row, a block's
// scale conversion and activation broadcasts serve 16 rows at once and nothing is summed
// across lanes, so decode is no longer limited by instructions (docs/performance.md).
//
// Layout: panel p holds rows [16p, 16p + 16) at byte 16 p row_bytes (the same size as the
// row-major rows; a last partial panel is padded with zero rows). Within a panel, each pair
// of blocks (2k, 2k + 1) takes 576 bytes: the 16 f16 scales of block 2k, those of block
// 2k + 1, then the codes of block 2k and of block 2k + 1, 256 bytes each as 4 chunks of
// 64: chunk c holds, for row r, bytes 4c..4c+3 of the row's 16 code bytes at 4r (the low
// nibbles are elements 4c..4c+3, the high nibbles elements 16+4c..16+4c+3).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {

constexpr int64_t kPanel16Rows = 16;
constexpr size_t kPanel16PairBytes = 576;

// Whether PackPanels16 takes w: row-major Q4_0 with cols a multiple of 64, at least 16 rows,
// and the active kernels are AVX-512 or AVX2 (the scalar ones read the panels only through
// the reference, which is slow).
bool CanPackPanels16(const MatrixView& w);
// Bytes of w in the panel layout (rows rounded up to 16).
size_t Panels16Bytes(const MatrixView& w);
// Writes w in the panel layout to `out` (Panels16Bytes bytes, 64-byte aligned) and returns
// the view of it (same type, rows, cols and row_bytes; layout kPanels16).
MatrixView PackPanels16(const MatrixView& w, void* out, ThreadPool& pool);
// Row r of a panel-layout matrix back in the row-major Q4_0 encoding (row_bytes bytes).
void UnpackPanels16Row(const MatrixView& packed, int64_t r, uint8_t* row);

}  // namespace llmux::kernels
