// The request log service: the front ends hand it one record per finished inference call and
// go on at once; a background writer stores them in batches (one transaction each), and prunes
// what is older than the retention or beyond the size limit. The admin edges read it back
// filtered and paged, as aggregates, or as CSV.
//
// Writes never slow serving: Record() only takes a short lock and queues. When the queue is
// full, or the record's principal already has its share of it waiting, the record is dropped
// and counted (dropped()), never waited for. The prompt text is stored only when
// store_prompts is on.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "base/caller_shares.h"
#include "base/status.h"
#include "services/requestlog/request_log_store.h"
#include "services/requestlog/request_record.h"
#include "services/requestlog/request_stats.h"

namespace llmux::requestlog {

struct RequestLogOptions {
  bool enabled = true;           // false: nothing is recorded (and the admin routes are not served)
  int64_t retention_days = 30;   // older records are pruned; 0: kept for ever
  int64_t max_rows = 1'000'000;  // the newest this many are kept; 0: no limit
  bool store_prompts = false;    // keep the prompt text of each request
  size_t queue_capacity = 10'000;  // records waiting to be written; beyond, they are dropped
  // The most of them one principal may have waiting (0: queue_capacity / 4), so a caller that
  // floods the server while the store is slow cannot push everyone else's records out.
  size_t per_caller_queue = 0;
  size_t batch_size = 256;         // records per write transaction
  std::chrono::milliseconds flush_interval{500};  // a partial batch waits at most this long
  std::chrono::seconds prune_interval{300};       // the first prune comes this long after the start
  int64_t max_scan_rows = 100'000;                // rows an aggregate reads at most (the newest)
};

// Aggregates over the newest max_scan_rows matching records.
struct RequestStats {
  std::vector<StatsRow> rows;
  int64_t rows_scanned = 0;
  bool truncated = false;  // more records matched than were read
};

// Sets filter.status from "ok", "error" or a status code (0..999); kInvalidArgument otherwise.
Status ParseStatusMatch(std::string_view text, RequestFilter& filter);

class RequestLog {
 public:
  // `store` must outlive the log. Starts the writer.
  RequestLog(RequestLogStore& store, const RequestLogOptions& options);
  // Writes what is queued, then stops the writer.
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  // Queues the record (time_ms 0 = now); drops it when the queue is full.
  void Record(RequestRecord record);
  // Blocks until everything queued before the call is written (or failed to be).
  void Flush();
  // Prunes now (the writer also does every prune_interval).
  Result<int64_t> Prune();

  Result<RequestList> List(const RequestFilter& filter, RequestPage page);
  Result<RequestStats> Stats(const RequestFilter& filter, StatsGroup group);

  const RequestLogOptions& options() const { return options_; }
  uint64_t dropped() const;         // records refused because the queue was full
  uint64_t written() const;         // records stored
  uint64_t write_failures() const;  // records lost to a failed write
  size_t queued() const;

 private:
  void WriterLoop();

  RequestLogStore& store_;
  const RequestLogOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer: a full batch, a flush, or stop
  std::condition_variable drained_;  // Flush(): a batch was written
  struct Queued {
    RequestRecord record;
    std::unique_ptr<CallerShares::Slot> share;  // the principal's place in the queue
  };
  std::deque<Queued> queue_;
  CallerShares shares_;
  uint64_t enqueued_ = 0;  // records ever queued
  uint64_t done_ = 0;      // records ever taken and written (or failed)
  uint64_t dropped_ = 0;
  uint64_t written_ = 0;
  uint64_t failures_ = 0;
  bool flush_requested_ = false;
  bool stop_ = false;
  std::thread writer_;
};

}  // namespace llmux::requestlog
