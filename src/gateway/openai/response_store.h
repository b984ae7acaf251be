// The conversations of stored Responses-API responses, for previous_response_id. Bounded:
// at most `capacity` responses and `max_bytes` of text in all, at most `per_caller` responses
// and a quarter of the bytes for one caller (its oldest are dropped first; a conversation
// larger than that is not kept), each kept for `ttl`. Keyed by the caller's subject, so a caller
// can only continue its own responses. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/chat_types.h"

namespace llmux::gateway {

struct ResponseStoreOptions {
  size_t capacity = 1000;
  size_t per_caller = 250;
  size_t max_bytes = size_t{256} << 20;
  std::chrono::seconds ttl = std::chrono::hours(1);
  std::function<std::chrono::steady_clock::time_point()> now = [] {
    return std::chrono::steady_clock::now();
  };
};

class ResponseStore {
 public:
  explicit ResponseStore(ResponseStoreOptions options = {});

  // Keeps `conversation` (the input and output of response `id`, without instructions).
  void Put(const std::string& caller, const std::string& id,
           std::vector<chat::Message> conversation);
  // The conversation, or nullopt when `caller` has no live response `id`.
  std::optional<std::vector<chat::Message>> Get(const std::string& caller, const std::string& id);
  size_t size() const;

 private:
  struct Entry {
    std::string caller;
    std::string id;
    std::chrono::steady_clock::time_point stored;
    std::vector<chat::Message> conversation;
    size_t bytes = 0;
  };
  using Order = std::list<Entry>;  // oldest first
  void EvictExpiredLocked(std::chrono::steady_clock::time_point now);
  void EraseLocked(Order::iterator it);
  void EraseOldestOfLocked(const std::string& caller);

  ResponseStoreOptions options_;
  mutable std::mutex mu_;
  Order order_;
  std::map<std::pair<std::string, std::string>, Order::iterator> index_;  // (caller, id)
  struct CallerUse {
    size_t count = 0;
    size_t bytes = 0;
  };
  std::unordered_map<std::string, CallerUse> per_caller_;
  size_t bytes_ = 0;
};

}  // namespace llmux::gateway
