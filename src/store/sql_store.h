// Internal: the Store implementation shared by both backends, over one SqlConnection.
#pragma once

#include <memory>

#include "base/status.h"
#include "store/sql_connection.h"
#include "store/store.h"

namespace llmux::store::internal {

// Applies the schema migrations, then wraps the connection in a thread-safe Store.
Result<std::unique_ptr<Store>> MakeSqlStore(std::unique_ptr<SqlConnection> conn);

}  // namespace llmux::store::internal
