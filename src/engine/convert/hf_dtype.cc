#include "engine/convert/hf_dtype.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::convert {

bool CanDecodeHfDType(std::string_view dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || IsFp8DType(dtype);
}

bool IsFp8DType(std::string_view dtype) { return dtype == "F8_E4M3" || dtype == "F8_E5M2"; }

float DecodeE4M3(uint8_t v) {
  const bool negative = (v & 0x80) != 0;
  const int exponent = (v >> 3) & 0x0F;
  const int mantissa = v & 0x07;
  float magnitude;
  if (exponent == 0x0F && mantissa == 0x07) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa) / 8.0f, -6);
  } else {
    magnitude = std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
  }
  return negative ? -magnitude : magnitude;
}

float DecodeE5M2(uint8_t v) {
  const bool negative = (v & 0x80) != 0;
  const int exponent = (v >> 2) & 0x1F;
  const int mantissa = v & 0x03;
  float magnitude;
  if (exponent == 0x1F) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity()
                              : std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa) / 4.0f, -14);
  } else {
    magnitude = std::ldexp(1.0f + static_cast<float>(mantissa) / 4.0f, exponent - 15);
  }
  return negative ? -magnitude : magnitude;
}

void DecodeHfRow(std::string_view dtype, const uint8_t* src, float* out, int64_t n) {
  if (dtype == "F32") {
    std::memcpy(out, src, static_cast<size_t>(n) * sizeof(float));
  } else if (dtype == "F16") {
    kernels::DequantizeRow(DType::kF16, src, out, n);
  } else if (dtype == "BF16") {
    kernels::DequantizeRow(DType::kBF16, src, out, n);
  } else if (dtype == "F8_E4M3") {
    for (int64_t i = 0; i < n; ++i) out[i] = DecodeE4M3(src[i]);
  } else if (dtype == "F8_E5M2") {
    for (int64_t i = 0; i < n; ++i) out[i] = DecodeE5M2(src[i]);
  }
}

}  // namespace llmux::convert
