#include "view_tracker.h"

namespace llmux::bench {

ViewTracker::ViewTracker(int gateways, const std::vector<std::string>& ids) : gateways_(gateways) {
  for (size_t i = 0; i < ids.size(); ++i) index_[ids[i]] = static_cast<int>(i);
  for (Gateway& g : gateways_) {
    g.present.assign(ids.size(), false);
    g.changed_at.assign(ids.size(), Clock::time_point{});
  }
}

discovery::WorkersChangedCallback ViewTracker::Callback(int gateway) {
  return [this, gateway](const std::vector<discovery::WorkerRecord>& all) {
    OnView(gateway, Clock::now(), all);
  };
}

void ViewTracker::OnView(int gateway, Clock::time_point now,
                         const std::vector<discovery::WorkerRecord>& all) {
  std::vector<bool> present(index_.size(), false);
  for (const discovery::WorkerRecord& record : all) {
    auto it = index_.find(record.id);
    if (it != index_.end()) present[it->second] = true;
  }
  std::lock_guard lock(mu_);
  Gateway& g = gateways_[gateway];
  g.reported = true;
  for (size_t i = 0; i < present.size(); ++i) {
    if (present[i] != g.present[i]) {
      g.present[i] = present[i];
      g.changed_at[i] = now;
    }
  }
  cv_.notify_all();
}

bool ViewTracker::AllReported() {
  std::lock_guard lock(mu_);
  for (const Gateway& g : gateways_) {
    if (!g.reported) return false;
  }
  return true;
}

bool ViewTracker::Present(int gateway, int worker) {
  std::lock_guard lock(mu_);
  return gateways_[gateway].present[worker];
}

std::optional<std::vector<Clock::time_point>> ViewTracker::WaitAll(int worker, bool present,
                                                                   Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  auto done = [&] {
    for (const Gateway& g : gateways_) {
      if (g.present[worker] != present) return false;
    }
    return true;
  };
  if (!cv_.wait_until(lock, deadline, done)) return std::nullopt;
  std::vector<Clock::time_point> at;
  for (const Gateway& g : gateways_) at.push_back(g.changed_at[worker]);
  return at;
}

}  // namespace llmux::bench
