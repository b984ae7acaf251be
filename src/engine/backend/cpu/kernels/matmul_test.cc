// MatMul (every type, every ISA, odd shapes, both thread counts) against a naive loop over
// the scalar reference dot.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

struct Problem {
  DType type;
  int64_t rows, cols;
  size_t row_bytes;
  std::vector<uint8_t> w;
  std::vector<float> wf;  // dequantized weights, for the tolerance
};

Problem MakeProblem(WType wt, int64_t rows, int64_t cols, size_t pad, uint32_t seed) {
  Problem p{ToDType(wt), rows, cols, *RowBytes(ToDType(wt), cols) + pad, {}, {}};
  p.w.assign(p.row_bytes * rows, 0xCD);
  p.wf.resize(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = RandomNormal(cols, seed + static_cast<uint32_t>(r), 0.05f);
    EXPECT_TRUE(QuantizeRow(p.type, row.data(), p.w.data() + r * p.row_bytes, cols).ok());
    DequantizeRow(p.type, p.w.data() + r * p.row_bytes, p.wf.data() + r * cols, cols);
  }
  return p;
}

void CheckMatMul(WType wt, int64_t rows, int64_t cols, int64_t n_tokens, size_t pad,
                 ThreadPool& pool) {
  const Problem p = MakeProblem(wt, rows, cols, pad, static_cast<uint32_t>(rows * 131 + cols));
  const auto x = RandomNormal(n_tokens * cols, static_cast<uint32_t>(n_tokens * 7 + cols));
  // Reference: scalar activation rounding + scalar dot per (row, token).
  const ActKind kind = ActKindFor(wt);
  std::vector<float> want(static_cast<size_t>(rows * n_tokens));
  std::vector<uint8_t> act(ActRowBytes(kind, cols));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const uint8_t* arow = reinterpret_cast<const uint8_t*>(x.data() + t * cols);
    if (kind != ActKind::kNone) {
      RefQuantizeAct(kind, x.data() + t * cols, cols, act.data());
      arow = act.data();
    }
    for (int64_t r = 0; r < rows; ++r)
      want[t * rows + r] = RefDotRow(wt, p.w.data() + r * p.row_bytes, arow, cols);
  }
  const MatrixView view{p.type, rows, cols, p.w.data(), p.row_bytes};
  for (Isa isa : SupportedIsas()) {
    testing::IsaGuard guard(isa);
    // Deliberately misaligned scratch of exactly the advertised size.
    std::vector<uint8_t> scratch(MatMulScratchBytes(p.type, cols, n_tokens) + 1);
    std::vector<float> y(static_cast<size_t>(rows * n_tokens) + 16, -777.0f);
    MatMul(view, x.data(), n_tokens, y.data(), scratch.data() + 1, pool);
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        double bound = 0;
        for (int64_t i = 0; i < cols; ++i)
          bound += std::fabs(double{p.wf[r * cols + i]} * x[t * cols + i]);
        ASSERT_NEAR(y[t * rows + r], want[t * rows + r], 3e-6 * bound + 1e-30)
            << IsaName(isa) << " " << Traits(p.type).name << " rows " << rows << " cols " << cols
            << " tokens " << n_tokens << " at r=" << r << " t=" << t;
      }
    }
    for (size_t i = static_cast<size_t>(rows * n_tokens); i < y.size(); ++i)
      ASSERT_EQ(y[i], -777.0f);
  }
}

int64_t ColsFor(WType t) {
  switch (t) {
    case WType::kQ4_K:
    case WType::kQ6_K:
      return 512;
    case WType::kQ8_0:
    case WType::kQ4_0:
    case WType::kQ5_0:
      return 96;  // 3 blocks: an odd block count
    default:
      return 100;  // not a multiple of the SIMD width
  }
}

TEST(MatMulTest, SmallShapesAllTypes) {
  ThreadPool pool(2);
  for (WType wt : kAllWTypes) {
    for (int64_t rows : {1, 5, 37}) {
      for (int64_t n_tokens : {1, 3, 17, 64}) CheckMatMul(wt, rows, ColsFor(wt), n_tokens, 0, pool);
    }
  }
}

TEST(MatMulTest, ParallelShapesAllTypes) {
  // Big enough to be split over the pool (row and token chunks), padded rows.
  ThreadPool pool(2);
  for (WType wt : kAllWTypes) {
    CheckMatMul(wt, 301, 512, 1, 0, pool);
    CheckMatMul(wt, 301, 512, 17, 32, pool);
    CheckMatMul(wt, 6, 1024, 64, 0, pool);  // few rows, many tokens: token chunks
  }
}

TEST(MatMulTest, BatchPanelsAcrossChunksAndTails) {
  // Batches of the *_0 formats take the packed-panel path on AVX-512: rows that are not a
  // multiple of the 16-row panel, more than one 32-block column chunk (with an odd tail
  // chunk), token counts around the 8-token tile, from the smallest batch that uses it.
  ThreadPool pool(2);
  for (WType wt : {WType::kQ8_0, WType::kQ4_0, WType::kQ5_0}) {
    for (int64_t n_tokens : {3, 4, 9, 16, 23}) CheckMatMul(wt, 35, 32 * 37, n_tokens, 0, pool);
    CheckMatMul(wt, 16, 32 * 64, 8, 18, pool);  // exactly two chunks, padded rows
    CheckMatMul(wt, 97, 32 * 5, 40, 0, pool);
  }
}

TEST(MatMulTest, KQuantBatchPanelsAcrossChunksAndTails) {
  // Batches of Q4_K / Q6_K take their packed panels on AVX-512: 4 super-blocks per column
  // chunk (9 gives two whole chunks and a tail of one), rows that leave a partial 16-row
  // panel, token counts around the 8-token tile, padded rows.
  ThreadPool pool(2);
  for (WType wt : {WType::kQ4_K, WType::kQ6_K}) {
    for (int64_t n_tokens : {2, 8, 9, 23}) CheckMatMul(wt, 35, 256 * 9, n_tokens, 0, pool);
    CheckMatMul(wt, 16, 256 * 8, 16, 20, pool);
    CheckMatMul(wt, 97, 256, 40, 0, pool);
  }
}

TEST(MatMulTest, SingleTokenRowsOfEveryLength) {
  // Decode: odd block counts (a last block alone), single-pair rows, long rows, and row
  // counts that leave partial 8-row (Q*_0) and 4-row (Q6_K) register tiles.
  ThreadPool pool(2);
  for (WType wt : {WType::kQ8_0, WType::kQ4_0, WType::kQ5_0}) {
    for (int64_t blocks : {1, 2, 5, 64, 257, 258}) CheckMatMul(wt, 11, 32 * blocks, 1, 0, pool);
  }
  for (int64_t blocks : {1, 3, 33}) CheckMatMul(WType::kQ6_K, 13, 256 * blocks, 1, 0, pool);
}

// Decode of several sequences in one call (the single class) must give each token the bits it
// gets alone, on every instruction set: a kernel's tiles of several tokens and its one-token
// path do the same operations per (row, token).
TEST(MatMulTest, SingleClassTokensEqualAloneOnEveryIsa) {
  ThreadPool pool(2);
  for (WType wt : kAllWTypes) {
    const int64_t cols = 256 * 3, rows = 37, n = 11;  // tiles of 8, 2 and 1 tokens
    const Problem p = MakeProblem(wt, rows, cols, 0, 77);
    const MatrixView view{p.type, rows, cols, p.w.data(), p.row_bytes};
    const auto x = RandomNormal(n * cols, 78);
    for (Isa isa : SupportedIsas()) {
      testing::IsaGuard guard(isa);
      std::vector<uint8_t> scratch(MatMulScratchBytes(p.type, cols, n));
      std::vector<float> together(static_cast<size_t>(rows * n));
      MatMul(view, x.data(), n, together.data(), scratch.data(), pool, /*n_single=*/n);
      for (int64_t t = 0; t < n; ++t) {
        std::vector<float> alone(static_cast<size_t>(rows));
        MatMul(view, x.data() + t * cols, 1, alone.data(), scratch.data(), pool, 1);
        ASSERT_EQ(std::memcmp(alone.data(), together.data() + t * rows, rows * sizeof(float)), 0)
            << IsaName(isa) << " " << Traits(p.type).name << " token " << t;
      }
    }
  }
}

// Prefill of several sequences in one call (the batch class) must give each token the bits it
// gets in a call of its own, whatever the call's size and the token's place in it (its place
// in a token tile of a packed-panel kernel), on every instruction set.
TEST(MatMulTest, BatchClassTokensEqualInEveryCallOnEveryIsa) {
  ThreadPool pool(2);
  for (WType wt : kAllWTypes) {
    const int64_t cols = 256 * 5, rows = 37, n = 11;
    const Problem p = MakeProblem(wt, rows, cols, 0, 91);
    const MatrixView view{p.type, rows, cols, p.w.data(), p.row_bytes};
    const auto x = RandomNormal(n * cols, 92);
    for (Isa isa : SupportedIsas()) {
      testing::IsaGuard guard(isa);
      std::vector<uint8_t> scratch(MatMulScratchBytes(p.type, cols, n));
      std::vector<float> together(static_cast<size_t>(rows * n));
      MatMul(view, x.data(), n, together.data(), scratch.data(), pool, /*n_single=*/0);
      // The same tokens in calls of 1, 2, 3, 4 and 1 tokens.
      for (int64_t t0 = 0, len = 1; t0 < n; t0 += len, ++len) {
        const int64_t m = std::min(len, n - t0);
        std::vector<float> part(static_cast<size_t>(rows * m));
        MatMul(view, x.data() + t0 * cols, m, part.data(), scratch.data(), pool, 0);
        ASSERT_EQ(
            std::memcmp(part.data(), together.data() + t0 * rows, part.size() * sizeof(float)), 0)
            << IsaName(isa) << " " << Traits(p.type).name << " tokens " << t0 << ".." << t0 + m;
      }
    }
  }
}

// Codes at the ends of their ranges against activations at full scale: the integer sums that
// kernels keep in 16 bits (vpmaddubsw pairs and their sums over a block or sub-block) reach
// their largest magnitudes and must not saturate, in either class, on every instruction set.
// Q8_0's -128 (no quantizer writes it, a model file may hold it) is the one code whose
// magnitude does not fit a signed byte.
TEST(MatMulTest, ExtremeCodesDoNotSaturate) {
  ThreadPool pool(2);
  for (WType wt : {WType::kQ8_0, WType::kQ4_0, WType::kQ5_0, WType::kQ4_K, WType::kQ6_K}) {
    const int64_t rows = 21, cols = 512, n = 6;
    Problem p = MakeProblem(wt, rows, cols, 0, 5);
    const size_t block = Traits(p.type).block_bytes;
    for (int64_t r = 0; r < rows; ++r) {
      for (size_t off = 0; off < p.row_bytes; off += block) {
        uint8_t* b = p.w.data() + r * p.row_bytes + off;
        switch (wt) {
          case WType::kQ8_0:  // every code -128
            std::memset(b + 2, 0x80, 32);
            break;
          case WType::kQ4_0:  // every nibble 15
            std::memset(b + 2, 0xFF, 16);
            break;
          case WType::kQ5_0:  // every code 31
            std::memset(b + 2, 0xFF, 20);
            break;
          case WType::kQ4_K:  // scales and mins 63, every nibble 15
            std::memset(b + 4, 0xFF, 12 + 128);
            break;
          default:  // Q6_K: every code 63 (q = 31), scales -128 and 127
            std::memset(b, 0xFF, 192);
            for (int j = 0; j < 16; ++j) b[192 + j] = j % 2 ? 0x80 : 0x7F;
            break;
        }
      }
    }
    std::vector<float> x(static_cast<size_t>(n * cols));
    for (int64_t t = 0; t < n; ++t) {  // constant rows: every code at +-127
      for (int64_t i = 0; i < cols; ++i) x[t * cols + i] = t % 2 ? -1.0f : 1.0f;
    }
    const ActKind kind = ActKindFor(wt);
    std::vector<uint8_t> act(ActRowBytes(kind, cols));
    std::vector<float> want(static_cast<size_t>(rows * n)), bound(want.size());
    std::vector<float> wf(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows; ++r) {
      DequantizeRow(p.type, p.w.data() + r * p.row_bytes, wf.data(), cols);
      double sum = 0;  // x is +-1: the sum of the terms' magnitudes
      for (float v : wf) sum += std::fabs(v);
      for (int64_t t = 0; t < n; ++t) bound[t * rows + r] = static_cast<float>(sum);
    }
    for (int64_t t = 0; t < n; ++t) {
      RefQuantizeAct(kind, x.data() + t * cols, cols, act.data());
      for (int64_t r = 0; r < rows; ++r)
        want[t * rows + r] = RefDotRow(wt, p.w.data() + r * p.row_bytes, act.data(), cols);
    }
    const MatrixView view{p.type, rows, cols, p.w.data(), p.row_bytes};
    for (Isa isa : SupportedIsas()) {
      testing::IsaGuard guard(isa);
      std::vector<uint8_t> scratch(MatMulScratchBytes(p.type, cols, n));
      for (int64_t n_single : {int64_t{0}, n}) {
        std::vector<float> y(static_cast<size_t>(rows * n));
        MatMul(view, x.data(), n, y.data(), scratch.data(), pool, n_single);
        for (size_t i = 0; i < y.size(); ++i) {
          ASSERT_NEAR(y[i], want[i], 3e-6 * bound[i])
              << IsaName(isa) << " " << Traits(p.type).name << (n_single ? " single" : " batch")
              << " at " << i;
        }
      }
    }
  }
}

TEST(MatMulTest, ManyEqualsSeparateProducts) {
  ThreadPool pool(2);
  struct Case {
    WType a, b, c;
    int64_t cols;
  };
  // Same activation rounding (fused pass), and mixed rounding (one after the other).
  const Case cases[] = {{WType::kQ4_0, WType::kQ4_0, WType::kQ4_0, 256},
                        {WType::kQ8_0, WType::kQ4_0, WType::kQ5_0, 256},
                        {WType::kQ4_K, WType::kQ6_K, WType::kQ4_K, 512},
                        {WType::kQ4_0, WType::kQ6_K, WType::kF16, 512}};
  for (const Case& cs : cases) {
    const int64_t rows[] = {64, 37, 200};
    const WType types[] = {cs.a, cs.b, cs.c};
    std::vector<Problem> ps;
    for (int m = 0; m < 3; ++m) ps.push_back(MakeProblem(types[m], rows[m], cs.cols, 0, 11 + m));
    for (int64_t n_tokens : {1, 2, 7, 33}) {
      const auto x = RandomNormal(n_tokens * cs.cols, static_cast<uint32_t>(n_tokens));
      size_t scratch_bytes = 0;
      for (const Problem& p : ps)
        scratch_bytes = std::max(scratch_bytes, MatMulScratchBytes(p.type, cs.cols, n_tokens));
      std::vector<uint8_t> scratch(scratch_bytes);
      std::vector<std::vector<float>> want(3), got(3);
      std::vector<MatMulOut> outs;
      for (int m = 0; m < 3; ++m) {
        const MatrixView view{ps[m].type, rows[m], cs.cols, ps[m].w.data(), ps[m].row_bytes};
        want[m].assign(static_cast<size_t>(rows[m] * n_tokens), 0.0f);
        got[m].assign(static_cast<size_t>(rows[m] * n_tokens), -1.0f);
        MatMul(view, x.data(), n_tokens, want[m].data(), scratch.data(), pool);
        outs.push_back({view, got[m].data()});
      }
      MatMulMany(outs, x.data(), n_tokens, scratch.data(), pool);
      // The same rounded activations; the work split (and so the kernel picked for a
      // token chunk) may differ, which changes only the float summation order.
      for (int m = 0; m < 3; ++m) {
        for (size_t i = 0; i < want[m].size(); ++i) {
          ASSERT_NEAR(got[m][i], want[m][i], 1e-5f * (1.0f + std::fabs(want[m][i])))
              << "matrix " << m << " tokens " << n_tokens << " i " << i;
        }
      }
    }
  }
}

TEST(MatMulTest, SingleThreadPool) {
  ThreadPool pool(1);
  for (WType wt : kAllWTypes) CheckMatMul(wt, 19, 512, 5, 0, pool);
}

TEST(MatMulTest, NeverReadsPastTheLastRow) {
  // Weights that end exactly at an inaccessible page, as a tensor at the end of a file
  // mapping can: any over-read by a SIMD load faults.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ThreadPool pool(1);
  for (WType wt : kAllWTypes) {
    for (int64_t cols : {ColsFor(wt), ColsFor(wt) * 3}) {
      const int64_t rows = 7;
      const Problem p = MakeProblem(wt, rows, cols, 0, 99);
      const size_t bytes = p.w.size();
      const size_t span = (bytes + page - 1) / page * page;
      uint8_t* base = static_cast<uint8_t*>(
          mmap(nullptr, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
      ASSERT_NE(base, MAP_FAILED);
      ASSERT_EQ(mprotect(base + span, page, PROT_NONE), 0);
      uint8_t* w = base + span - bytes;
      std::memcpy(w, p.w.data(), bytes);
      const auto x = RandomNormal(5 * cols, 3);
      for (Isa isa : SupportedIsas()) {
        testing::IsaGuard guard(isa);
        for (int64_t n_tokens : {1, 5}) {
          std::vector<uint8_t> scratch(MatMulScratchBytes(p.type, cols, n_tokens));
          std::vector<float> y(static_cast<size_t>(rows * n_tokens));
          MatMul(MatrixView{p.type, rows, cols, w, p.row_bytes}, x.data(), n_tokens, y.data(),
                 scratch.data(), pool);
          const uint8_t* act = nullptr;
          std::vector<uint8_t> arow(ActRowBytes(ActKindFor(wt), cols));
          const ActKind kind = ActKindFor(wt);
          if (kind != ActKind::kNone) {
            RefQuantizeAct(kind, x.data() + (n_tokens - 1) * cols, cols, arow.data());
            act = arow.data();
          } else {
            act = reinterpret_cast<const uint8_t*>(x.data() + (n_tokens - 1) * cols);
          }
          const float want = RefDotRow(wt, w + (rows - 1) * p.row_bytes, act, cols);
          EXPECT_NEAR(y[(n_tokens - 1) * rows + rows - 1], want, 1e-3f * (1.0f + std::fabs(want)))
              << IsaName(isa) << " " << Traits(p.type).name;
        }
      }
      munmap(base, span + page);
    }
  }
}

TEST(MatMulTest, SupportAndScratchSizes) {
  for (WType wt : kAllWTypes) EXPECT_TRUE(MatMulSupports(ToDType(wt)));
  EXPECT_FALSE(MatMulSupports(DType::kQ4_1));
  EXPECT_FALSE(MatMulSupports(DType::kQ8_K));
  EXPECT_EQ(MatMulScratchBytes(DType::kF32, 1024, 512), 0u);
  // Q8_0 activations: 1024 int8 + 32 scales + 32 sums per token at least.
  EXPECT_GE(MatMulScratchBytes(DType::kQ8_0, 1024, 2), 2u * (1024 + 32 * 8));
  EXPECT_GE(MatMulScratchBytes(DType::kQ4_K, 1024, 1), 4u * 292);
  EXPECT_GE(MatMulScratchBytes(DType::kF16, 100, 3), 3u * 100 * 2);
}

TEST(MatMulTest, UnsupportedTypeWritesZeros) {
  ThreadPool pool(1);
  std::vector<uint8_t> w(20 * 4, 0x11);
  const MatrixView view{DType::kQ4_1, 4, 32, w.data(), 20};
  std::vector<float> x(32, 1.0f), y(4, 5.0f);
  MatMul(view, x.data(), 1, y.data(), nullptr, pool);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

}  // namespace
}  // namespace llmux::kernels
