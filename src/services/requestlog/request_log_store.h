// What RequestLog needs of a store. src/store/ implements it on SQLite and PostgreSQL.
//
// Errors: kInvalidArgument (a page limit outside 1..1000), kUnavailable (the database cannot
// be reached or is busy), kInternal / kDataLoss (other failures). Thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/status.h"
#include "services/requestlog/request_record.h"

namespace llmux::requestlog {

class RequestLogStore {
 public:
  virtual ~RequestLogStore() = default;

  // All of them in one transaction, or none (their ids are ignored).
  virtual Status AppendRequests(std::span<const RequestRecord> records) = 0;
  virtual Result<RequestList> ListRequests(const RequestFilter& filter, RequestPage page) = 0;
  // The newest `max_rows` records that match, newest first, without their prompt text: what
  // aggregates are computed over.
  virtual Result<std::vector<RequestRecord>> ScanRequests(const RequestFilter& filter,
                                                          int64_t max_rows) = 0;
  // Deletes the records older than `before_ms` (0: none for age), then all but the newest
  // `keep_rows` (0: no limit). Returns how many went.
  virtual Result<int64_t> PruneRequests(int64_t before_ms, int64_t keep_rows) = 0;
};

}  // namespace llmux::requestlog
