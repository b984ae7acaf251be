// Scalar IEEE half (binary16) and bfloat16 conversions, bit-exact with the hardware
// instructions (F16C vcvtps2ph with round-to-nearest-even, AVX512-BF16 rounding) for
// normal numbers, subnormals, infinities and NaNs (NaNs stay NaN, made quiet).
#pragma once

#include <cstdint>
#include <cstring>

namespace llmux::kernels {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: mant * 2^-24 is exact in float.
    const float v = static_cast<float>(mant) * 0x1p-24f;
    return BitsFloat(FloatBits(v) | sign);
  }
  if (exp == 31) return BitsFloat(sign | 0x7f800000u | (mant << 13));
  return BitsFloat(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t F32ToF16(float f) {
  const uint32_t bits = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t mag = bits & 0x7fffffffu;
  if (mag >= 0x7f800000u) {  // inf or NaN
    if (mag == 0x7f800000u) return sign | 0x7c00u;
    return sign | 0x7e00u | static_cast<uint16_t>((mag >> 13) & 0x3ffu);
  }
  if (mag >= 0x47800000u) return sign | 0x7c00u;  // >= 65536: overflows to inf
  if (mag < 0x38800000u) {
    // Result is subnormal or zero. Adding 0.5 puts the value's bits, rounded to nearest
    // even by the FPU, into the low mantissa bits of the sum.
    const float sum = BitsFloat(mag) + 0.5f;
    return sign | static_cast<uint16_t>(FloatBits(sum) - 0x3f000000u);
  }
  // Normal: rebias the exponent and round the 13 dropped bits to nearest even. A carry out
  // of the mantissa correctly bumps the exponent (up to inf).
  const uint32_t odd = (mag >> 13) & 1u;
  const uint32_t rounded = mag + 0xc8000fffu + odd;  // 0xc8000000 = (15 - 127) << 23
  return sign | static_cast<uint16_t>(rounded >> 13);
}

inline float BF16ToF32(uint16_t b) { return BitsFloat(static_cast<uint32_t>(b) << 16); }

inline uint16_t F32ToBF16(float f) {
  const uint32_t bits = FloatBits(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Rounds a float to the nearest value representable in the narrow format.
inline float RoundToF16(float f) { return F16ToF32(F32ToF16(f)); }
inline float RoundToBF16(float f) { return BF16ToF32(F32ToBF16(f)); }

}  // namespace llmux::kernels
