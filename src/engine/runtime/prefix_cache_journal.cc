#include "engine/runtime/prefix_cache_journal.h"

#include <algorithm>

namespace llmux {

PrefixCacheJournal::PrefixCacheJournal(size_t max_events, uint64_t epoch)
    : max_events_(std::max<size_t>(max_events, 1)), epoch_(epoch) {}

void PrefixCacheJournal::Record(std::span<const BlockHashEvent> events) {
  if (events.empty()) return;
  std::lock_guard lock(mu_);
  for (const BlockHashEvent& e : events) {
    if (e.added) {
      current_.insert(e.hash);
    } else {
      current_.erase(e.hash);
    }
    events_.push_back({++last_, e});
  }
  while (events_.size() > max_events_) {
    base_ = events_.front().seq;
    events_.pop_front();
  }
}

void PrefixCacheJournal::Reset(const std::vector<uint64_t>& hashes) {
  std::lock_guard lock(mu_);
  current_.clear();
  current_.insert(hashes.begin(), hashes.end());
  events_.clear();
  base_ = ++last_;  // every cursor is now behind
}

PrefixCacheUpdate PrefixCacheJournal::Since(uint64_t epoch, uint64_t since, size_t max_hashes) const {
  std::lock_guard lock(mu_);
  PrefixCacheUpdate u;
  u.epoch = epoch_;
  u.seq = last_;
  if (epoch == epoch_ && since >= base_ && since <= last_ && last_ - since <= max_hashes) {
    // events_ holds seq base_+1 .. last_; the first one after `since` is at since - base_.
    for (auto it = events_.begin() + static_cast<std::ptrdiff_t>(since - base_); it != events_.end(); ++it) {
      (it->event.added ? u.added : u.evicted).push_back(it->event.hash);
    }
    return u;
  }
  u.full = true;
  u.added.reserve(std::min(current_.size(), max_hashes));
  for (uint64_t h : current_) {
    if (u.added.size() >= max_hashes) {
      u.truncated = true;
      break;
    }
    u.added.push_back(h);
  }
  return u;
}

size_t PrefixCacheJournal::size() const {
  std::lock_guard lock(mu_);
  return current_.size();
}

}  // namespace llmux
