// Helpers shared by the registration and watcher tests.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "discovery/worker_record.h"
#include "discovery/worker_watcher.h"

namespace llmux::discovery {

inline WorkerRecord TestWorker(const std::string& id, int port = 50051) {
  return {.id = id,
          .address = "127.0.0.1:" + std::to_string(port),
          .models = {"qwen3-0.6b"},
          .capacity = 4,
          .version = "test"};
}

// "w1,w2": the ids of a view, in its order.
inline std::string Ids(const std::vector<WorkerRecord>& view) {
  std::string ids;
  for (const WorkerRecord& r : view) ids += (ids.empty() ? "" : ",") + r.id;
  return ids;
}

// Every view a WorkerWatcher reported, in order.
class ViewLog {
 public:
  WorkersChangedCallback Callback() {
    return [this](const std::vector<WorkerRecord>& all) {
      std::lock_guard lock(mu_);
      views_.push_back(all);
    };
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return views_.size();
  }
  // Ids of the last view; "<none>" before the first.
  std::string last() {
    std::lock_guard lock(mu_);
    return views_.empty() ? "<none>" : Ids(views_.back());
  }
  std::vector<std::vector<WorkerRecord>> views() {
    std::lock_guard lock(mu_);
    return views_;
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<WorkerRecord>> views_;
};

}  // namespace llmux::discovery
