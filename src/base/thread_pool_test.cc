#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace llmux {
namespace {

TEST(ThreadPoolTest, ParallelForVisitsEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(1000);
    for (int round = 0; round < 50; ++round) {
      pool.ParallelFor(1000, 7, [&](int64_t i) { hits[i].fetch_add(1); });
    }
    for (auto& h : hits) EXPECT_EQ(h.load(), 50);
  }
}

TEST(ThreadPoolTest, RunOnAllGivesDistinctIndices) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> seen(3);
  std::atomic<int> nth_seen{0};
  pool.RunOnAll([&](int ith, int nth) {
    seen[ith].fetch_add(1);
    nth_seen = nth;
  });
  EXPECT_EQ(nth_seen.load(), 3);
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
}

TEST(ThreadPoolTest, ManyShortJobsAfterIdle) {
  ThreadPool pool(2);
  int64_t total = 0;
  for (int round = 0; round < 2000; ++round) {
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(10, 1, [&](int64_t i) { sum += i; });
    total += sum.load();
  }
  EXPECT_EQ(total, 2000 * 45);
}

TEST(ThreadPoolTest, RunSharedRunsOnCallerWithDistinctIndices) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 200; ++round) {
      std::vector<std::atomic<int>> seen(threads);
      std::atomic<int64_t> next{0}, sum{0};
      pool.RunShared([&](int ith, int nth) {
        EXPECT_EQ(nth, threads);
        seen[ith].fetch_add(1);
        for (int64_t i; (i = next.fetch_add(1)) < 100;) sum += i;
      });
      EXPECT_EQ(sum.load(), 4950);
      EXPECT_EQ(seen[0].load(), 1);  // the caller always takes part
      for (auto& s : seen) EXPECT_LE(s.load(), 1);
    }
  }
}

TEST(ThreadPoolTest, RunOnAllAfterSharedJobsStillRunsEveryThreadOnce) {
  // Workers may skip shared jobs; a later RunOnAll must still reach each of them once.
  ThreadPool pool(3);
  for (int round = 0; round < 500; ++round) {
    std::atomic<int> n{0};
    pool.RunShared([&](int, int) { n.fetch_add(1); });
    EXPECT_GE(n.load(), 1);
    std::vector<std::atomic<int>> seen(3);
    pool.RunOnAll([&](int ith, int) { seen[ith].fetch_add(1); });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace llmux
