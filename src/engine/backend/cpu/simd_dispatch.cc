#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/simd_kernels.h"

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

}  // namespace

const Ops& ScalarOps() { return GetTables().scalar; }

// One ISA choice for the whole CPU backend: the matmul kernels' (kernels::ActiveIsa).
const Ops& ActiveOps() {
  const Tables& t = GetTables();
  switch (kernels::ActiveIsa()) {
    case kernels::Isa::kAvx512:
      return t.has_avx512 ? t.avx512 : t.scalar;
    case kernels::Isa::kAvx2:
      return t.has_avx2 ? t.avx2 : t.scalar;
    case kernels::Isa::kScalar:
      break;
  }
  return t.scalar;
}

}  // namespace llmux::simd
