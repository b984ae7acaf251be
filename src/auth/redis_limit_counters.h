// Per-key limit counters in Redis, so that a key's limits hold in sum across several gateways.
// Token buckets are Lua scripts on Redis's own clock (gateways' clocks may differ); slots are
// counters. When Redis cannot be reached the counters fall back to this gateway's memory
// (limits then hold per gateway) and go back to Redis once it answers again.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "auth/limit_counters.h"
#include "base/status.h"

struct redisContext;

namespace llmux::auth {

struct RedisLimitOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string key_prefix = "llmux:limit:";
  std::chrono::milliseconds timeout{200};  // connect and each command
  // After Redis failed, how long the memory fallback is used before Redis is tried again.
  std::chrono::milliseconds retry_interval{1000};
  // A slot taken by a gateway that died is freed after this long (a slot is otherwise given
  // back when its request ends).
  std::chrono::seconds slot_ttl{3600};
};

class RedisLimitCounters : public LimitCounters {
 public:
  explicit RedisLimitCounters(RedisLimitOptions options);
  ~RedisLimitCounters() override;

  // "host:port" (IPv6 in brackets) into the options' host and port.
  static Status ParseAddress(std::string_view address, RedisLimitOptions* options);

  int64_t TryTake(std::string_view key, int64_t capacity, double need, double take,
                  int64_t now_ms) override;
  void Debit(std::string_view key, int64_t capacity, double amount, int64_t now_ms) override;
  bool TryAcquireSlot(std::string_view key, int64_t max) override;
  void ReleaseSlot(std::string_view key) override;

  // Whether the last command reached Redis (false: the memory fallback answered).
  bool connected() const;

 private:
  // Runs one EVAL; nullopt when Redis could not answer (the caller falls back).
  std::optional<int64_t> Eval(const char* script, std::string_view key,
                              std::initializer_list<std::string> args);
  bool EnsureConnected();  // with mu_ held
  void Disconnect();       // with mu_ held

  const RedisLimitOptions options_;
  mutable std::mutex mu_;
  redisContext* context_ = nullptr;
  std::chrono::steady_clock::time_point retry_at_{};
  bool connected_ = false;
  InMemoryLimitCounters fallback_;
};

}  // namespace llmux::auth
