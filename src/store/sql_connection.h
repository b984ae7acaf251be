// Internal: the little a Store needs from a database connection. Both backends take the same SQL
// with $1..$n placeholders (SQLite binds them by name, PostgreSQL natively), so the store's
// queries are written once; only the schema migrations differ per backend.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/status.h"

namespace llmux::store::internal {

enum class Dialect { kSqlite, kPostgres };

using SqlValue = std::variant<std::nullptr_t, int64_t, std::string>;
using SqlRow = std::vector<std::optional<std::string>>;  // every column as text; nullopt = NULL

struct SqlResult {
  std::vector<SqlRow> rows;
  int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

// Not thread-safe; the store serializes calls. Error codes are already classified:
// kAlreadyExists (unique violation), kNotFound (foreign key violation), kUnavailable (connection
// lost, database busy), kInternal (anything else). Messages never contain bound values.
class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Dialect dialect() const = 0;
  // One statement; parameters $1..$n are params[0..n-1].
  virtual Result<SqlResult> Exec(const std::string& sql, const std::vector<SqlValue>& params) = 0;
  // Several statements without parameters (schema migrations).
  virtual Status ExecScript(const std::string& sql) = 0;
  // Begin takes the database's write lock (SQLite BEGIN IMMEDIATE) so that read-then-write
  // transactions do not deadlock.
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
};

}  // namespace llmux::store::internal
