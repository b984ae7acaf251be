// Helpers shared by the kernel tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels::testing {

// Every ISA this CPU can run (scalar first).
inline std::vector<Isa> SupportedIsas() {
  std::vector<Isa> out = {Isa::kScalar};
  const Isa best = DetectedIsa();
  if (best == Isa::kAvx2 || best == Isa::kAvx512) out.push_back(Isa::kAvx2);
  if (best == Isa::kAvx512) out.push_back(Isa::kAvx512);
  return out;
}

inline std::vector<float> RandomNormal(int64_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

inline DType ToDType(WType t) {
  switch (t) {
    case WType::kF32:
      return DType::kF32;
    case WType::kF16:
      return DType::kF16;
    case WType::kBF16:
      return DType::kBF16;
    case WType::kQ8_0:
      return DType::kQ8_0;
    case WType::kQ4_0:
      return DType::kQ4_0;
    case WType::kQ5_0:
      return DType::kQ5_0;
    case WType::kQ4_K:
      return DType::kQ4_K;
    case WType::kQ6_K:
      return DType::kQ6_K;
    default:
      return DType::kF32;
  }
}

inline const WType kAllWTypes[] = {WType::kF32,  WType::kF16,  WType::kBF16, WType::kQ8_0,
                                   WType::kQ4_0, WType::kQ5_0, WType::kQ4_K, WType::kQ6_K};

// Restores automatic ISA selection when a test ends.
class IsaGuard {
 public:
  explicit IsaGuard(Isa isa) { SetIsaForTesting(isa); }
  ~IsaGuard() { SetIsaForTesting(DetectedIsa()); }
};

}  // namespace llmux::kernels::testing
