// FlushTimer: one thread that calls Flush() on targets at the times they ask for, so that a
// stream which holds back output to send it in fewer messages (the worker's coalescing window)
// still sends it when no further output comes. Targets are held weakly: one that is gone by
// its time is skipped. The thread starts with the first At().
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace llmux::worker {

class Flushable {
 public:
  virtual ~Flushable() = default;
  virtual void Flush() = 0;
};

class FlushTimer {
 public:
  using Clock = std::chrono::steady_clock;

  FlushTimer() = default;
  ~FlushTimer();
  FlushTimer(const FlushTimer&) = delete;
  FlushTimer& operator=(const FlushTimer&) = delete;

  // Calls target->Flush() at `when` (or soon after), on the timer's thread.
  void At(Clock::time_point when, std::weak_ptr<Flushable> target);

 private:
  struct Entry {
    Clock::time_point when;
    std::weak_ptr<Flushable> target;
    bool operator>(const Entry& other) const { return when > other.when; }
  };

  // Shared with the thread, which may outlive this object: the last owner of a FlushTimer can
  // be a target that the thread releases after its Flush (then the thread is detached).
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> due;
    bool stop = false;
  };
  static void Run(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::thread thread_;  // started by the first At(); guarded by state_->mu until then
};

}  // namespace llmux::worker
