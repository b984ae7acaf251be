// The admin HTTP API of the request log (logs:read):
//
//   GET /admin/v1/logs[?from=&to=&key=&user=&model=&status=&limit=&cursor=&format=csv]
//       newest first; from/to: RFC 3339 or unix milliseconds (to exclusive); key, user: ids;
//       status: ok, error or a status code; limit 1..1000 (default 50); cursor: a page's
//       next_cursor. format=csv answers as GET /admin/v1/logs.csv does.
//   GET /admin/v1/logs/stats?group=hour|key|model[&the filters above]
//       per group: requests, errors, prompt/completion tokens, p50/p99 latency and TTFT, over
//       the newest rows that match (at most the log's max_scan_rows; "truncated" says so)
//   GET /admin/v1/logs.csv[?the filters above][&limit=N]
//       RFC 4180 CSV, streamed, at most N rows (default 10000, at most 100000)
//
// Unknown parameters and malformed values are refused (400).
#pragma once

namespace llmux::requestlog {
class RequestLog;
}

namespace llmux::gateway {

class GuardedRouter;

// `log` must outlive the server.
void RegisterRequestLogRoutes(GuardedRouter& router, requestlog::RequestLog& log);

}  // namespace llmux::gateway
