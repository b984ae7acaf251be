#include "base/fair_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace llmux {
namespace {

using namespace std::chrono_literals;

// A gate the blocking jobs wait on (like submits to a worker that does not answer).
struct Gate {
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return open; });
  }
  void Open() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
};

template <typename Pred>
bool WaitFor(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// One caller's 10 blocked jobs hold its share (2 of 4 threads); another caller's jobs still
// run at once.
TEST(FairPoolTest, ACallersBlockedJobsHoldOnlyItsShare) {
  Gate gate;
  std::atomic<int> others{0};
  {
    FairPool pool(4, 2);
    for (int i = 0; i < 10; ++i) pool.Post("hog", [&gate] { gate.Wait(); });
    ASSERT_TRUE(WaitFor([&] { return pool.Running("hog") == 2; }));
    EXPECT_EQ(pool.Waiting("hog"), 8u);
    for (int i = 0; i < 5; ++i) pool.Post("other", [&others] { ++others; });
    EXPECT_TRUE(WaitFor([&] { return others.load() == 5; }));
    EXPECT_EQ(pool.Running("hog"), 2u) << "the other caller's jobs let no more of the hog's run";
    gate.Open();
    EXPECT_TRUE(WaitFor([&] { return pool.Running("hog") == 0 && pool.Waiting("hog") == 0; }));
  }
}

// With no share, one caller may take every thread.
TEST(FairPoolTest, WithoutAShareOneCallerMayUseEveryThread) {
  Gate gate;
  FairPool pool(3, 0);
  for (int i = 0; i < 5; ++i) pool.Post("a", [&gate] { gate.Wait(); });
  EXPECT_TRUE(WaitFor([&] { return pool.Running("a") == 3; }));
  EXPECT_EQ(pool.Waiting("a"), 2u);
  gate.Open();
}

// Callers take turns: on one thread, jobs posted as a a a a b b run as a b a b a a.
TEST(FairPoolTest, CallersWithWaitingJobsTakeTurns) {
  Gate gate;
  std::mutex mu;
  std::vector<char> order;
  {
    FairPool pool(1, 0);
    pool.Post("blocker", [&gate] { gate.Wait(); });  // holds the thread while the rest queue
    ASSERT_TRUE(WaitFor([&] { return pool.Running("blocker") == 1; }));
    auto record = [&](char c) {
      return [&mu, &order, c] {
        std::lock_guard lock(mu);
        order.push_back(c);
      };
    };
    for (int i = 0; i < 4; ++i) pool.Post("a", record('a'));
    for (int i = 0; i < 2; ++i) pool.Post("b", record('b'));
    gate.Open();
  }  // the destructor runs what was posted
  EXPECT_EQ(std::string(order.begin(), order.end()), "ababaa");
}

TEST(FairPoolTest, TheDestructorRunsWhatWasPosted) {
  std::atomic<int> ran{0};
  {
    FairPool pool(2, 1);
    for (int i = 0; i < 50; ++i) pool.Post(i % 2 ? "x" : "y", [&ran] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace llmux
