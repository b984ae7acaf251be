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

void ThreadPool::Run(JobFn fn, void* ctx, bool all) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  finished_.store(0, std::memory_order_relaxed);
  const uint32_t gen = generation_.load(std::memory_order_relaxed) + 1;
  state_.store(static_cast<uint64_t>(gen) << 32, std::memory_order_release);
  generation_.store(gen, std::memory_order_release);  // publishes job_fn_/job_ctx_
  generation_.notify_all();
  fn(ctx, 0, n_threads_);
  int joined = n_threads_ - 1;
  if (all) {
    for (int spin = 0;
         static_cast<int>(state_.load(std::memory_order_acquire) & kJoinedMask) != joined; ++spin) {
      Backoff(spin);
    }
  } else {
    joined = static_cast<int>(state_.fetch_or(kClosed, std::memory_order_acq_rel) & kJoinedMask);
  }
  for (int spin = 0; finished_.load(std::memory_order_acquire) != joined; ++spin) Backoff(spin);
}

void ThreadPool::WorkerLoop(int ith, uint32_t seen) {
  uint32_t joined_gen = 0;  // the last job this worker took part in
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
    // Join the newest job (state_ may already be past `now`) unless its caller has closed it
    // or this worker has already run it.
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      const uint32_t gen = static_cast<uint32_t>(s >> 32);
      if (gen == joined_gen || (s & kClosed) != 0) break;
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        joined_gen = gen;
        job_fn_(job_ctx_, ith, n_threads_);
        finished_.fetch_add(1, std::memory_order_acq_rel);
        break;
      }
    }
  }
}

}  // namespace llmux
