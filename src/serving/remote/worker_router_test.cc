#include "serving/remote/worker_router.h"

#include <gtest/gtest.h>

#include <map>

namespace llmux::serving {
namespace {

WorkerView W(std::string address, int outstanding, bool up = true, std::set<std::string> models = {"m"},
             bool standby = false, int capacity = 0) {
  return {std::move(address), up, standby, std::move(models), outstanding, capacity};
}

TEST(WorkerRouterTest, PicksTheLeastOutstandingLiveWorkerServingTheModel) {
  WorkerRouter router(1);
  std::vector<WorkerView> workers = {W("a", 3), W("b", 1), W("c", 0, /*up=*/false), W("d", 0, true, {"other"})};
  EXPECT_EQ(router.Pick(workers, "m", {}), 1);
  EXPECT_EQ(router.Pick(workers, "m", {"b"}), 0);      // already tried
  EXPECT_EQ(router.Pick(workers, "m", {"a", "b"}), -1);
  EXPECT_EQ(router.Pick(workers, "other", {}), 3);
  EXPECT_EQ(router.Pick(workers, "none", {}), -1);
}

TEST(WorkerRouterTest, TiesAreSharedNotAlwaysTheFirst) {
  WorkerRouter router(7);
  std::vector<WorkerView> workers = {W("a", 2), W("b", 2), W("c", 2)};
  std::map<int, int> picks;
  for (int i = 0; i < 300; ++i) ++picks[router.Pick(workers, "m", {})];
  ASSERT_EQ(picks.size(), 3u);
  for (const auto& [index, n] : picks) EXPECT_GT(n, 50) << index;
}

TEST(WorkerRouterTest, StandbysTakeRequestsOnlyWhenNoPrimaryCan) {
  WorkerRouter router(3);
  std::vector<WorkerView> workers = {W("primary", 9), W("standby", 0, true, {"m"}, /*standby=*/true)};
  EXPECT_EQ(router.Pick(workers, "m", {}), 0);
  workers[0].up = false;
  EXPECT_EQ(router.Pick(workers, "m", {}), 1);
}

TEST(WorkerRouterTest, StandbysTakeTheOverflowOfSaturatedPrimaries) {
  WorkerRouter router(5);
  std::vector<WorkerView> workers = {W("p1", 4, true, {"m"}, false, 4), W("p2", 3, true, {"m"}, false, 4),
                                     W("s", 0, true, {"m"}, /*standby=*/true, 4)};
  EXPECT_EQ(router.Pick(workers, "m", {}), 1);  // p2 has room
  workers[1].outstanding = 4;
  EXPECT_EQ(router.Pick(workers, "m", {}), 2);  // both primaries at capacity
  EXPECT_EQ(router.Pick(workers, "m", {}, RoutePolicy::kPowerOfTwo), 2);
  workers[2].outstanding = 4;  // everything saturated: the primaries take the overflow
  const int i = router.Pick(workers, "m", {});
  EXPECT_TRUE(i == 0 || i == 1) << i;
  workers[0].capacity = workers[1].capacity = 0;  // no capacity known: never saturated
  workers[0].outstanding = 100;
  EXPECT_EQ(router.Pick(workers, "m", {}), 1);
}

TEST(WorkerRouterTest, PowerOfTwoNeverPicksTheMoreLoadedOfItsTwoAndSpreads) {
  WorkerRouter router(11);
  std::vector<WorkerView> workers = {W("a", 0), W("b", 1), W("c", 2), W("d", 3)};
  std::map<int, int> picks;
  for (int i = 0; i < 4000; ++i) ++picks[router.Pick(workers, "m", {}, RoutePolicy::kPowerOfTwo)];
  // The most loaded worker loses every pair it is in; the others win in proportion to how
  // many of the 6 pairs they win: a 3/6, b 2/6, c 1/6.
  EXPECT_EQ(picks.count(3), 0u);
  EXPECT_NEAR(picks[0], 2000, 200);
  EXPECT_NEAR(picks[1], 1333, 200);
  EXPECT_NEAR(picks[2], 667, 150);
  // Down, excluded or not serving the model: never picked.
  workers[0].up = false;
  for (int i = 0; i < 200; ++i) {
    const int p = router.Pick(workers, "m", {"b"}, RoutePolicy::kPowerOfTwo);
    EXPECT_TRUE(p == 2 || p == 3) << p;
  }
  EXPECT_EQ(router.Pick({W("x", 0, true, {"other"})}, "m", {}, RoutePolicy::kPowerOfTwo), -1);
  EXPECT_EQ(router.Pick({W("x", 5)}, "m", {}, RoutePolicy::kPowerOfTwo), 0);
}

TEST(WorkerRouterTest, PolicyNamesParse) {
  for (const char* name : {"least", "p2c", "cache-aware"}) {
    Result<RoutePolicy> p = ParseRoutePolicy(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_STREQ(RoutePolicyName(*p), name);
  }
  EXPECT_EQ(ParseRoutePolicy("round-robin").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace llmux::serving
