// AVX-512 instantiation of the model's vector kernels (compiled with LLMUX_AVX512_FLAGS;
// used only after run-time detection).
// GCC 12's intrinsic headers trip -Wmaybe-uninitialized on their own _mm512_undefined_*()
// idiom (reductions, masked max); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <immintrin.h>

#include "engine/backend/cpu/simd_impl.h"

namespace llmux::simd {

namespace {
struct Avx512Vec {
  using Reg = __m512;
  using DReg = __m512d;
  static constexpr int kWidth = 16;
  static constexpr int kPvChunks = 4;  // 32 zmm registers: 4 rows x 4 accumulators + loads
  static Reg Zero() { return _mm512_setzero_ps(); }
  static Reg Set1(float x) { return _mm512_set1_ps(x); }
  static Reg Load(const float* p) { return _mm512_loadu_ps(p); }
  static Reg LoadHalf(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void Store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static Reg Fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg Add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg Sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg Mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg Div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg Max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static float ReduceAdd(Reg v) { return _mm512_reduce_add_ps(v); }
  static float ReduceMax(Reg v) { return _mm512_reduce_max_ps(v); }
  // exp(x), clamped to [-87, 88] first (Cephes expf: reduction by ln 2, degree-6 polynomial).
  static Reg Exp(Reg x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    const Reg n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    Reg r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    Reg p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    const Reg y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
  }
  static DReg DZero() { return _mm512_setzero_pd(); }
  static void AccumulateSquares(Reg x, DReg& a0, DReg& a1) {
    const Reg sq = _mm512_mul_ps(x, x);
    a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(sq, 1)));
  }
  static double DReduceAdd(DReg a0, DReg a1) { return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1)); }
};
}  // namespace

void FillAvx512Ops(Ops* ops) { FillOps<Avx512Vec>(ops, "avx512"); }

}  // namespace llmux::simd
