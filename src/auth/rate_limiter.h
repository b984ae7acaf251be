// Per-key limits, checked when a request is admitted and charged when it ends:
//   requests per minute   token bucket of rpm, refilled continuously, one per request;
//   tokens per minute     token bucket of tpm: a request is admitted while the bucket is not
//                         empty and charged its prompt + completion tokens at the end, so a
//                         key overshoots by at most the request in flight;
//   concurrent requests   slots held for the request's lifetime;
//   token budget          tokens per fixed period (aligned to the unix epoch), counted in the
//                         store so it survives restarts and is shared by gateways on one
//                         database.
// Limits apply in layers: the credential's (a key's) and, for a key owned by a user, the
// user's, shared by all their keys. A request must pass every layer and is charged to each.
// A refusal says which limit and when to retry (the HTTP Retry-After).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "auth/limit_counters.h"
#include "auth/principal.h"
#include "base/status.h"
#include "auth/auth_store.h"

namespace llmux::auth {

class RateLimiter;

// One set of limits and the counter subject it is kept under ("key:7", "user:3").
struct LimitLayer {
  std::string subject;
  Limits limits;
};

// An admitted request. Finish() charges its tokens; destroying it unfinished charges none.
// Either way its concurrency slot is released.
class UsageLease {
 public:
  ~UsageLease();
  UsageLease(const UsageLease&) = delete;
  UsageLease& operator=(const UsageLease&) = delete;

  void Finish(int64_t tokens);

 private:
  friend class RateLimiter;
  UsageLease(RateLimiter& limiter, std::vector<LimitLayer> layers)
      : limiter_(limiter), layers_(std::move(layers)) {}

  RateLimiter& limiter_;
  std::vector<LimitLayer> layers_;
  bool finished_ = false;
};

struct Admission {
  Status status;               // OK, or kResourceExhausted naming the limit
  int64_t retry_after_s = 0;   // when refused: seconds until a retry can succeed (>= 1)
  std::unique_ptr<UsageLease> lease;  // when admitted
};

class RateLimiter {
 public:
  using ClockMs = std::function<int64_t()>;

  // `counters` and `usage` (may be null: budgets are then not enforced) must outlive this.
  RateLimiter(LimitCounters& counters, UsageStore* usage, ClockMs clock_ms = nullptr);

  Admission Admit(const Principal& principal);
  // The layers of `principal`: its own limits, then its owner's when it is a user's key.
  static std::vector<LimitLayer> LayersOf(const Principal& principal);

 private:
  friend class UsageLease;
  int64_t NowMs() const;
  // Checks one layer; on success its concurrency slot and request token are taken.
  Admission AdmitLayer(const LimitLayer& layer, int64_t now_ms);
  // Gives back what AdmitLayer took (the request was refused by a later layer).
  void Undo(const LimitLayer& layer, int64_t now_ms);
  void Charge(const LimitLayer& layer, int64_t tokens);
  void Release(const LimitLayer& layer);

  LimitCounters& counters_;
  UsageStore* store_;
  ClockMs clock_ms_;
};

}  // namespace llmux::auth
