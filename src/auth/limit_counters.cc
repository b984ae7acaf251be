#include "auth/limit_counters.h"

#include <algorithm>
#include <cmath>

namespace llmux::auth {

InMemoryLimitCounters::Bucket& InMemoryLimitCounters::Refilled(std::string_view key,
                                                               int64_t capacity, int64_t now_ms) {
  auto [it, fresh] = buckets_.try_emplace(std::string(key));
  Bucket& b = it->second;
  if (fresh) {
    b.level = static_cast<double>(capacity);
  } else if (now_ms > b.updated_ms) {
    const double per_ms = static_cast<double>(capacity) / 60000.0;
    b.level = std::min<double>(static_cast<double>(capacity),
                               b.level + per_ms * static_cast<double>(now_ms - b.updated_ms));
  }
  b.updated_ms = std::max(b.updated_ms, now_ms);
  return b;
}

int64_t InMemoryLimitCounters::TryTake(std::string_view key, int64_t capacity, double need,
                                       double take, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Bucket& b = Refilled(key, capacity, now_ms);
  if (b.level >= need) {
    b.level -= take;
    return 0;
  }
  const double per_ms = static_cast<double>(capacity) / 60000.0;
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((need - b.level) / per_ms)));
}

void InMemoryLimitCounters::Debit(std::string_view key, int64_t capacity, double amount,
                                  int64_t now_ms) {
  std::lock_guard lock(mu_);
  Bucket& b = Refilled(key, capacity, now_ms);
  b.level = std::min<double>(static_cast<double>(capacity), b.level - amount);
}

bool InMemoryLimitCounters::TryAcquireSlot(std::string_view key, int64_t max) {
  std::lock_guard lock(mu_);
  int64_t& taken = slots_[std::string(key)];
  if (taken >= max) return false;
  ++taken;
  return true;
}

void InMemoryLimitCounters::ReleaseSlot(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = slots_.find(std::string(key));
  if (it == slots_.end()) return;
  if (--it->second <= 0) slots_.erase(it);
}

}  // namespace llmux::auth
