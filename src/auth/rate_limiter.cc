#include "auth/rate_limiter.h"

#include <chrono>

namespace llmux::auth {

namespace {

int64_t CeilSeconds(int64_t ms) { return std::max<int64_t>(1, (ms + 999) / 1000); }

Admission Refuse(std::string message, int64_t retry_after_s) {
  Admission a;
  a.status = ResourceExhaustedError(std::move(message));
  a.retry_after_s = std::max<int64_t>(1, retry_after_s);
  return a;
}

}  // namespace

UsageLease::~UsageLease() {
  if (finished_) return;
  for (const LimitLayer& layer : layers_) limiter_.Release(layer);
}

void UsageLease::Finish(int64_t tokens) {
  if (finished_) return;
  finished_ = true;
  for (const LimitLayer& layer : layers_) {
    limiter_.Charge(layer, tokens);
    limiter_.Release(layer);
  }
}

RateLimiter::RateLimiter(LimitCounters& counters, UsageStore* store, ClockMs clock_ms)
    : counters_(counters), store_(store), clock_ms_(std::move(clock_ms)) {}

int64_t RateLimiter::NowMs() const {
  if (clock_ms_) return clock_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<LimitLayer> RateLimiter::LayersOf(const Principal& p) {
  std::vector<LimitLayer> layers = {{p.subject, p.limits}};
  const std::string owner = "user:" + std::to_string(p.user_id);
  if (p.user_id != 0 && p.subject != owner && !(p.user_limits == Limits{})) {
    layers.push_back({owner, p.user_limits});
  }
  return layers;
}

Admission RateLimiter::Admit(const Principal& p) {
  std::vector<LimitLayer> layers = LayersOf(p);
  const int64_t now_ms = NowMs();
  for (size_t i = 0; i < layers.size(); ++i) {
    Admission a = AdmitLayer(layers[i], now_ms);
    if (!a.status.ok()) {
      if (i > 0) a.status = ResourceExhaustedError(a.status.message() + " (the owner's limit)");
      for (size_t j = 0; j < i; ++j) Undo(layers[j], now_ms);
      return a;
    }
  }
  Admission a;
  a.lease.reset(new UsageLease(*this, std::move(layers)));
  return a;
}

void RateLimiter::Undo(const LimitLayer& layer, int64_t now_ms) {
  const Limits& l = layer.limits;
  if (l.requests_per_minute > 0) {
    counters_.Debit(layer.subject + ":rpm", l.requests_per_minute, -1, now_ms);
  }
  Release(layer);
}

Admission RateLimiter::AdmitLayer(const LimitLayer& layer, int64_t now_ms) {
  const Limits& l = layer.limits;
  const std::string& subject = layer.subject;
  const std::string whose = subject.rfind("user:", 0) == 0 ? "this user" : "this key";

  if (l.max_concurrent > 0 && !counters_.TryAcquireSlot(subject + ":slots", l.max_concurrent)) {
    return Refuse("rate limit reached: " + std::to_string(l.max_concurrent) +
                      " concurrent requests allowed for " + whose,
                  1);
  }
  // From here on a refusal gives the slot back.
  auto refuse = [&](std::string message, int64_t retry_after_s) {
    if (l.max_concurrent > 0) counters_.ReleaseSlot(subject + ":slots");
    return Refuse(std::move(message), retry_after_s);
  };

  if (l.token_budget > 0 && l.budget_period_seconds > 0 && store_ != nullptr) {
    const int64_t now_s = now_ms / 1000;
    const int64_t period_start = now_s - now_s % l.budget_period_seconds;
    auto used = store_->GetUsage(subject, period_start);
    if (!used.ok()) return refuse("cannot read the token budget now", 1);
    if (*used >= l.token_budget) {
      return refuse("token budget exhausted: " + std::to_string(*used) + " of " +
                        std::to_string(l.token_budget) + " tokens used in this period",
                    period_start + l.budget_period_seconds - now_s);
    }
  }
  if (l.tokens_per_minute > 0) {
    const int64_t wait = counters_.TryTake(subject + ":tpm", l.tokens_per_minute, 1, 0, now_ms);
    if (wait > 0) {
      return refuse("rate limit reached: " + std::to_string(l.tokens_per_minute) +
                        " tokens per minute allowed for " + whose,
                    CeilSeconds(wait));
    }
  }
  if (l.requests_per_minute > 0) {
    const int64_t wait = counters_.TryTake(subject + ":rpm", l.requests_per_minute, 1, 1, now_ms);
    if (wait > 0) {
      return refuse("rate limit reached: " + std::to_string(l.requests_per_minute) +
                        " requests per minute allowed for " + whose,
                    CeilSeconds(wait));
    }
  }
  return Admission{};
}

void RateLimiter::Charge(const LimitLayer& layer, int64_t tokens) {
  const std::string& subject = layer.subject;
  const Limits& l = layer.limits;
  if (tokens <= 0) return;
  const int64_t now_ms = NowMs();
  if (l.tokens_per_minute > 0) {
    counters_.Debit(subject + ":tpm", l.tokens_per_minute, static_cast<double>(tokens), now_ms);
  }
  if (l.token_budget > 0 && l.budget_period_seconds > 0 && store_ != nullptr) {
    const int64_t now_s = now_ms / 1000;
    (void)store_->AddUsage(subject, now_s - now_s % l.budget_period_seconds, tokens);
  }
}

void RateLimiter::Release(const LimitLayer& layer) {
  if (layer.limits.max_concurrent > 0) counters_.ReleaseSlot(layer.subject + ":slots");
}

}  // namespace llmux::auth
