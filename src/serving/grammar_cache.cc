#include "serving/grammar_cache.h"

namespace llmux::serving {

Result<GrammarCache::Grammar> GrammarCache::Get(const std::string& key,
                                                const std::function<Result<Grammar>()>& compile) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->grammar;
    }
  }
  LLMUX_ASSIGN_OR_RETURN(Grammar g, compile());
  const size_t bytes = g->size_bytes() + key.size();
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(key) || bytes > max_bytes_) return g;  // compiled twice at once, or too big
  lru_.push_front({key, g, bytes});
  index_[key] = lru_.begin();
  bytes_ += bytes;
  while (lru_.size() > max_entries_ || bytes_ > max_bytes_) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  return g;
}

size_t GrammarCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

size_t GrammarCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

}  // namespace llmux::serving
