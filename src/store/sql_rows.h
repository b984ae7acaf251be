// Internal: reading query results, whose columns all come as text (SqlRow).
#pragma once

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "store/sql_connection.h"

namespace llmux::store::internal {

inline Result<std::vector<std::string>> FromJson(const std::optional<std::string>& text,
                                                 const char* what) {
  if (!text) return std::vector<std::string>{};
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return DataLossError(std::string("stored ") + what + " is not a JSON list");
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return DataLossError(std::string("stored ") + what + " holds a non-string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

inline Result<int64_t> ToInt(const std::optional<std::string>& text) {
  if (!text) return int64_t{0};  // NULL ids and times mean "none"
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size()) {
    return DataLossError("stored integer is malformed");
  }
  return v;
}

inline std::string ToStr(const std::optional<std::string>& text) { return text.value_or(""); }

// Reads row columns in order, remembering the first decoding error.
class RowReader {
 public:
  explicit RowReader(const SqlRow& row) : row_(row) {}
  int64_t Int() {
    auto r = ToInt(Next());
    if (!r.ok()) Fail(r.status());
    return r.ok() ? *r : 0;
  }
  bool Bool() { return Int() != 0; }
  std::string Str() { return ToStr(Next()); }
  std::vector<std::string> List(const char* what) {
    auto r = FromJson(Next(), what);
    if (!r.ok()) Fail(r.status());
    return r.ok() ? std::move(r).value() : std::vector<std::string>{};
  }
  const Status& status() const { return status_; }

 private:
  std::optional<std::string> Next() {
    if (i_ >= row_.size()) {
      Fail(InternalError("result has fewer columns than expected"));
      return std::nullopt;
    }
    return row_[i_++];
  }
  void Fail(Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  const SqlRow& row_;
  size_t i_ = 0;
  Status status_;
};

// Runs a query and reads each of its rows with `read` (SqlRow -> Result<T>), stopping at the
// first row that does not decode.
template <typename T, typename ReadFn>
Result<std::vector<T>> Select(SqlConnection& conn, const std::string& sql,
                              const std::vector<SqlValue>& params, ReadFn read) {
  LLMUX_ASSIGN_OR_RETURN(SqlResult res, conn.Exec(sql, params));
  std::vector<T> out;
  out.reserve(res.rows.size());
  for (const SqlRow& row : res.rows) {
    LLMUX_ASSIGN_OR_RETURN(T item, read(row));
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace llmux::store::internal
