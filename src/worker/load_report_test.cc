#include "worker/load_report.h"

#include <gtest/gtest.h>

namespace llmux::worker {
namespace {

class FakeSource : public serving::ModelLoadSource {
 public:
  std::vector<serving::ModelLoad> ModelLoads(const std::map<std::string, serving::PrefixCursor>& cursors,
                                             size_t max_hashes) const override {
    seen_cursors = cursors;
    seen_max = max_hashes;
    serving::ModelLoad m;
    m.model = "m";
    m.running = 2;
    m.waiting = 3;
    m.kv_blocks_total = 50;
    m.kv_blocks_used = 20;
    m.kv_blocks_free = 30;
    m.block_size = 16;
    m.prefix = {.epoch = 4, .seq = 8, .full = false, .added = {1, 2}, .evicted = {3}};
    return {m};
  }
  Result<std::string> VocabGguf(const std::string&) const override { return std::string(); }
  mutable std::map<std::string, serving::PrefixCursor> seen_cursors;
  mutable size_t seen_max = 0;
};

TEST(LoadReportTest, PerModelLoadAndHashesSinceTheCursor) {
  FakeSource source;
  v1::LoadRequest request;
  request.set_prefix_cache(true);
  request.set_max_prefix_hashes(1u << 30);  // capped
  v1::PrefixCacheCursor* c = request.add_prefix_cursors();
  c->set_model("m");
  c->set_epoch(4);
  c->set_seq(6);
  v1::LoadReport report;
  FillModelLoads(source, request, report);
  EXPECT_EQ(source.seen_max, kMaxPrefixHashes);
  ASSERT_EQ(source.seen_cursors.count("m"), 1u);
  EXPECT_EQ(source.seen_cursors["m"].seq, 6u);
  ASSERT_EQ(report.models_size(), 1);
  const v1::ModelLoad& m = report.models(0);
  EXPECT_EQ(m.running(), 2);
  EXPECT_EQ(m.waiting(), 3);
  EXPECT_EQ(m.kv_blocks_used(), 20);
  EXPECT_EQ(m.block_size(), 16);
  EXPECT_EQ(m.prefix_epoch(), 4u);
  EXPECT_EQ(m.prefix_seq(), 8u);
  EXPECT_EQ(m.prefix_added_size(), 2);
  EXPECT_EQ(m.prefix_evicted_size(), 1);
}

TEST(LoadReportTest, WithoutPrefixCacheNoHashesAndCursorsAreBounded) {
  FakeSource source;
  v1::LoadRequest request;
  for (int i = 0; i < kMaxPrefixCursors + 10; ++i) request.add_prefix_cursors()->set_model("m" + std::to_string(i));
  v1::LoadReport report;
  FillModelLoads(source, request, report);
  EXPECT_EQ(source.seen_max, 0u);
  EXPECT_EQ(source.seen_cursors.size(), static_cast<size_t>(kMaxPrefixCursors));
  ASSERT_EQ(report.models_size(), 1);
  EXPECT_EQ(report.models(0).kv_blocks_total(), 50);
  EXPECT_EQ(report.models(0).prefix_added_size(), 0);
  EXPECT_EQ(report.models(0).prefix_seq(), 0u);
}

}  // namespace
}  // namespace llmux::worker
