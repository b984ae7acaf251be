// The CPU backend's packed weights: what it packs, and that products through the backend,
// whole and per expert slice, give what the row-major matrix gives in the batch class.
#include "engine/backend/cpu/packed_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/kernels/q6k_lanes.h"

namespace llmux {
namespace {

using kernels::MatrixView;
using kernels::WeightLayout;

std::vector<uint8_t> RandomRows(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  const size_t row_bytes = *RowBytes(type, cols);
  std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = d(rng);
    EXPECT_TRUE(kernels::QuantizeRow(type, row.data(), w.data() + r * row_bytes, cols).ok());
  }
  return w;
}

std::vector<uint8_t> RandomQ4(int64_t rows, int64_t cols, uint32_t seed) {
  return RandomRows(DType::kQ4_0, rows, cols, seed);
}

std::vector<float> Product(CpuBackend& be, const MatrixView& w, const std::vector<float>& x, int n,
                           int n_single) {
  std::vector<float> y(static_cast<size_t>(w.rows) * n);
  be.MatMul(w, x.data(), n, y.data(), n_single);
  return y;
}

TEST(PackedWeightsTest, ExpertSlicesOfAPackedStackGiveTheRowMajorResults) {
  if (kernels::DetectedIsa() != kernels::Isa::kAvx512) GTEST_SKIP() << "packs on AVX-512 only";
  CpuBackend be(2);
  const int64_t experts = 4, rows = 48, cols = 256;
  const auto data = RandomQ4(experts * rows, cols, 3);
  const MatrixView stacked{DType::kQ4_0, experts * rows, cols, data.data(),
                           *RowBytes(DType::kQ4_0, cols)};
  MatrixView packed = stacked;
  ASSERT_TRUE(be.PrepareMatMul(&packed, rows).ok());
  ASSERT_EQ(packed.layout, WeightLayout::kPanels16);
  ASSERT_NE(packed.data, stacked.data);
  ASSERT_TRUE(be.ReserveMatMul(packed, 8).ok());
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols) * 5);
  for (float& v : x) v = d(rng);
  for (int e = 0; e < experts; ++e) {
    const auto want = Product(be, ExpertMatrix(stacked, e, rows), x, 5, 0);
    for (int n_single : {0, 5, 2}) {
      const auto got = Product(be, ExpertMatrix(packed, e, rows), x, 5, n_single);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0)
          << "expert " << e << " single " << n_single;
    }
  }
}

TEST(PackedWeightsTest, Q6KStacksMoveToLanesAndTheirSlicesGiveTheRowMajorResults) {
  CpuBackend be(2);
  const int64_t experts = 3, rows = 24, cols = 512;  // slices of 24 rows: any slice works
  const auto data = RandomRows(DType::kQ6_K, experts * rows, cols, 5);
  const MatrixView stacked{DType::kQ6_K, experts * rows, cols, data.data(),
                           *RowBytes(DType::kQ6_K, cols)};
  MatrixView packed = stacked;
  ASSERT_TRUE(be.PrepareMatMul(&packed, rows).ok());
  if (!kernels::CanPackQ6KLanes(stacked)) {
    EXPECT_EQ(packed.data, stacked.data);  // kernels without the lanes product keep rows
    GTEST_SKIP() << "the lanes layout needs AVX-512 and GFNI";
  }
  ASSERT_EQ(packed.layout, WeightLayout::kQ6KLanes);
  ASSERT_NE(packed.data, stacked.data);
  ASSERT_TRUE(be.ReserveMatMul(packed, 8).ok());
  std::mt19937 rng(4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols) * 5);
  for (float& v : x) v = d(rng);
  for (int e = 0; e < experts; ++e) {
    // The batch class runs the same panels on both layouts: equal bit for bit.
    const auto want = Product(be, ExpertMatrix(stacked, e, rows), x, 5, 0);
    const auto got = Product(be, ExpertMatrix(packed, e, rows), x, 5, 0);
    ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0) << "expert " << e;
    // Single tokens: the lanes kernel, another summation order.
    const auto single = Product(be, ExpertMatrix(packed, e, rows), x, 5, 5);
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(single[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << "expert " << e;
  }
}

TEST(PackedWeightsTest, LeavesWhatCannotBeSlicedAtPanelsOrIsNotQ4_0) {
  CpuBackend be(1);
  const int64_t cols = 128;
  const auto data = RandomQ4(72, cols, 4);
  const MatrixView w{DType::kQ4_0, 72, cols, data.data(), *RowBytes(DType::kQ4_0, cols)};
  MatrixView sliced = w;
  ASSERT_TRUE(be.PrepareMatMul(&sliced, 24).ok());  // slices of 24 rows: not at panels
  EXPECT_EQ(sliced.data, w.data);
  EXPECT_EQ(sliced.layout, WeightLayout::kRowMajor);
  std::vector<uint8_t> q8(*RowBytes(DType::kQ8_0, cols) * 32);
  MatrixView q8_view{DType::kQ8_0, 32, cols, q8.data(), *RowBytes(DType::kQ8_0, cols)};
  ASSERT_TRUE(be.PrepareMatMul(&q8_view, 32).ok());
  EXPECT_EQ(q8_view.data, q8.data());
}

}  // namespace
}  // namespace llmux
