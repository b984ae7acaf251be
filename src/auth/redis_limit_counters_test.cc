// Per-key limits shared by two "gateways" (two RateLimiters, each with its own connection) through
// a real redis-server started for the test: a key's limits hold in sum, and without Redis each
// gateway falls back to its own memory.
#include "auth/redis_limit_counters.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "auth/rate_limiter.h"
#include "tests/support/free_port.h"

namespace llmux::auth {
namespace {

// A redis-server on a free loopback port, without persistence, stopped with the test.
class RedisProcess {
 public:
  RedisProcess() : port_(testing::FreeLoopbackPort()) {
    dir_ = std::filesystem::temp_directory_path() / ("llmux-redis-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    Start();
  }
  ~RedisProcess() {
    Stop();
    std::filesystem::remove_all(dir_);
  }
  void Start() {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", port.c_str(), "--dir",
             dir_.c_str(), "--save", "", "--appendonly", "no", "--loglevel", "warning",
             static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits (bounded) until the server answers through `counters`.
  bool WaitReady(RedisLimitCounters& counters) {
    for (int i = 0; i < 200; ++i) {
      counters.TryAcquireSlot("ready-probe", 1000000);
      if (counters.connected()) {
        counters.ReleaseSlot("ready-probe");
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  int port() const { return port_; }

 private:
  int port_;
  pid_t pid_ = -1;
  std::filesystem::path dir_;
};

RedisLimitOptions OptionsFor(int port) {
  RedisLimitOptions o;
  o.port = port;
  o.retry_interval = std::chrono::milliseconds(10);
  o.key_prefix = "test:" + std::to_string(getpid()) + ":";
  return o;
}

Principal KeyWith(Limits limits) {
  Principal p;
  p.subject = "key:7";
  p.limits = limits;
  return p;
}

class RedisLimitCountersTest : public ::testing::Test {
 protected:
  RedisProcess redis_;
  RedisLimitCounters gateway_a_{OptionsFor(redis_.port())};
  RedisLimitCounters gateway_b_{OptionsFor(redis_.port())};
  RateLimiter limiter_a_{gateway_a_, nullptr};
  RateLimiter limiter_b_{gateway_b_, nullptr};
  void SetUp() override { ASSERT_TRUE(redis_.WaitReady(gateway_a_)); }
};

TEST_F(RedisLimitCountersTest, RequestsPerMinuteHoldInSumAcrossGateways) {
  const Principal key = KeyWith({.requests_per_minute = 10});
  int admitted = 0;
  for (int i = 0; i < 20; ++i) {
    RateLimiter& limiter = i % 2 == 0 ? limiter_a_ : limiter_b_;
    Admission a = limiter.Admit(key);
    if (a.status.ok()) {
      ++admitted;
    } else {
      EXPECT_EQ(a.status.code(), StatusCode::kResourceExhausted);
      EXPECT_GE(a.retry_after_s, 1);
    }
  }
  EXPECT_EQ(admitted, 10);  // each gateway alone would have admitted 10
  EXPECT_TRUE(gateway_a_.connected());
  EXPECT_TRUE(gateway_b_.connected());
}

TEST_F(RedisLimitCountersTest, ConcurrencySlotsHoldInSumAndComeBack) {
  const Principal key = KeyWith({.max_concurrent = 3});
  std::vector<std::unique_ptr<UsageLease>> leases;
  for (int i = 0; i < 3; ++i) {
    Admission a = (i % 2 == 0 ? limiter_a_ : limiter_b_).Admit(key);
    ASSERT_TRUE(a.status.ok()) << i;
    leases.push_back(std::move(a.lease));
  }
  EXPECT_FALSE(limiter_a_.Admit(key).status.ok());
  EXPECT_FALSE(limiter_b_.Admit(key).status.ok());
  leases.pop_back();  // a request ends on one gateway: the other may start one
  Admission again = limiter_b_.Admit(key);
  EXPECT_TRUE(again.status.ok());
}

TEST_F(RedisLimitCountersTest, TokensChargedOnOneGatewayCountOnTheOther) {
  const Principal key = KeyWith({.tokens_per_minute = 100});
  Admission a = limiter_a_.Admit(key);
  ASSERT_TRUE(a.status.ok());
  a.lease->Finish(150);  // over the budget: the bucket goes below zero
  Admission b = limiter_b_.Admit(key);
  ASSERT_FALSE(b.status.ok());
  EXPECT_NE(b.status.message().find("tokens per minute"), std::string::npos) << b.status.message();
}

TEST_F(RedisLimitCountersTest, WithoutRedisEachGatewayFallsBackToItsOwnMemory) {
  redis_.Stop();
  const Principal key = KeyWith({.requests_per_minute = 2});
  int admitted_a = 0, admitted_b = 0;
  for (int i = 0; i < 4; ++i) admitted_a += limiter_a_.Admit(key).status.ok() ? 1 : 0;
  for (int i = 0; i < 4; ++i) admitted_b += limiter_b_.Admit(key).status.ok() ? 1 : 0;
  EXPECT_EQ(admitted_a, 2);  // still limited, now per gateway
  EXPECT_EQ(admitted_b, 2);
  EXPECT_FALSE(gateway_a_.connected());

  redis_.Start();  // back: the shared counters answer again
  ASSERT_TRUE(redis_.WaitReady(gateway_a_));
  Principal other_key = KeyWith({.requests_per_minute = 1});
  other_key.subject = "key:8";
  EXPECT_TRUE(limiter_a_.Admit(other_key).status.ok());
  EXPECT_FALSE(limiter_b_.Admit(other_key).status.ok());
}

TEST(RedisAddressTest, ParsesHostAndPort) {
  RedisLimitOptions o;
  ASSERT_TRUE(RedisLimitCounters::ParseAddress("10.0.0.5:6380", &o).ok());
  EXPECT_EQ(o.host, "10.0.0.5");
  EXPECT_EQ(o.port, 6380);
  ASSERT_TRUE(RedisLimitCounters::ParseAddress("[::1]:6379", &o).ok());
  EXPECT_EQ(o.host, "::1");
  EXPECT_FALSE(RedisLimitCounters::ParseAddress("redis", &o).ok());
  EXPECT_FALSE(RedisLimitCounters::ParseAddress("h:0", &o).ok());
  EXPECT_FALSE(RedisLimitCounters::ParseAddress("h:65536", &o).ok());
  EXPECT_FALSE(RedisLimitCounters::ParseAddress("h:6379x", &o).ok());
}

}  // namespace
}  // namespace llmux::auth
