#include "serving/metric_history.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace llmux::serving {

namespace {

constexpr double kSmallestMs = 0.01;
constexpr double kGrowth = 1.04;

int64_t SystemUnixSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t FloorTo(int64_t t, int64_t step) {
  const int64_t r = t % step;
  return r < 0 ? t - r - step : t - r;
}

}  // namespace

// Bucket 0 holds [0, 10 us); bucket i holds [0.01 * 1.04^(i-1), 0.01 * 1.04^i) ms; the last
// bucket also everything above.
void LatencyHistogram::Add(double ms) {
  int i = 0;
  if (ms >= kSmallestMs) {
    i = 1 + static_cast<int>(std::floor(std::log(ms / kSmallestMs) / std::log(kGrowth)));
    i = std::clamp(i, 1, kBuckets - 1);
  }
  if (buckets_[i] != UINT32_MAX) ++buckets_[i];
  ++count_;
}

std::optional<double> LatencyHistogram::Percentile(double q) const {
  if (count_ == 0) return std::nullopt;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      if (i == 0) return kSmallestMs / 2;
      return kSmallestMs * std::pow(kGrowth, i - 0.5);
    }
  }
  return kSmallestMs * std::pow(kGrowth, kBuckets - 1.5);
}

void LatencyHistogram::Clear() {
  buckets_.fill(0);
  count_ = 0;
}

void MetricHistory::Totals::Clear() {
  requests = generated = prompt = errors = 0;
  ttft.Clear();
  itl.Clear();
}

void MetricHistory::Ring::Push(const MetricPoint& p) {
  if (capacity == 0) return;
  if (slots.size() < capacity) {
    slots.push_back(p);
    return;
  }
  slots[next] = p;
  next = (next + 1) % capacity;
}

void MetricHistory::Ring::AppendSince(int64_t since, std::vector<MetricPoint>& out) const {
  for (size_t k = 0; k < slots.size(); ++k) {
    const MetricPoint& p = slots[(next + k) % slots.size()];
    if (p.t >= since) out.push_back(p);
  }
}

MetricHistory::MetricHistory(MetricHistoryOptions options, Clock clock)
    : options_(options), clock_(clock ? std::move(clock) : Clock(SystemUnixSeconds)) {
  const int64_t now = clock_();
  open_second_ = now;
  open_minute_ = FloorTo(now, 60);
  overall_.seconds.capacity = static_cast<size_t>(std::max(0, options_.seconds_kept));
  overall_.minutes.capacity = static_cast<size_t>(std::max(0, options_.minutes_kept));
}

MetricHistory::Series* MetricHistory::ModelLocked(const std::string& model) {
  auto it = models_.find(model);
  if (it != models_.end()) return &it->second;
  if (static_cast<int>(models_.size()) >= options_.max_models) return nullptr;
  Series& s = models_[model];
  s.seconds.capacity = overall_.seconds.capacity;
  s.minutes.capacity = overall_.minutes.capacity;
  return &s;
}

MetricHistory::Gauges* MetricHistory::GaugesLocked(const std::string& model) {
  auto it = gauges_.find(model);
  if (it != gauges_.end()) return &it->second;
  // Loaded models are few; a bound all the same against names that come and go.
  if (static_cast<int>(gauges_.size()) >= 4 * std::max(1, options_.max_models)) return nullptr;
  return &gauges_[model];
}

MetricHistory::Gauges MetricHistory::OverallGaugesLocked() const {
  Gauges sum;
  for (const auto& [name, g] : gauges_) {
    sum.kv_used_bytes += g.kv_used_bytes;
    sum.kv_total_bytes += g.kv_total_bytes;
    sum.queue += g.queue;
    sum.running += g.running;
  }
  return sum;
}

template <typename F>
void MetricHistory::ForEach(const std::string& model, F f) {
  AdvanceLocked(clock_());
  f(overall_);
  if (Series* s = ModelLocked(model)) f(*s);
}

void MetricHistory::RequestFinished(const std::string& model, bool error, int prompt_tokens,
                                    int completion_tokens) {
  std::lock_guard lock(mu_);
  ForEach(model, [&](Series& s) {
    for (Totals* t : {&s.second, &s.minute}) {
      t->requests += 1;
      t->errors += error ? 1 : 0;
      t->prompt += prompt_tokens;
      t->generated += completion_tokens;
    }
  });
}

void MetricHistory::FirstToken(const std::string& model, double seconds) {
  std::lock_guard lock(mu_);
  ForEach(model, [&](Series& s) {
    s.second.ttft.Add(seconds * 1000);
    s.minute.ttft.Add(seconds * 1000);
  });
}

void MetricHistory::InterToken(const std::string& model, double seconds) {
  std::lock_guard lock(mu_);
  ForEach(model, [&](Series& s) {
    s.second.itl.Add(seconds * 1000);
    s.minute.itl.Add(seconds * 1000);
  });
}

void MetricHistory::EngineLoad(const std::string& model, int running, int waiting) {
  std::lock_guard lock(mu_);
  AdvanceLocked(clock_());
  ModelLocked(model);
  if (Gauges* g = GaugesLocked(model)) {
    g->running = running;
    g->queue = waiting;
  }
}

void MetricHistory::KvCache(const std::string& model, int64_t used_bytes, int64_t total_bytes) {
  std::lock_guard lock(mu_);
  AdvanceLocked(clock_());
  ModelLocked(model);
  if (Gauges* g = GaugesLocked(model)) {
    g->kv_used_bytes = used_bytes;
    g->kv_total_bytes = total_bytes;
  }
}

void MetricHistory::CloseLocked(HistoryResolution r, int64_t start, int64_t end_exclusive) {
  const bool seconds = r == HistoryResolution::kSecond;
  const int64_t step = seconds ? 1 : 60;
  const size_t capacity = seconds ? overall_.seconds.capacity : overall_.minutes.capacity;
  auto point = [&](Totals& t, const Gauges& g, int64_t at) {
    MetricPoint p;
    p.t = at;
    p.requests_per_s = t.requests / step;
    p.generated_tokens_per_s = t.generated / step;
    p.prompt_tokens_per_s = t.prompt / step;
    p.errors_per_s = t.errors / step;
    p.ttft_ms_p50 = t.ttft.Percentile(0.50);
    p.ttft_ms_p99 = t.ttft.Percentile(0.99);
    p.itl_ms_p50 = t.itl.Percentile(0.50);
    p.itl_ms_p99 = t.itl.Percentile(0.99);
    p.kv_used_bytes = g.kv_used_bytes;
    p.kv_used_fraction =
        g.kv_total_bytes > 0 ? static_cast<double>(g.kv_used_bytes) / g.kv_total_bytes : 0.0;
    p.queue_depth = g.queue;
    p.running = g.running;
    t.Clear();
    return p;
  };
  const Gauges none;
  const Gauges overall_gauges = OverallGaugesLocked();
  // The open interval holds the events; the ones after it up to `end_exclusive` had none (only
  // as many as the ring keeps are written).
  const int64_t first_empty =
      std::max(start + step, end_exclusive - static_cast<int64_t>(capacity) * step);
  auto close = [&](Series& s, const Gauges& g) {
    Ring& ring = seconds ? s.seconds : s.minutes;
    Totals& open = seconds ? s.second : s.minute;
    ring.Push(point(open, g, start));
    for (int64_t at = first_empty; at < end_exclusive; at += step) ring.Push(point(open, g, at));
  };
  close(overall_, overall_gauges);
  for (auto& [name, s] : models_) {
    auto g = gauges_.find(name);
    close(s, g == gauges_.end() ? none : g->second);
  }
}

void MetricHistory::AdvanceLocked(int64_t now) {
  if (now > open_second_) {
    CloseLocked(HistoryResolution::kSecond, open_second_, now);
    open_second_ = now;
  }
  const int64_t minute = FloorTo(now, 60);
  if (minute > open_minute_) {
    CloseLocked(HistoryResolution::kMinute, open_minute_, minute);
    open_minute_ = minute;
  }
}

Result<MetricSeries> MetricHistory::Query(HistoryResolution resolution, const std::string& model,
                                          int64_t since) {
  std::lock_guard lock(mu_);
  MetricSeries out;
  out.now = clock_();
  AdvanceLocked(out.now);
  out.resolution_s = resolution == HistoryResolution::kSecond ? 1 : 60;
  const Series* series = &overall_;
  if (!model.empty()) {
    auto it = models_.find(model);
    if (it == models_.end()) {
      return NotFoundError("no metric history for the model '" + model + "'").WithField("model");
    }
    series = &it->second;
  }
  const Ring& ring = resolution == HistoryResolution::kSecond ? series->seconds : series->minutes;
  ring.AppendSince(since, out.points);
  for (const auto& [name, s] : models_) out.models.push_back(name);
  return out;
}

}  // namespace llmux::serving
