// Portable instantiation of the model's vector kernels (any shape).
#include <cmath>

#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/simd_impl.h"

namespace llmux::simd {

namespace {
struct ScalarVec {
  using Reg = float;
  using DReg = double;
  static constexpr int kWidth = 1;
  static constexpr int kPvChunks = 4;
  static Reg Zero() { return 0.0f; }
  static Reg Set1(float x) { return x; }
  static Reg Load(const float* p) { return *p; }
  static Reg LoadHalf(const uint16_t* p) { return kernels::F16ToF32(*p); }
  static void Store(float* p, Reg v) { *p = v; }
  static Reg Fma(Reg a, Reg b, Reg c) { return a * b + c; }
  static Reg Add(Reg a, Reg b) { return a + b; }
  static Reg Sub(Reg a, Reg b) { return a - b; }
  static Reg Mul(Reg a, Reg b) { return a * b; }
  static Reg Div(Reg a, Reg b) { return a / b; }
  static Reg Max(Reg a, Reg b) { return a > b ? a : b; }
  static float ReduceAdd(Reg v) { return v; }
  static float ReduceMax(Reg v) { return v; }
  static Reg Exp(Reg x) { return std::exp(x); }
  static DReg DZero() { return 0.0; }
  static void AccumulateSquares(Reg x, DReg& a0, DReg&) { a0 += static_cast<double>(x * x); }
  static double DReduceAdd(DReg a0, DReg a1) { return a0 + a1; }
};
}  // namespace

void FillScalarOps(Ops* ops) { FillOps<ScalarVec>(ops, "scalar"); }

}  // namespace llmux::simd
