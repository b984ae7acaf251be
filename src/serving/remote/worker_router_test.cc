#include "serving/remote/worker_router.h"

#include <gtest/gtest.h>

#include <map>

namespace llmux::serving {
namespace {

WorkerView W(std::string address, int outstanding, bool up = true, std::set<std::string> models = {"m"},
             bool standby = false) {
  return {std::move(address), up, standby, std::move(models), outstanding};
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

}  // namespace
}  // namespace llmux::serving
