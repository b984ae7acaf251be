#include "serving/remote/cache_aware_policy.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

WorkerView W(std::string address, int outstanding, bool standby = false) {
  return {std::move(address), true, standby, {"m"}, outstanding};
}

PrefixIndex Holding(std::vector<uint64_t> hashes, int running = 0, int waiting = 0) {
  PrefixIndex index;
  ModelLoad m;
  m.model = "m";
  m.running = running;
  m.waiting = waiting;
  m.prefix.full = true;
  m.prefix.epoch = 1;
  m.prefix.added = std::move(hashes);
  index.Apply(std::move(m));
  return index;
}

TEST(CacheAwarePolicyTest, TheLongestPrefixWinsOverLeastOutstanding) {
  CacheAwarePolicy policy({.max_load = 4}, 1);
  const std::vector<WorkerView> workers = {W("a", 0), W("b", 2), W("c", 1)};
  PrefixIndex a = Holding({1}), b = Holding({1, 2, 3}), c;
  const std::vector<const PrefixIndex*> indexes = {&a, &b, &c};
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {1, 2, 3, 4}), 1);
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {"b"}, {1, 2, 3, 4}), 0);  // b already tried
  // No worker holds the first block: least outstanding.
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {7, 1, 2}), 0);
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {}), 0);
  EXPECT_EQ(policy.Pick(workers, indexes, "none", {}, {1}), -1);
}

TEST(CacheAwarePolicyTest, AnOverloadedHolderFallsBackToLeastOutstanding) {
  CacheAwarePolicy policy({.max_load = 3}, 1);
  std::vector<WorkerView> workers = {W("a", 2), W("b", 1)};
  PrefixIndex a = Holding({1, 2}), b;
  std::vector<const PrefixIndex*> indexes = {&a, &b};
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {1, 2}), 0);
  workers[0].outstanding = 3;  // at the threshold
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {1, 2}), 1);
  // The worker's own report counts too (other gateways' requests).
  workers[0].outstanding = 0;
  PrefixIndex busy = Holding({1, 2}, /*running=*/2, /*waiting=*/1);
  indexes[0] = &busy;
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {1, 2}), 1);
  EXPECT_EQ(CacheAwarePolicy::Load(workers[0], &busy, "m"), 3);
}

TEST(CacheAwarePolicyTest, EqualMatchesGoToTheLessLoadedAndStandbysWait) {
  CacheAwarePolicy policy({.max_load = 8}, 1);
  const std::vector<WorkerView> workers = {W("a", 3), W("b", 1), W("s", 0, /*standby=*/true)};
  PrefixIndex a = Holding({1, 2}), b = Holding({1, 2}), s = Holding({1, 2, 3});
  const std::vector<const PrefixIndex*> indexes = {&a, &b, &s};
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {}, {1, 2, 3}), 1);
  EXPECT_EQ(policy.Pick(workers, indexes, "m", {"a", "b"}, {1, 2, 3}), 2);
}

}  // namespace
}  // namespace llmux::serving
