#include "gateway/admin/metrics_history_routes.h"

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <optional>
#include <string>

#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "serving/metric_history.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;

Json Optional(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json PointJson(const serving::MetricPoint& p) {
  return {{"t", p.t},
          {"requests_per_s", p.requests_per_s},
          {"generated_tokens_per_s", p.generated_tokens_per_s},
          {"prompt_tokens_per_s", p.prompt_tokens_per_s},
          {"ttft_ms_p50", Optional(p.ttft_ms_p50)},
          {"ttft_ms_p99", Optional(p.ttft_ms_p99)},
          {"itl_ms_p50", Optional(p.itl_ms_p50)},
          {"itl_ms_p99", Optional(p.itl_ms_p99)},
          {"kv_used_fraction", p.kv_used_fraction},
          {"kv_used_bytes", p.kv_used_bytes},
          {"queue_depth", p.queue_depth},
          {"running", p.running},
          {"errors_per_s", p.errors_per_s}};
}

Result<Json> History(serving::MetricHistory& history, std::string_view query) {
  LLMUX_RETURN_IF_ERROR(OnlyKnownQueryParams(query, {"resolution", "model", "since"}));
  serving::HistoryResolution resolution = serving::HistoryResolution::kSecond;
  if (auto r = QueryValue(query, "resolution")) {
    if (*r == "1m") {
      resolution = serving::HistoryResolution::kMinute;
    } else if (*r != "1s") {
      return InvalidArgumentError("query parameter resolution must be 1s or 1m")
          .WithField("resolution");
    }
  }
  LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> since,
                         IntQueryParam(query, "since", 0, int64_t{1} << 40));
  const std::string model = QueryValue(query, "model").value_or("");
  LLMUX_ASSIGN_OR_RETURN(serving::MetricSeries s,
                         history.Query(resolution, model, since.value_or(0)));
  Json series = Json::array();
  for (const serving::MetricPoint& p : s.points) series.push_back(PointJson(p));
  return Json{{"resolution_s", s.resolution_s},
              {"now", s.now},
              {"series", std::move(series)},
              {"models", s.models}};
}

}  // namespace

void RegisterMetricsHistoryRoutes(GuardedRouter& router, serving::MetricHistory& history) {
  const ErrorReply* errors = &router.error_reply();
  serving::MetricHistory* h = &history;
  router.Route(
      "GET", "/admin/v1/metrics/history",
      [h, errors](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
        co_await ReplyJson(w, *errors, 200, [&] { return History(*h, req.query); });
      });
}

}  // namespace llmux::gateway
