#include "store/request_log_sql.h"

#include <fmt/format.h>

#include <string>

#include "store/sql_rows.h"

namespace llmux::store::internal {

namespace {

using requestlog::RequestFilter;
using requestlog::RequestRecord;
using requestlog::StatusMatch;

constexpr int kMaxPageLimit = 1000;
// Rows per INSERT statement: 17 parameters each stay far below both backends' limits.
constexpr size_t kRowsPerInsert = 100;

constexpr const char* kInsertColumns =
    "time_ms, protocol, route, principal, user_id, key_id, model, model_version, prompt_tokens, "
    "completion_tokens, cached_tokens, ttft_ms, latency_ms, status, error_class, client, prompt";
constexpr int kInsertColumnCount = 17;

void Bind(const RequestRecord& r, std::vector<SqlValue>& params) {
  params.insert(params.end(),
                {r.time_ms, r.protocol, r.route, r.principal, r.user_id, r.key_id, r.model,
                 r.model_version, r.prompt_tokens, r.completion_tokens, r.cached_tokens, r.ttft_ms,
                 r.latency_ms, int64_t{r.status}, r.error_class, r.client, r.prompt});
}

// `with_prompt`: the prompt column last (lists); aggregates leave it out.
std::string SelectColumns(bool with_prompt) {
  return std::string("SELECT id, ") +
         "time_ms, protocol, route, principal, user_id, key_id, model, model_version, "
         "prompt_tokens, completion_tokens, cached_tokens, ttft_ms, latency_ms, status, "
         "error_class, client" +
         (with_prompt ? ", prompt" : "") + " FROM request_log";
}

Result<RequestRecord> ReadRecord(const SqlRow& row, bool with_prompt) {
  RowReader r(row);
  RequestRecord rec;
  rec.id = r.Int();
  rec.time_ms = r.Int();
  rec.protocol = r.Str();
  rec.route = r.Str();
  rec.principal = r.Str();
  rec.user_id = r.Int();
  rec.key_id = r.Int();
  rec.model = r.Str();
  rec.model_version = r.Str();
  rec.prompt_tokens = r.Int();
  rec.completion_tokens = r.Int();
  rec.cached_tokens = r.Int();
  rec.ttft_ms = r.Int();
  rec.latency_ms = r.Int();
  rec.status = static_cast<int>(r.Int());
  rec.error_class = r.Str();
  rec.client = r.Str();
  if (with_prompt) rec.prompt = r.Str();
  if (!r.status().ok()) return r.status().WithContext("reading request log record");
  return rec;
}

// " WHERE ..." (or "") for the filter, its values appended to `params`.
std::string WhereClause(const RequestFilter& f, std::vector<SqlValue>& params) {
  std::string sql;
  auto add = [&](const std::string& condition, SqlValue value) {
    params.push_back(std::move(value));
    sql += fmt::format("{} {} ${}", sql.empty() ? " WHERE" : " AND", condition, params.size());
  };
  if (f.from_ms > 0) add("time_ms >=", f.from_ms);
  if (f.to_ms > 0) add("time_ms <", f.to_ms);
  if (f.key_id) add("key_id =", *f.key_id);
  if (f.user_id) add("user_id =", *f.user_id);
  if (!f.model.empty()) add("model =", f.model);
  switch (f.status) {
    case StatusMatch::kAny:
      break;
    case StatusMatch::kOk:
      sql += sql.empty() ? " WHERE error_class = ''" : " AND error_class = ''";
      break;
    case StatusMatch::kError:
      sql += sql.empty() ? " WHERE error_class <> ''" : " AND error_class <> ''";
      break;
    case StatusMatch::kCode:
      add("status =", int64_t{f.status_code});
      break;
  }
  return sql;
}

Result<std::vector<RequestRecord>> Query(SqlConnection& conn, const RequestFilter& filter,
                                         int64_t before_id, int64_t limit, bool with_prompt) {
  std::vector<SqlValue> params;
  std::string where = WhereClause(filter, params);
  if (before_id > 0) {
    params.push_back(before_id);
    where += fmt::format("{} id < ${}", where.empty() ? " WHERE" : " AND", params.size());
  }
  std::string sql = SelectColumns(with_prompt) + where;
  params.push_back(limit);
  sql += fmt::format(" ORDER BY id DESC LIMIT ${}", params.size());
  LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn.Exec(sql, params));
  std::vector<RequestRecord> out;
  out.reserve(res.rows.size());
  for (const SqlRow& row : res.rows) {
    LLMUX_ASSIGN_OR_RETURN(RequestRecord rec, ReadRecord(row, with_prompt));
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace

Status AppendRequests(SqlConnection& conn, std::span<const RequestRecord> records) {
  if (records.empty()) return Status::Ok();
  LLMUX_RETURN_IF_ERROR(conn.Begin());
  Status st = Status::Ok();
  std::vector<SqlValue> params;
  for (size_t start = 0; st.ok() && start < records.size(); start += kRowsPerInsert) {
    const size_t n = std::min(kRowsPerInsert, records.size() - start);
    std::string sql = std::string("INSERT INTO request_log(") + kInsertColumns + ") VALUES ";
    params.clear();
    for (size_t i = 0; i < n; ++i) {
      sql += i == 0 ? "(" : ", (";
      for (int c = 0; c < kInsertColumnCount; ++c) {
        if (c > 0) sql += ", ";
        sql += fmt::format("${}", i * kInsertColumnCount + c + 1);
      }
      sql += ")";
      Bind(records[start + i], params);
    }
    st = conn.Exec(sql, params).status();
  }
  if (!st.ok()) {
    (void)conn.Rollback();
    return st.WithContext("writing the request log");
  }
  return conn.Commit();
}

Result<requestlog::RequestList> ListRequests(SqlConnection& conn, const RequestFilter& filter,
                                             requestlog::RequestPage page) {
  if (page.limit < 1 || page.limit > kMaxPageLimit) {
    return InvalidArgumentError(fmt::format("page limit must be between 1 and {}", kMaxPageLimit));
  }
  LLMUX_ASSIGN_OR_RETURN(std::vector<RequestRecord> items,
                         Query(conn, filter, page.before_id, int64_t{page.limit} + 1, true));
  requestlog::RequestList list;
  list.has_more = static_cast<int>(items.size()) > page.limit;
  if (list.has_more) {
    items.resize(static_cast<size_t>(page.limit));
    list.next_cursor = items.back().id;
  }
  list.items = std::move(items);
  return list;
}

Result<std::vector<RequestRecord>> ScanRequests(SqlConnection& conn, const RequestFilter& filter,
                                                int64_t max_rows) {
  if (max_rows < 1) return InvalidArgumentError("max_rows must be positive");
  return Query(conn, filter, 0, max_rows, false);
}

Result<int64_t> PruneRequests(SqlConnection& conn, int64_t before_ms, int64_t keep_rows) {
  int64_t deleted = 0;
  if (before_ms > 0) {
    LLMUX_ASSIGN_OR_RETURN(SqlResult res,
                           conn.Exec("DELETE FROM request_log WHERE time_ms < $1", {before_ms}));
    deleted += res.affected;
  }
  if (keep_rows > 0) {
    // The newest keep_rows stay: the row just older than them and all before it go.
    LLMUX_ASSIGN_OR_RETURN(
        SqlResult res,
        conn.Exec("DELETE FROM request_log WHERE id <= (SELECT id FROM request_log ORDER BY id "
                  "DESC LIMIT 1 OFFSET $1)",
                  {keep_rows}));
    deleted += res.affected;
  }
  return deleted;
}

}  // namespace llmux::store::internal
