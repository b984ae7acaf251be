// The element types of .safetensors files, and decoding the floating-point ones to F32.
//
// F8_E4M3 is the "fn" variant used by DeepSeek-V3 (OCP FP8 E4M3): 1 sign bit, 4 exponent bits
// with bias 7, 3 mantissa bits; exponent 0 is subnormal (m/8 * 2^-6); 0x7F and 0xFF are NaN; no
// infinities, so the largest finite magnitude is 448.
//
// F8_E5M2 (OCP FP8 E5M2) is IEEE-like: 1 sign bit, 5 exponent bits with bias 15, 2 mantissa
// bits; exponent 0 is subnormal (m/4 * 2^-14), exponent 31 is infinity (m = 0) or NaN; the
// largest finite magnitude is 57344. Both FP8 types are imported with a block-scale grid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmux::convert {

// Bytes per element of a safetensors dtype name ("F32", "BF16", "I64", "F8_E4M3", ...), or
// nullopt for a name the format does not define. Inline, so that the safetensors reader's fuzz
// target needs nothing of the engine.
inline std::optional<size_t> SafetensorsDTypeSize(std::string_view dtype) {
  struct Entry {
    std::string_view name;
    size_t size;
  };
  static constexpr Entry kTable[] = {{"BOOL", 1},    {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1},
                                     {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
                                     {"BF16", 2},    {"I32", 4}, {"U32", 4}, {"F32", 4},
                                     {"I64", 8},     {"U64", 8}, {"F64", 8}};
  for (const Entry& e : kTable) {
    if (e.name == dtype) return e.size;
  }
  return std::nullopt;
}

// Whether DecodeHfRow reads this dtype: F32, F16, BF16, F8_E4M3, F8_E5M2.
bool CanDecodeHfDType(std::string_view dtype);
// F8_E4M3 or F8_E5M2: weights that come with a <name>_scale_inv block grid.
bool IsFp8DType(std::string_view dtype);

float DecodeE4M3(uint8_t v);
float DecodeE5M2(uint8_t v);

// Decodes n elements of `dtype` (CanDecodeHfDType) from src to F32.
void DecodeHfRow(std::string_view dtype, const uint8_t* src, float* out, int64_t n);

}  // namespace llmux::convert
