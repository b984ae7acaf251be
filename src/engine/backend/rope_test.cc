#include "engine/backend/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace llmux {
namespace {

RopeConfig Config(RopeLayout layout, int n_rot, float theta) {
  RopeConfig c;
  c.layout = layout;
  c.n_rot = n_rot;
  c.theta = theta;
  return c;
}

TEST(RopeTest, NormalRotatesAdjacentPairs) {
  ThreadPool pool(1);
  RopeTable rope;
  rope.Init(Config(RopeLayout::kNormal, 4, 100.0f), 4, {});
  const int32_t pos[] = {3};
  rope.Compute(pos);
  std::vector<float> x = {1, 0, 0, 1};
  rope.Apply(x.data(), 0, 1, 1, 4, 4, pool);
  // pair 0: angle 3; pair 1: angle 3 * 100^(-1/2) = 0.3.
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[2], -std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], std::cos(0.3), 1e-6);
}

TEST(RopeTest, NeoxRotatesHalves) {
  ThreadPool pool(1);
  RopeTable rope;
  rope.Init(Config(RopeLayout::kNeox, 4, 100.0f), 4, {});
  const int32_t pos[] = {3};
  rope.Compute(pos);
  std::vector<float> x = {1, 0, 0, 1};  // pairs (x0, x2) and (x1, x3)
  rope.Apply(x.data(), 0, 1, 1, 4, 4, pool);
  EXPECT_NEAR(x[0], std::cos(3.0), 1e-6);
  EXPECT_NEAR(x[2], std::sin(3.0), 1e-6);
  EXPECT_NEAR(x[1], -std::sin(0.3), 1e-6);
  EXPECT_NEAR(x[3], std::cos(0.3), 1e-6);
}

TEST(RopeTest, PartialRotationLeavesTheRestAndPositionZeroIsIdentity) {
  ThreadPool pool(1);
  RopeTable rope;
  rope.Init(Config(RopeLayout::kNeox, 4, 10000.0f), 2, {});
  const int32_t pos[] = {0, 5};
  rope.Compute(pos);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6};  // 2 tokens, head_dim 6
  rope.Apply(x.data(), 0, 2, 1, 6, 6, pool);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(x[i], static_cast<float>(i + 1));
  EXPECT_FLOAT_EQ(x[10], 5.0f);
  EXPECT_FLOAT_EQ(x[11], 6.0f);
  EXPECT_NE(x[6], 1.0f);
  // The same token addressed as table row 1 alone.
  std::vector<float> y = {1, 2, 3, 4, 5, 6};
  rope.Apply(y.data(), 1, 1, 1, 6, 6, pool);
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[i], x[6 + i]);
}

TEST(RopeTest, FrequencyFactorsAndLinearScalingDivideTheAngle) {
  ThreadPool pool(1);
  RopeConfig c = Config(RopeLayout::kNormal, 2, 10000.0f);
  RopeTable with_factor;
  const float ff[] = {4.0f};
  with_factor.Init(c, 1, ff);
  c.scaling = RopeScaling::kLinear;
  c.factor = 4.0f;
  RopeTable linear;
  linear.Init(c, 1, {});
  const int32_t pos[] = {2};
  with_factor.Compute(pos);
  linear.Compute(pos);
  std::vector<float> a = {1, 0}, b = {1, 0};
  with_factor.Apply(a.data(), 0, 1, 1, 2, 2, pool);
  linear.Apply(b.data(), 0, 1, 1, 2, 2, pool);
  EXPECT_NEAR(a[0], std::cos(0.5), 1e-6);
  EXPECT_NEAR(a[1], std::sin(0.5), 1e-6);
  EXPECT_NEAR(b[0], a[0], 1e-6);
  EXPECT_NEAR(b[1], a[1], 1e-6);
}

TEST(RopeTest, YarnExtrapolatesFastDimsInterpolatesSlowOnesAndScalesMagnitude) {
  ThreadPool pool(1);
  RopeConfig c = Config(RopeLayout::kNeox, 64, 10000.0f);
  c.scaling = RopeScaling::kYarn;
  c.factor = 8.0f;
  c.n_ctx_orig = 4096;
  RopeTable rope;
  rope.Init(c, 1, {});
  float dims[2];
  YarnCorrDims(64, 4096, 10000.0f, 32.0f, 1.0f, dims);
  ASSERT_GT(dims[0], 0.0f);
  ASSERT_LT(dims[1], 31.0f);
  const int32_t pos[] = {100};
  rope.Compute(pos);
  std::vector<float> x(64, 0.0f);
  for (int i = 0; i < 32; ++i) x[i] = 1.0f;
  rope.Apply(x.data(), 0, 1, 1, 64, 64, pool);
  const double mscale = 1.0 + 0.1 * std::log(8.0);
  for (int i : {0, 31}) {
    const double theta = 100.0 * std::pow(10000.0, -2.0 * i / 64);
    const double angle = i == 0 ? theta : theta / 8.0;  // pair 0 extrapolates, 31 interpolates
    EXPECT_NEAR(x[i], std::cos(angle) * mscale, 1e-4) << i;
    EXPECT_NEAR(x[i + 32], std::sin(angle) * mscale, 1e-4) << i;
  }
}

}  // namespace
}  // namespace llmux
