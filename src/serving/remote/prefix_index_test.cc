#include "serving/remote/prefix_index.h"

#include <gtest/gtest.h>

#include <numeric>

#include "engine/runtime/block_manager.h"

namespace llmux::serving {
namespace {

ModelLoad Report(std::string model, uint64_t epoch, uint64_t seq, bool full, std::vector<uint64_t> added,
                 std::vector<uint64_t> evicted = {}) {
  ModelLoad m;
  m.model = std::move(model);
  m.block_size = 4;
  m.prefix.epoch = epoch;
  m.prefix.seq = seq;
  m.prefix.full = full;
  m.prefix.added = std::move(added);
  m.prefix.evicted = std::move(evicted);
  return m;
}

TEST(PrefixIndexTest, FullSetThenChangesThenANewEpochReplacesEverything) {
  PrefixIndex index;
  index.Apply(Report("m", 7, 3, true, {1, 2, 3}));
  EXPECT_EQ(index.Cursors().at("m").epoch, 7u);
  EXPECT_EQ(index.Cursors().at("m").seq, 3u);
  EXPECT_EQ(index.MatchLength("m", std::vector<uint64_t>{1, 2, 3, 4}), 3);
  index.Apply(Report("m", 7, 5, false, {4}, {2}));
  EXPECT_EQ(index.MatchLength("m", std::vector<uint64_t>{1, 2, 3, 4}), 1);  // 2 is gone: the chain breaks
  EXPECT_EQ(index.MatchLength("m", std::vector<uint64_t>{4}), 1);
  EXPECT_EQ(index.MatchLength("other", std::vector<uint64_t>{1}), 0);
  index.Apply(Report("m", 8, 1, true, {9}));  // the worker restarted
  EXPECT_EQ(index.MatchLength("m", std::vector<uint64_t>{1}), 0);
  EXPECT_EQ(index.MatchLength("m", std::vector<uint64_t>{9}), 1);
  index.Retain({"x"});
  EXPECT_EQ(index.Find("m"), nullptr);
}

TEST(PrefixIndexTest, PromptBlockHashesChainLikeTheBlockManager) {
  std::vector<int32_t> tokens(10);
  std::iota(tokens.begin(), tokens.end(), 5);
  const std::vector<uint64_t> h = PromptBlockHashes(tokens, 4);
  ASSERT_EQ(h.size(), 2u);  // the last two tokens are no full block
  const uint64_t h0 = BlockManager::HashBlock(0, std::span<const int32_t>(tokens.data(), 4));
  EXPECT_EQ(h[0], h0);
  EXPECT_EQ(h[1], BlockManager::HashBlock(h0, std::span<const int32_t>(tokens.data() + 4, 4)));
  EXPECT_TRUE(PromptBlockHashes(tokens, 0).empty());
}

}  // namespace
}  // namespace llmux::serving
