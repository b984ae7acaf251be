// Q4_0 in 16-row panels: the layout round-trips, every ISA computes what the scalar
// reference computes on the unpacked rows, prefill on panels equals prefill on row-major
// rows bit for bit (the batch kernels are shared), and decode on panels equals prefill bit
// for bit, alone, in any batch of single tokens and fused with other matrices.
#include "engine/backend/cpu/kernels/panels16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/kernels/ref_kernels.h"
#include "engine/backend/cpu/kernels/test_util.h"

namespace llmux::kernels {
namespace {

using testing::RandomNormal;
using testing::SupportedIsas;

struct Q4Matrix {
  int64_t rows, cols;
  size_t row_bytes;
  std::vector<uint8_t> w;       // row-major
  std::vector<uint8_t> packed;  // 64-byte aligned inside
  MatrixView view, packed_view;
};

Q4Matrix MakeQ4(int64_t rows, int64_t cols, uint32_t seed, ThreadPool& pool) {
  Q4Matrix m{rows, cols, *RowBytes(DType::kQ4_0, cols), {}, {}, {}, {}};
  m.w.resize(m.row_bytes * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = RandomNormal(cols, seed + static_cast<uint32_t>(r), 0.05f);
    EXPECT_TRUE(QuantizeRow(DType::kQ4_0, row.data(), m.w.data() + r * m.row_bytes, cols).ok());
  }
  m.view = MatrixView{DType::kQ4_0, rows, cols, m.w.data(), m.row_bytes};
  m.packed.assign(Panels16Bytes(m.view) + 64, 0xEE);
  auto* aligned =
      reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(m.packed.data()) + 63) / 64 * 64);
  m.packed_view = PackPanels16(m.view, aligned, pool);
  return m;
}

std::vector<float> Product(const MatrixView& w, const std::vector<float>& x, int64_t n,
                           int64_t n_single, ThreadPool& pool) {
  std::vector<uint8_t> scratch(MatMulScratchBytes(w.type, w.cols, n));
  std::vector<float> y(static_cast<size_t>(w.rows * n), -777.0f);
  MatMul(w, x.data(), n, y.data(), scratch.data(), pool, n_single);
  return y;
}

TEST(Panels16Test, PackThenUnpackGivesTheRows) {
  ThreadPool pool(2);
  for (int64_t rows : {16, 17, 40, 100}) {
    for (int64_t cols : {64, 192, 1024}) {
      const Q4Matrix m = MakeQ4(rows, cols, static_cast<uint32_t>(rows * 7 + cols), pool);
      EXPECT_EQ(m.packed_view.layout, WeightLayout::kPanels16);
      EXPECT_EQ(Panels16Bytes(m.view), static_cast<size_t>((rows + 15) / 16 * 16) * m.row_bytes);
      std::vector<uint8_t> row(m.row_bytes);
      for (int64_t r = 0; r < rows; ++r) {
        UnpackPanels16Row(m.packed_view, r, row.data());
        ASSERT_EQ(std::memcmp(row.data(), m.w.data() + r * m.row_bytes, m.row_bytes), 0)
            << "rows " << rows << " cols " << cols << " r " << r;
      }
    }
  }
}

TEST(Panels16Test, PacksOnlyWhatItsKernelsTake) {
  ThreadPool pool(1);
  const Q4Matrix m = MakeQ4(32, 128, 1, pool);
  const bool vector = DetectedIsa() != Isa::kScalar;
  EXPECT_EQ(CanPackPanels16(m.view), vector);
  EXPECT_FALSE(CanPackPanels16(m.packed_view));  // already packed
  MatrixView odd = m.view;
  odd.cols = 96;  // three blocks: pairs only
  odd.row_bytes = *RowBytes(DType::kQ4_0, 96);
  EXPECT_FALSE(CanPackPanels16(odd));
  MatrixView few = m.view;
  few.rows = 15;
  EXPECT_FALSE(CanPackPanels16(few));
  MatrixView q8 = m.view;
  q8.type = DType::kQ8_0;
  q8.row_bytes = *RowBytes(DType::kQ8_0, 128);
  EXPECT_FALSE(CanPackPanels16(q8));
  if (vector) {
    {
      testing::IsaGuard guard(Isa::kAvx2);
      EXPECT_TRUE(CanPackPanels16(m.view));
    }
    testing::IsaGuard guard(Isa::kScalar);
    EXPECT_FALSE(CanPackPanels16(m.view));
  }
}

TEST(Panels16Test, EveryIsaMatchesTheReferenceOnTheUnpackedRows) {
  ThreadPool pool(2);
  for (int64_t rows : {16, 35, 301}) {
    for (int64_t cols : {64, 1024, 2048 + 64}) {
      const Q4Matrix m = MakeQ4(rows, cols, static_cast<uint32_t>(rows + cols), pool);
      for (int64_t n : {1, 3, 9}) {
        const auto x = RandomNormal(n * cols, static_cast<uint32_t>(n * 31 + cols));
        std::vector<float> want(static_cast<size_t>(rows * n));
        std::vector<uint8_t> act(ActRowBytes(ActKind::kQ8, cols));
        std::vector<float> wf(static_cast<size_t>(cols));
        for (int64_t t = 0; t < n; ++t) {
          RefQuantizeAct(ActKind::kQ8, x.data() + t * cols, cols, act.data());
          for (int64_t r = 0; r < rows; ++r)
            want[t * rows + r] =
                RefDotRow(WType::kQ4_0, m.w.data() + r * m.row_bytes, act.data(), cols);
        }
        for (Isa isa : SupportedIsas()) {
          testing::IsaGuard guard(isa);
          for (int64_t n_single : {int64_t{0}, n}) {
            const auto y = Product(m.packed_view, x, n, n_single, pool);
            for (int64_t t = 0; t < n; ++t) {
              for (int64_t r = 0; r < rows; ++r) {
                DequantizeRow(DType::kQ4_0, m.w.data() + r * m.row_bytes, wf.data(), cols);
                double bound = 0;
                for (int64_t i = 0; i < cols; ++i)
                  bound += std::fabs(double{wf[i]} * x[t * cols + i]);
                const float got = y[t * rows + r];
                const float ref = want[t * rows + r];
                if (isa == Isa::kScalar) {
                  ASSERT_EQ(got, ref) << "rows " << rows << " cols " << cols << " r " << r;
                } else {
                  ASSERT_NEAR(got, ref, 3e-6 * bound + 1e-30)
                      << IsaName(isa) << " rows " << rows << " cols " << cols << " n " << n
                      << " single " << n_single << " r " << r << " t " << t;
                }
              }
            }
          }
        }
      }
    }
  }
}

TEST(Panels16Test, DecodeEqualsPrefillAndPrefillIsUnchanged) {
  if (DetectedIsa() != Isa::kAvx512) GTEST_SKIP() << "the panel kernels are AVX-512 only";
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (int64_t rows : {16, 35, 301, 1030}) {
      const int64_t cols = rows == 1030 ? 3072 : 1024;
      const Q4Matrix m = MakeQ4(rows, cols, static_cast<uint32_t>(rows), pool);
      const int64_t n = 6;
      const auto x = RandomNormal(n * cols, static_cast<uint32_t>(rows * 3));
      const auto prefill_rows = Product(m.view, x, n, 0, pool);
      const auto prefill_panels = Product(m.packed_view, x, n, 0, pool);
      ASSERT_EQ(std::memcmp(prefill_rows.data(), prefill_panels.data(), prefill_rows.size() * 4), 0)
          << "rows " << rows;
      const auto decode = Product(m.packed_view, x, n, n, pool);
      ASSERT_EQ(std::memcmp(decode.data(), prefill_panels.data(), decode.size() * 4), 0)
          << "rows " << rows;
      // Any number of single tokens per call gives each the numbers it gets alone.
      for (int64_t k = 1; k <= 5; ++k) {
        const std::vector<float> xk(x.begin(), x.begin() + k * cols);
        const auto yk = Product(m.packed_view, xk, k, k, pool);
        ASSERT_EQ(std::memcmp(yk.data(), decode.data(), yk.size() * 4), 0) << "k " << k;
      }
      // Mixed: 2 single tokens then 4 batch rows.
      const auto mixed = Product(m.packed_view, x, n, 2, pool);
      ASSERT_EQ(std::memcmp(mixed.data(), decode.data(), mixed.size() * 4), 0);
    }
  }
}

// The AVX2 kernel takes single tokens and batches the same way: every token gets the numbers
// it gets alone, whatever the call (its prefill differs from row-major AVX2 prefill in the
// last bits: the row-major kernel sums a row's lanes at the end).
TEST(Panels16Test, Avx2TokensEqualAloneInEveryCall) {
  if (DetectedIsa() == Isa::kScalar) GTEST_SKIP() << "no AVX2 on this CPU";
  testing::IsaGuard guard(Isa::kAvx2);
  ThreadPool pool(2);
  for (int64_t rows : {16, 35, 301}) {
    const int64_t cols = 1024;
    const Q4Matrix m = MakeQ4(rows, cols, static_cast<uint32_t>(rows), pool);
    const int64_t n = 5;
    const auto x = RandomNormal(n * cols, static_cast<uint32_t>(rows * 3));
    const auto prefill = Product(m.packed_view, x, n, 0, pool);
    const auto decode = Product(m.packed_view, x, n, n, pool);
    ASSERT_EQ(std::memcmp(decode.data(), prefill.data(), decode.size() * 4), 0) << "rows " << rows;
    for (int64_t t = 0; t < n; ++t) {
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      const auto alone = Product(m.packed_view, xt, 1, 1, pool);
      ASSERT_EQ(std::memcmp(alone.data(), decode.data() + t * rows, rows * 4), 0)
          << "rows " << rows << " t " << t;
    }
  }
}

TEST(Panels16Test, FusedWithRowMajorMatricesEqualsSeparateProducts) {
  ThreadPool pool(2);
  const int64_t cols = 1024;
  const Q4Matrix a = MakeQ4(48, cols, 5, pool);
  const Q4Matrix b = MakeQ4(40, cols, 9, pool);  // stays row-major below
  for (int64_t n : {1, 4}) {
    const auto x = RandomNormal(n * cols, 77);
    std::vector<float> ya(static_cast<size_t>(48 * n)), yb(static_cast<size_t>(40 * n));
    const MatMulOut outs[] = {{a.packed_view, ya.data()}, {b.view, yb.data()}};
    std::vector<uint8_t> scratch(MatMulScratchBytes(DType::kQ4_0, cols, n));
    MatMulMany(outs, x.data(), n, scratch.data(), pool, n);
    const auto want_a = Product(a.packed_view, x, n, n, pool);
    const auto want_b = Product(b.view, x, n, n, pool);
    EXPECT_EQ(std::memcmp(ya.data(), want_a.data(), ya.size() * 4), 0);
    EXPECT_EQ(std::memcmp(yb.data(), want_b.data(), yb.size() * 4), 0);
  }
}

}  // namespace
}  // namespace llmux::kernels
