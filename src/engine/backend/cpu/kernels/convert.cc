// DequantizeRow / QuantizeRow: whole-row conversions between float and the block formats.
#include <cstring>
#include <string>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/quants.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {

void DequantizeRow(DType type, const void* src, float* dst, int64_t n) {
  if (n <= 0) return;
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16:
      ActiveKernels().f16_to_f32(static_cast<const uint16_t*>(src), dst, n);
      return;
    case DType::kBF16: {
      const uint16_t* b = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = BF16ToF32(b[i]);
      return;
    }
    case DType::kQ8_0:
      return DequantizeRowQ8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case DType::kQ4_0:
      return DequantizeRowQ4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case DType::kQ5_0:
      return DequantizeRowQ5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case DType::kQ4_K:
      return DequantizeRowQ4_K(static_cast<const BlockQ4_K*>(src), dst, n);
    case DType::kQ6_K:
      return DequantizeRowQ6_K(static_cast<const BlockQ6_K*>(src), dst, n);
    case DType::kQ8_K:
      return DequantizeRowQ8_K(static_cast<const BlockQ8_K*>(src), dst, n);
    default:
      std::memset(dst, 0, static_cast<size_t>(n) * sizeof(float));
      return;
  }
}

Status QuantizeRow(DType type, const float* src, void* dst, int64_t n) {
  const DTypeTraits& tr = Traits(type);
  if (n < 0 || n % tr.block_size != 0) {
    return InvalidArgumentError("QuantizeRow: " + std::to_string(n) +
                                " elements is not a whole number of " + std::string(tr.name) +
                                " blocks of " + std::to_string(tr.block_size));
  }
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      break;
    case DType::kF16: {
      uint16_t* h = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
      break;
    }
    case DType::kBF16: {
      uint16_t* b = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) b[i] = F32ToBF16(src[i]);
      break;
    }
    case DType::kQ8_0:
      QuantizeRowQ8_0(src, static_cast<BlockQ8_0*>(dst), n);
      break;
    case DType::kQ4_0:
      QuantizeRowQ4_0(src, static_cast<BlockQ4_0*>(dst), n);
      break;
    case DType::kQ5_0:
      QuantizeRowQ5_0(src, static_cast<BlockQ5_0*>(dst), n);
      break;
    case DType::kQ4_K:
      QuantizeRowQ4_K(src, static_cast<BlockQ4_K*>(dst), n);
      break;
    case DType::kQ6_K:
      QuantizeRowQ6_K(src, static_cast<BlockQ6_K*>(dst), n);
      break;
    case DType::kQ8_K:
      QuantizeRowQ8_K(src, static_cast<BlockQ8_K*>(dst), n);
      break;
    default:
      return UnimplementedError("QuantizeRow: no encoder for type " + std::string(tr.name));
  }
  return Status::Ok();
}

}  // namespace llmux::kernels
