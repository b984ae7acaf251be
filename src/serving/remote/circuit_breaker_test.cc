#include "serving/remote/circuit_breaker.h"

#include <gtest/gtest.h>

namespace llmux::serving {
namespace {

using namespace std::chrono_literals;
using Clock = CircuitBreaker::Clock;

CircuitBreakerOptions Options() {
  CircuitBreakerOptions o;
  o.consecutive_failures = 3;
  o.failure_rate = 0.5;
  o.window = 10;
  o.min_samples = 6;
  o.cool_down = 1000ms;
  o.max_cool_down = 3000ms;
  o.half_open_probes = 2;
  return o;
}

TEST(CircuitBreakerTest, OpensAfterFailuresInARowAndNotBefore) {
  CircuitBreaker b(Options());
  const Clock::time_point t0 = Clock::now();
  b.OnFailure(t0);
  b.OnFailure(t0);
  b.OnSuccess(t0);  // breaks the run
  b.OnFailure(t0);
  b.OnFailure(t0);
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_TRUE(b.CanTake(t0));
  b.OnFailure(t0);
  EXPECT_EQ(b.state(t0), BreakerState::kOpen);
  EXPECT_FALSE(b.CanTake(t0 + 999ms));
  EXPECT_EQ(b.opened(), 1);
}

TEST(CircuitBreakerTest, OpensOnTheFailureRateOverTheWindow) {
  CircuitBreaker b(Options());
  const Clock::time_point t0 = Clock::now();
  // Alternating outcomes never make three in a row, but half of them fail.
  for (int i = 0; i < 2; ++i) {
    b.OnFailure(t0);
    b.OnSuccess(t0);
  }
  EXPECT_EQ(b.state(t0), BreakerState::kClosed) << "fewer than min_samples outcomes";
  b.OnFailure(t0);
  EXPECT_EQ(b.state(t0), BreakerState::kClosed) << "5 outcomes";
  b.OnSuccess(t0);
  b.OnFailure(t0);  // 7 outcomes, 4 failures
  EXPECT_EQ(b.state(t0), BreakerState::kOpen);
}

TEST(CircuitBreakerTest, OldOutcomesLeaveTheWindow) {
  CircuitBreaker b(Options());
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 4; ++i) {
    b.OnFailure(t0);
    b.OnFailure(t0);
    b.OnSuccess(t0);
    for (int j = 0; j < 8; ++j) b.OnSuccess(t0);  // pushes the failures out of the window of 10
  }
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, HalfOpenAdmitsItsProbeQuotaAndASuccessCloses) {
  CircuitBreaker b(Options());
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 3; ++i) b.OnFailure(t0);
  const Clock::time_point t1 = t0 + 1000ms;
  EXPECT_EQ(b.state(t1), BreakerState::kHalfOpen);
  ASSERT_TRUE(b.CanTake(t1));
  b.Take(t1);
  ASSERT_TRUE(b.CanTake(t1));
  b.Take(t1);
  EXPECT_FALSE(b.CanTake(t1)) << "two probes out";
  b.OnNeutral();  // one was cancelled by its client
  EXPECT_TRUE(b.CanTake(t1));
  b.OnSuccess(t1);
  EXPECT_EQ(b.state(t1), BreakerState::kClosed);
  // Closed again with a clean slate: it takes three new failures to open.
  b.OnFailure(t1);
  b.OnFailure(t1);
  EXPECT_EQ(b.state(t1), BreakerState::kClosed);
}

TEST(CircuitBreakerTest, AFailedProbeReopensForLongerUpToTheCap) {
  CircuitBreaker b(Options());
  Clock::time_point t = Clock::now();
  for (int i = 0; i < 3; ++i) b.OnFailure(t);
  const std::chrono::milliseconds expected[] = {2000ms, 3000ms, 3000ms};
  t += 1000ms;
  for (std::chrono::milliseconds cool_down : expected) {
    ASSERT_EQ(b.state(t), BreakerState::kHalfOpen);
    b.Take(t);
    b.OnFailure(t);
    EXPECT_EQ(b.state(t + cool_down - 1ms), BreakerState::kOpen);
    t += cool_down;
  }
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
  b.OnSuccess(t);
  // Closed resets the cool-down.
  for (int i = 0; i < 3; ++i) b.OnFailure(t);
  EXPECT_EQ(b.state(t + 1000ms), BreakerState::kHalfOpen);
}

TEST(CircuitBreakerTest, FailuresReportedLateWhileOpenChangeNothing) {
  CircuitBreaker b(Options());
  const Clock::time_point t = Clock::now();
  for (int i = 0; i < 3; ++i) b.OnFailure(t);
  b.OnFailure(t + 10ms);  // a call sent before it opened
  EXPECT_EQ(b.state(t + 1000ms), BreakerState::kHalfOpen);
  EXPECT_EQ(b.opened(), 1);
}

}  // namespace
}  // namespace llmux::serving
