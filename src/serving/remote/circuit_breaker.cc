#include "serving/remote/circuit_breaker.h"

#include <algorithm>

namespace llmux::serving {

const char* BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "?";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options)
    : options_(options), cool_down_(options.cool_down) {}

BreakerState CircuitBreaker::state(Clock::time_point now) {
  if (state_ == BreakerState::kOpen && now >= open_until_) {
    state_ = BreakerState::kHalfOpen;
    probes_out_ = 0;
  }
  return state_;
}

bool CircuitBreaker::CanTake(Clock::time_point now) {
  switch (state(now)) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen:
      return probes_out_ < std::max(1, options_.half_open_probes);
  }
  return false;
}

void CircuitBreaker::Take(Clock::time_point now) {
  if (state(now) == BreakerState::kHalfOpen) ++probes_out_;
}

void CircuitBreaker::OnSuccess(Clock::time_point now) {
  if (state(now) == BreakerState::kHalfOpen) {
    Close();
    return;
  }
  failures_in_row_ = 0;
  Record(false);
}

void CircuitBreaker::OnFailure(Clock::time_point now) {
  const BreakerState s = state(now);
  if (s == BreakerState::kOpen) return;  // late news of calls sent before it opened
  if (s == BreakerState::kHalfOpen) {
    // The probe failed: open again, for longer.
    cool_down_ = std::min(cool_down_ * 2, options_.max_cool_down);
    Open(now);
    return;
  }
  ++failures_in_row_;
  Record(true);
  const int n = static_cast<int>(outcomes_.size());
  const bool rate = n >= options_.min_samples &&
                    window_failures_ >= options_.failure_rate * static_cast<double>(n);
  if (failures_in_row_ >= options_.consecutive_failures || rate) Open(now);
}

void CircuitBreaker::OnNeutral() {
  if (state_ == BreakerState::kHalfOpen && probes_out_ > 0) --probes_out_;
}

void CircuitBreaker::Open(Clock::time_point now) {
  if (state_ != BreakerState::kOpen) ++opened_;
  state_ = BreakerState::kOpen;
  open_until_ = now + cool_down_;
  probes_out_ = 0;
}

void CircuitBreaker::Close() {
  state_ = BreakerState::kClosed;
  cool_down_ = options_.cool_down;
  probes_out_ = 0;
  failures_in_row_ = 0;
  outcomes_.clear();
  window_failures_ = 0;
}

void CircuitBreaker::Record(bool failure) {
  outcomes_.push_back(failure);
  window_failures_ += failure ? 1 : 0;
  while (static_cast<int>(outcomes_.size()) > std::max(1, options_.window)) {
    window_failures_ -= outcomes_.front() ? 1 : 0;
    outcomes_.pop_front();
  }
}

}  // namespace llmux::serving
