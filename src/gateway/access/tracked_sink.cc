#include "gateway/access/tracked_sink.h"

#include <algorithm>
#include <cctype>

#include "gateway/access/status_codes.h"

namespace llmux::gateway {

namespace {

int64_t MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// "invalid_argument" from "INVALID_ARGUMENT".
std::string ErrorClass(StatusCode code) {
  std::string name = StatusCodeName(code);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return name;
}

}  // namespace

void SetOutcome(requestlog::RequestRecord& record, const Status& outcome, bool cancelled) {
  const bool grpc = record.protocol == "grpc";
  if (cancelled) {
    record.status = grpc ? kGrpcCancelled : kHttpClientClosed;
    record.error_class = "cancelled";
    return;
  }
  record.status = grpc ? GrpcCodeFor(outcome) : HttpStatusFor(outcome);
  record.error_class = outcome.ok() ? "" : ErrorClass(outcome.code());
}

TrackedSink::TrackedSink(std::shared_ptr<serving::Sink> inner,
                         std::shared_ptr<auth::UsageLease> lease,
                         std::shared_ptr<CallerShares::Slot> slot, requestlog::RequestLog* log,
                         requestlog::RequestRecord record,
                         std::chrono::steady_clock::time_point start)
    : inner_(std::move(inner)),
      lease_(std::move(lease)),
      slot_(std::move(slot)),
      log_(log),
      record_(std::move(record)),
      start_(start) {}

void TrackedSink::OnDelta(const serving::Delta& delta) {
  if (ttft_ms_.load(std::memory_order_relaxed) < 0) {
    ttft_ms_.store(MillisSince(start_), std::memory_order_relaxed);
  }
  if (inner_) inner_->OnDelta(delta);
}

void TrackedSink::OnFinish(const serving::Finish& finish) {
  if (lease_) lease_->Finish(finish.usage.total_tokens());
  Status outcome = Status::Ok();
  if (finish.reason == serving::FinishReason::kError) {
    outcome = finish.error.ok() ? InternalError("generation failed") : finish.error;
  }
  Record(outcome, finish.reason == serving::FinishReason::kCancelled, finish.usage);
  if (inner_) inner_->OnFinish(finish);
}

void TrackedSink::Refuse(const Status& why) { Record(why, false, serving::Usage{}); }

void TrackedSink::Record(const Status& outcome, bool cancelled, const serving::Usage& usage) {
  if (log_ == nullptr || recorded_.exchange(true)) return;
  requestlog::RequestRecord r = std::move(record_);
  r.prompt_tokens = usage.prompt_tokens;
  r.completion_tokens = usage.completion_tokens;
  r.cached_tokens = usage.cached_tokens;
  r.ttft_ms = ttft_ms_.load(std::memory_order_relaxed);
  r.latency_ms = MillisSince(start_);
  SetOutcome(r, outcome, cancelled);
  log_->Record(std::move(r));
}

}  // namespace llmux::gateway
