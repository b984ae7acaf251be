// The sink of one admitted call's generation, whatever the front end: it passes every callback
// on to the front end's own sink, charges the tokens to the caller's limits at the finish, and
// records the call in the request log (first-token time, usage, outcome). Made by
// CallAccess::Track, the one place where a generation's outcome meets its caller.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include "auth/rate_limiter.h"
#include "base/caller_shares.h"
#include "services/requestlog/request_log.h"
#include "serving/inference_service.h"

namespace llmux::gateway {

class TrackedSink final : public serving::Sink {
 public:
  // `inner` null: nothing is forwarded (a call answered whole, e.g. embeddings). `log` null:
  // nothing is recorded. `record` holds the call's fields known at admission.
  TrackedSink(std::shared_ptr<serving::Sink> inner, std::shared_ptr<auth::UsageLease> lease,
              std::shared_ptr<CallerShares::Slot> slot, requestlog::RequestLog* log,
              requestlog::RequestRecord record, std::chrono::steady_clock::time_point start);

  void OnDelta(const serving::Delta& delta) override;
  void OnFinish(const serving::Finish& finish) override;
  // The service refused the generation before it started (Submit's `done` got `why`).
  void Refuse(const Status& why);

 private:
  void Record(const Status& outcome, bool cancelled, const serving::Usage& usage);

  std::shared_ptr<serving::Sink> inner_;
  // Held until the finish or until the sink is dropped: the call's admission (its concurrency
  // slot and its share of the caller's calls).
  std::shared_ptr<auth::UsageLease> lease_;
  std::shared_ptr<CallerShares::Slot> slot_;
  requestlog::RequestLog* log_;
  requestlog::RequestRecord record_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> ttft_ms_{-1};
  std::atomic<bool> recorded_{false};
};

// Fills `record`'s outcome fields: status (HTTP or gRPC, after record.protocol), error class.
void SetOutcome(requestlog::RequestRecord& record, const Status& outcome, bool cancelled);

}  // namespace llmux::gateway
