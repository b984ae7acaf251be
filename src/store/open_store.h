// Opens the store named by a URL: "postgresql://..." or "postgres://..." (a libpq connection
// URI) or libpq's "host=... dbname=..." form (PostgreSQL); "sqlite:PATH" or a plain file path
// (SQLite).
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace llmux::store {

Result<std::unique_ptr<Store>> OpenStore(const std::string& url);

// Whether the URL names a PostgreSQL store (which many servers may share) rather than SQLite.
bool IsPostgresUrl(const std::string& url);

// The URL with any password replaced by "***", for logs and messages.
std::string RedactStoreUrl(const std::string& url);

}  // namespace llmux::store
