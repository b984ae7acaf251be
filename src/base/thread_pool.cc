#include "base/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LLMUX_CPU_RELAX() _mm_pause()
#else
#define LLMUX_CPU_RELAX() std::this_thread::yield()
#endif

namespace llmux {

namespace {
// About 50-100 microseconds of spinning before a worker goes to sleep on a futex.
constexpr int kSpinIterations = 20000;
// Spins between yields. When the cores are shared with other processes, a thread that
// only spins can hold the core that the thread it waits for needs; yielding now and then
// lets that thread run.
constexpr int kSpinsPerYield = 1024;

inline void Backoff(int spin) {
  if ((spin + 1) % kSpinsPerYield == 0) {
    std::this_thread::yield();
  } else {
    LLMUX_CPU_RELAX();
  }
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  // Workers start from generation 0: reading it inside the thread could miss a job
  // published before the thread got scheduled.
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i, 0); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::Run(JobFn fn, void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes job_fn_/job_ctx_
  generation_.notify_all();
  fn(ctx, 0, n_threads_);
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) Backoff(spin);
}

void ThreadPool::WorkerLoop(int ith, uint32_t seen) {
  for (;;) {
    uint32_t now = seen;
    for (int spin = 0; spin < kSpinIterations; ++spin) {
      now = generation_.load(std::memory_order_acquire);
      if (now != seen) break;
      Backoff(spin);
    }
    while (now == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    job_fn_(job_ctx_, ith, n_threads_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace llmux
