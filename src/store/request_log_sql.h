// Internal: the request log's queries (requestlog::RequestLogStore), shared by both backends.
// The caller holds the connection's lock.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "services/requestlog/request_record.h"
#include "store/sql_connection.h"

namespace llmux::store::internal {

// In one transaction.
Status AppendRequests(SqlConnection& conn, std::span<const requestlog::RequestRecord> records);
Result<requestlog::RequestList> ListRequests(SqlConnection& conn,
                                             const requestlog::RequestFilter& filter,
                                             requestlog::RequestPage page);
Result<std::vector<requestlog::RequestRecord>> ScanRequests(SqlConnection& conn,
                                                            const requestlog::RequestFilter& filter,
                                                            int64_t max_rows);
Result<int64_t> PruneRequests(SqlConnection& conn, int64_t before_ms, int64_t keep_rows);

}  // namespace llmux::store::internal
