// FairPool: threads for jobs that may block (a gateway's submit waits until a worker accepts),
// shared by callers in turn: one caller runs at most `per_caller` jobs at a time, and callers
// with jobs waiting take turns for the free threads (round robin, FIFO within a caller). So a
// caller whose jobs all block (its requests go to a stopped worker) holds its share of the
// threads, never all of them. The empty caller (no identity, e.g. authentication off) has no
// share and is served in turn like any other.
//
//   FairPool pool(16, 4);
//   pool.Post("key:7", [] { ...may block... });
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace llmux {

class FairPool {
 public:
  // per_caller 0: no share (every caller may use every thread).
  FairPool(int threads, size_t per_caller);
  // Runs the jobs already posted, then joins the threads.
  ~FairPool();
  FairPool(const FairPool&) = delete;
  FairPool& operator=(const FairPool&) = delete;

  void Post(std::string_view caller, std::function<void()> job);

  size_t per_caller() const { return per_caller_; }
  // Jobs of `caller` running now and waiting now.
  size_t Running(std::string_view caller) const;
  size_t Waiting(std::string_view caller) const;

 private:
  struct Caller {
    size_t running = 0;
    std::deque<std::function<void()>> jobs;
    bool in_turn = false;  // in `turns_`
  };

  void Loop();
  bool MayRunLocked(const std::string& name, const Caller& caller) const;
  void QueueTurnLocked(const std::string& name, Caller& caller);

  const size_t per_caller_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Caller> callers_;
  std::deque<std::string> turns_;  // callers with a job that may run now, in turn
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace llmux
