// The serving metrics over time, for dashboards (serving::MetricHistory):
//
//   GET /admin/v1/metrics/history?resolution=1s|1m&model=NAME&since=UNIX          metrics:read
//     -> {"resolution_s": 1, "now": UNIX, "models": [NAME...],
//         "series": [{"t", "requests_per_s", "generated_tokens_per_s", "prompt_tokens_per_s",
//                     "ttft_ms_p50", "ttft_ms_p99", "itl_ms_p50", "itl_ms_p99",
//                     "kv_used_fraction", "kv_used_bytes", "queue_depth", "running",
//                     "errors_per_s"}, ...]}
//
// resolution defaults to 1s, model to all models together, since to everything kept. A
// percentile is null for an interval without such an event. An unknown model is 404.
#pragma once

namespace llmux::serving {
class MetricHistory;
}

namespace llmux::gateway {

class GuardedRouter;

// `history` must outlive the server.
void RegisterMetricsHistoryRoutes(GuardedRouter& router, serving::MetricHistory& history);

}  // namespace llmux::gateway
