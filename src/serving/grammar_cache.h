// Compiled grammars of structured-output requests (JSON schemas, GBNF), kept in a bounded LRU
// so that clients sending the same schema again skip compiling it. A grammar does not depend
// on the model's vocabulary, so one cache serves every model; the key is the kind of source,
// strictness and the text.
#pragma once

#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/status.h"
#include "engine/runtime/grammar.h"

namespace llmux::serving {

class GrammarCache {
 public:
  using Grammar = std::shared_ptr<const grammar::Grammar>;
  GrammarCache(size_t max_entries = 64, size_t max_bytes = 64 << 20)
      : max_entries_(max_entries), max_bytes_(max_bytes) {}

  // The cached grammar for `key`, or compile() run now (outside the lock) and kept if it
  // succeeds. Errors are not kept.
  Result<Grammar> Get(const std::string& key, const std::function<Result<Grammar>()>& compile);

  size_t size() const;
  size_t hits() const;

 private:
  struct Entry {
    std::string key;
    Grammar grammar;
    size_t bytes;
  };
  const size_t max_entries_, max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  size_t bytes_ = 0;
  size_t hits_ = 0;
};

}  // namespace llmux::serving
