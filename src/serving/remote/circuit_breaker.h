// One worker's circuit breaker at a gateway. Closed: requests go; each outcome is recorded.
// It opens after `consecutive_failures` failures in a row, or when the failure rate over the
// last `window` outcomes reaches `failure_rate` (once `min_samples` are in). Open: no requests
// for the cool-down. Then half-open: up to `half_open_probes` requests at a time go as probes;
// a probe's success closes it, a failure opens it again with the cool-down doubled (up to
// `max_cool_down`). Active health checks are the gateway's other signal: a worker that says it
// does not serve gets no requests whatever its breaker says (RemoteInferenceService).
//
// Not thread-safe: the gateway holds its own lock around it. Time comes from the caller.
#pragma once

#include <chrono>
#include <deque>

namespace llmux::serving {

struct CircuitBreakerOptions {
  int consecutive_failures = 3;
  double failure_rate = 0.5;
  int window = 20;
  int min_samples = 10;
  std::chrono::milliseconds cool_down{2000};
  std::chrono::milliseconds max_cool_down{30000};
  int half_open_probes = 1;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
const char* BreakerStateName(BreakerState state);  // "closed", "open", "half_open"

class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;

  explicit CircuitBreaker(CircuitBreakerOptions options = {});

  // The state at `now` (an open breaker whose cool-down is over reads half-open).
  BreakerState state(Clock::time_point now);
  // Whether a request may go now, without taking a probe slot.
  bool CanTake(Clock::time_point now);
  // A request goes: in half-open it takes one of the probe slots. Call only after CanTake.
  void Take(Clock::time_point now);
  // The outcome of a request that was taken.
  void OnSuccess(Clock::time_point now);
  void OnFailure(Clock::time_point now);
  // A taken request that ended without saying anything about the worker (cancelled by the
  // client, refused as full): gives its probe slot back.
  void OnNeutral();

  // For metrics: times it opened.
  int opened() const { return opened_; }

 private:
  void Open(Clock::time_point now);
  void Close();
  void Record(bool failure);

  CircuitBreakerOptions options_;
  BreakerState state_ = BreakerState::kClosed;
  Clock::time_point open_until_{};
  std::chrono::milliseconds cool_down_;
  int probes_out_ = 0;
  int failures_in_row_ = 0;
  std::deque<bool> outcomes_;  // true: failure; the last `window`
  int window_failures_ = 0;
  int opened_ = 0;
};

}  // namespace llmux::serving
