#include "gateway/admin/request_log_routes.h"

#include <spdlog/spdlog.h>

#include <boost/asio/awaitable.hpp>
#include <charconv>
#include <initializer_list>
#include <optional>
#include <string>

#include "base/rfc3339.h"
#include "gateway/access/http_guard.h"
#include "gateway/admin/admin_json.h"
#include "gateway/admin/json_reply.h"
#include "services/requestlog/request_csv.h"
#include "services/requestlog/request_log.h"

namespace llmux::gateway {

namespace {

using boost::asio::awaitable;
using Json = nlohmann::json;
using requestlog::RequestFilter;
using requestlog::RequestRecord;

constexpr int64_t kDefaultCsvRows = 10'000;
constexpr int64_t kMaxCsvRows = 100'000;
constexpr int kCsvPageRows = 1000;

// Unix milliseconds, or an RFC 3339 time.
Result<int64_t> TimeParam(std::string_view query, const std::string& name) {
  auto raw = QueryValue(query, name);
  if (!raw) return int64_t{0};
  if (!raw->empty() && raw->find_first_not_of("0123456789") == std::string::npos) {
    LLMUX_ASSIGN_OR_RETURN(std::optional<int64_t> ms,
                           IntQueryParam(query, name, 1, int64_t{1} << 50));
    return *ms;
  }
  auto ms = ParseRfc3339Millis(*raw);
  if (!ms.ok()) return BadQueryParam(name, "must be unix milliseconds or an RFC 3339 time");
  return *ms;
}

Result<RequestFilter> FilterParams(std::string_view query) {
  RequestFilter f;
  LLMUX_ASSIGN_OR_RETURN(f.from_ms, TimeParam(query, "from"));
  LLMUX_ASSIGN_OR_RETURN(f.to_ms, TimeParam(query, "to"));
  if (f.from_ms > 0 && f.to_ms > 0 && f.to_ms <= f.from_ms)
    return BadQueryParam("to", "must be after from");
  LLMUX_ASSIGN_OR_RETURN(f.key_id, IntQueryParam(query, "key", 1, INT64_MAX));
  LLMUX_ASSIGN_OR_RETURN(f.user_id, IntQueryParam(query, "user", 1, INT64_MAX));
  if (auto model = QueryValue(query, "model")) {
    if (model->empty() || model->size() > 256) {
      return BadQueryParam("model", "must be a model name");
    }
    f.model = *model;
  }
  if (auto status = QueryValue(query, "status")) {
    LLMUX_RETURN_IF_ERROR(requestlog::ParseStatusMatch(*status, f));
  }
  return f;
}

Json RecordJson(const RequestRecord& r) {
  Json j = {{"id", r.id},
            {"object", "request"},
            {"time", FormatRfc3339Millis(r.time_ms)},
            {"time_ms", r.time_ms},
            {"protocol", r.protocol},
            {"route", r.route},
            {"principal", r.principal},
            {"user_id", r.user_id != 0 ? Json(r.user_id) : Json(nullptr)},
            {"key_id", r.key_id != 0 ? Json(r.key_id) : Json(nullptr)},
            {"model", r.model},
            {"model_version", r.model_version.empty() ? Json(nullptr) : Json(r.model_version)},
            {"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"cached_tokens", r.cached_tokens},
            {"ttft_ms", r.ttft_ms >= 0 ? Json(r.ttft_ms) : Json(nullptr)},
            {"latency_ms", r.latency_ms},
            {"status", r.status},
            {"error_class", r.error_class.empty() ? Json(nullptr) : Json(r.error_class)},
            {"client", r.client}};
  if (!r.prompt.empty()) j["prompt"] = r.prompt;
  return j;
}

Json StatsJson(const requestlog::RequestStats& stats, std::string_view group) {
  Json data = Json::array();
  for (const requestlog::StatsRow& row : stats.rows) {
    auto opt = [](int64_t v) { return v >= 0 ? Json(v) : Json(nullptr); };
    data.push_back({{"group", row.group},
                    {"requests", row.requests},
                    {"errors", row.errors},
                    {"prompt_tokens", row.prompt_tokens},
                    {"completion_tokens", row.completion_tokens},
                    {"p50_latency_ms", row.p50_latency_ms},
                    {"p99_latency_ms", row.p99_latency_ms},
                    {"p50_ttft_ms", opt(row.p50_ttft_ms)},
                    {"p99_ttft_ms", opt(row.p99_ttft_ms)}});
  }
  return Json{{"object", "request_stats"},
              {"group", group},
              {"rows_scanned", stats.rows_scanned},
              {"truncated", stats.truncated},
              {"data", std::move(data)}};
}

// Streams the matching records as CSV, newest first, at most `limit` of them. Errors before
// the first byte are answered in the admin error shape; a later one ends the stream early.
awaitable<void> SendCsv(http::ResponseWriter& w, const ErrorReply& errors,
                        requestlog::RequestLog& log, const RequestFilter& filter, int64_t limit) {
  requestlog::RequestPage page{0, static_cast<int>(std::min<int64_t>(limit, kCsvPageRows))};
  auto first = log.List(filter, page);
  if (!first.ok()) {
    http::Response reply = errors(first.status());
    co_await w.Send(std::move(reply));
    co_return;
  }
  const bool prompts = log.options().store_prompts;
  http::Headers headers{{"Content-Disposition", "attachment; filename=\"llmux-requests.csv\""},
                        {"Cache-Control", "no-store"}};
  if (!co_await w.StartStream(200, "text/csv; charset=utf-8", std::move(headers))) co_return;
  std::string chunk = requestlog::CsvHeader(prompts);
  int64_t sent = 0;
  requestlog::RequestList list = std::move(first).value();
  for (;;) {
    for (const RequestRecord& r : list.items) chunk += requestlog::CsvLine(r, prompts);
    sent += static_cast<int64_t>(list.items.size());
    if (!co_await w.Write(chunk)) co_return;
    chunk.clear();
    if (!list.has_more || sent >= limit) break;
    page.before_id = list.next_cursor;
    page.limit = static_cast<int>(std::min<int64_t>(limit - sent, kCsvPageRows));
    auto next = log.List(filter, page);
    if (!next.ok()) {
      spdlog::warn("request log CSV export ended early: {}", next.status().ToString());
      break;
    }
    list = std::move(next).value();
  }
  co_await w.EndStream();
}

}  // namespace

void RegisterRequestLogRoutes(GuardedRouter& router, requestlog::RequestLog& log) {
  requestlog::RequestLog* l = &log;
  const ErrorReply* errors = &router.error_reply();

  auto csv = [l, errors](http::Request& req, http::ResponseWriter& w) -> awaitable<void> {
    Status st = OnlyKnownQueryParams(
        req.query, {"from", "to", "key", "user", "model", "status", "limit", "format"});
    auto filter = st.ok() ? FilterParams(req.query) : Result<RequestFilter>(st);
    auto limit = filter.ok() ? IntQueryParam(req.query, "limit", 1, kMaxCsvRows)
                             : Result<std::optional<int64_t>>(filter.status());
    if (!limit.ok()) {
      http::Response reply = (*errors)(limit.status());
      co_await w.Send(std::move(reply));
      co_return;
    }
    co_await SendCsv(w, *errors, *l, *filter, limit->value_or(kDefaultCsvRows));
  };

  router.Route(
      "GET", "/admin/v1/logs",
      [l, errors, csv](http::Request& req, http::ResponseWriter& w,
                       CallAccess&) -> awaitable<void> {
        if (auto format = QueryValue(req.query, "format"); format && *format == "csv") {
          co_await csv(req, w);
          co_return;
        }
        co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
          LLMUX_RETURN_IF_ERROR(OnlyKnownQueryParams(
              req.query,
              {"from", "to", "key", "user", "model", "status", "limit", "cursor", "format"}));
          if (auto format = QueryValue(req.query, "format"); format && *format != "json") {
            return BadQueryParam("format", "must be json or csv");
          }
          LLMUX_ASSIGN_OR_RETURN(RequestFilter filter, FilterParams(req.query));
          LLMUX_ASSIGN_OR_RETURN(auto limit, IntQueryParam(req.query, "limit", 1, 1000));
          LLMUX_ASSIGN_OR_RETURN(auto cursor, IntQueryParam(req.query, "cursor", 1, INT64_MAX));
          LLMUX_ASSIGN_OR_RETURN(
              requestlog::RequestList list,
              l->List(filter, requestlog::RequestPage{cursor.value_or(0),
                                                      static_cast<int>(limit.value_or(50))}));
          Json data = Json::array();
          for (const RequestRecord& r : list.items) data.push_back(RecordJson(r));
          Json out = {{"object", "list"}, {"data", std::move(data)}, {"has_more", list.has_more}};
          out["next_cursor"] = list.has_more ? Json(list.next_cursor) : Json(nullptr);
          return out;
        });
      });

  router.Route(
      "GET", "/admin/v1/logs/stats",
      [l, errors](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
        co_await ReplyJson(w, *errors, 200, [&]() -> Result<Json> {
          LLMUX_RETURN_IF_ERROR(OnlyKnownQueryParams(
              req.query, {"from", "to", "key", "user", "model", "status", "group"}));
          auto name = QueryValue(req.query, "group");
          if (!name) return BadQueryParam("group", "is required: hour, key or model");
          auto group = requestlog::ParseStatsGroup(*name);
          if (!group) return BadQueryParam("group", "must be hour, key or model");
          LLMUX_ASSIGN_OR_RETURN(RequestFilter filter, FilterParams(req.query));
          LLMUX_ASSIGN_OR_RETURN(requestlog::RequestStats stats, l->Stats(filter, *group));
          return StatsJson(stats, *name);
        });
      });

  router.Route("GET", "/admin/v1/logs.csv",
               [csv](http::Request& req, http::ResponseWriter& w, CallAccess&) -> awaitable<void> {
                 co_await csv(req, w);
               });
}

}  // namespace llmux::gateway
