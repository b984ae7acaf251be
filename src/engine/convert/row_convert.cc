#include "engine/convert/row_convert.h"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::convert {

bool CanDequantize(DType type) {
  switch (type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ4_K:
    case DType::kQ6_K: return true;
    default: return false;
  }
}

bool CanQuantize(DType type) { return CanDequantize(type); }

Status FillRows(DType dst_type, uint8_t* dst, int64_t ne0, int64_t n_rows, ThreadPool& pool,
                const std::function<void(int64_t row, float* out)>& make_row) {
  if (!CanQuantize(dst_type)) {
    return UnimplementedError("cannot encode " + std::string(Traits(dst_type).name));
  }
  auto row_bytes = RowBytes(dst_type, ne0);
  if (!row_bytes) {
    return InvalidArgumentError("rows of " + std::to_string(ne0) + " elements do not fit " +
                                std::string(Traits(dst_type).name) + " blocks");
  }
  std::mutex mu;
  Status first_error;
  pool.RunOnAll([&](int ith, int nth) {
    const int64_t begin = n_rows * ith / nth;
    const int64_t end = n_rows * (ith + 1) / nth;
    std::vector<float> tmp(static_cast<size_t>(ne0));
    for (int64_t r = begin; r < end; ++r) {
      make_row(r, tmp.data());
      Status s = kernels::QuantizeRow(dst_type, tmp.data(), dst + static_cast<size_t>(r) * *row_bytes, ne0);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s;
        return;
      }
    }
  });
  return first_error;
}

Status ConvertRows(DType src_type, const uint8_t* src, DType dst_type, uint8_t* dst, int64_t ne0,
                   int64_t n_rows, ThreadPool& pool) {
  auto src_row = RowBytes(src_type, ne0);
  auto dst_row = RowBytes(dst_type, ne0);
  if (!src_row || !dst_row) {
    return InvalidArgumentError("rows of " + std::to_string(ne0) + " elements do not fit " +
                                std::string(Traits(src_type).name) + " -> " +
                                std::string(Traits(dst_type).name) + " blocks");
  }
  if (src_type == dst_type) {
    std::memcpy(dst, src, *src_row * static_cast<size_t>(n_rows));
    return Status::Ok();
  }
  if (!CanDequantize(src_type)) {
    return UnimplementedError("cannot decode " + std::string(Traits(src_type).name));
  }
  return FillRows(dst_type, dst, ne0, n_rows, pool, [&](int64_t r, float* out) {
    kernels::DequantizeRow(src_type, src + static_cast<size_t>(r) * *src_row, out, ne0);
  });
}

}  // namespace llmux::convert
