// PrefixFollower: every key under an etcd prefix, kept current. It lists the prefix (reported
// as a full view), then watches from the list's revision + 1 (reported as changes). When the
// watch ends (etcd unreachable, compacted) it waits retry_interval and lists again, so a
// follower never misses the latest value of a key, though it may miss intermediate ones.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "discovery/etcd_client.h"

namespace llmux::rollout {

struct PrefixUpdate {
  bool full = false;  // true: `puts` is everything under the prefix (forget what you knew)
  std::vector<discovery::EtcdKeyValue> puts;
  std::vector<std::string> deletes;
};
// Called one update at a time from the follower's threads, never after Stop returns; it must
// not call Stop.
using PrefixCallback = std::function<void(const PrefixUpdate&)>;

class PrefixFollower {
 public:
  PrefixFollower(discovery::EtcdClient& client, std::string prefix, PrefixCallback callback,
                 std::chrono::milliseconds retry_interval = std::chrono::milliseconds(500));
  ~PrefixFollower();  // Stop()
  PrefixFollower(const PrefixFollower&) = delete;
  PrefixFollower& operator=(const PrefixFollower&) = delete;

  void Start();
  void Stop();
  // Whether the first list has been reported.
  bool synced() const;

 private:
  void Run();

  discovery::EtcdClient& client_;
  const std::string prefix_;
  const PrefixCallback callback_;
  const std::chrono::milliseconds retry_interval_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool watch_ended_ = false;
  bool synced_ = false;
  std::thread thread_;
};

}  // namespace llmux::rollout
