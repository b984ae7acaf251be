// Aggregates of request records per hour, key or model: requests, tokens, errors and latency
// percentiles, computed here over the rows a store returned (bounded by the caller).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "services/requestlog/request_record.h"

namespace llmux::requestlog {

enum class StatsGroup { kHour, kKey, kModel };

// "hour", "key", "model"; nullopt for other names.
std::optional<StatsGroup> ParseStatsGroup(std::string_view name);

struct StatsRow {
  std::string group;  // the hour's start (RFC 3339), "key:<id>" or "none", the model
  int64_t requests = 0;
  int64_t errors = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t p50_latency_ms = 0;
  int64_t p99_latency_ms = 0;
  int64_t p50_ttft_ms = -1;  // over the records with a first token; -1: none had one
  int64_t p99_ttft_ms = -1;
};

// The nearest-rank percentile (the smallest value with at least p% of the values at or below
// it) of `values`, which it sorts; 0 for none. p in (0, 100].
int64_t Percentile(std::vector<int64_t>& values, double p);

// Rows ordered by group (hours oldest first).
std::vector<StatsRow> Aggregate(std::span<const RequestRecord> records, StatsGroup group);

}  // namespace llmux::requestlog
