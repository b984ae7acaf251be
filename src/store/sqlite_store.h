// The embedded SQLite backend of the store (the default): one file, WAL journal, foreign keys on.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace llmux::store {

// Opens (creating if needed) the database file at `path` and applies the schema migrations.
// kUnavailable if the file cannot be opened; kUnimplemented if its schema is newer than ours.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace llmux::store
