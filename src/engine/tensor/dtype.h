// Tensor element types with the numeric ids GGUF files use (ggml's ggml_type), and
// their block layouts: a row of n elements of a block type takes n / block_size blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmux {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
};

struct DTypeTraits {
  DType type;
  std::string_view name;  // as llama.cpp prints it: "f32", "q4_K", ...
  int64_t block_size;     // elements per block (1 for plain types)
  size_t block_bytes;     // bytes per block
};

// Traits of a known type id, or nullopt for ids this build does not know (a file may
// carry them; the reader still computes sizes for the types listed here only).
std::optional<DTypeTraits> GetDTypeTraits(uint32_t raw_type);
const DTypeTraits& Traits(DType type);  // type must be one of the enum values

// Bytes of one row of n elements; nullopt if n is not a whole number of blocks.
std::optional<size_t> RowBytes(DType type, int64_t n);

// Parses names like "f16", "bf16", "q8_0", "q4_0", "q4_K"/"q4_k" (case-insensitive).
std::optional<DType> ParseDType(std::string_view name);

}  // namespace llmux
