// Whole-tensor conversions between element types, row by row on a thread pool, through F32.
#pragma once

#include <cstdint>
#include <functional>

#include "base/status.h"
#include "base/thread_pool.h"
#include "engine/tensor/dtype.h"

namespace llmux::convert {

// Types we can decode to F32 (llmux::kernels::DequantizeRow).
bool CanDequantize(DType type);
// Types we can encode from F32 (llmux::kernels::QuantizeRow).
bool CanQuantize(DType type);

// Fills n_rows rows of ne0 elements of dst_type at `dst` (RowBytes(dst_type, ne0) bytes each):
// make_row(row, out) writes row `row` as ne0 floats into `out`. Rows are spread over the pool;
// make_row must be safe to call from several threads at once.
Status FillRows(DType dst_type, uint8_t* dst, int64_t ne0, int64_t n_rows, ThreadPool& pool,
                const std::function<void(int64_t row, float* out)>& make_row);

// Converts n_rows rows of ne0 elements from src_type to dst_type (a plain copy when equal).
Status ConvertRows(DType src_type, const uint8_t* src, DType dst_type, uint8_t* dst, int64_t ne0,
                   int64_t n_rows, ThreadPool& pool);

}  // namespace llmux::convert
