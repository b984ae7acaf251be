#include "worker/flush_timer.h"

#include <utility>

namespace llmux::worker {

FlushTimer::~FlushTimer() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_one();
  if (!thread_.joinable()) return;
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // it sees `stop` when it returns from the Flush that got us here
  } else {
    thread_.join();
  }
}

void FlushTimer::At(Clock::time_point when, std::weak_ptr<Flushable> target) {
  bool wake;
  {
    std::lock_guard lock(state_->mu);
    if (state_->stop) return;
    if (!thread_.joinable()) thread_ = std::thread([state = state_] { Run(state); });
    wake = state_->due.empty() || when < state_->due.top().when;  // it sleeps until the earliest
    state_->due.push({when, std::move(target)});
  }
  if (wake) state_->cv.notify_one();
}

void FlushTimer::Run(const std::shared_ptr<State>& state) {
  std::unique_lock lock(state->mu);
  while (!state->stop) {
    if (state->due.empty()) {
      state->cv.wait(lock);
      continue;
    }
    // A copy: wait_until reads its argument while the lock is released, and an At() meanwhile
    // may move the queue's storage.
    const Clock::time_point next = state->due.top().when;
    if (Clock::now() < next) {
      state->cv.wait_until(lock, next);
      continue;
    }
    std::weak_ptr<Flushable> target = state->due.top().target;
    state->due.pop();
    lock.unlock();
    if (std::shared_ptr<Flushable> t = target.lock()) t->Flush();
    lock.lock();
  }
}

}  // namespace llmux::worker
