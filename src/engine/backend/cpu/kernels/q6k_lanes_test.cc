// Q6_K in sub-block lanes: the layout round-trips, every ISA computes what the scalar
// reference computes on the row-major rows (decode and prefill), prefill on the lanes equals
// prefill on row-major rows bit for bit (the batch kernels are shared), and any number of
// single tokens per call gives each the numbers it gets alone.
#include "engine/backend/cpu/kernels/q6k_lanes.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backend/cpu/kernels/blocks.h"
#include "engine/backend/cpu/kernels/kernel_set.h"
#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/kernels/ref_kernels.h"
#include "engine/backend/cpu/kernels/test_util.h"

namespace llmux::kernels {
namespace {

using testing::RandomNormal;
using testing::SupportedIsas;

struct Q6Matrix {
  int64_t rows, cols;
  size_t row_bytes;
  std::vector<uint8_t> w;       // row-major
  std::vector<float> wf;        // dequantized, for the tolerance
  std::vector<uint8_t> packed;  // 64-byte aligned inside
  MatrixView view, packed_view;
};

Q6Matrix MakeQ6(int64_t rows, int64_t cols, uint32_t seed, ThreadPool& pool) {
  Q6Matrix m{rows, cols, *RowBytes(DType::kQ6_K, cols), {}, {}, {}, {}, {}};
  m.w.resize(m.row_bytes * static_cast<size_t>(rows));
  m.wf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = RandomNormal(cols, seed + static_cast<uint32_t>(r), 0.05f);
    EXPECT_TRUE(QuantizeRow(DType::kQ6_K, row.data(), m.w.data() + r * m.row_bytes, cols).ok());
    DequantizeRow(DType::kQ6_K, m.w.data() + r * m.row_bytes, m.wf.data() + r * cols, cols);
  }
  m.view = MatrixView{DType::kQ6_K, rows, cols, m.w.data(), m.row_bytes};
  m.packed.assign(Q6KLanesBytes(m.view) + 64, 0xEE);
  auto* aligned =
      reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(m.packed.data()) + 63) / 64 * 64);
  m.packed_view = PackQ6KLanes(m.view, aligned, pool);
  return m;
}

std::vector<float> Product(const MatrixView& w, const std::vector<float>& x, int64_t n,
                           int64_t n_single, ThreadPool& pool) {
  std::vector<uint8_t> scratch(MatMulScratchBytes(w.type, w.cols, n));
  std::vector<float> y(static_cast<size_t>(w.rows * n), -777.0f);
  MatMul(w, x.data(), n, y.data(), scratch.data(), pool, n_single);
  return y;
}

TEST(Q6KLanesTest, PackThenUnpackGivesTheRows) {
  ThreadPool pool(2);
  for (int64_t rows : {1, 7, 130}) {
    for (int64_t cols : {256, 768, 7168}) {
      const Q6Matrix m = MakeQ6(rows, cols, static_cast<uint32_t>(rows * 7 + cols), pool);
      EXPECT_EQ(m.packed_view.layout, WeightLayout::kQ6KLanes);
      EXPECT_EQ(m.packed_view.row_bytes, m.row_bytes);
      std::vector<uint8_t> row(m.row_bytes);
      for (int64_t r = 0; r < rows; ++r) {
        UnpackQ6KLanesRow(m.packed_view, r, row.data());
        ASSERT_EQ(std::memcmp(row.data(), m.w.data() + r * m.row_bytes, m.row_bytes), 0)
            << "rows " << rows << " cols " << cols << " r " << r;
      }
    }
  }
}

TEST(Q6KLanesTest, PacksOnlyWhatItsKernelsTake) {
  ThreadPool pool(1);
  const Q6Matrix m = MakeQ6(8, 512, 1, pool);
  const bool fast = DetectedIsa() == Isa::kAvx512 && CpuHasGfni();
  EXPECT_EQ(CanPackQ6KLanes(m.view), fast);
  EXPECT_FALSE(CanPackQ6KLanes(m.packed_view));  // already packed
  MatrixView padded = m.view;
  padded.row_bytes += 2;
  EXPECT_FALSE(CanPackQ6KLanes(padded));
  MatrixView q4k = m.view;
  q4k.type = DType::kQ4_K;
  q4k.row_bytes = *RowBytes(DType::kQ4_K, 512);
  EXPECT_FALSE(CanPackQ6KLanes(q4k));
  if (fast) {
    testing::IsaGuard guard(Isa::kAvx2);
    EXPECT_FALSE(CanPackQ6KLanes(m.view));
  }
}

TEST(Q6KLanesTest, ActivationLanesFollowTheWeightOrder) {
  const int64_t cols = 512;
  const auto x = RandomNormal(cols, 3);
  std::vector<uint8_t> act(ActRowBytes(ActKind::kQ8KLanes, cols));
  RefQuantizeAct(ActKind::kQ8KLanes, x.data(), cols, act.data());
  std::vector<uint8_t> q8k(ActRowBytes(ActKind::kQ8K, cols));
  RefQuantizeAct(ActKind::kQ8K, x.data(), cols, q8k.data());
  // The row starts with the kQ8K row, unchanged.
  ASSERT_EQ(std::memcmp(act.data(), q8k.data(), (cols / kQKK) * sizeof(BlockQ8_K)), 0);
  const auto* blocks = reinterpret_cast<const BlockQ8_K*>(q8k.data());
  for (int64_t b = 0; b < cols / kQKK; ++b) {
    const uint8_t* lanes = act.data() + Q8KLanesOffset(cols) + b * kQ8KLanesBlockBytes;
    for (int k = 0; k < 4; ++k) {
      for (int p = 0; p < 64; ++p) {
        ASSERT_EQ(static_cast<int8_t>(lanes[64 * k + p]),
                  blocks[b].qs[16 * (p / 4) + 4 * k + p % 4])
            << "block " << b << " vector " << k << " byte " << p;
      }
    }
    for (int i = 0; i < 16; ++i) {
      int32_t sum = 0, bias;
      for (int l = 0; l < 16; ++l) sum += blocks[b].qs[16 * i + l];
      std::memcpy(&bias, lanes + 256 + 4 * i, 4);
      ASSERT_EQ(bias, -32 * sum) << "block " << b << " lane " << i;
    }
  }
  // Every ISA writes the same bytes (the padding between the parts aside).
  const size_t q8k_bytes = (cols / kQKK) * sizeof(BlockQ8_K), lanes_at = Q8KLanesOffset(cols);
  for (Isa isa : SupportedIsas()) {
    std::vector<uint8_t> got(act.size(), 0xAB);
    KernelsFor(isa).act_quant[static_cast<int>(ActKind::kQ8KLanes)](x.data(), cols, got.data());
    ASSERT_EQ(std::memcmp(got.data(), act.data(), q8k_bytes), 0) << IsaName(isa);
    ASSERT_EQ(std::memcmp(got.data() + lanes_at, act.data() + lanes_at,
                          Q8KLanesRowBytes(cols) - lanes_at),
              0)
        << IsaName(isa);
  }
}

TEST(Q6KLanesTest, EveryIsaMatchesTheReferenceOnTheRowMajorRows) {
  ThreadPool pool(2);
  for (int64_t rows : {1, 35, 301}) {
    for (int64_t cols : {256, 1024, 256 * 9}) {
      const Q6Matrix m = MakeQ6(rows, cols, static_cast<uint32_t>(rows + cols), pool);
      for (int64_t n : {1, 3, 6, 9}) {
        const auto x = RandomNormal(n * cols, static_cast<uint32_t>(n * 31 + cols));
        std::vector<float> want(static_cast<size_t>(rows * n));
        std::vector<uint8_t> act(ActRowBytes(ActKind::kQ8K, cols));
        for (int64_t t = 0; t < n; ++t) {
          RefQuantizeAct(ActKind::kQ8K, x.data() + t * cols, cols, act.data());
          for (int64_t r = 0; r < rows; ++r)
            want[t * rows + r] =
                RefDotRow(WType::kQ6_K, m.w.data() + r * m.row_bytes, act.data(), cols);
        }
        for (Isa isa : SupportedIsas()) {
          testing::IsaGuard guard(isa);
          for (int64_t n_single : {int64_t{0}, n, n / 2}) {
            const auto y = Product(m.packed_view, x, n, n_single, pool);
            for (int64_t t = 0; t < n; ++t) {
              for (int64_t r = 0; r < rows; ++r) {
                double bound = 0;
                for (int64_t i = 0; i < cols; ++i)
                  bound += std::fabs(double{m.wf[r * cols + i]} * x[t * cols + i]);
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

TEST(Q6KLanesTest, PrefillIsUnchangedAndSingleTokensDoNotDependOnTheCall) {
  if (DetectedIsa() != Isa::kAvx512) GTEST_SKIP() << "the batch panels are AVX-512 only";
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    for (int64_t rows : {16, 35, 301}) {
      const int64_t cols = 2048;
      const Q6Matrix m = MakeQ6(rows, cols, static_cast<uint32_t>(rows), pool);
      const int64_t n = 6;
      const auto x = RandomNormal(n * cols, static_cast<uint32_t>(rows * 3));
      const auto prefill_rows = Product(m.view, x, n, 0, pool);
      const auto prefill_lanes = Product(m.packed_view, x, n, 0, pool);
      ASSERT_EQ(std::memcmp(prefill_rows.data(), prefill_lanes.data(), prefill_rows.size() * 4), 0)
          << "rows " << rows;
      const auto decode = Product(m.packed_view, x, n, n, pool);
      for (int64_t k = 1; k <= 5; ++k) {
        const std::vector<float> xk(x.begin(), x.begin() + k * cols);
        const auto yk = Product(m.packed_view, xk, k, k, pool);
        ASSERT_EQ(std::memcmp(yk.data(), decode.data(), yk.size() * 4), 0) << "k " << k;
      }
      // Mixed: 2 single tokens then 4 batch rows.
      const auto mixed = Product(m.packed_view, x, n, 2, pool);
      ASSERT_EQ(std::memcmp(mixed.data(), decode.data(), 2 * rows * 4), 0);
      ASSERT_EQ(
          std::memcmp(mixed.data() + 2 * rows, prefill_lanes.data() + 2 * rows, (n - 2) * rows * 4),
          0);
    }
  }
}

}  // namespace
}  // namespace llmux::kernels
