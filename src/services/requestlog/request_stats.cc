#include "services/requestlog/request_stats.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "base/rfc3339.h"

namespace llmux::requestlog {

namespace {

constexpr int64_t kMsPerHour = 3'600'000;

struct Group {
  StatsRow row;
  std::vector<int64_t> latencies;
  std::vector<int64_t> ttfts;
};

}  // namespace

std::optional<StatsGroup> ParseStatsGroup(std::string_view name) {
  if (name == "hour") return StatsGroup::kHour;
  if (name == "key") return StatsGroup::kKey;
  if (name == "model") return StatsGroup::kModel;
  return std::nullopt;
}

int64_t Percentile(std::vector<int64_t>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(p / 100.0 * static_cast<double>(values.size()));
  const size_t index =
      static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(values.size()))) - 1;
  return values[index];
}

std::vector<StatsRow> Aggregate(std::span<const RequestRecord> records, StatsGroup group) {
  // Hours sort by their start (a number), the others by name.
  std::map<std::pair<int64_t, std::string>, Group> groups;
  for (const RequestRecord& r : records) {
    std::pair<int64_t, std::string> id;
    switch (group) {
      case StatsGroup::kHour:
        id.first = r.time_ms - ((r.time_ms % kMsPerHour) + kMsPerHour) % kMsPerHour;
        break;
      case StatsGroup::kKey:
        id.second = r.key_id != 0 ? fmt::format("key:{}", r.key_id) : "none";
        break;
      case StatsGroup::kModel:
        id.second = r.model;
        break;
    }
    Group& g = groups[id];
    g.row.requests++;
    if (!r.error_class.empty()) g.row.errors++;
    g.row.prompt_tokens += r.prompt_tokens;
    g.row.completion_tokens += r.completion_tokens;
    g.latencies.push_back(r.latency_ms);
    if (r.ttft_ms >= 0) g.ttfts.push_back(r.ttft_ms);
  }
  std::vector<StatsRow> out;
  out.reserve(groups.size());
  for (auto& [id, g] : groups) {
    g.row.group = group == StatsGroup::kHour ? FormatRfc3339Millis(id.first) : id.second;
    g.row.p50_latency_ms = Percentile(g.latencies, 50);
    g.row.p99_latency_ms = Percentile(g.latencies, 99);
    if (!g.ttfts.empty()) {
      g.row.p50_ttft_ms = Percentile(g.ttfts, 50);
      g.row.p99_ttft_ms = Percentile(g.ttfts, 99);
    }
    out.push_back(std::move(g.row));
  }
  return out;
}

}  // namespace llmux::requestlog
