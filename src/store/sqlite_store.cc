#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <unordered_map>

#include "base/private_file.h"
#include "store/sql_connection.h"
#include "store/sql_store.h"

namespace llmux::store {
namespace {

using internal::Dialect;
using internal::SqlResult;
using internal::SqlValue;

constexpr int kBusyTimeoutMs = 5000;

class SqliteConnection final : public internal::SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }

  Result<SqlResult> Exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    LLMUX_ASSIGN_OR_RETURN(sqlite3_stmt * stmt, Prepare(sql));
    // Leave the statement reset and unbound whatever happens, so it can be reused.
    struct Reset {
      sqlite3_stmt* s;
      ~Reset() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
      }
    } reset{stmt};

    for (size_t i = 0; i < params.size(); ++i) {
      char name[24];  // "$1", "$2", ... (snprintf: GCC 12 misreports string concatenation)
      std::snprintf(name, sizeof(name), "$%zu", i + 1);
      const int index = sqlite3_bind_parameter_index(stmt, name);
      if (index == 0) continue;  // a parameter the statement does not use
      int rc = SQLITE_OK;
      if (const auto* v = std::get_if<int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(stmt, index, *v);
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        rc = sqlite3_bind_text(stmt, index, s->data(), static_cast<int>(s->size()),
                               SQLITE_TRANSIENT);
      } else {
        rc = sqlite3_bind_null(stmt, index);
      }
      if (rc != SQLITE_OK) return Error("binding a parameter");
    }

    SqlResult result;
    const int ncol = sqlite3_column_count(stmt);
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return Error("executing a statement");
      internal::SqlRow row(ncol);
      for (int c = 0; c < ncol; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) continue;
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
        row[c] = std::string(text, sqlite3_column_bytes(stmt, c));
      }
      result.rows.push_back(std::move(row));
    }
    // sqlite3_changes64 keeps the count of the last writing statement; reads change nothing.
    result.affected = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(db_);
    return result;
  }

  Status ExecScript(const std::string& sql) override {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return Error("executing a script");
    }
    return Status::Ok();
  }

  Status Begin() override { return ExecScript("BEGIN IMMEDIATE"); }
  Status Commit() override { return ExecScript("COMMIT"); }
  Status Rollback() override {
    if (sqlite3_get_autocommit(db_)) return Status::Ok();  // SQLite already rolled back
    return ExecScript("ROLLBACK");
  }

 private:
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                           SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return Error("preparing a statement");
    }
    statements_.emplace(sql, stmt);
    return stmt;
  }

  // SQLite's messages name the table and column of a failed constraint, never a bound value.
  Status Error(const char* what) const {
    const int ext = sqlite3_extended_errcode(db_);
    const std::string msg = std::string("SQLite ") + what + ": " + sqlite3_errmsg(db_);
    switch (ext) {
      case SQLITE_CONSTRAINT_UNIQUE:
      case SQLITE_CONSTRAINT_PRIMARYKEY:
        return AlreadyExistsError(msg);
      case SQLITE_CONSTRAINT_FOREIGNKEY:
        return NotFoundError(msg);
      default:
        break;
    }
    switch (ext & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
      case SQLITE_CANTOPEN:
      case SQLITE_FULL:
      case SQLITE_READONLY:
        return UnavailableError(msg);
      case SQLITE_CORRUPT:
      case SQLITE_NOTADB:
        return DataLossError(msg);
      default:
        return InternalError(msg);
    }
  }

  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  if (path.empty()) return InvalidArgumentError("SQLite database path must not be empty");
  // The database holds password and key hashes and the audit log: owner only (0600). SQLite
  // would create it 0644, and gives its -wal and -shm files the database's mode.
  if (path != ":memory:" && path.rfind("file:", 0) != 0) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string file = path + suffix;
      if (*suffix && ::access(file.c_str(), F_OK) != 0) continue;  // SQLite creates them 0600 now
      if (Status st = MakeFilePrivate(file); !st.ok()) {
        return UnavailableError("opening SQLite database '" + path + "': " + st.message());
      }
    }
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return UnavailableError("opening SQLite database '" + path + "': " + msg);
  }
  auto conn = std::make_unique<SqliteConnection>(db);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // WAL lets readers run beside the writer; NORMAL sync is durable at checkpoints and safe in
  // WAL mode. Foreign keys are off by default in SQLite and must be enabled per connection.
  Status st = conn->ExecScript(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;");
  if (!st.ok()) return st.WithContext("configuring SQLite database '" + path + "'");
  auto store = internal::MakeSqlStore(std::move(conn));
  if (!store.ok()) return store.status().WithContext("opening SQLite database '" + path + "'");
  return store;
}

}  // namespace llmux::store
