#include "gateway/openai/response_store.h"

#include <gtest/gtest.h>

#include "gateway/openai/responses_request.h"

namespace llmux::gateway {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  std::chrono::steady_clock::time_point t{};
  auto fn() {
    return [this] { return t; };
  }
};

std::vector<chat::Message> Conv(const std::string& text) { return {MakeMessage("user", text)}; }

TEST(ResponseStoreTest, KeepsAndReturnsConversation) {
  ResponseStore store;
  store.Put("alice", "resp_1", Conv("hello"));
  auto got = store.Get("alice", "resp_1");
  ASSERT_TRUE(got.has_value());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].content, "hello");
  EXPECT_FALSE(store.Get("alice", "resp_2").has_value());
}

TEST(ResponseStoreTest, CallersOnlySeeTheirOwn) {
  ResponseStore store;
  store.Put("alice", "resp_1", Conv("secret"));
  EXPECT_FALSE(store.Get("bob", "resp_1").has_value());
  EXPECT_FALSE(store.Get("", "resp_1").has_value());
  EXPECT_TRUE(store.Get("alice", "resp_1").has_value());
}

TEST(ResponseStoreTest, ExpiresAfterTtl) {
  FakeClock clock;
  ResponseStore store(
      {.capacity = 10, .per_caller = 10, .max_bytes = 1 << 20, .ttl = 60s, .now = clock.fn()});
  store.Put("alice", "resp_1", Conv("a"));
  clock.t += 59s;
  EXPECT_TRUE(store.Get("alice", "resp_1").has_value());
  clock.t += 1s;
  EXPECT_FALSE(store.Get("alice", "resp_1").has_value());
  EXPECT_EQ(store.size(), 0u);
}

TEST(ResponseStoreTest, DropsOldestPastCapacity) {
  FakeClock clock;
  ResponseStore store(
      {.capacity = 3, .per_caller = 3, .max_bytes = 1 << 20, .ttl = 3600s, .now = clock.fn()});
  for (int i = 0; i < 5; ++i) {
    store.Put(i % 2 ? "bob" : "alice", "resp_" + std::to_string(i), Conv("x"));
    clock.t += 1s;
  }
  EXPECT_EQ(store.size(), 3u);
  EXPECT_FALSE(store.Get("alice", "resp_0").has_value());
  EXPECT_FALSE(store.Get("bob", "resp_1").has_value());
  EXPECT_TRUE(store.Get("alice", "resp_2").has_value());
  EXPECT_TRUE(store.Get("alice", "resp_4").has_value());
}

TEST(ResponseStoreTest, OneCallerCannotFillTheStore) {
  FakeClock clock;
  ResponseStore store(
      {.capacity = 10, .per_caller = 2, .max_bytes = 1 << 20, .ttl = 3600s, .now = clock.fn()});
  store.Put("bob", "resp_b", Conv("bob's"));
  for (int i = 0; i < 20; ++i) store.Put("mallory", "resp_" + std::to_string(i), Conv("x"));
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.Get("bob", "resp_b").has_value());
  EXPECT_TRUE(store.Get("mallory", "resp_19").has_value());
  EXPECT_FALSE(store.Get("mallory", "resp_17").has_value());
}

TEST(ResponseStoreTest, BoundsTheTextKept) {
  FakeClock clock;
  ResponseStore store(
      {.capacity = 100, .per_caller = 100, .max_bytes = 4000, .ttl = 3600s, .now = clock.fn()});
  store.Put("alice", "big", Conv(std::string(1001, 'x')));  // over alice's quarter: not kept
  EXPECT_FALSE(store.Get("alice", "big").has_value());
  for (int i = 0; i < 4; ++i)
    store.Put("alice", "resp_" + std::to_string(i), Conv(std::string(400, 'x')));
  EXPECT_FALSE(store.Get("alice", "resp_0").has_value());  // 4 x 404 bytes > 1000: the oldest went
  EXPECT_FALSE(store.Get("alice", "resp_1").has_value());
  EXPECT_TRUE(store.Get("alice", "resp_3").has_value());
  store.Put("bob", "b", Conv(std::string(400, 'y')));
  EXPECT_TRUE(store.Get("alice", "resp_3").has_value());
  EXPECT_TRUE(store.Get("bob", "b").has_value());
}

}  // namespace
}  // namespace llmux::gateway
