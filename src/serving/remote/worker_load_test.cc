#include "serving/remote/worker_load.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace llmux::serving {
namespace {

namespace pb = ::llmux::worker::v1;

TEST(WorkerLoadTest, TheRequestCarriesTheIndexCursors) {
  PrefixIndex index;
  ModelLoad m;
  m.model = "m";
  m.prefix = {.epoch = 5, .seq = 9, .full = true, .added = {1}};
  index.Apply(m);
  pb::LoadRequest with = MakeLoadRequest(index, true);
  EXPECT_TRUE(with.prefix_cache());
  ASSERT_EQ(with.prefix_cursors_size(), 1);
  EXPECT_EQ(with.prefix_cursors(0).model(), "m");
  EXPECT_EQ(with.prefix_cursors(0).epoch(), 5u);
  EXPECT_EQ(with.prefix_cursors(0).seq(), 9u);
  pb::LoadRequest without = MakeLoadRequest(index, false);
  EXPECT_FALSE(without.prefix_cache());
  EXPECT_EQ(without.prefix_cursors_size(), 0);
}

TEST(WorkerLoadTest, ReportsAreReadWithinBounds) {
  pb::LoadReport report;
  for (int i = 0; i < kMaxReportedModels + 5; ++i) {
    pb::ModelLoad* m = report.add_models();
    m->set_model("m" + std::to_string(i));
    m->set_kv_blocks_total(10);
    m->set_kv_blocks_used(99);  // more than the total: clamped
    m->set_running(-3);         // negative: 0
    m->set_prefix_full(true);
    m->add_prefix_added(7);
  }
  std::vector<ModelLoad> loads = ModelLoadsFromProto(report);
  ASSERT_EQ(loads.size(), static_cast<size_t>(kMaxReportedModels));
  EXPECT_EQ(loads[0].kv_blocks_used, 10);
  EXPECT_EQ(loads[0].running, 0);
  EXPECT_TRUE(loads[0].prefix.full);
  EXPECT_EQ(loads[0].prefix.added, (std::vector<uint64_t>{7}));
}

TEST(WorkerLoadTest, GaugesSumOverWorkersAndDropModelsNoOneReports) {
  PrefixIndex a, b;
  ModelLoad m;
  m.model = "m";
  m.running = 1;
  m.waiting = 2;
  m.kv_blocks_total = 100;
  m.kv_blocks_used = 10;
  a.Apply(m);
  m.waiting = 3;
  m.kv_blocks_used = 40;
  b.Apply(m);
  std::map<std::string, ModelLoadTotals> totals;
  AddModelLoads(a, totals);
  AddModelLoads(b, totals);
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals["m"].workers, 2);
  EXPECT_EQ(totals["m"].waiting, 5);
  EXPECT_DOUBLE_EQ(totals["m"].kv_used_ratio(), 0.25);

  prometheus::Registry registry;
  ModelLoadGauges gauges(registry);
  gauges.Update(totals);
  prometheus::TextSerializer serializer;
  std::string text = serializer.Serialize(registry.Collect());
  EXPECT_NE(text.find("llmux_gateway_model_waiting{model=\"m\"} 5"), std::string::npos) << text;
  EXPECT_NE(text.find("llmux_gateway_model_kv_used_ratio{model=\"m\"} 0.25"), std::string::npos) << text;
  gauges.Update({});
  text = serializer.Serialize(registry.Collect());
  EXPECT_EQ(text.find("model=\"m\""), std::string::npos) << text;
}

}  // namespace
}  // namespace llmux::serving
