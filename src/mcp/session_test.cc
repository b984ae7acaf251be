#include "mcp/session.h"

#include <gtest/gtest.h>

#include <thread>

namespace llmux::mcp {
namespace {

using std::chrono::seconds;

std::shared_ptr<Session> MustCreate(SessionRegistry& registry, const std::string& owner,
                                    const std::string& share = "") {
  auto s = registry.Create(owner, share);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

// Orders last_used: steady_clock may tick coarsely.
void Later() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

TEST(SessionRegistryTest, RemovedSessionsAreClosedAndGone) {
  SessionRegistry registry({.max_sessions = 2, .idle_timeout = seconds(3600)});
  auto a = MustCreate(registry, "u");
  auto b = MustCreate(registry, "u");
  EXPECT_NE(a->id(), b->id());
  EXPECT_EQ(a->id().size(), 64u);
  bool cancelled = false;
  a->RegisterInFlight(1, [&] { cancelled = true; });
  EXPECT_TRUE(registry.Remove(a->id()));
  EXPECT_TRUE(cancelled);
  EXPECT_TRUE(a->closed());
  EXPECT_EQ(registry.Find(a->id()), nullptr);
  EXPECT_FALSE(registry.Remove(a->id()));
  EXPECT_EQ(registry.size(), 1u);
}

TEST(SessionRegistryTest, ACallerOverItsShareLosesItsOwnLeastRecentlyUsedIdleSession) {
  SessionRegistry registry(
      {.max_sessions = 100, .max_sessions_per_caller = 3, .idle_timeout = seconds(3600)});
  auto other = MustCreate(registry, "other");
  Later();
  auto s1 = MustCreate(registry, "k");
  Later();
  auto s2 = MustCreate(registry, "k");
  Later();
  auto s3 = MustCreate(registry, "k");
  Later();
  ASSERT_NE(registry.Find(s1->id()), nullptr);  // s1 is used again: s2 is now the oldest
  Later();
  auto s4 = MustCreate(registry, "k");
  EXPECT_EQ(registry.SizeOf("k"), 3u);
  EXPECT_EQ(registry.Find(s2->id()), nullptr);
  EXPECT_TRUE(s2->closed());
  EXPECT_FALSE(s1->closed());
  EXPECT_FALSE(s3->closed());
  // The other caller's session, older than all of them, was not touched.
  EXPECT_FALSE(other->closed());
  EXPECT_NE(registry.Find(other->id()), nullptr);
}

TEST(SessionRegistryTest, BusySessionsAreNotEvictedAndTheCallerIsToldWhy) {
  SessionRegistry registry(
      {.max_sessions = 100, .max_sessions_per_caller = 2, .idle_timeout = seconds(3600)});
  auto s1 = MustCreate(registry, "k");
  auto s2 = MustCreate(registry, "k");
  ASSERT_TRUE(s1->RegisterInFlight(1, nullptr));
  class NullOutbound : public Outbound {
   public:
    void Send(Json) override {}
    void Finish(Json) override {}
  };
  s2->AttachStream(std::make_shared<NullOutbound>());
  auto refused = registry.Create("k");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("busy"), std::string::npos);
  EXPECT_FALSE(s1->closed());
  EXPECT_FALSE(s2->closed());
  // Once a request ends, its session is idle again and may go.
  s1->UnregisterInFlight(1);
  EXPECT_NE(MustCreate(registry, "k"), nullptr);
  EXPECT_TRUE(s1->closed());
  EXPECT_FALSE(s2->closed());
  // Others are not limited by k's share.
  EXPECT_NE(MustCreate(registry, "admin"), nullptr);
}

TEST(SessionRegistryTest, AFullRegistryTakesFromTheLargestHolder) {
  SessionRegistry registry(
      {.max_sessions = 4, .max_sessions_per_caller = 3, .idle_timeout = seconds(3600)});
  auto b = MustCreate(registry, "b");  // the oldest session of all
  Later();
  auto a1 = MustCreate(registry, "a");
  Later();
  auto a2 = MustCreate(registry, "a");
  Later();
  auto a3 = MustCreate(registry, "a");
  ASSERT_EQ(registry.size(), 4u);
  auto c = MustCreate(registry, "c");
  EXPECT_EQ(registry.size(), 4u);
  EXPECT_TRUE(a1->closed());
  EXPECT_FALSE(b->closed());
  EXPECT_EQ(registry.SizeOf("a"), 2u);
  EXPECT_EQ(registry.SizeOf("c"), 1u);
}

TEST(SessionRegistryTest, AFullRegistryOfBusySessionsRefuses) {
  SessionRegistry registry(
      {.max_sessions = 2, .max_sessions_per_caller = 2, .idle_timeout = seconds(3600)});
  auto a = MustCreate(registry, "a");
  auto b = MustCreate(registry, "b");
  a->RegisterInFlight(1, nullptr);
  b->RegisterInFlight(1, nullptr);
  auto refused = registry.Create("c");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kResourceExhausted);
}

TEST(SessionRegistryTest, KeysOfOneUserShareOneShare) {
  SessionRegistry registry(
      {.max_sessions = 100, .max_sessions_per_caller = 2, .idle_timeout = seconds(3600)});
  auto k1 = MustCreate(registry, "key:1", "user:7");
  Later();
  auto k2 = MustCreate(registry, "key:2", "user:7");
  Later();
  auto k3 = MustCreate(registry, "key:3", "user:7");
  EXPECT_EQ(registry.SizeOf("user:7"), 2u);
  EXPECT_TRUE(k1->closed());
  EXPECT_EQ(k2->owner(), "key:2");  // only the owner may still use it
  EXPECT_EQ(k3->share(), "user:7");
}

// The reported case: one caller opening sessions as fast as it can no longer locks anyone
// out; it only ends its own old ones.
TEST(SessionRegistryTest, OneCallerOpeningTenThousandSessionsLeavesRoomForOthers) {
  SessionRegistry registry;
  std::vector<std::shared_ptr<Session>> opened;
  for (int i = 0; i < 10000; ++i) {
    auto s = registry.Create("key:9", "user:2");
    ASSERT_TRUE(s.ok()) << i << ": " << s.status().ToString();
    opened.push_back(*s);
  }
  EXPECT_EQ(registry.SizeOf("user:2"), 100u);
  EXPECT_EQ(registry.size(), 100u);
  // The newest stay open.
  EXPECT_FALSE(opened.back()->closed());
  EXPECT_TRUE(opened.front()->closed());
  EXPECT_NE(MustCreate(registry, "user:1"), nullptr);
}

TEST(SessionRegistryTest, IdleSessionsExpire) {
  SessionRegistry registry({.max_sessions = 2, .idle_timeout = seconds(0)});
  auto a = MustCreate(registry, "u");
  Later();
  // A full registry always walks for expired sessions first.
  auto b = MustCreate(registry, "u");
  auto c = MustCreate(registry, "u");
  EXPECT_TRUE(a->closed());
  EXPECT_LE(registry.size(), 2u);
  EXPECT_NE(c, nullptr);
}

}  // namespace
}  // namespace llmux::mcp
