#include "gateway/openai/response_store.h"

namespace llmux::gateway {

ResponseStore::ResponseStore(ResponseStoreOptions options) : options_(std::move(options)) {}

void ResponseStore::EraseLocked(Order::iterator it) {
  index_.erase({it->caller, it->id});
  auto count = per_caller_count_.find(it->caller);
  if (count != per_caller_count_.end() && --count->second == 0) per_caller_count_.erase(count);
  order_.erase(it);
}

void ResponseStore::EvictExpiredLocked(std::chrono::steady_clock::time_point now) {
  while (!order_.empty() && now - order_.front().stored >= options_.ttl) EraseLocked(order_.begin());
}

void ResponseStore::Put(const std::string& caller, const std::string& id,
                        std::vector<chat::Message> conversation) {
  if (options_.capacity == 0 || options_.per_caller == 0) return;
  const auto now = options_.now();
  std::lock_guard lock(mu_);
  EvictExpiredLocked(now);
  if (auto it = index_.find({caller, id}); it != index_.end()) EraseLocked(it->second);
  if (per_caller_count_[caller] >= options_.per_caller) {
    for (auto it = order_.begin(); it != order_.end(); ++it) {
      if (it->caller == caller) {
        EraseLocked(it);
        break;
      }
    }
  }
  if (order_.size() >= options_.capacity) EraseLocked(order_.begin());
  order_.push_back(Entry{caller, id, now, std::move(conversation)});
  index_[{caller, id}] = std::prev(order_.end());
  ++per_caller_count_[caller];
}

std::optional<std::vector<chat::Message>> ResponseStore::Get(const std::string& caller,
                                                              const std::string& id) {
  const auto now = options_.now();
  std::lock_guard lock(mu_);
  EvictExpiredLocked(now);
  auto it = index_.find({caller, id});
  if (it == index_.end()) return std::nullopt;
  return it->second->conversation;
}

size_t ResponseStore::size() const {
  std::lock_guard lock(mu_);
  return order_.size();
}

}  // namespace llmux::gateway
