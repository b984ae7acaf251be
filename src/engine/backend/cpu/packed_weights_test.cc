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
  // Kernels without the lanes product (no AVX-512 with GFNI) keep the rows, perhaps copied to
  // huge pages; the products below hold for both.
  const bool lanes = kernels::CanPackQ6KLanes(stacked);
  ASSERT_EQ(packed.layout, lanes ? WeightLayout::kQ6KLanes : WeightLayout::kRowMajor);
  if (lanes) {
    ASSERT_NE(packed.data, stacked.data);
  }
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

// What has no faster layout keeps its rows: copied to the backend's huge pages where the
// kernel offers them (the first copy at a huge-page boundary), products unchanged.
TEST(PackedWeightsTest, OtherMatricesKeepTheirRowsInTheBackendsMemory) {
  CpuBackend be(2);
  const int64_t cols = 256;
  const auto q4 = RandomQ4(72, cols, 4);
  const auto q4k = RandomRows(DType::kQ4_K, 40, cols, 6);
  const MatrixView sources[] = {
      {DType::kQ4_0, 72, cols, q4.data(), *RowBytes(DType::kQ4_0, cols)},  // slices of 24
      {DType::kQ4_K, 40, cols, q4k.data(), *RowBytes(DType::kQ4_K, cols)}};
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols) * 3);
  for (float& v : x) v = d(rng);
  bool first = true;
  for (const MatrixView& source : sources) {
    MatrixView w = source;
    ASSERT_TRUE(be.PrepareMatMul(&w, 24).ok());
    EXPECT_EQ(w.layout, WeightLayout::kRowMajor);
    if (!TransparentHugePagesOffered()) {
      EXPECT_EQ(w.data, source.data);
      continue;
    }
    ASSERT_NE(w.data, source.data);
    if (first) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data) % (uintptr_t{2} << 20), 0u);
    }
    first = false;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(w.data) % 64, 0u);
    ASSERT_EQ(std::memcmp(w.data, source.data, source.row_bytes * source.rows), 0);
    ASSERT_TRUE(be.ReserveMatMul(w, 8).ok());
    for (int n_single : {0, 3}) {
      const auto want = Product(be, source, x, 3, n_single);
      const auto got = Product(be, w, x, 3, n_single);
      ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size() * 4), 0);
    }
  }
  if (TransparentHugePagesOffered()) {
    EXPECT_EQ(be.packed_weights().bytes(), be.packed_weights().row_major_bytes());
    EXPECT_EQ(be.packed_weights().row_major_bytes(), q4.size() + q4k.size());
  }
}

// A tied output matrix (slice_rows 0) may take the Q6_K lanes layout: its rows stay whole,
// and Embed reads them back as the source's (as it reads a row-major copy).
TEST(PackedWeightsTest, AnEmbeddingTableInLanesEmbedsAsTheSource) {
  CpuBackend be(2);
  const int64_t rows = 37, cols = 512;
  const auto data = RandomRows(DType::kQ6_K, rows, cols, 8);
  const MatrixView source{DType::kQ6_K, rows, cols, data.data(), *RowBytes(DType::kQ6_K, cols)};
  MatrixView table = source;
  ASSERT_TRUE(be.PrepareMatMul(&table, 0).ok());
  // Without the lanes product the table keeps its rows (Embed reads them as before).
  ASSERT_EQ(table.layout,
            kernels::CanPackQ6KLanes(source) ? WeightLayout::kQ6KLanes : WeightLayout::kRowMajor);
  const std::vector<int32_t> ids = {0, 36, 5, 5, 17};
  std::vector<float> got(ids.size() * cols), want(cols);
  be.Embed(table, ids.data(), static_cast<int>(ids.size()), got.data());
  for (size_t i = 0; i < ids.size(); ++i) {
    kernels::DequantizeRow(DType::kQ6_K, data.data() + ids[i] * source.row_bytes, want.data(),
                           cols);
    ASSERT_EQ(std::memcmp(got.data() + i * cols, want.data(), cols * 4), 0) << "row " << ids[i];
  }
}

}  // namespace
}  // namespace llmux
