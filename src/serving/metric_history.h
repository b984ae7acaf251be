// The serving metrics over time, for dashboards: fixed-resolution rings kept in memory (one
// point per second for the last `seconds_kept` seconds, one per minute for the last
// `minutes_kept` minutes), overall and per model (at most `max_models` models), in fixed memory.
// Fed by ServingMetrics with the same events that /metrics counts; latency percentiles of an
// interval come from a bounded log-bucket histogram (about 2% relative error), never from
// stored samples.
//
// An interval [t, t + resolution) is reported once it has ended; intervals without events are
// filled in when time passes (rates 0, no percentiles, gauges as they stood). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace llmux::serving {

struct MetricHistoryOptions {
  int seconds_kept = 600;   // 10 minutes at 1 s
  int minutes_kept = 1440;  // 24 hours at 1 min
  int max_models = 32;      // models beyond count in the overall series only
};

// One interval. Rates are per second over the interval; percentiles are unset when the interval
// saw no such event; gauges are their values at the interval's end.
struct MetricPoint {
  int64_t t = 0;  // unix seconds, the interval's start
  double requests_per_s = 0;
  double generated_tokens_per_s = 0;
  double prompt_tokens_per_s = 0;
  double errors_per_s = 0;
  std::optional<double> ttft_ms_p50, ttft_ms_p99;
  std::optional<double> itl_ms_p50, itl_ms_p99;
  double kv_used_fraction = 0;
  int64_t kv_used_bytes = 0;
  int64_t queue_depth = 0;
  int64_t running = 0;
};

enum class HistoryResolution { kSecond, kMinute };

struct MetricSeries {
  int resolution_s = 1;
  int64_t now = 0;
  std::vector<MetricPoint> points;  // oldest first
  std::vector<std::string> models;  // the models with a series of their own
};

// Latencies in a fixed set of log-spaced buckets (each 4% wider than the one before, from
// 10 us to 10 min); a percentile is the geometric middle of the bucket holding its rank.
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 460;
  void Add(double ms);
  // The nearest-rank percentile (q in (0, 1]); unset without samples.
  std::optional<double> Percentile(double q) const;
  void Clear();
  uint64_t count() const { return count_; }

 private:
  std::array<uint32_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
};

class MetricHistory {
 public:
  // Unix seconds now; the system clock unless a test gives its own.
  using Clock = std::function<int64_t()>;
  explicit MetricHistory(MetricHistoryOptions options = {}, Clock clock = {});

  // The events of ServingMetrics. `error`: the request ended in an error or was refused.
  void RequestFinished(const std::string& model, bool error, int prompt_tokens,
                       int completion_tokens);
  void FirstToken(const std::string& model, double seconds);
  void InterToken(const std::string& model, double seconds);
  void EngineLoad(const std::string& model, int running, int waiting);
  void KvCache(const std::string& model, int64_t used_bytes, int64_t total_bytes);

  // The ended intervals that start at or after `since` (unix seconds), for `model` (empty: all
  // models together). NotFound for a model without a series.
  Result<MetricSeries> Query(HistoryResolution resolution, const std::string& model, int64_t since);

 private:
  struct Totals {
    double requests = 0, generated = 0, prompt = 0, errors = 0;
    LatencyHistogram ttft, itl;
    void Clear();
  };
  struct Gauges {
    int64_t kv_used_bytes = 0, kv_total_bytes = 0, queue = 0, running = 0;
  };
  // A fixed-capacity ring of points, oldest overwritten.
  struct Ring {
    size_t capacity = 0;
    std::vector<MetricPoint> slots;
    size_t next = 0;  // where the next point goes once the ring is full
    void Push(const MetricPoint& p);
    void AppendSince(int64_t since, std::vector<MetricPoint>& out) const;
  };
  struct Series {
    Totals second, minute;  // the open intervals
    Ring seconds, minutes;
  };

  // Closes the intervals that ended before `now` in every series.
  void AdvanceLocked(int64_t now);
  void CloseLocked(HistoryResolution r, int64_t start, int64_t end_exclusive);
  // The model's series, made on first sight while there is room; null beyond max_models.
  Series* ModelLocked(const std::string& model);
  Gauges* GaugesLocked(const std::string& model);
  Gauges OverallGaugesLocked() const;
  template <typename F>
  void ForEach(const std::string& model, F f);

  const MetricHistoryOptions options_;
  const Clock clock_;
  std::mutex mu_;
  int64_t open_second_ = 0;  // start of the open intervals
  int64_t open_minute_ = 0;
  Series overall_;
  std::map<std::string, Series> models_;
  // Gauges of every model seen (loaded models, so few): the overall gauges are their sum.
  std::map<std::string, Gauges> gauges_;
};

}  // namespace llmux::serving
