#include "store/postgres_store.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "store/sql_connection.h"
#include "store/sql_store.h"

namespace llmux::store {
namespace {

using internal::Dialect;
using internal::SqlResult;
using internal::SqlValue;

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

void IgnoreNotice(void*, const char*) {}  // "relation already exists, skipping" and the like

std::string FirstLine(const char* text) {
  std::string s = text ? text : "";
  s = s.substr(0, s.find('\n'));
  return s;
}

class PostgresConnection final : public internal::SqlConnection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) { Configure(); }
  ~PostgresConnection() override { PQfinish(conn_); }

  Dialect dialect() const override { return Dialect::kPostgres; }

  Result<SqlResult> Exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    // All parameters go as text; the server infers their types from the statement.
    std::vector<std::string> text(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* v = std::get_if<int64_t>(&params[i])) {
        text[i] = std::to_string(*v);
        values[i] = text[i].c_str();
      } else if (const auto* s = std::get_if<std::string>(&params[i])) {
        values[i] = s->c_str();
      }
    }
    auto run = [&] {
      return PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                          values.data(), nullptr, nullptr, /*resultFormat=*/0);
    };
    ResultPtr res(run(), PQclear);
    if (Broken() && Reconnect()) {
      // Found dead (e.g. the server restarted): the statement did not run, so it runs once
      // more on the new connection. Never inside a transaction, whose work is lost.
      res.reset(run());
    }
    const ExecStatusType st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Error(res.get(), "executing a statement");

    SqlResult result;
    const int nrows = PQntuples(res.get());
    const int ncols = PQnfields(res.get());
    result.rows.reserve(nrows);
    for (int r = 0; r < nrows; ++r) {
      internal::SqlRow row(ncols);
      for (int c = 0; c < ncols; ++c) {
        if (!PQgetisnull(res.get(), r, c)) {
          row[c] = std::string(PQgetvalue(res.get(), r, c), PQgetlength(res.get(), r, c));
        }
      }
      result.rows.push_back(std::move(row));
    }
    const char* affected = PQcmdTuples(res.get());
    result.affected = (affected && *affected) ? std::atoll(affected) : 0;
    return result;
  }

  Status ExecScript(const std::string& sql) override {
    if (Broken() && !in_transaction_) Reconnect();
    ResultPtr res(PQexec(conn_, sql.c_str()), PQclear);
    const ExecStatusType st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
      return Error(res.get(), "executing a script");
    return Status::Ok();
  }

  Status Begin() override {
    // A dead connection is replaced before the transaction starts, never inside one.
    if (Broken()) Reconnect();
    LLMUX_RETURN_IF_ERROR(ExecScript("BEGIN"));
    in_transaction_ = true;
    return Status::Ok();
  }
  Status Commit() override {
    in_transaction_ = false;
    return ExecScript("COMMIT");
  }
  Status Rollback() override {
    in_transaction_ = false;
    if (Broken()) return Status::Ok();  // the server rolled back when the connection died
    return ExecScript("ROLLBACK");
  }

 private:
  bool Broken() const { return PQstatus(conn_) == CONNECTION_BAD; }

  // Re-establishes a broken connection unless a transaction is open (its work is lost and the
  // caller must see the error). Returns whether the connection is usable again.
  bool Reconnect() {
    if (in_transaction_) return false;
    PQreset(conn_);
    if (Broken()) return false;
    Configure();
    return true;
  }

  void Configure() { PQsetNoticeProcessor(conn_, IgnoreNotice, nullptr); }

  // Uses only the primary message: DETAIL lines can quote the values of a violated key.
  Status Error(const PGresult* res, const char* what) const {
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const std::string msg = std::string("PostgreSQL ") + what + ": " +
                            (primary ? std::string(primary) : FirstLine(PQerrorMessage(conn_)));
    if (Broken()) return UnavailableError(msg);
    if (!state) return InternalError(msg);
    if (std::strcmp(state, "23505") == 0) return AlreadyExistsError(msg);  // unique_violation
    if (std::strcmp(state, "23503") == 0) return NotFoundError(msg);       // foreign_key_violation
    // Connection exceptions, serialization failures, deadlocks, shutdown, too many connections.
    if (std::strncmp(state, "08", 2) == 0 || std::strcmp(state, "40001") == 0 ||
        std::strcmp(state, "40P01") == 0 || std::strncmp(state, "57P", 3) == 0 ||
        std::strcmp(state, "53300") == 0) {
      return UnavailableError(msg);
    }
    return InternalError(msg);
  }

  PGconn* conn_;
  bool in_transaction_ = false;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (conn == nullptr) return InternalError("PostgreSQL: out of memory creating a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    // libpq's message names host, port and user; never the password or the connection string.
    std::string msg = FirstLine(PQerrorMessage(conn));
    PQfinish(conn);
    return UnavailableError("connecting to PostgreSQL: " + msg);
  }
  auto store = internal::MakeSqlStore(std::make_unique<PostgresConnection>(conn));
  if (!store.ok()) return store.status().WithContext("opening PostgreSQL store");
  return store;
}

}  // namespace llmux::store
