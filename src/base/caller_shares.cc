#include "base/caller_shares.h"

#include <mutex>
#include <unordered_map>

namespace llmux {

struct CallerShares::Slot::Counts {
  std::mutex mu;
  std::unordered_map<std::string, size_t> held;
};

CallerShares::Slot::~Slot() {
  std::lock_guard lock(counts_->mu);
  auto it = counts_->held.find(caller_);
  if (it != counts_->held.end() && --it->second == 0) counts_->held.erase(it);
}

CallerShares::CallerShares(size_t per_caller)
    : per_caller_(per_caller), counts_(std::make_shared<Slot::Counts>()) {}

std::unique_ptr<CallerShares::Slot> CallerShares::TryAcquire(std::string_view caller) {
  std::string key(caller);
  {
    std::lock_guard lock(counts_->mu);
    size_t& held = counts_->held[key];
    if (per_caller_ > 0 && held >= per_caller_) {
      if (held == 0) counts_->held.erase(key);
      return nullptr;
    }
    ++held;
  }
  return std::unique_ptr<Slot>(new Slot(counts_, std::move(key)));
}

size_t CallerShares::Held(std::string_view caller) const {
  std::lock_guard lock(counts_->mu);
  auto it = counts_->held.find(std::string(caller));
  return it == counts_->held.end() ? 0 : it->second;
}

size_t CallerShares::callers() const {
  std::lock_guard lock(counts_->mu);
  return counts_->held.size();
}

}  // namespace llmux
