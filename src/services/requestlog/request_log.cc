#include "services/requestlog/request_log.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

namespace llmux::requestlog {

namespace {

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int64_t kMsPerDay = 86'400'000;

}  // namespace

Status ParseStatusMatch(std::string_view text, RequestFilter& filter) {
  if (text == "ok") {
    filter.status = StatusMatch::kOk;
    return Status::Ok();
  }
  if (text == "error") {
    filter.status = StatusMatch::kError;
    return Status::Ok();
  }
  int code = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), code);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || code < 0 ||
      code > 999) {
    return InvalidArgumentError("status must be ok, error or a status code").WithField("status");
  }
  filter.status = StatusMatch::kCode;
  filter.status_code = code;
  return Status::Ok();
}

RequestLog::RequestLog(RequestLogStore& store, const RequestLogOptions& options)
    : store_(store),
      options_(options),
      shares_(options.per_caller_queue > 0 ? options.per_caller_queue
                                           : std::max<size_t>(1, options.queue_capacity / 4)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

RequestLog::~RequestLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  writer_.join();
}

void RequestLog::Record(RequestRecord record) {
  if (!options_.enabled) return;
  if (record.time_ms == 0) record.time_ms = NowMillis();
  if (!options_.store_prompts) record.prompt.clear();
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.queue_capacity) {
      ++dropped_;
      return;
    }
    auto share = shares_.TryAcquire(record.principal);
    if (share == nullptr) {
      ++dropped_;
      return;
    }
    queue_.push_back(Queued{std::move(record), std::move(share)});
    ++enqueued_;
    wake = queue_.size() == options_.batch_size;
  }
  if (wake) wake_.notify_one();
}

void RequestLog::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = enqueued_;
  flush_requested_ = true;
  wake_.notify_one();
  drained_.wait(lock, [&] { return done_ >= target; });
}

Result<int64_t> RequestLog::Prune() {
  const int64_t before =
      options_.retention_days > 0 ? NowMillis() - options_.retention_days * kMsPerDay : 0;
  return store_.PruneRequests(before, options_.max_rows);
}

void RequestLog::WriterLoop() {
  const size_t batch_size = std::max<size_t>(1, options_.batch_size);
  auto next_prune = std::chrono::steady_clock::now() + options_.prune_interval;
  std::vector<RequestRecord> batch;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait_until(
        lock, std::min(std::chrono::steady_clock::now() + options_.flush_interval, next_prune),
        [&] { return stop_ || flush_requested_ || queue_.size() >= batch_size; });
    flush_requested_ = false;
    // Everything queued goes out now, in batches; a stop writes what is left first.
    while (!queue_.empty()) {
      const size_t n = std::min(batch_size, queue_.size());
      batch.clear();
      for (size_t i = 0; i < n; ++i) batch.push_back(std::move(queue_[i].record));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      Status st = store_.AppendRequests(batch);
      if (!st.ok()) spdlog::warn("request log: {} records not written: {}", n, st.ToString());
      lock.lock();
      (st.ok() ? written_ : failures_) += n;
      done_ += n;
      drained_.notify_all();
    }
    if (stop_) return;
    if (std::chrono::steady_clock::now() >= next_prune) {
      next_prune = std::chrono::steady_clock::now() + options_.prune_interval;
      if (options_.retention_days > 0 || options_.max_rows > 0) {
        lock.unlock();
        auto pruned = Prune();
        if (!pruned.ok())
          spdlog::warn("request log: pruning failed: {}", pruned.status().ToString());
        lock.lock();
      }
    }
  }
}

Result<RequestList> RequestLog::List(const RequestFilter& filter, RequestPage page) {
  return store_.ListRequests(filter, page);
}

Result<RequestStats> RequestLog::Stats(const RequestFilter& filter, StatsGroup group) {
  const int64_t max_rows = std::max<int64_t>(1, options_.max_scan_rows);
  LLMUX_ASSIGN_OR_RETURN(std::vector<RequestRecord> rows,
                         store_.ScanRequests(filter, max_rows + 1));
  RequestStats stats;
  stats.truncated = static_cast<int64_t>(rows.size()) > max_rows;
  if (stats.truncated) rows.resize(static_cast<size_t>(max_rows));
  stats.rows_scanned = static_cast<int64_t>(rows.size());
  stats.rows = Aggregate(rows, group);
  return stats;
}

uint64_t RequestLog::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

uint64_t RequestLog::written() const {
  std::lock_guard lock(mu_);
  return written_;
}

uint64_t RequestLog::write_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

size_t RequestLog::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

}  // namespace llmux::requestlog
