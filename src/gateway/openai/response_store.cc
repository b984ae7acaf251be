#include "gateway/openai/response_store.h"

namespace llmux::gateway {

namespace {

size_t TextBytes(const std::vector<chat::Message>& conversation) {
  size_t bytes = 0;
  for (const chat::Message& m : conversation) {
    bytes += m.role.size() + m.content.size() + m.tool_call_id.size() + m.name.size() +
             m.reasoning_content.value_or("").size();
    for (const chat::ToolCall& c : m.tool_calls) {
      bytes += c.id.size() + c.name.size() +
               (c.arguments.is_string() ? c.arguments.get_ref<const std::string&>().size()
                                        : c.arguments.dump().size());
    }
  }
  return bytes;
}

}  // namespace

ResponseStore::ResponseStore(ResponseStoreOptions options) : options_(std::move(options)) {}

void ResponseStore::EraseOldestOfLocked(const std::string& caller) {
  for (auto it = order_.begin(); it != order_.end(); ++it) {
    if (it->caller == caller) {
      EraseLocked(it);
      return;
    }
  }
}

void ResponseStore::EraseLocked(Order::iterator it) {
  index_.erase({it->caller, it->id});
  auto use = per_caller_.find(it->caller);
  use->second.bytes -= it->bytes;
  if (--use->second.count == 0) per_caller_.erase(use);
  bytes_ -= it->bytes;
  order_.erase(it);
}

void ResponseStore::EvictExpiredLocked(std::chrono::steady_clock::time_point now) {
  while (!order_.empty() && now - order_.front().stored >= options_.ttl)
    EraseLocked(order_.begin());
}

void ResponseStore::Put(const std::string& caller, const std::string& id,
                        std::vector<chat::Message> conversation) {
  const size_t bytes = TextBytes(conversation);
  const size_t caller_bytes = options_.max_bytes / 4;
  if (options_.capacity == 0 || options_.per_caller == 0 || bytes > caller_bytes) return;
  const auto now = options_.now();
  std::lock_guard lock(mu_);
  EvictExpiredLocked(now);
  if (auto it = index_.find({caller, id}); it != index_.end()) EraseLocked(it->second);
  while (per_caller_.contains(caller) && (per_caller_[caller].count >= options_.per_caller ||
                                          per_caller_[caller].bytes + bytes > caller_bytes)) {
    EraseOldestOfLocked(caller);
  }
  while (!order_.empty() &&
         (order_.size() >= options_.capacity || bytes_ + bytes > options_.max_bytes)) {
    EraseLocked(order_.begin());
  }
  order_.push_back(Entry{caller, id, now, std::move(conversation), bytes});
  index_[{caller, id}] = std::prev(order_.end());
  CallerUse& use = per_caller_[caller];
  ++use.count;
  use.bytes += bytes;
  bytes_ += bytes;
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
