// Portable instantiation of the attention kernel (any head_dim).
#include <cmath>

#include "engine/models/attention_simd.h"

namespace llmux::attention_internal {

namespace {
struct ScalarVec {
  using Reg = float;
  static constexpr int kWidth = 1;
  static constexpr int kPvChunks = 4;
  static Reg Zero() { return 0.0f; }
  static Reg Set1(float x) { return x; }
  static Reg Load(const float* p) { return *p; }
  static void Store(float* p, Reg v) { *p = v; }
  static Reg Fma(Reg a, Reg b, Reg c) { return a * b + c; }
  static Reg Add(Reg a, Reg b) { return a + b; }
  static Reg Sub(Reg a, Reg b) { return a - b; }
  static Reg Mul(Reg a, Reg b) { return a * b; }
  static Reg Max(Reg a, Reg b) { return a > b ? a : b; }
  static float ReduceAdd(Reg v) { return v; }
  static float ReduceMax(Reg v) { return v; }
  static Reg Exp(Reg x) { return std::exp(x); }
};
}  // namespace

void RunTaskScalar(const Task& task) { AttentionKernel<ScalarVec>::Run(task); }

}  // namespace llmux::attention_internal
