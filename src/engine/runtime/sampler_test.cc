#include "engine/runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace llmux {
namespace {

SamplerParams Plain(float temperature) {
  SamplerParams p = SamplerParams::Greedy();
  p.temperature = temperature;
  p.seed = 42;
  return p;
}

std::map<int32_t, int> Histogram(const SamplerParams& p, const std::vector<float>& logits, int n) {
  Sampler s(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.Sample(l)];
  }
  return counts;
}

TEST(SamplerTest, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(SamplerParams::Greedy());
  std::vector<float> a = {0.1f, 3.0f, -2.0f, 2.9f};
  EXPECT_EQ(s.Sample(a), 1);
  std::vector<float> tie = {1.0f, 5.0f, 2.0f, 5.0f, 5.0f};
  EXPECT_EQ(s.Sample(tie), 1);
  EXPECT_EQ(Sampler::Argmax(std::vector<float>{-1.0f, -1.0f}), 0);
}

TEST(SamplerTest, TemperatureFollowsSoftmax) {
  // p = softmax(log([0.5, 0.3, 0.2])) = [0.5, 0.3, 0.2] at temperature 1.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  const int n = 20000;
  auto c = Histogram(Plain(1.0f), logits, n);
  EXPECT_NEAR(c[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(c[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(c[2] / double(n), 0.2, 0.02);
  // A low temperature sharpens towards the top token, a high one flattens.
  auto cold = Histogram(Plain(0.1f), logits, 2000);
  EXPECT_GT(cold[0], 1950);
  auto hot = Histogram(Plain(10.0f), logits, n);
  EXPECT_NEAR(hot[2] / double(n), 0.32, 0.03);  // (0.2^0.1) / sum(p^0.1)
}

TEST(SamplerTest, TopKKeepsOnlyKBest) {
  const std::vector<float> logits = {1.0f, 0.9f, 0.8f, 0.7f, 0.6f};
  SamplerParams p = Plain(1.0f);
  p.top_k = 2;
  auto c = Histogram(p, logits, 2000);
  EXPECT_GT(c[0], 0);
  EXPECT_GT(c[1], 0);
  EXPECT_EQ(c[0] + c[1], 2000);
  p.top_k = 1;
  EXPECT_EQ(Histogram(p, logits, 200)[0], 200);
}

TEST(SamplerTest, TopPKeepsSmallestNucleus) {
  // p = [0.5, 0.3, 0.15, 0.05]
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f),
                                     std::log(0.05f)};
  SamplerParams p = Plain(1.0f);
  p.top_p = 0.45f;  // 0.5 alone reaches it
  EXPECT_EQ(Histogram(p, logits, 500)[0], 500);
  p.top_p = 0.7f;  // needs 0.5 + 0.3
  auto c = Histogram(p, logits, 4000);
  EXPECT_EQ(c[0] + c[1], 4000);
  EXPECT_NEAR(c[0] / 4000.0, 0.5 / 0.8, 0.03);
  p.top_p = 0.9f;  // needs 0.5 + 0.3 + 0.15
  c = Histogram(p, logits, 4000);
  EXPECT_GT(c[2], 0);
  EXPECT_EQ(c[3], 0);
}

TEST(SamplerTest, TopPOverLargeVocabulary) {
  // Many tokens: exercises the incremental partial sort.
  std::vector<float> logits(50000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = -static_cast<float>(i % 1000) * 0.01f;
  logits[31337] = 20.0f;  // p ~ 1
  SamplerParams p = Plain(1.0f);
  p.top_p = 0.5f;
  EXPECT_EQ(Histogram(p, logits, 50)[31337], 50);
}

TEST(SamplerTest, MinPDropsUnlikelyTokens) {
  // p = [0.6, 0.3, 0.1]; min_p 0.4 keeps tokens with p >= 0.24.
  const std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  SamplerParams p = Plain(1.0f);
  p.min_p = 0.4f;
  auto c = Histogram(p, logits, 3000);
  EXPECT_EQ(c[2], 0);
  EXPECT_GT(c[1], 0);
  p.min_p = 0.0f;
  EXPECT_GT(Histogram(p, logits, 3000)[2], 0);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplerParams p = SamplerParams::Greedy();
  p.repeat_penalty = 1.5f;
  p.penalty_last_n = 64;
  Sampler s(p);
  s.Accept(0);
  s.Accept(2);
  std::vector<float> logits = {2.0f, 1.9f, -1.0f};
  EXPECT_EQ(s.Sample(logits), 1);  // 2.0 / 1.5 < 1.9
  EXPECT_FLOAT_EQ(logits[0], 2.0f / 1.5f);
  EXPECT_FLOAT_EQ(logits[1], 1.9f);
  EXPECT_FLOAT_EQ(logits[2], -1.5f);
}

TEST(SamplerTest, PresenceAndFrequencyPenalties) {
  SamplerParams p = SamplerParams::Greedy();
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.25f;
  p.penalty_last_n = 64;
  Sampler s(p);
  s.Accept(0);
  s.Accept(0);
  s.Accept(1);
  std::vector<float> logits = {3.0f, 2.0f, 1.5f};
  EXPECT_EQ(s.Sample(logits), 0);
  EXPECT_FLOAT_EQ(logits[0], 3.0f - 0.5f - 2 * 0.25f);
  EXPECT_FLOAT_EQ(logits[1], 2.0f - 0.5f - 0.25f);
  EXPECT_FLOAT_EQ(logits[2], 1.5f);
  // Enough penalty flips the choice.
  p.frequency_penalty = 1.0f;
  Sampler s2(p);
  s2.Accept(0);
  s2.Accept(0);
  std::vector<float> l2 = {3.0f, 2.0f, 1.5f};
  EXPECT_EQ(s2.Sample(l2), 1);
}

TEST(SamplerTest, PenaltyWindowForgetsOldTokens) {
  SamplerParams p = SamplerParams::Greedy();
  p.repeat_penalty = 10.0f;
  p.penalty_last_n = 1;
  Sampler s(p);
  s.Accept(0);
  s.Accept(1);  // pushes 0 out of the window
  std::vector<float> logits = {2.0f, 1.9f};
  EXPECT_EQ(s.Sample(logits), 0);
  EXPECT_FLOAT_EQ(logits[0], 2.0f);
  p.penalty_last_n = 0;  // off
  Sampler off(p);
  off.Accept(0);
  std::vector<float> l2 = {2.0f, 1.9f};
  EXPECT_EQ(off.Sample(l2), 0);
}

TEST(SamplerTest, SameSeedSameSequence) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = std::sin(static_cast<float>(i)) * 2;
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 100;
  p.top_p = 0.9f;
  p.min_p = 0.01f;
  p.seed = 1234;
  auto run = [&](uint32_t seed) {
    SamplerParams q = p;
    q.seed = seed;
    Sampler s(q);
    std::vector<int32_t> ids;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = logits;
      ids.push_back(s.Sample(l));
    }
    return ids;
  };
  EXPECT_EQ(run(1234), run(1234));
  EXPECT_NE(run(1234), run(99));
  // Reset replays the same draws.
  Sampler s(p);
  std::vector<float> l = logits;
  const int32_t first = s.Sample(l);
  s.Reset();
  l = logits;
  EXPECT_EQ(s.Sample(l), first);
}

}  // namespace
}  // namespace llmux
