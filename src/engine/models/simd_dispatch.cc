#include <atomic>

#include "engine/kernels/kernels.h"
#include "engine/models/simd_kernels.h"

namespace llmux::simd {

namespace {

struct Tables {
  Ops scalar{}, avx2{}, avx512{};
  bool has_avx2 = false, has_avx512 = false;
  Tables() {
    FillScalarOps(&scalar);
    // The matmul kernels' detection decides: their AVX-512 set needs a superset of ours.
    const kernels::Isa isa = kernels::DetectedIsa();
    has_avx512 = isa == kernels::Isa::kAvx512;
    has_avx2 = has_avx512 || isa == kernels::Isa::kAvx2;
    avx2 = scalar;
    avx512 = scalar;
    if (has_avx2) FillAvx2Ops(&avx2);
    if (has_avx512) FillAvx512Ops(&avx512);
  }
};

const Tables& GetTables() {
  static const Tables t;
  return t;
}

std::atomic<Path> g_forced{Path::kAuto};

}  // namespace

const Ops& ScalarOps() { return GetTables().scalar; }

const Ops& ActiveOps() {
  const Tables& t = GetTables();
  switch (g_forced.load(std::memory_order_relaxed)) {
    case Path::kScalar:
      return t.scalar;
    case Path::kAvx2:
      return t.avx2;
    case Path::kAvx512:
      return t.avx512;
    case Path::kAuto:
      break;
  }
  return t.has_avx512 ? t.avx512 : t.has_avx2 ? t.avx2 : t.scalar;
}

void SetPathForTesting(Path path) { g_forced.store(path); }

}  // namespace llmux::simd
