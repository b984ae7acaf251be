#include "base/caller_shares.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace llmux {
namespace {

TEST(CallerShares, EachCallerHoldsAtMostItsShare) {
  CallerShares shares(3);
  std::vector<std::unique_ptr<CallerShares::Slot>> a;
  for (int i = 0; i < 3; ++i) {
    a.push_back(shares.TryAcquire("a"));
    ASSERT_NE(a.back(), nullptr);
  }
  EXPECT_EQ(shares.TryAcquire("a"), nullptr);
  EXPECT_EQ(shares.Held("a"), 3u);
  // Another caller is not affected by a's full share.
  auto b = shares.TryAcquire("b");
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(shares.callers(), 2u);
  // A slot given back can be taken again.
  a.pop_back();
  EXPECT_EQ(shares.Held("a"), 2u);
  EXPECT_NE(shares.TryAcquire("a"), nullptr);
}

TEST(CallerShares, ARefusedCallerLeavesNoEntryAndReleasedOnesAreForgotten) {
  CallerShares shares(1);
  {
    auto slot = shares.TryAcquire("x");
    EXPECT_EQ(shares.TryAcquire("x"), nullptr);
  }
  EXPECT_EQ(shares.Held("x"), 0u);
  EXPECT_EQ(shares.callers(), 0u);
}

TEST(CallerShares, ZeroMeansNoShareButStillCounts) {
  CallerShares shares(0);
  std::vector<std::unique_ptr<CallerShares::Slot>> slots;
  for (int i = 0; i < 100; ++i) slots.push_back(shares.TryAcquire("a"));
  for (const auto& s : slots) EXPECT_NE(s, nullptr);
  EXPECT_EQ(shares.Held("a"), 100u);
}

TEST(CallerShares, ASlotMayOutliveItsShares) {
  std::unique_ptr<CallerShares::Slot> slot;
  {
    CallerShares shares(1);
    slot = shares.TryAcquire("a");
  }
  slot.reset();  // must not touch freed memory (ASan would say so)
}

TEST(CallerShares, ConcurrentCallersNeverExceedTheShare) {
  CallerShares shares(4);
  std::atomic<int> over{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const std::string caller = t % 2 ? "odd" : "even";
      for (int i = 0; i < 2000; ++i) {
        auto slot = shares.TryAcquire(caller);
        if (slot && shares.Held(caller) > 4) ++over;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(over.load(), 0);
  EXPECT_EQ(shares.callers(), 0u);
}

}  // namespace
}  // namespace llmux
