#include "rollout/prefix_follower.h"

#include <spdlog/spdlog.h>

namespace llmux::rollout {

PrefixFollower::PrefixFollower(discovery::EtcdClient& client, std::string prefix,
                               PrefixCallback callback, std::chrono::milliseconds retry_interval)
    : client_(client),
      prefix_(std::move(prefix)),
      callback_(std::move(callback)),
      retry_interval_(retry_interval) {}

PrefixFollower::~PrefixFollower() { Stop(); }

void PrefixFollower::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void PrefixFollower::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PrefixFollower::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

void PrefixFollower::Run() {
  bool first = true;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (!first) cv_.wait_for(lock, retry_interval_, [&] { return stopping_; });
      if (stopping_) return;
      watch_ended_ = false;
    }
    first = false;
    Result<discovery::EtcdRange> range = client_.GetPrefix(prefix_);
    if (!range.ok()) {
      spdlog::warn("rollout: listing {}: {}", prefix_, range.status().ToString());
      continue;
    }
    PrefixUpdate full;
    full.full = true;
    full.puts = std::move(range->kvs);
    callback_(full);
    {
      std::lock_guard lock(mu_);
      synced_ = true;
    }
    auto watch = client_.Watch(
        prefix_, range->revision + 1, [this](const discovery::EtcdWatchUpdate& update) {
          if (!update.error.ok()) {
            spdlog::warn("rollout: watch of {} ended: {}", prefix_, update.error.ToString());
            std::lock_guard lock(mu_);
            watch_ended_ = true;
            cv_.notify_all();
            return;
          }
          PrefixUpdate changes;
          for (const discovery::EtcdEvent& e : update.events) {
            if (e.type == discovery::EtcdEvent::Type::kPut) {
              changes.puts.push_back(e.kv);
            } else {
              changes.deletes.push_back(e.kv.key);
            }
          }
          if (!changes.puts.empty() || !changes.deletes.empty()) callback_(changes);
        });
    if (!watch.ok()) {
      spdlog::warn("rollout: watching {}: {}", prefix_, watch.status().ToString());
      continue;
    }
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || watch_ended_; });
    }
    (*watch)->Cancel();
  }
}

}  // namespace llmux::rollout
