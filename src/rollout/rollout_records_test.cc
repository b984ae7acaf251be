// The rollout's etcd values: what is written reads back the same; what anyone else may have
// written is refused unless it is a valid value within the size bound.
#include "rollout/rollout_records.h"

#include <gtest/gtest.h>

namespace llmux::rollout {
namespace {

DeployPlan Plan() {
  return {.id = "123-abc",
          .model = "stories",
          .version = "v2",
          .path = "/models/stories.gguf",
          .workers = {"w1", "w2"},
          .deadline_unix_ms = 1700000000000,
          .state = DeployState::kPreparing};
}

TEST(RolloutRecordsTest, PlansReportsAndRoutesRoundTrip) {
  DeployPlan plan = Plan();
  Result<DeployPlan> back = DecodeDeployPlan(EncodeDeployPlan(plan));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, plan);
  plan.state = DeployState::kAborted;
  plan.reason = "worker w2: failed: no such file";
  EXPECT_EQ(*DecodeDeployPlan(EncodeDeployPlan(plan)), plan);
  EXPECT_EQ(ServedName(plan), "stories@v2");

  WorkerReport failed{false, "bad file"};
  EXPECT_EQ(*DecodeWorkerReport(EncodeWorkerReport(failed)), failed);
  EXPECT_TRUE(DecodeWorkerReport(EncodeWorkerReport({true, ""}))->ready);

  Route route{"v2", "stories@v2", "123-abc"};
  EXPECT_EQ(*DecodeRoute(EncodeRoute(route)), route);
}

TEST(RolloutRecordsTest, HostileValuesAreRefused) {
  EXPECT_FALSE(DecodeDeployPlan("not json").ok());
  EXPECT_FALSE(DecodeDeployPlan("[]").ok());
  EXPECT_FALSE(DecodeDeployPlan(R"({"id":"x","model":"m","version":"v","path":"p",
      "workers":[],"deadline_unix_ms":1,"state":"preparing"})").ok());  // no workers
  EXPECT_FALSE(DecodeDeployPlan(R"({"id":"x","model":"m","version":"v","path":"p",
      "workers":["a","a"],"deadline_unix_ms":1,"state":"preparing"})").ok());  // twice
  EXPECT_FALSE(DecodeDeployPlan(R"({"id":"x","model":"m","version":"v/../x","path":"p",
      "workers":["a"],"deadline_unix_ms":1,"state":"preparing"})").ok());
  EXPECT_FALSE(DecodeDeployPlan(R"({"id":"x","model":"m","version":"v","path":"p",
      "workers":["a"],"deadline_unix_ms":1,"state":"done"})").ok());
  EXPECT_FALSE(DecodeDeployPlan(R"({"id":"x","model":"m","version":"v","path":"p",
      "workers":["a"],"deadline_unix_ms":"1","state":"preparing"})").ok());
  EXPECT_FALSE(DecodeWorkerReport(R"({"state":"maybe"})").ok());
  EXPECT_FALSE(DecodeRoute(R"({"served":""})").ok());
  EXPECT_FALSE(DecodeRoute(R"({"served":7})").ok());
  // Over the bound: refused before parsing, however valid.
  std::string big = R"({"served":"stories@v2","pad":")" + std::string(kMaxRolloutValueBytes, 'x') + "\"}";
  EXPECT_FALSE(DecodeRoute(big).ok());
}

TEST(RolloutRecordsTest, KeysParseBackAndOthersDoNot) {
  const std::string p = "/llmux/";
  EXPECT_EQ(PlanKey(p, "d1"), "/llmux/deploys/d1");
  EXPECT_EQ(ReportKey(p, "d1", "w1"), "/llmux/deploys/d1/workers/w1");
  EXPECT_EQ(RouteKey(p, "org/model"), "/llmux/routes/org/model");
  auto plan = ParseDeployKey(p, "/llmux/deploys/d1");
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->deploy_id, "d1");
  EXPECT_TRUE(plan->worker_id.empty());
  auto report = ParseDeployKey(p, "/llmux/deploys/d1/workers/w1");
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->worker_id, "w1");
  EXPECT_FALSE(ParseDeployKey(p, "/llmux/deploys/d1/other/w1").has_value());
  EXPECT_FALSE(ParseDeployKey(p, "/llmux/deploys/d1/workers/").has_value());
  EXPECT_FALSE(ParseDeployKey(p, "/llmux/deploys/d1/workers/a/b").has_value());
  EXPECT_FALSE(ParseDeployKey(p, "/llmux/workers/w1").has_value());
}

}  // namespace
}  // namespace llmux::rollout
