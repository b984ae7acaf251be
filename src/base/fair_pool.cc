#include "base/fair_pool.h"

#include <utility>

namespace llmux {

FairPool::FairPool(int threads, size_t per_caller) : per_caller_(per_caller) {
  threads_.reserve(threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

FairPool::~FairPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void FairPool::Post(std::string_view caller, std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    auto [it, added] = callers_.try_emplace(std::string(caller));
    it->second.jobs.push_back(std::move(job));
    QueueTurnLocked(it->first, it->second);
  }
  cv_.notify_one();
}

size_t FairPool::Running(std::string_view caller) const {
  std::lock_guard lock(mu_);
  auto it = callers_.find(std::string(caller));
  return it == callers_.end() ? 0 : it->second.running;
}

size_t FairPool::Waiting(std::string_view caller) const {
  std::lock_guard lock(mu_);
  auto it = callers_.find(std::string(caller));
  return it == callers_.end() ? 0 : it->second.jobs.size();
}

bool FairPool::MayRunLocked(const std::string& name, const Caller& caller) const {
  return name.empty() || per_caller_ == 0 || caller.running < per_caller_;
}

void FairPool::QueueTurnLocked(const std::string& name, Caller& caller) {
  if (caller.in_turn || caller.jobs.empty() || !MayRunLocked(name, caller)) return;
  caller.in_turn = true;
  turns_.push_back(name);
}

void FairPool::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !turns_.empty(); });
    if (turns_.empty()) return;  // stopping, and nothing left that may run
    std::string name = std::move(turns_.front());
    turns_.pop_front();
    Caller& caller = callers_.at(name);
    caller.in_turn = false;
    std::function<void()> job = std::move(caller.jobs.front());
    caller.jobs.pop_front();
    ++caller.running;
    QueueTurnLocked(name, caller);  // its next job, behind the other callers
    if (caller.in_turn) cv_.notify_one();
    lock.unlock();
    job();
    job = nullptr;  // what the job holds goes before the next one runs
    lock.lock();
    Caller& after = callers_.at(name);
    --after.running;
    QueueTurnLocked(name, after);
    if (after.in_turn) {
      cv_.notify_one();
    } else if (after.running == 0 && after.jobs.empty()) {
      callers_.erase(name);
    }
  }
}

}  // namespace llmux
