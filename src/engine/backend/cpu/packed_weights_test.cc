// The CPU backend's packed weights: what it packs, and that products through the backend,
// whole and per expert slice, give what the row-major matrix gives in the batch class.
#include "engine/backend/cpu/packed_weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_backend.h"

namespace llmux {
namespace {

using kernels::MatrixView;
using kernels::WeightLayout;

std::vector<uint8_t> RandomQ4(int64_t rows, int64_t cols, uint32_t seed) {
  const size_t row_bytes = *RowBytes(DType::kQ4_0, cols);
  std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = d(rng);
    EXPECT_TRUE(
        kernels::QuantizeRow(DType::kQ4_0, row.data(), w.data() + r * row_bytes, cols).ok());
  }
  return w;
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
