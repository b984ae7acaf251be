// Per-key limits on a fake clock: each limit admits exactly what it should, refuses with a
// truthful Retry-After, and budgets survive a restart (they live in the store).
#include "auth/rate_limiter.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/sqlite_store.h"

namespace llmux::auth {
namespace {

Principal KeyWith(store::Limits limits, std::string subject = "key:1") {
  Principal p;
  p.subject = std::move(subject);
  p.limits = limits;
  return p;
}

class RateLimiterTest : public ::testing::Test {
 protected:
  InMemoryLimitCounters counters_;
  int64_t now_ms_ = 1'900'000'000'000;
  RateLimiter limiter_{counters_, nullptr, [this] { return now_ms_; }};
};

TEST_F(RateLimiterTest, RequestsPerMinuteIsATokenBucket) {
  const Principal p = KeyWith({.requests_per_minute = 3});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter_.Admit(p).status.ok()) << i;
  Admission refused = limiter_.Admit(p);
  ASSERT_FALSE(refused.status.ok());
  EXPECT_EQ(refused.status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status.message().find("3 requests per minute"), std::string::npos);
  EXPECT_EQ(refused.retry_after_s, 20);  // one request refills in 60 s / 3
  now_ms_ += 19'000;
  EXPECT_FALSE(limiter_.Admit(p).status.ok());
  now_ms_ += 1'000;
  EXPECT_TRUE(limiter_.Admit(p).status.ok());
  EXPECT_FALSE(limiter_.Admit(p).status.ok());
  // Another key has its own bucket.
  EXPECT_TRUE(limiter_.Admit(KeyWith({.requests_per_minute = 3}, "key:2")).status.ok());
}

TEST_F(RateLimiterTest, ConcurrencySlotsAreHeldForTheRequestsLifetime) {
  const Principal p = KeyWith({.max_concurrent = 2});
  Admission a = limiter_.Admit(p);
  Admission b = limiter_.Admit(p);
  ASSERT_TRUE(a.status.ok());
  ASSERT_TRUE(b.status.ok());
  EXPECT_FALSE(limiter_.Admit(p).status.ok());
  a.lease->Finish(10);
  EXPECT_TRUE(limiter_.Admit(p).status.ok());  // admitted and released at once
  b.lease.reset();                             // an unfinished request also frees its slot
  Admission c = limiter_.Admit(p), d = limiter_.Admit(p);
  EXPECT_TRUE(c.status.ok());
  EXPECT_TRUE(d.status.ok());
}

TEST_F(RateLimiterTest, ConcurrencyHoldsAcrossThreads) {
  const Principal p = KeyWith({.max_concurrent = 3});
  std::atomic<int> inside{0}, most{0}, admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        Admission a = limiter_.Admit(p);
        if (!a.status.ok()) continue;
        ++admitted;
        const int now = ++inside;
        int prev = most.load();
        while (now > prev && !most.compare_exchange_weak(prev, now)) {
        }
        --inside;
        a.lease->Finish(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GT(admitted.load(), 0);
}

TEST_F(RateLimiterTest, TokensPerMinuteChargesWhatWasUsed) {
  const Principal p = KeyWith({.tokens_per_minute = 100});
  Admission a = limiter_.Admit(p);
  ASSERT_TRUE(a.status.ok());
  a.lease->Finish(150);  // one request may overshoot; the bucket is now at -50
  Admission refused = limiter_.Admit(p);
  ASSERT_FALSE(refused.status.ok());
  EXPECT_NE(refused.status.message().find("tokens per minute"), std::string::npos);
  // 51 tokens at 100 per minute: 30.6 s.
  EXPECT_EQ(refused.retry_after_s, 31);
  now_ms_ += 30'000;
  EXPECT_FALSE(limiter_.Admit(p).status.ok());
  now_ms_ += 1'000;
  EXPECT_TRUE(limiter_.Admit(p).status.ok());
}

TEST_F(RateLimiterTest, AUsersLimitsAreSharedByAllTheirKeys) {
  Principal laptop = KeyWith({.requests_per_minute = 10}, "key:1");
  Principal server = KeyWith({}, "key:2");
  for (Principal* p : {&laptop, &server}) {
    p->user_id = 5;
    p->user_limits = {.requests_per_minute = 3, .max_concurrent = 1};
  }
  Admission a = limiter_.Admit(laptop);
  ASSERT_TRUE(a.status.ok());
  // The user's one concurrent request is taken, whichever key asks.
  Admission b = limiter_.Admit(server);
  ASSERT_FALSE(b.status.ok());
  EXPECT_NE(b.status.message().find("this user"), std::string::npos) << b.status.message();
  a.lease->Finish(5);
  EXPECT_TRUE(limiter_.Admit(server).status.ok());
  EXPECT_TRUE(limiter_.Admit(laptop).status.ok());
  // Three requests per minute for the user in all: the fourth is refused by the user layer,
  // and the key's own bucket gets its token back.
  Admission refused = limiter_.Admit(laptop);
  ASSERT_FALSE(refused.status.ok());
  EXPECT_NE(refused.status.message().find("owner"), std::string::npos) << refused.status.message();
  Principal laptop_alone = laptop;
  laptop_alone.user_limits = {};
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(limiter_.Admit(laptop_alone).status.ok()) << i;
  EXPECT_FALSE(limiter_.Admit(laptop_alone).status.ok());  // 10 in all: 2 before + 8

  // A login token is the user: one layer, not counted twice.
  Principal token = KeyWith({.requests_per_minute = 1}, "user:9");
  token.user_id = 9;
  token.user_limits = token.limits;
  EXPECT_EQ(RateLimiter::LayersOf(token).size(), 1u);
  EXPECT_TRUE(limiter_.Admit(token).status.ok());
  EXPECT_FALSE(limiter_.Admit(token).status.ok());
}

TEST(RateLimiterBudgetTest, BudgetLivesInTheStoreAndSurvivesARestart) {
  char tmpl[] = "/tmp/llmux-limits-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string db = std::string(tmpl) + "/store.db";
  const int64_t day = 86400;
  int64_t now_ms = (1'900'000'000 / day * day + 3600) * 1000;  // one hour into a day
  const Principal p = KeyWith({.token_budget = 1000, .budget_period_seconds = day});
  {
    auto store = store::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok());
    InMemoryLimitCounters counters;
    RateLimiter limiter(counters, store->get(), [&] { return now_ms; });
    Admission a = limiter.Admit(p);
    ASSERT_TRUE(a.status.ok());
    a.lease->Finish(600);
    Admission b = limiter.Admit(p);
    ASSERT_TRUE(b.status.ok());
    b.lease->Finish(500);
    Admission refused = limiter.Admit(p);
    ASSERT_FALSE(refused.status.ok());
    EXPECT_NE(refused.status.message().find("1100 of 1000"), std::string::npos);
    EXPECT_EQ(refused.retry_after_s, day - 3600);
  }
  {
    // A restart: new counters, the store reopened. The budget is still spent.
    auto store = store::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok());
    InMemoryLimitCounters counters;
    RateLimiter limiter(counters, store->get(), [&] { return now_ms; });
    EXPECT_FALSE(limiter.Admit(p).status.ok());
    now_ms += (day - 3600) * 1000;  // the next day
    EXPECT_TRUE(limiter.Admit(p).status.ok());
  }
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace llmux::auth
