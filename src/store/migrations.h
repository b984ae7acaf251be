// Versioned schema migrations, applied when a store opens. Each step runs in its own transaction
// exactly once and is recorded in schema_migrations(version, applied_at). A database whose
// schema is newer than this binary knows is refused (kUnimplemented).
#pragma once

#include "base/status.h"
#include "store/sql_connection.h"

namespace llmux::store {

// The newest schema version this binary knows.
int LatestSchemaVersion();

namespace internal {

struct Migration {
  int version;
  const char* description;
  const char* sqlite_sql;  // may hold several statements
  const char* postgres_sql;
};

// Ordered by version, starting at 1, without gaps.
const std::vector<Migration>& AllMigrations();

// Brings the database up to LatestSchemaVersion().
Status ApplyMigrations(SqlConnection& conn);

// Highest applied version (0 for an empty database).
Result<int> CurrentSchemaVersion(SqlConnection& conn);

}  // namespace internal
}  // namespace llmux::store
