// MetricHistory over synthetic events and a clock the test moves: each expected value is
// computed here from the events the test made (rates by counting, percentiles by sorting the
// samples), not read back from the class.
#include "serving/metric_history.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace llmux::serving {
namespace {

// The nearest-rank percentile of `v`, the definition the history documents.
double NearestRank(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * v.size())));
  return v[rank - 1];
}

// The histogram's buckets are 4% wide and report their geometric middle: within 2%.
void ExpectNear(std::optional<double> got, double want) {
  ASSERT_TRUE(got.has_value());
  EXPECT_NEAR(*got, want, want * 0.021) << "want " << want;
}

struct FakeClock {
  int64_t now = 6000;  // a whole minute
  MetricHistory::Clock fn() {
    return [this] { return now; };
  }
};

TEST(MetricHistoryTest, RatesPerSecondOverallAndPerModel) {
  FakeClock clock;
  MetricHistory h({}, clock.fn());
  // Second 6000: a finishes 3 requests (one an error), b one.
  h.RequestFinished("a", false, 10, 20);
  h.RequestFinished("a", true, 5, 0);
  h.RequestFinished("a", false, 7, 9);
  h.RequestFinished("b", false, 100, 1);
  clock.now = 6001;  // second 6001: nothing; 6002: one request of b
  clock.now = 6002;
  h.RequestFinished("b", false, 3, 4);
  clock.now = 6004;

  auto all = h.Query(HistoryResolution::kSecond, "", 0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->resolution_s, 1);
  EXPECT_EQ(all->now, 6004);
  EXPECT_EQ(all->models, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(all->points.size(), 4u);  // 6000..6003; 6004 is still open
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(all->points[i].t, 6000 + static_cast<int64_t>(i));
  EXPECT_EQ(all->points[0].requests_per_s, 4);
  EXPECT_EQ(all->points[0].errors_per_s, 1);
  EXPECT_EQ(all->points[0].prompt_tokens_per_s, 10 + 5 + 7 + 100);
  EXPECT_EQ(all->points[0].generated_tokens_per_s, 20 + 0 + 9 + 1);
  EXPECT_EQ(all->points[1].requests_per_s, 0);
  EXPECT_EQ(all->points[2].requests_per_s, 1);
  EXPECT_EQ(all->points[2].generated_tokens_per_s, 4);
  EXPECT_EQ(all->points[3].requests_per_s, 0);
  EXPECT_FALSE(all->points[1].ttft_ms_p50.has_value());  // no first token in that second

  auto a = h.Query(HistoryResolution::kSecond, "a", 0);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->points.size(), 4u);
  EXPECT_EQ(a->points[0].requests_per_s, 3);
  EXPECT_EQ(a->points[0].generated_tokens_per_s, 29);
  EXPECT_EQ(a->points[2].requests_per_s, 0);

  auto since = h.Query(HistoryResolution::kSecond, "b", 6002);
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->points.size(), 2u);
  EXPECT_EQ(since->points[0].t, 6002);
  EXPECT_EQ(since->points[0].prompt_tokens_per_s, 3);

  EXPECT_EQ(h.Query(HistoryResolution::kSecond, "nope", 0).status().code(), StatusCode::kNotFound);
}

TEST(MetricHistoryTest, MinuteRatesAndPercentilesFromTheMinutesSamples) {
  FakeClock clock;
  MetricHistory h({}, clock.fn());
  std::mt19937 rng(7);
  std::lognormal_distribution<double> latency(std::log(0.03), 0.8);  // seconds
  std::vector<double> ttft_ms, itl_ms;
  int requests = 0, tokens = 0;
  for (int s = 0; s < 60; ++s) {  // one minute, events in every second
    clock.now = 6000 + s;
    for (int k = 0; k < 3; ++k) {
      const double first = latency(rng);
      h.FirstToken("m", first);
      ttft_ms.push_back(first * 1000);
      for (int j = 0; j < 5; ++j) {
        const double gap = latency(rng) / 10;
        h.InterToken("m", gap);
        itl_ms.push_back(gap * 1000);
      }
      h.RequestFinished("m", false, 2, 6);
      ++requests;
      tokens += 6;
    }
  }
  clock.now = 6061;
  auto minutes = h.Query(HistoryResolution::kMinute, "m", 0);
  ASSERT_TRUE(minutes.ok());
  EXPECT_EQ(minutes->resolution_s, 60);
  ASSERT_EQ(minutes->points.size(), 1u);
  const MetricPoint& p = minutes->points[0];
  EXPECT_EQ(p.t, 6000);
  EXPECT_DOUBLE_EQ(p.requests_per_s, requests / 60.0);
  EXPECT_DOUBLE_EQ(p.generated_tokens_per_s, tokens / 60.0);
  ExpectNear(p.ttft_ms_p50, NearestRank(ttft_ms, 0.50));
  ExpectNear(p.ttft_ms_p99, NearestRank(ttft_ms, 0.99));
  ExpectNear(p.itl_ms_p50, NearestRank(itl_ms, 0.50));
  ExpectNear(p.itl_ms_p99, NearestRank(itl_ms, 0.99));

  // One second's percentiles come from that second's samples only (the last second: 3
  // requests, the last 3 first tokens and 15 gaps).
  auto seconds = h.Query(HistoryResolution::kSecond, "m", 6059);
  ASSERT_TRUE(seconds.ok());
  ASSERT_EQ(seconds->points.size(), 2u);
  ExpectNear(seconds->points[0].ttft_ms_p99, NearestRank({ttft_ms.end() - 3, ttft_ms.end()}, 0.99));
  ExpectNear(seconds->points[0].itl_ms_p50, NearestRank({itl_ms.end() - 15, itl_ms.end()}, 0.5));
  EXPECT_EQ(seconds->points[1].t, 6060);
  EXPECT_EQ(seconds->points[1].requests_per_s, 0);
}

TEST(MetricHistoryTest, GaugesCarryOverAndSumOverModels) {
  FakeClock clock;
  MetricHistory h({}, clock.fn());
  h.EngineLoad("a", 2, 5);
  h.KvCache("a", 300, 1000);
  h.EngineLoad("b", 1, 0);
  h.KvCache("b", 100, 3000);
  clock.now = 6003;
  auto all = h.Query(HistoryResolution::kSecond, "", 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->points.size(), 3u);
  for (const MetricPoint& p : all->points) {  // unchanged over the quiet seconds
    EXPECT_EQ(p.running, 3);
    EXPECT_EQ(p.queue_depth, 5);
    EXPECT_EQ(p.kv_used_bytes, 400);
    EXPECT_DOUBLE_EQ(p.kv_used_fraction, 400.0 / 4000.0);
  }
  auto a = h.Query(HistoryResolution::kSecond, "a", 0);
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->points.back().kv_used_fraction, 0.3);
  EXPECT_EQ(a->points.back().queue_depth, 5);
}

TEST(MetricHistoryTest, RingsKeepTheNewestPointsAndModelsAreBounded) {
  FakeClock clock;
  MetricHistoryOptions o;
  o.seconds_kept = 5;
  o.minutes_kept = 2;
  o.max_models = 1;
  MetricHistory h(o, clock.fn());
  h.RequestFinished("first", false, 1, 1);
  h.RequestFinished("second", false, 1, 1);  // beyond max_models: overall only
  clock.now = 6001;
  auto both = h.Query(HistoryResolution::kSecond, "", 0);
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->points.size(), 1u);
  EXPECT_EQ(both->points[0].requests_per_s, 2);
  clock.now = 6000 + 3600;  // an hour later
  auto seconds = h.Query(HistoryResolution::kSecond, "", 0);
  ASSERT_TRUE(seconds.ok());
  ASSERT_EQ(seconds->points.size(), 5u);
  EXPECT_EQ(seconds->points.front().t, 9600 - 5);
  EXPECT_EQ(seconds->points.back().t, 9599);
  auto minutes = h.Query(HistoryResolution::kMinute, "", 0);
  ASSERT_TRUE(minutes.ok());
  ASSERT_EQ(minutes->points.size(), 2u);
  EXPECT_EQ(minutes->points.back().t, 9600 - 60);
  EXPECT_EQ(seconds->models, std::vector<std::string>{"first"});
  EXPECT_EQ(h.Query(HistoryResolution::kSecond, "second", 0).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace llmux::serving
