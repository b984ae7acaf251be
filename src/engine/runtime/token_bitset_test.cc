#include "engine/runtime/token_bitset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace llmux {
namespace {

// Random sets, dense, sparse and in runs (whole 64-id words allowed or refused), over sizes
// that are and are not multiples of 64, against marking one byte per id.
TEST(TokenBitsetTest, MaskLogitsEqualsMarkingEachId) {
  std::mt19937 rng(5);
  for (int32_t n : {1, 63, 64, 65, 1000, 151936}) {
    for (double density : {0.0, 0.01, 0.5, 0.99, 1.0}) {
      for (bool runs : {false, true}) {
        TokenBitset set;
        set.Reset(n);
        std::vector<uint8_t> marked(n, 0);
        std::bernoulli_distribution pick(density);
        bool in = pick(rng);
        for (int32_t id = 0; id < n; ++id) {
          if (runs ? (id % 97 == 0 && (in = pick(rng)), in) : pick(rng)) {
            set.Set(id);
            marked[id] = 1;
          }
        }
        // Logits past the set are refused too.
        std::vector<float> logits(n + 70);
        std::normal_distribution<float> normal(0.0f, 3.0f);
        for (float& l : logits) l = normal(rng);
        std::vector<float> expected = logits;
        for (size_t i = 0; i < expected.size(); ++i) {
          if (i >= marked.size() || !marked[i]) expected[i] = -INFINITY;
        }
        set.MaskLogits(logits);
        ASSERT_EQ(logits, expected) << "n " << n << " density " << density << " runs " << runs;
        for (int32_t id = 0; id < n; ++id) ASSERT_EQ(set.Has(id), marked[id] != 0) << id;
        EXPECT_FALSE(set.Has(-1));
        EXPECT_FALSE(set.Has(n));
        EXPECT_EQ(set.Empty(), std::count(marked.begin(), marked.end(), 1) == 0);
      }
    }
  }
}

TEST(TokenBitsetTest, ClearTakesOneIdOff) {
  TokenBitset set;
  set.Reset(130);
  set.Set(0);
  set.Set(64);
  set.Set(129);
  set.Clear(64);
  EXPECT_TRUE(set.Has(0));
  EXPECT_FALSE(set.Has(64));
  EXPECT_TRUE(set.Has(129));
  std::vector<float> logits(130, 1.0f);
  set.MaskLogits(logits);
  EXPECT_EQ(logits[0], 1.0f);
  EXPECT_TRUE(std::isinf(logits[64]));
  EXPECT_EQ(logits[129], 1.0f);
  // Fewer logits than ids: only those are touched.
  std::vector<float> few(10, 2.0f);
  set.MaskLogits(few);
  EXPECT_EQ(few[0], 2.0f);
  EXPECT_TRUE(std::isinf(few[9]));
}

}  // namespace
}  // namespace llmux
