// The counters behind per-key limits. InMemoryLimitCounters keeps them in this gateway's
// memory (the default); several gateways would share one implementation of this interface
// backed by Redis (token buckets and slot counts map onto Lua-scripted keys), so the
// RateLimiter above it does not change.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace llmux::auth {

class LimitCounters {
 public:
  virtual ~LimitCounters() = default;

  // Token bucket `key` holding at most `capacity`, refilled at capacity per minute and full
  // when first seen. If at least `need` is in it, takes `take` (0 = only check) and returns 0;
  // otherwise takes nothing and returns the milliseconds until `need` will be there.
  virtual int64_t TryTake(std::string_view key, int64_t capacity, double need, double take,
                          int64_t now_ms) = 0;
  // Takes `amount` whatever the level (which may go below zero: later requests then wait).
  // A negative amount gives back, up to the capacity.
  virtual void Debit(std::string_view key, int64_t capacity, double amount, int64_t now_ms) = 0;

  // Concurrency slots: takes one if fewer than `max` are taken; true on success.
  virtual bool TryAcquireSlot(std::string_view key, int64_t max) = 0;
  virtual void ReleaseSlot(std::string_view key) = 0;
};

class InMemoryLimitCounters : public LimitCounters {
 public:
  int64_t TryTake(std::string_view key, int64_t capacity, double need, double take,
                  int64_t now_ms) override;
  void Debit(std::string_view key, int64_t capacity, double amount, int64_t now_ms) override;
  bool TryAcquireSlot(std::string_view key, int64_t max) override;
  void ReleaseSlot(std::string_view key) override;

 private:
  struct Bucket {
    double level = 0;
    int64_t updated_ms = 0;
  };
  // Refills `b` to now; a new bucket starts full.
  Bucket& Refilled(std::string_view key, int64_t capacity, int64_t now_ms);

  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::unordered_map<std::string, int64_t> slots_;
};

}  // namespace llmux::auth
