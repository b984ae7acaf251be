// What an engine's prefix cache holds, for gateways that route requests to the worker that
// already has their prefix: the set of registered block hashes (BlockManager::HashBlock chain
// values) and a bounded journal of recent changes, numbered.
//
// A reader keeps a cursor (epoch, seq). Since(cursor) answers the changes after it when the
// journal still has them all, else the whole set (a new reader, one that fell behind, or one
// whose epoch is another engine's). The engine thread records; any thread reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <unordered_set>
#include <vector>

#include "engine/runtime/block_manager.h"

namespace llmux {

struct PrefixCacheUpdate {
  uint64_t epoch = 0;  // this journal's identity: a cursor from another epoch gets the full set
  uint64_t seq = 0;    // the cursor to pass next time
  bool full = false;   // `added` is the whole set (replace, do not apply); `evicted` is empty
  bool truncated = false;  // full, but the set had more than max_hashes: only part is here
  std::vector<uint64_t> added;
  std::vector<uint64_t> evicted;
};

class PrefixCacheJournal {
 public:
  // Keeps the last `max_events` changes (at least 1).
  PrefixCacheJournal(size_t max_events, uint64_t epoch);

  // Applies changes in order (engine thread).
  void Record(std::span<const BlockHashEvent> events);
  // Replaces the set (after the block manager dropped events): every reader's next update is
  // the full set.
  void Reset(const std::vector<uint64_t>& hashes);

  // The changes after (epoch, since), or the whole set; at most max_hashes hashes in all.
  PrefixCacheUpdate Since(uint64_t epoch, uint64_t since, size_t max_hashes) const;

  size_t size() const;

 private:
  struct Entry {
    uint64_t seq;
    BlockHashEvent event;
  };

  const size_t max_events_;
  const uint64_t epoch_;
  mutable std::mutex mu_;
  std::unordered_set<uint64_t> current_;
  std::deque<Entry> events_;  // seq base_+1 .. last_
  uint64_t base_ = 0;         // a cursor below this cannot be served with changes
  uint64_t last_ = 0;
};

}  // namespace llmux
