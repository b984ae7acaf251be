// A fixed pool of worker threads for data-parallel loops (matmuls, attention heads).
// The calling thread takes part in every job, so ThreadPool(2) starts one extra thread.
// Workers spin briefly between jobs before sleeping, because a decode step issues
// hundreds of short parallel loops and a futex wake per loop would cost more than the work.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace llmux {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on each thread (the caller is thread 0)
  // and returns when all calls have returned.
  template <typename F>
  void RunOnAll(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    Run(
        +[](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); },
        const_cast<void*>(static_cast<const void*>(&fn)), /*all=*/true);
  }

  // A work-sharing job: fn(thread_index, n_threads) runs on the caller and on every worker
  // that picks the job up before the caller's own call has returned; a worker that comes
  // later skips it. fn must therefore take all its work from shared counters (never split
  // it by thread index). On shared cores this keeps a descheduled worker from stalling the
  // caller: the caller does the work alone instead of waiting for the worker to run.
  template <typename F>
  void RunShared(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    Run(
        +[](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); },
        const_cast<void*>(static_cast<const void*>(&fn)), /*all=*/false);
  }

  // Calls fn(i) for every i in [0, n), handing out chunks of `grain` indices dynamically.
  template <typename F>
  void ParallelFor(int64_t n, int64_t grain, F&& fn) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n_threads_ == 1 || n <= grain) {
      for (int64_t i = 0; i < n; ++i) fn(i);
      return;
    }
    std::atomic<int64_t> next{0};
    RunShared([&](int, int) {
      for (;;) {
        int64_t begin = next.fetch_add(grain, std::memory_order_relaxed);
        if (begin >= n) break;
        int64_t end = begin + grain < n ? begin + grain : n;
        for (int64_t i = begin; i < end; ++i) fn(i);
      }
    });
  }

 private:
  using JobFn = void (*)(void* ctx, int ith, int nth);
  void Run(JobFn fn, void* ctx, bool all);
  void WorkerLoop(int ith, uint32_t seen);

  // state_: job generation << 32 | kClosed | number of workers that joined the job. A
  // worker joins with a compare-exchange that fails once the caller has closed the job.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  static constexpr uint64_t kJoinedMask = kClosed - 1;

  int n_threads_;
  std::vector<std::thread> workers_;
  JobFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  std::atomic<uint32_t> generation_{0};  // bumped once per job; workers wait on it
  std::atomic<uint64_t> state_{0};
  std::atomic<int> finished_{0};  // joined workers that have returned from the job
  std::atomic<bool> stop_{false};
};

}  // namespace llmux
