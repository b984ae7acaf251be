// RMSNorm, attention and the element-wise blocks against direct double-precision loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/cpu/kernels/kernels.h"
#include "engine/backend/cpu/attention.h"
#include "engine/backend/cpu/elementwise.h"
#include "engine/backend/moe_routing.h"
#include "engine/backend/cpu/rms_norm.h"
#include "engine/backend/cpu/simd_kernels.h"

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
  kernels::Isa path;
  int n_head, n_head_kv, hd, pos0, n;
  int v_dim = 0;  // > 0: MLA's latent cache, V = the first v_dim values of each K row
};

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {
 protected:
  void TearDown() override { kernels::SetIsaForTesting(kernels::DetectedIsa()); }
};

// Reference attention of one query row over K/V rows read back from the cache.
double WorstError(const std::vector<float>& q, const std::vector<float>& out, int row0, int n,
                  int pos0, const std::vector<float>& k, const std::vector<float>& v, int n_head,
                  int n_head_kv, int hd, int vd) {
  double worst = 0;
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < n_head; ++h) {
      const int g = h / (n_head / n_head_kv);
      const int n_kv = pos0 + t + 1;
      const size_t qrow = (static_cast<size_t>(row0 + t) * n_head + h) * hd;
      std::vector<double> s(n_kv);
      double mx = -1e300, sum = 0;
      for (int p = 0; p < n_kv; ++p) {
        double d = 0;
        for (int i = 0; i < hd; ++i) d += double(q[qrow + i]) * k[(p * n_head_kv + g) * hd + i];
        s[p] = d / std::sqrt(double(hd));
        mx = std::max(mx, s[p]);
      }
      for (auto& e : s) sum += (e = std::exp(e - mx));
      const size_t orow = (static_cast<size_t>(row0 + t) * n_head + h) * vd;
      for (int i = 0; i < vd; ++i) {
        double o = 0;
        for (int p = 0; p < n_kv; ++p) o += s[p] / sum * v[(p * n_head_kv + g) * hd + i];
        worst = std::max(worst, std::abs(out[orow + i] - o));
      }
    }
  }
  return worst;
}

// Layouts: the single-sequence cache (one block, rows read in place), and paged caches of
// 16-position blocks in shuffled order holding two sequences at once, in F32, F16 and Q8_0.
enum class Layout { kSingle, kPagedF32, kPagedF16, kPagedQ8 };

void RunAttentionCase(const AttentionCase& ac, Layout layout) {
  kernels::SetIsaForTesting(ac.path);
  ThreadPool pool(2);
  const int n_head = ac.n_head, n_head_kv = ac.n_head_kv, hd = ac.hd, kv_dim = n_head_kv * hd;
  // Sequence 0 is the case's; the paged layouts add sequence 1, a decode at another length.
  struct Seq {
    int pos0, n;
    std::vector<int32_t> blocks;
    std::vector<float> k, v;  // K/V as stored (read back from the cache)
  };
  std::vector<Seq> seqs = {{ac.pos0, ac.n, {}, {}, {}}};
  if (layout != Layout::kSingle) seqs.push_back({ac.pos0 / 2 + 9, 1, {}, {}, {}});
  KvCacheOptions o;
  o.n_layer = 1;
  o.kv_dim = kv_dim;
  o.head_dim = hd;
  o.n_threads = pool.size();
  const int max_len = ac.pos0 + ac.n + 16;
  o.scratch_floats = AttentionScratchFloats(hd, max_len);
  const int vd = ac.v_dim > 0 ? ac.v_dim : hd;
  o.k_only = ac.v_dim > 0;  // LoadRow then reads V back from the K rows
  o.type = layout == Layout::kPagedF16 ? DType::kF16
           : layout == Layout::kPagedQ8 ? DType::kQ8_0
                                        : DType::kF32;
  if (layout == Layout::kSingle) {
    o.block_size = max_len;
    o.n_blocks = 1;
  } else {
    o.block_size = 16;
    o.n_blocks = 2 * (max_len / 16 + 1);
  }
  auto cache = KvCache::Create(o);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  KvCache& c = **cache;
  std::vector<int32_t> order(o.n_blocks);
  for (int i = 0; i < o.n_blocks; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  int next_block = 0;
  uint32_t seed = 3;
  for (Seq& s : seqs) {
    const int len = s.pos0 + s.n;
    const int nb = (len + o.block_size - 1) / o.block_size;
    for (int i = 0; i < nb; ++i) s.blocks.push_back(order[next_block++]);
    const auto k = Random(static_cast<size_t>(len) * kv_dim, seed++);
    const auto v = Random(static_cast<size_t>(len) * kv_dim, seed++);
    std::vector<int32_t> slots(len);
    for (int p = 0; p < len; ++p) slots[p] = s.blocks[p / o.block_size] * o.block_size + p % o.block_size;
    c.Store(0, k.data(), v.data(), slots.data(), len, pool);
    s.k.resize(k.size());
    s.v.resize(v.size());
    for (int p = 0; p < len; ++p) {
      c.LoadRow(0, slots[p], s.k.data() + p * kv_dim, s.v.data() + p * kv_dim);
      if (o.type != DType::kF32) {
        EXPECT_NEAR(s.k[p * kv_dim], k[p * kv_dim], 0.05) << "stored value far from the input";
      } else {
        EXPECT_EQ(s.k[p * kv_dim + 1], k[p * kv_dim + 1]);
      }
    }
  }
  int rows = 0;
  std::vector<AttentionSeq> att;
  for (const Seq& s : seqs) {
    att.push_back(AttentionSeq{rows, s.n, s.pos0, s.blocks.data(), s.n == 1});
    rows += s.n;
  }
  const auto q = Random(static_cast<size_t>(rows) * n_head * hd, 5, 2.0f);
  std::vector<float> out(static_cast<size_t>(rows) * n_head * vd, -1.0f);
  std::vector<int64_t> offsets(att.size() + 1);
  AttentionShape shape{n_head, n_head_kv, hd, 1.0f / std::sqrt(float(hd)), ac.v_dim};
  Attention(q.data(), n_head * hd, c, 0, att, shape, out.data(), n_head * vd, offsets, pool);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const double worst = WorstError(q, out, att[i].row0, seqs[i].n, seqs[i].pos0, seqs[i].k,
                                    seqs[i].v, n_head, n_head_kv, hd, vd);
    EXPECT_LT(worst, 1e-5) << "sequence " << i;  // F32 sums of 128 products of O(1) values
  }
}

TEST_P(AttentionTest, CausalGqaMatchesDefinition) { RunAttentionCase(GetParam(), Layout::kSingle); }
TEST_P(AttentionTest, PagedF32TwoSequences) { RunAttentionCase(GetParam(), Layout::kPagedF32); }
TEST_P(AttentionTest, PagedF16TwoSequences) { RunAttentionCase(GetParam(), Layout::kPagedF16); }
TEST_P(AttentionTest, PagedQ8TwoSequences) {
  if (GetParam().hd % 32 != 0) {
    EXPECT_FALSE(KvCache::Create(KvCacheOptions{1, GetParam().hd, GetParam().hd, DType::kQ8_0, 16,
                                                4, 1, 0})
                     .ok())
        << "Q8_0 rows need head_dim divisible by 32";
    return;
  }
  RunAttentionCase(GetParam(), Layout::kPagedQ8);
}

// Every path on shapes that exercise the direct (few tokens) and transposed (many tokens)
// score loops, row-block tails, odd position counts and head_dims that are not a multiple
// of the vector width (scalar fallback).
INSTANTIATE_TEST_SUITE_P(Paths, AttentionTest,
                         ::testing::Values(AttentionCase{kernels::Isa::kScalar, 6, 2, 16, 5, 7},
                                           AttentionCase{kernels::Isa::kAvx2, 6, 2, 16, 5, 7},
                                           AttentionCase{kernels::Isa::kAvx512, 6, 2, 16, 5, 7},
                                           AttentionCase{kernels::Isa::kAvx2, 4, 4, 32, 37, 1},
                                           AttentionCase{kernels::Isa::kAvx512, 16, 8, 128, 70, 1},
                                           AttentionCase{kernels::Isa::kAvx512, 16, 8, 128, 0, 75},
                                           AttentionCase{kernels::Isa::kAvx2, 16, 8, 128, 3, 75},
                                           AttentionCase{kernels::Isa::kAvx512, 12, 4, 64, 17, 40},
                                           AttentionCase{kernels::Isa::kAvx512, 5, 1, 48, 0, 9},
                                           AttentionCase{kernels::Isa::kAvx512, 8, 4, 8, 2, 30},
                                           AttentionCase{kernels::Isa::kAvx2, 4, 2, 24, 2, 30},
                                           AttentionCase{kernels::DetectedIsa(), 4, 2, 64, 300, 2},
                                           // MLA's latent rows: one kv head, V inside K.
                                           AttentionCase{kernels::Isa::kScalar, 4, 1, 48, 5, 7, 32},
                                           AttentionCase{kernels::Isa::kAvx2, 4, 1, 48, 20, 40, 32},
                                           AttentionCase{kernels::Isa::kAvx512, 8, 1, 576, 3, 70, 512},
                                           AttentionCase{kernels::Isa::kAvx512, 4, 1, 48, 33, 1, 32}));

class ElementwiseTest : public ::testing::TestWithParam<kernels::Isa> {
 protected:
  void SetUp() override { kernels::SetIsaForTesting(GetParam()); }
  void TearDown() override { kernels::SetIsaForTesting(kernels::DetectedIsa()); }
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
                         ::testing::Values(kernels::Isa::kScalar, kernels::Isa::kAvx2,
                                           kernels::Isa::kAvx512));

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

// DeepSeek-V3 routing worked by hand: equal sigmoid scores (logits 0 -> 0.5), so the bias
// alone decides. Selections 0.5 + bias = [1.4 0.5 | 1.0 1.0 | 1.1 0.5 | 0.6 0.6]; groups of
// two score 1.9, 2.0, 1.6, 1.2, so groups 0 and 1 stay; the best two there are expert 0 and
// expert 2 (the lower of the tie 2/3). Expert 4 (1.1) would win without groups. Weights are
// the unbiased scores 0.5 and 0.5, normalised to 0.5 each, times 2.5.
TEST(RouteExpertsTest, GroupLimitedSigmoidWithBias) {
  const float logits[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const float bias[8] = {0.9f, 0.0f, 0.5f, 0.5f, 0.6f, 0.0f, 0.1f, 0.1f};
  MoeRouting r;
  r.gating = MoeRouting::Gating::kSigmoid;
  r.normalize = true;
  r.scale = 2.5f;
  r.n_group = 4;
  r.n_group_used = 2;
  int32_t ids[2];
  float weights[2];
  float scratch[16];
  RouteExperts(logits, bias, 8, 2, r, ids, weights, scratch);
  EXPECT_EQ(ids[0], 0);
  EXPECT_EQ(ids[1], 2);
  EXPECT_FLOAT_EQ(weights[0], 1.25f);
  EXPECT_FLOAT_EQ(weights[1], 1.25f);
  r.n_group = 0;
  RouteExperts(logits, bias, 8, 2, r, ids, weights, scratch);
  EXPECT_EQ(ids[1], 4);
}

// qwen3moe: softmax over logits ln(1), ln(2), ln(3), ln(4) gives 0.1 .. 0.4; top-2 are 3 and 2
// with 0.4 and 0.3, renormalised to 4/7 and 3/7; without normalisation they stay as they are.
TEST(RouteExpertsTest, SoftmaxTopK) {
  const float logits[4] = {0.0f, std::log(2.0f), std::log(3.0f), std::log(4.0f)};
  MoeRouting r;
  int32_t ids[2];
  float weights[2];
  float scratch[8];
  RouteExperts(logits, nullptr, 4, 2, r, ids, weights, scratch);
  EXPECT_EQ(ids[0], 3);
  EXPECT_EQ(ids[1], 2);
  EXPECT_NEAR(weights[0], 4.0 / 7, 1e-6);
  EXPECT_NEAR(weights[1], 3.0 / 7, 1e-6);
  r.normalize = false;
  RouteExperts(logits, nullptr, 4, 2, r, ids, weights, scratch);
  EXPECT_NEAR(weights[0], 0.4, 1e-6);
  EXPECT_NEAR(weights[1], 0.3, 1e-6);
}

TEST(KvCacheTest, RefusesBadSizesAndLaysOutSlots) {
  EXPECT_FALSE(KvCache::Create(KvCacheOptions{0, 8, 8, DType::kF32, 16, 10, 1, 0}).ok());
  EXPECT_FALSE(KvCache::Create(KvCacheOptions{2, 8, 8, DType::kF32, 16, -1, 1, 0}).ok());
  EXPECT_FALSE(KvCache::Create(KvCacheOptions{2, 12, 8, DType::kF32, 16, 4, 1, 0}).ok());
  EXPECT_FALSE(KvCache::Create(KvCacheOptions{2, 64, 64, DType::kQ4_0, 16, 4, 1, 0}).ok());
  auto c = KvCache::Create(KvCacheOptions{2, 8, 8, DType::kF32, 5, 2, 2, 5});
  ASSERT_TRUE(c.ok());
  // One head of 8: layer 1 starts after 10 slots of layer 0; slot 7 is block 1, position 2.
  EXPECT_EQ((*c)->k_head(1, 7, 0) - (*c)->k_head(0, 0, 0), (10 + 5 + 2) * 8 * 4);
  EXPECT_EQ((*c)->scratch(1) - (*c)->scratch(0), 5);
  auto h = KvCache::Create(KvCacheOptions{1, 64, 32, DType::kF16, 16, 2, 1, 0});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)->head_bytes(), 64u);
  // Within a block, a head's positions follow each other; the next head comes after them.
  EXPECT_EQ((*h)->k_head(0, 1, 0) - (*h)->k_head(0, 0, 0), 64);
  EXPECT_EQ((*h)->k_head(0, 0, 1) - (*h)->k_head(0, 0, 0), 16 * 64);
  EXPECT_EQ((*h)->k_head(0, 16, 0) - (*h)->k_head(0, 0, 0), 2 * 16 * 64);
  EXPECT_EQ(*KvCache::BlockBytes(28, 1024, DType::kF16, 16, false), 2u * 28 * 16 * 2048);
  // MLA's latent cache has no separate V.
  EXPECT_EQ(*KvCache::BlockBytes(61, 576, DType::kF16, 16, true), 1u * 61 * 16 * 1152);
}

}  // namespace
}  // namespace llmux
