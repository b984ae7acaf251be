// Per-ISA kernels against the scalar reference: activation rounding (bit-exact) and single
// dot products (equal up to float summation order).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/half.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/ref_kernels.h"
#include "engine/backend/cpu/kernels/test_util.h"
#include "engine/backend/cpu/kernels/kernels.h"

namespace llmux::kernels {
namespace {

using testing::kAllWTypes;
using testing::RandomNormal;
using testing::SupportedIsas;
using testing::ToDType;

int64_t ColsFor(WType t, int variant) {
  switch (t) {
    case WType::kQ4_K:
    case WType::kQ6_K:
      return 256 * (1 + variant);
    case WType::kQ8_0:
    case WType::kQ4_0:
    case WType::kQ5_0:
      return 32 * (1 + 2 * variant);  // odd block counts
    default:
      return 1 + 37 * variant;  // ragged SIMD tails
  }
}

// Activations with awkward values: exact ties for the rounding, zeros, a huge block.
std::vector<float> TrickyActivations(int64_t n, uint32_t seed) {
  auto x = RandomNormal(n, seed);
  for (int64_t i = 0; i < n; ++i) {
    if (i % 97 == 5) x[i] = 0.0f;
    if (i % 53 == 7) x[i] = std::ldexp(std::round(x[i] * 8.0f) + 0.5f, -3);  // k + 1/2 steps
  }
  for (int64_t i = 0; i < std::min<int64_t>(n, 32); ++i) x[i] = 0.0f;  // an all-zero block
  if (n > 300) x[300] = 1e4f;
  return x;
}

TEST(ActQuantTest, SimdMatchesScalarBitForBit) {
  for (Isa isa : SupportedIsas()) {
    const KernelSet& ks = KernelsFor(isa);
    for (ActKind kind : {ActKind::kQ8, ActKind::kQ8K, ActKind::kF16, ActKind::kBF16}) {
      for (int64_t cols : {256, 512, 1024, 3072}) {
        const auto x = TrickyActivations(cols, static_cast<uint32_t>(cols));
        const size_t bytes = ActRowBytes(kind, cols);
        std::vector<uint8_t> got(bytes, 0), want(bytes, 0);
        ks.act_quant[static_cast<int>(kind)](x.data(), cols, got.data());
        RefQuantizeAct(kind, x.data(), cols, want.data());
        ASSERT_EQ(got, want) << IsaName(isa) << " kind " << static_cast<int>(kind) << " cols "
                             << cols;
      }
    }
  }
}

TEST(ActQuantTest, Q8RowLayout) {
  // One block of 32 with max |x| = 127 * 0.5: d = 0.5 exactly, qs = x / 0.5, sum of qs.
  std::vector<float> x(32);
  int sum = 0;
  for (int i = 0; i < 32; ++i) {
    const int q = (i * 9) % 255 - 127;
    x[i] = 0.5f * static_cast<float>(i == 0 ? 127 : q);
    sum += i == 0 ? 127 : q;
  }
  std::vector<uint8_t> row(ActRowBytes(ActKind::kQ8, 32));
  RefQuantizeAct(ActKind::kQ8, x.data(), 32, row.data());
  const ActQ8 a = ViewActQ8(row.data(), 32);
  EXPECT_EQ(a.d[0], 0.5f);
  EXPECT_EQ(a.sum[0], sum);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(a.qs[i] * 0.5f, x[i]);
}

// |terms| bound for the tolerance: sum over i of |w_i * x_i| with dequantized weights.
double AbsDotBound(DType type, const uint8_t* w, const float* x, int64_t cols) {
  std::vector<float> wf(static_cast<size_t>(cols));
  DequantizeRow(type, w, wf.data(), cols);
  double s = 0;
  for (int64_t i = 0; i < cols; ++i) s += std::fabs(double{wf[i]} * x[i]);
  return s;
}

TEST(DotTest, EveryIsaMatchesScalarReference) {
  for (Isa isa : SupportedIsas()) {
    const KernelSet& ks = KernelsFor(isa);
    for (WType wt : kAllWTypes) {
      const DType dt = ToDType(wt);
      const ActKind kind = ActKindFor(wt);
      for (int variant = 0; variant < 4; ++variant) {
        const int64_t cols = ColsFor(wt, variant);
        const uint32_t seed = 1000u * static_cast<uint32_t>(wt) + static_cast<uint32_t>(variant);
        const auto wf = RandomNormal(cols, seed, 0.05f);
        std::vector<uint8_t> w(*RowBytes(dt, cols));
        ASSERT_TRUE(QuantizeRow(dt, wf.data(), w.data(), cols).ok());
        const auto x = TrickyActivations(cols, seed + 7);
        std::vector<uint8_t> act;
        const uint8_t* act_row;
        if (kind == ActKind::kNone) {
          act_row = reinterpret_cast<const uint8_t*>(x.data());
        } else {
          act.assign(ActRowBytes(kind, cols), 0);
          RefQuantizeAct(kind, x.data(), cols, act.data());
          act_row = act.data();
        }
        const float want = RefDotRow(wt, w.data(), act_row, cols);
        float got = -1.0f;
        GemmArgs args{w.data(), w.size(), act_row, 0, cols, &got, 1};
        ks.gemm[static_cast<int>(wt)](args, 0, 1, 0, 1);
        const double tol = 2e-6 * AbsDotBound(dt, w.data(), x.data(), cols) + 1e-30;
        EXPECT_NEAR(got, want, tol) << IsaName(isa) << " " << Traits(dt).name << " cols " << cols;
      }
    }
  }
}

TEST(VecTest, DotAndAxpyF32) {
  for (Isa isa : SupportedIsas()) {
    const KernelSet& ks = KernelsFor(isa);
    for (int64_t n : {0, 1, 7, 15, 16, 17, 33, 64, 1000, 4099}) {
      const auto a = RandomNormal(n, 3 + static_cast<uint32_t>(n));
      const auto b = RandomNormal(n, 4 + static_cast<uint32_t>(n));
      double want = 0, bound = 0;
      for (int64_t i = 0; i < n; ++i) {
        want += double{a[i]} * b[i];
        bound += std::fabs(double{a[i]} * b[i]);
      }
      EXPECT_NEAR(ks.dot_f32(a.data(), b.data(), n), want, 1e-6 * bound + 1e-30)
          << IsaName(isa) << n;
      std::vector<float> y(b.begin(), b.end());
      y.push_back(123.0f);  // guard
      ks.axpy_f32(0.75f, a.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(y[i], b[i] + 0.75f * a[i], 1e-6f * (std::fabs(b[i]) + std::fabs(a[i])))
            << IsaName(isa);
      }
      EXPECT_EQ(y[n], 123.0f);
    }
  }
}

TEST(VecTest, F16ToF32IsExactOnEveryIsa) {
  // Every binary16 bit pattern (normals, subnormals, infinities, NaNs) in one row, plus
  // tails of every length, against the scalar conversion.
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> want(all.size());
  for (size_t i = 0; i < all.size(); ++i) want[i] = F16ToF32(all[i]);
  for (Isa isa : SupportedIsas()) {
    const KernelSet& ks = KernelsFor(isa);
    for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{15}, int64_t{17}, int64_t{65536}}) {
      std::vector<float> got(n + 1, 7.0f);
      ks.f16_to_f32(all.data() + (65536 - n), got.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const float w = want[65536 - n + i];
        ASSERT_TRUE(std::memcmp(&got[i], &w, 4) == 0 || (std::isnan(got[i]) && std::isnan(w)))
            << IsaName(isa) << " bits " << (65536 - n + i);
      }
      EXPECT_EQ(got[n], 7.0f) << "wrote past the end";
    }
  }
}

TEST(VecTest, PublicEntryPointsFollowForcedIsa) {
  const auto a = RandomNormal(100, 1);
  const auto b = RandomNormal(100, 2);
  for (Isa isa : SupportedIsas()) {
    testing::IsaGuard guard(isa);
    EXPECT_NEAR(DotF32(a.data(), b.data(), 100), KernelsFor(isa).dot_f32(a.data(), b.data(), 100),
                0.0f);
    EXPECT_EQ(&ActiveKernels(), &KernelsFor(isa));
  }
}

}  // namespace
}  // namespace llmux::kernels
