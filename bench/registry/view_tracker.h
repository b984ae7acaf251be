// What each simulated gateway sees: fed by the WorkerWatcher callbacks, it keeps per gateway and
// per worker whether the worker is in the view and when (steady_clock, taken as the callback
// starts) that last changed, so the benchmark can time a change until every gateway shows it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "discovery/worker_watcher.h"

namespace llmux::bench {

using Clock = std::chrono::steady_clock;

class ViewTracker {
 public:
  // ids[i] is worker i's id; records with other ids are ignored.
  ViewTracker(int gateways, const std::vector<std::string>& ids);

  // The WorkerWatcher callback of gateway g.
  discovery::WorkersChangedCallback Callback(int gateway);

  // Whether every gateway has reported a first view.
  bool AllReported();
  // Whether gateway g shows worker i now.
  bool Present(int gateway, int worker);
  // Waits until every gateway shows worker i as `present` (or until deadline) and returns, per
  // gateway, when its view changed to that; nullopt on timeout.
  std::optional<std::vector<Clock::time_point>> WaitAll(int worker, bool present,
                                                        Clock::time_point deadline);

 private:
  struct Gateway {
    bool reported = false;
    std::vector<bool> present;
    std::vector<Clock::time_point> changed_at;
  };
  void OnView(int gateway, Clock::time_point now, const std::vector<discovery::WorkerRecord>& all);

  std::map<std::string, int> index_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Gateway> gateways_;
};

}  // namespace llmux::bench
