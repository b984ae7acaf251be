// RMSNorm, attention and the element-wise blocks against direct double-precision loops.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/models/attention.h"
#include "engine/models/ffn.h"
#include "engine/models/rms_norm.h"
#include "engine/models/simd_kernels.h"

namespace llmux {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(RmsNormTest, InPlaceWithoutWeightGivesUnitMeanSquare) {
  auto z = Random(100, 1);
  RmsNorm(z.data(), nullptr, z.data(), 100, 1e-5f);
  double ss = 0;
  for (float v : z) ss += double(v) * v;
  EXPECT_NEAR(ss / 100, 1.0, 1e-4);
}

struct AttentionCase {
  simd::Path path;
  int n_head, n_head_kv, hd, pos0, n;
};

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {
 protected:
  void TearDown() override { simd::SetPathForTesting(simd::Path::kAuto); }
};

TEST_P(AttentionTest, CausalGqaMatchesDefinition) {
  const AttentionCase ac = GetParam();
  simd::SetPathForTesting(ac.path);
  ThreadPool pool(2);
  const int n_head = ac.n_head, n_head_kv = ac.n_head_kv, hd = ac.hd, pos0 = ac.pos0, n = ac.n;
  const int n_ctx = pos0 + n + 3;
  auto cache =
      KvCache::Create(1, n_ctx, n_head_kv * hd, pool.size(), AttentionScratchFloats(hd, n_ctx));
  ASSERT_TRUE(cache.ok());
  KvCache& c = **cache;
  const auto k = Random(static_cast<size_t>(pos0 + n) * n_head_kv * hd, 3);
  const auto v = Random(static_cast<size_t>(pos0 + n) * n_head_kv * hd, 4);
  std::copy(k.begin(), k.end(), c.k(0, 0));
  std::copy(v.begin(), v.end(), c.v(0, 0));
  const auto q = Random(static_cast<size_t>(n) * n_head * hd, 5, 2.0f);
  std::vector<float> out(q.size(), -1.0f);
  AttentionShape shape{n_head, n_head_kv, hd, 1.0f / std::sqrt(float(hd))};
  Attention(q.data(), n_head * hd, c, 0, pos0, n, shape, out.data(), n_head * hd, pool);
  double worst = 0;
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < n_head; ++h) {
      const int g = h / (n_head / n_head_kv);
      const int n_kv = pos0 + t + 1;
      std::vector<double> s(n_kv);
      double mx = -1e300, sum = 0;
      for (int p = 0; p < n_kv; ++p) {
        double d = 0;
        for (int i = 0; i < hd; ++i) {
          d += double(q[(t * n_head + h) * hd + i]) * k[(p * n_head_kv + g) * hd + i];
        }
        s[p] = d / std::sqrt(double(hd));
        mx = std::max(mx, s[p]);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      for (int i = 0; i < hd; ++i) {
        double o = 0;
        for (int p = 0; p < n_kv; ++p) o += s[p] / sum * v[(p * n_head_kv + g) * hd + i];
        worst = std::max(worst, std::abs(out[(t * n_head + h) * hd + i] - o));
      }
    }
  }
  EXPECT_LT(worst, 1e-5);  // F32 sums of 128 products of O(1) values
}

// Every path on shapes that exercise the direct (few tokens) and transposed (many tokens)
// score loops, row-block tails, odd position counts and head_dims that are not a multiple
// of the vector width (scalar fallback).
INSTANTIATE_TEST_SUITE_P(Paths, AttentionTest,
                         ::testing::Values(AttentionCase{simd::Path::kScalar, 6, 2, 16, 5, 7},
                                           AttentionCase{simd::Path::kAvx2, 6, 2, 16, 5, 7},
                                           AttentionCase{simd::Path::kAvx512, 6, 2, 16, 5, 7},
                                           AttentionCase{simd::Path::kAvx2, 4, 4, 32, 37, 1},
                                           AttentionCase{simd::Path::kAvx512, 16, 8, 128, 70, 1},
                                           AttentionCase{simd::Path::kAvx512, 16, 8, 128, 0, 75},
                                           AttentionCase{simd::Path::kAvx2, 16, 8, 128, 3, 75},
                                           AttentionCase{simd::Path::kAvx512, 12, 4, 64, 17, 40},
                                           AttentionCase{simd::Path::kAvx512, 5, 1, 48, 0, 9},
                                           AttentionCase{simd::Path::kAvx512, 8, 4, 8, 2, 30},
                                           AttentionCase{simd::Path::kAvx2, 4, 2, 24, 2, 30},
                                           AttentionCase{simd::Path::kAuto, 4, 2, 64, 300, 2}));

class ElementwiseTest : public ::testing::TestWithParam<simd::Path> {
 protected:
  void SetUp() override { simd::SetPathForTesting(GetParam()); }
  void TearDown() override { simd::SetPathForTesting(simd::Path::kAuto); }
};

TEST_P(ElementwiseTest, SwiGluMatchesDefinition) {
  ThreadPool pool(2);
  const int n = 40000 + 7;  // several chunks and a vector tail
  auto g = Random(n, 6, 3.0f);
  // Extremes: exp overflow / underflow must give silu(x) ~ 0 and ~ x.
  g[0] = -100.0f;
  g[1] = 100.0f;
  g[2] = -87.5f;
  g[3] = 0.0f;
  const auto u = Random(n, 7);
  const auto g0 = g;
  SwiGlu(g.data(), u.data(), n, pool);
  double worst_rel = 0;
  for (int i = 0; i < n; ++i) {
    const double want = g0[i] / (1.0 + std::exp(-double(g0[i]))) * u[i];
    worst_rel = std::max(worst_rel, std::abs(g[i] - want) / std::max(1e-30, std::abs(want)));
    ASSERT_TRUE(std::isfinite(g[i])) << i;
  }
  EXPECT_LT(worst_rel, 1e-6);
}

TEST_P(ElementwiseTest, RmsNormMatchesDefinition) {
  ThreadPool pool(2);
  for (int n : {1, 7, 64, 100, 1024}) {
    const int rows = 5;
    const auto x = Random(n * rows, n, 1.0f), w = Random(n, 2);
    std::vector<float> y(n * rows);
    RmsNormRows(x.data(), w.data(), y.data(), rows, n, 1e-5f, pool);
    for (int r = 0; r < rows; ++r) {
      double ss = 0;
      for (int i = 0; i < n; ++i) ss += double(x[r * n + i]) * x[r * n + i];
      const double s = 1.0 / std::sqrt(ss / n + 1e-5);
      for (int i = 0; i < n; ++i) {
        EXPECT_NEAR(y[r * n + i], x[r * n + i] * s * w[i],
                    1e-5 * std::max(1.0, double(std::abs(y[r * n + i]))));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, ElementwiseTest,
                         ::testing::Values(simd::Path::kScalar, simd::Path::kAvx2,
                                           simd::Path::kAvx512));

TEST(FfnTest, Adds) {
  ThreadPool pool(2);
  const int n = 40000;
  const auto u = Random(n, 7);
  std::vector<float> x(n, 1.0f);
  AddInPlace(x.data(), u.data(), n, pool);
  EXPECT_FLOAT_EQ(x[n - 1], 1.0f + u[n - 1]);
  EXPECT_FLOAT_EQ(x[12345], 1.0f + u[12345]);
  std::vector<float> rows(6, 0.0f);
  const float b[] = {1.0f, 2.0f, 3.0f};
  AddBiasRows(rows.data(), b, 2, 3, pool);
  EXPECT_EQ(rows, (std::vector<float>{1, 2, 3, 1, 2, 3}));
}

TEST(KvCacheTest, RefusesBadSizes) {
  EXPECT_FALSE(KvCache::Create(0, 10, 8, 1, 0).ok());
  EXPECT_FALSE(KvCache::Create(2, -1, 8, 1, 0).ok());
  auto c = KvCache::Create(2, 10, 8, 2, 5);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->k(1, 3) - (*c)->k(0, 0), (10 + 3) * 8);
  EXPECT_EQ((*c)->scratch(1) - (*c)->scratch(0), 5);
}

}  // namespace
}  // namespace llmux
