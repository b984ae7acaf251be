// The PostgreSQL backend of the store, over libpq.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "store/store.h"

namespace llmux::store {

// Connects with a libpq connection string ("host=... port=... dbname=... user=..." or a
// postgresql:// URI) and applies the schema migrations. A connection that breaks later is
// re-established on the next call. kUnavailable if the server cannot be reached.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo);

}  // namespace llmux::store
