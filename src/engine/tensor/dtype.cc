#include "engine/tensor/dtype.h"

#include <array>
#include <cctype>
#include <string>

namespace llmux {

namespace {
constexpr std::array kTraits = {
    DTypeTraits{DType::kF32, "f32", 1, 4},       DTypeTraits{DType::kF16, "f16", 1, 2},
    DTypeTraits{DType::kQ4_0, "q4_0", 32, 18},   DTypeTraits{DType::kQ4_1, "q4_1", 32, 20},
    DTypeTraits{DType::kQ5_0, "q5_0", 32, 22},   DTypeTraits{DType::kQ5_1, "q5_1", 32, 24},
    DTypeTraits{DType::kQ8_0, "q8_0", 32, 34},   DTypeTraits{DType::kQ8_1, "q8_1", 32, 36},
    DTypeTraits{DType::kQ2_K, "q2_K", 256, 84},  DTypeTraits{DType::kQ3_K, "q3_K", 256, 110},
    DTypeTraits{DType::kQ4_K, "q4_K", 256, 144}, DTypeTraits{DType::kQ5_K, "q5_K", 256, 176},
    DTypeTraits{DType::kQ6_K, "q6_K", 256, 210}, DTypeTraits{DType::kQ8_K, "q8_K", 256, 292},
    DTypeTraits{DType::kI8, "i8", 1, 1},         DTypeTraits{DType::kI16, "i16", 1, 2},
    DTypeTraits{DType::kI32, "i32", 1, 4},       DTypeTraits{DType::kI64, "i64", 1, 8},
    DTypeTraits{DType::kF64, "f64", 1, 8},       DTypeTraits{DType::kBF16, "bf16", 1, 2},
};
}  // namespace

std::optional<DTypeTraits> GetDTypeTraits(uint32_t raw_type) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const DTypeTraits& Traits(DType type) {
  for (const auto& t : kTraits) {
    if (t.type == type) return t;
  }
  return kTraits[0];  // unreachable for valid enum values
}

std::optional<size_t> RowBytes(DType type, int64_t n) {
  const auto& t = Traits(type);
  if (n < 0 || n % t.block_size != 0) return std::nullopt;
  return static_cast<size_t>(n / t.block_size) * t.block_bytes;
}

std::optional<DType> ParseDType(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTraits) {
    std::string tn;
    for (char c : t.name) tn += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (tn == lower) return t.type;
  }
  return std::nullopt;
}

}  // namespace llmux
