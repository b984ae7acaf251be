#include "engine/runtime/block_manager.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace llmux {
namespace {

constexpr int kBs = 4;

Sequence MakeSeq(int64_t id, std::vector<int32_t> tokens) {
  Sequence s;
  s.id = id;
  s.tokens = std::move(tokens);
  s.n_prompt = s.n_tokens();
  return s;
}

std::vector<int32_t> Range(int32_t first, int n) {
  std::vector<int32_t> v(n);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs the whole sequence through the "model": blocks for all tokens, all computed, full
// blocks registered.
void ComputeAll(BlockManager& bm, Sequence& s) {
  ASSERT_TRUE(bm.EnsureCapacity(s, s.n_tokens()));
  s.n_computed = s.n_tokens();
  bm.CommitFullBlocks(s);
}

// How many tokens a fresh sequence with these tokens would get from the prefix cache
// (its blocks are released again right away).
int Probe(BlockManager& bm, std::vector<int32_t> tokens) {
  Sequence p = MakeSeq(999, std::move(tokens));
  const int n = bm.AcquirePrefix(p);
  bm.Release(p);
  return n;
}

void ExpectValid(const BlockManager& bm, std::vector<const Sequence*> live) {
  Status st = bm.Validate(live);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(BlockManagerTest, HashDependsOnParentTokensAndOrder) {
  const std::vector<int32_t> a = {1, 2, 3, 4};
  const std::vector<int32_t> b = {1, 2, 4, 3};
  const uint64_t ha = BlockManager::HashBlock(0, a);
  EXPECT_EQ(ha, BlockManager::HashBlock(0, a));
  EXPECT_NE(ha, BlockManager::HashBlock(0, b));
  EXPECT_NE(ha, BlockManager::HashBlock(1, a));
  EXPECT_NE(BlockManager::HashBlock(ha, a), ha);
  // Negative and large ids are distinct tokens.
  EXPECT_NE(BlockManager::HashBlock(0, std::vector<int32_t>{-1, 0, 0, 0}),
            BlockManager::HashBlock(0, std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(BlockManagerTest, FreshManagerIsAllFree) {
  BlockManager bm(10, kBs);
  EXPECT_EQ(bm.n_blocks(), 10);
  EXPECT_EQ(bm.block_size(), kBs);
  EXPECT_EQ(bm.n_available(), 10);
  BlockManagerStats s = bm.stats();
  EXPECT_EQ(s.n_blocks, 10);
  EXPECT_EQ(s.free, 10);
  EXPECT_EQ(s.used, 0);
  EXPECT_EQ(s.cached, 0);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, EnsureCapacityIsAllOrNothing) {
  BlockManager bm(5, kBs);
  Sequence a = MakeSeq(1, Range(0, 9));
  ASSERT_TRUE(bm.EnsureCapacity(a, 9));  // ceil(9 / 4) = 3 blocks
  EXPECT_EQ(a.block_table.size(), 3u);
  EXPECT_TRUE(bm.EnsureCapacity(a, 12));  // still 3 blocks
  EXPECT_EQ(a.block_table.size(), 3u);
  EXPECT_EQ(bm.n_available(), 2);

  Sequence b = MakeSeq(2, Range(100, 12));
  EXPECT_FALSE(bm.EnsureCapacity(b, 12));  // needs 3, 2 available
  EXPECT_TRUE(b.block_table.empty());
  EXPECT_EQ(bm.n_available(), 2);
  ASSERT_TRUE(bm.EnsureCapacity(b, 8));
  EXPECT_EQ(bm.n_available(), 0);
  EXPECT_FALSE(bm.EnsureCapacity(a, 13));
  EXPECT_EQ(a.block_table.size(), 3u);

  // All tables hold distinct blocks.
  std::vector<int32_t> all = Concat(a.block_table, b.block_table);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
  EXPECT_EQ(bm.stats().used, 5);
  ExpectValid(bm, {&a, &b});
}

TEST(BlockManagerTest, ReleaseCachesFullBlocksAndFreesTheRest) {
  BlockManager bm(8, kBs);
  Sequence a = MakeSeq(1, Range(0, 10));  // 2 full blocks and a partial one
  ComputeAll(bm, a);
  EXPECT_EQ(a.block_hashes.size(), 2u);
  EXPECT_EQ(bm.stats().used, 3);
  ExpectValid(bm, {&a});

  bm.Release(a);
  EXPECT_TRUE(a.block_table.empty());
  EXPECT_TRUE(a.block_hashes.empty());
  EXPECT_EQ(a.n_computed, 0);
  BlockManagerStats s = bm.stats();
  EXPECT_EQ(s.used, 0);
  EXPECT_EQ(s.cached, 2);
  EXPECT_EQ(s.free, 6);
  EXPECT_EQ(bm.n_available(), 8);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, CommitOnlyRegistersComputedFullBlocks) {
  BlockManager bm(8, kBs);
  Sequence a = MakeSeq(1, Range(0, 12));
  ASSERT_TRUE(bm.EnsureCapacity(a, 12));
  a.n_computed = 7;  // block 0 full, block 1 not yet
  bm.CommitFullBlocks(a);
  EXPECT_EQ(a.block_hashes.size(), 1u);
  bm.CommitFullBlocks(a);  // idempotent
  EXPECT_EQ(a.block_hashes.size(), 1u);
  a.n_computed = 12;
  bm.CommitFullBlocks(a);
  EXPECT_EQ(a.block_hashes.size(), 3u);
  ExpectValid(bm, {&a});
  bm.Release(a);
  EXPECT_EQ(bm.stats().cached, 3);
}

TEST(BlockManagerTest, PrefixMatchesWholeBlocksAndLeavesOneToken) {
  BlockManager bm(16, kBs);
  const std::vector<int32_t> prompt = Range(0, 12);
  Sequence a = MakeSeq(1, prompt);
  ComputeAll(bm, a);
  const std::vector<int32_t> a_table = a.block_table;
  const std::vector<uint64_t> a_hashes = a.block_hashes;
  bm.Release(a);

  // Same 12 tokens plus more: all three blocks.
  Sequence b = MakeSeq(2, Concat(prompt, {50, 51}));
  EXPECT_EQ(bm.AcquirePrefix(b), 12);
  EXPECT_EQ(b.n_computed, 12);
  EXPECT_EQ(b.cached_tokens, 0);  // the engine's to set
  EXPECT_EQ(b.block_table, a_table);
  EXPECT_EQ(b.block_hashes, a_hashes);
  EXPECT_EQ(bm.stats().cached, 0);
  EXPECT_EQ(bm.stats().used, 3);
  ExpectValid(bm, {&b});
  bm.Release(b);

  // Exactly the cached tokens: the last block stays to compute.
  EXPECT_EQ(Probe(bm, prompt), 8);
  EXPECT_EQ(Probe(bm, Concat(prompt, {7})), 12);
  EXPECT_EQ(Probe(bm, Range(0, 9)), 8);
  EXPECT_EQ(Probe(bm, Range(0, 5)), 4);
  EXPECT_EQ(Probe(bm, Range(0, 4)), 0);
  EXPECT_EQ(Probe(bm, {}), 0);
  // A partial block never matches: 6 tokens equal, then a difference inside block 1.
  EXPECT_EQ(Probe(bm, Concat(Range(0, 6), {99, 99, 99, 99, 99})), 4);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, DifferentBlocksDoNotMatch) {
  BlockManager bm(16, kBs);
  Sequence a = MakeSeq(1, Range(0, 12));
  ComputeAll(bm, a);
  bm.Release(a);

  EXPECT_EQ(Probe(bm, Range(1, 13)), 0);  // first block differs
  // A's second block's tokens, but as a first block: the chain (parent) differs.
  EXPECT_EQ(Probe(bm, Concat(Range(4, 8), {0})), 0);
  // First block equal, second differs in one token, third equal again: only the first.
  std::vector<int32_t> t = Range(0, 13);
  t[5] = 1000;
  EXPECT_EQ(Probe(bm, t), 4);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, SharedPrefixIsReferenceCounted) {
  BlockManager bm(16, kBs);
  const std::vector<int32_t> system = Range(0, 8);
  Sequence a = MakeSeq(1, Concat(system, {20, 21, 22}));
  ComputeAll(bm, a);  // 3 blocks, 2 registered
  ASSERT_EQ(bm.stats().used, 3);

  // b arrives while a still runs: shares a's two full blocks.
  Sequence b = MakeSeq(2, Concat(system, {30, 31, 32, 33, 34}));
  EXPECT_EQ(bm.AcquirePrefix(b), 8);
  EXPECT_EQ(b.block_table[0], a.block_table[0]);
  EXPECT_EQ(b.block_table[1], a.block_table[1]);
  EXPECT_EQ(bm.stats().used, 3);
  ASSERT_TRUE(bm.EnsureCapacity(b, b.n_tokens()));
  EXPECT_NE(b.block_table[2], a.block_table[2]);
  EXPECT_EQ(bm.stats().used, 5);
  ExpectValid(bm, {&a, &b});

  // a finishes: the shared blocks stay in use by b; a's own partial block is freed.
  bm.Release(a);
  EXPECT_EQ(bm.stats().used, 4);
  EXPECT_EQ(bm.stats().cached, 0);
  ExpectValid(bm, {&b});
  // Omitting b from the live set is caught: its blocks' counts no longer match.
  EXPECT_FALSE(bm.Validate({}).ok());

  b.n_computed = b.n_tokens();
  bm.CommitFullBlocks(b);
  bm.Release(b);
  BlockManagerStats s = bm.stats();
  EXPECT_EQ(s.used, 0);
  EXPECT_EQ(s.cached, 3);  // system's two blocks and b's third
  EXPECT_EQ(s.free, 13);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, DuplicateBlockStaysUnregisteredButChainContinues) {
  BlockManager bm(16, kBs);
  const std::vector<int32_t> prefix = Range(0, 8);
  Sequence a = MakeSeq(1, prefix);
  Sequence b = MakeSeq(2, Concat(prefix, {40, 41, 42, 43}));
  // Both computed independently (b arrived before a's blocks were registered).
  ASSERT_TRUE(bm.EnsureCapacity(a, a.n_tokens()));
  ASSERT_TRUE(bm.EnsureCapacity(b, b.n_tokens()));
  a.n_computed = a.n_tokens();
  b.n_computed = b.n_tokens();
  bm.CommitFullBlocks(a);
  bm.CommitFullBlocks(b);
  ASSERT_EQ(b.block_hashes.size(), 3u);
  EXPECT_EQ(b.block_hashes[0], a.block_hashes[0]);
  EXPECT_EQ(b.block_hashes[1], a.block_hashes[1]);
  ExpectValid(bm, {&a, &b});

  // b's duplicates of a's blocks are freed on release; its third block is cached.
  bm.Release(b);
  EXPECT_EQ(bm.stats().cached, 1);
  EXPECT_EQ(bm.stats().free, 16 - 2 - 1);
  bm.Release(a);
  EXPECT_EQ(bm.stats().cached, 3);
  // The chain runs through a's blocks into b's third one.
  EXPECT_EQ(Probe(bm, Concat(b.tokens, {1})), 12);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, EvictsFreeFirstThenLeastRecentlyUsed) {
  BlockManager bm(5, kBs);
  const std::vector<int32_t> ta = Range(0, 8);
  const std::vector<int32_t> tb = Range(100, 8);
  Sequence a = MakeSeq(1, ta);
  ComputeAll(bm, a);
  bm.Release(a);  // a's blocks cached first (older)
  Sequence b = MakeSeq(2, tb);
  ComputeAll(bm, b);
  bm.Release(b);
  ASSERT_EQ(bm.stats().cached, 4);
  ASSERT_EQ(bm.stats().free, 1);

  // The one free block goes first: nothing cached is lost.
  Sequence c = MakeSeq(3, Range(200, 4));
  ASSERT_TRUE(bm.EnsureCapacity(c, 4));
  EXPECT_EQ(bm.stats().cached, 4);
  EXPECT_EQ(Probe(bm, Concat(ta, {1})), 8);
  EXPECT_EQ(Probe(bm, Concat(tb, {1})), 8);

  // Probing touched a then b, so a is the least recently used; within a sequence the tail
  // goes before the head. Evicting one block costs a its second block only.
  ASSERT_TRUE(bm.EnsureCapacity(c, 8));
  EXPECT_EQ(bm.stats().cached, 3);
  EXPECT_EQ(Probe(bm, Concat(ta, {1})), 4);
  EXPECT_EQ(Probe(bm, Concat(tb, {1})), 8);

  // b was probed last, so a's remaining head is the least recent and goes next.
  ASSERT_TRUE(bm.EnsureCapacity(c, 12));
  EXPECT_EQ(Probe(bm, Concat(ta, {1})), 0);
  EXPECT_EQ(Probe(bm, Concat(tb, {1})), 8);
  // Touch b, then take two more: b's tail, then its head.
  ASSERT_TRUE(bm.EnsureCapacity(c, 16));
  EXPECT_EQ(Probe(bm, Concat(tb, {1})), 4);
  ASSERT_TRUE(bm.EnsureCapacity(c, 20));
  EXPECT_EQ(Probe(bm, Concat(tb, {1})), 0);
  EXPECT_EQ(bm.stats().cached, 0);
  EXPECT_EQ(bm.n_available(), 0);
  EXPECT_FALSE(bm.EnsureCapacity(c, 21));
  ExpectValid(bm, {&c});
  bm.Release(c);  // c never committed: all free
  EXPECT_EQ(bm.stats().free, 5);
  ExpectValid(bm, {});
}

TEST(BlockManagerTest, InUseBlocksAreNeverEvicted) {
  BlockManager bm(4, kBs);
  Sequence a = MakeSeq(1, Range(0, 8));
  ComputeAll(bm, a);  // registered but in use
  Sequence b = MakeSeq(2, Range(100, 8));
  ASSERT_TRUE(bm.EnsureCapacity(b, 8));
  EXPECT_FALSE(bm.EnsureCapacity(b, 9));
  // a's blocks are still matchable.
  Sequence c = MakeSeq(3, Concat(Range(0, 8), {5}));
  EXPECT_EQ(bm.AcquirePrefix(c), 8);
  ExpectValid(bm, {&a, &b, &c});
}

TEST(BlockManagerTest, AcquirePrefixNeedsAnEmptyTable) {
  BlockManager bm(8, kBs);
  Sequence a = MakeSeq(1, Range(0, 8));
  ComputeAll(bm, a);
  bm.Release(a);
  Sequence b = MakeSeq(2, Range(0, 9));
  ASSERT_TRUE(bm.EnsureCapacity(b, 1));
  const std::vector<int32_t> table = b.block_table;
  EXPECT_EQ(bm.AcquirePrefix(b), 0);
  EXPECT_EQ(b.block_table, table);
  EXPECT_EQ(b.n_computed, 0);
  ExpectValid(bm, {&b});
}

TEST(BlockManagerTest, ValidateCatchesBrokenStates) {
  BlockManager bm(8, kBs);
  Sequence a = MakeSeq(1, Range(0, 9));
  ComputeAll(bm, a);
  ExpectValid(bm, {&a});

  // A live sequence is missing: its blocks' counts are too high.
  Status st = bm.Validate({});
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("ref_count"), std::string::npos) << st.message();

  // The same sequence listed twice: counts too low.
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&a, &a}).ok());

  // A table naming a block the manager did not give it.
  Sequence forged = a;
  forged.block_table.push_back(7);
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&forged}).ok());
  forged.block_table = a.block_table;
  forged.block_table.push_back(100);
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&forged}).ok());
  forged.block_table = a.block_table;
  forged.block_table[1] = forged.block_table[0];
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&forged}).ok());

  // Tokens changed under a committed block: the hash chain no longer holds.
  forged = a;
  forged.tokens[2] = 77;
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&forged}).ok());

  // More computed than the table holds.
  forged = a;
  forged.tokens.resize(20);
  forged.n_computed = 20;
  EXPECT_FALSE(bm.Validate(std::vector<const Sequence*>{&forged}).ok());
  ExpectValid(bm, {&a});
}

TEST(BlockManagerTest, EmptyManagerRefusesAllocation) {
  BlockManager bm(0, kBs);
  Sequence a = MakeSeq(1, Range(0, 5));
  EXPECT_EQ(bm.AcquirePrefix(a), 0);
  EXPECT_FALSE(bm.EnsureCapacity(a, 1));
  EXPECT_TRUE(bm.EnsureCapacity(a, 0));
  ExpectValid(bm, {&a});
}


TEST(BlockManagerTest, HashEventsReportRegistrationsAndEvictions) {
  BlockManager bm(2, kBs);
  bm.EnableHashEvents(16);
  Sequence a = MakeSeq(1, Range(0, 2 * kBs));
  ComputeAll(bm, a);
  std::vector<BlockHashEvent> events;
  ASSERT_TRUE(bm.DrainHashEvents(events));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].added);
  EXPECT_TRUE(events[1].added);
  const uint64_t h0 = BlockManager::HashBlock(0, std::vector<int32_t>(a.tokens.begin(), a.tokens.begin() + kBs));
  EXPECT_EQ(events[0].hash, h0);
  EXPECT_EQ(events[1].hash, BlockManager::HashBlock(h0, std::vector<int32_t>(a.tokens.begin() + kBs, a.tokens.end())));
  bm.Release(a);  // both cached: no event
  events.clear();
  ASSERT_TRUE(bm.DrainHashEvents(events));
  EXPECT_TRUE(events.empty());
  // Another sequence needs a block: the least recently used cached one is evicted.
  Sequence b = MakeSeq(2, Range(100, kBs));
  ASSERT_TRUE(bm.EnsureCapacity(b, kBs));
  ASSERT_TRUE(bm.DrainHashEvents(events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].added);
  EXPECT_EQ(bm.RegisteredHashes().size(), 1u);
  EXPECT_NE(bm.RegisteredHashes()[0], events[0].hash);
}

TEST(BlockManagerTest, HashEventsOverflowAsksForASnapshot) {
  BlockManager bm(8, kBs);
  Sequence a = MakeSeq(1, Range(0, kBs));
  ComputeAll(bm, a);  // registered before events were on: not in any event
  bm.EnableHashEvents(2);
  std::vector<BlockHashEvent> events;
  EXPECT_FALSE(bm.DrainHashEvents(events));
  Sequence b = MakeSeq(2, Range(50, 3 * kBs));
  ComputeAll(bm, b);  // three registrations, room for two
  events.clear();
  EXPECT_FALSE(bm.DrainHashEvents(events));
  EXPECT_EQ(events.size(), 2u);
  EXPECT_EQ(bm.RegisteredHashes().size(), 4u);
  events.clear();
  EXPECT_TRUE(bm.DrainHashEvents(events));  // nothing lost since
  EXPECT_TRUE(events.empty());
}

}  // namespace
}  // namespace llmux
