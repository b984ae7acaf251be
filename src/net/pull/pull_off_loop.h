// RunPullOffLoop: runs an admitted pull on a thread pool (it blocks on the network and the disk
// for as long as the download takes) and hands its progress to the calling coroutine, on that
// coroutine's own executor, for a front end to stream. When `emit` returns false (the client has
// gone) the pull is cancelled at its next progress report; its partial file stays for a resume.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <variant>

#include "net/http/async_queue.h"
#include "net/pull/model_puller.h"

namespace llmux::pull {

using PullEmit = std::function<boost::asio::awaitable<bool>(const PullProgress&)>;

inline boost::asio::awaitable<Result<PulledModel>> RunPullOffLoop(boost::asio::thread_pool& pool,
                                                                  std::unique_ptr<PullJob> job,
                                                                  PullEmit emit) {
  using Event = std::variant<PullProgress, Result<PulledModel>>;
  auto queue = std::make_shared<http::AsyncQueue<Event>>();
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  boost::asio::post(pool,
                    [queue, cancelled, owned = std::shared_ptr<PullJob>(std::move(job))]() mutable {
                      Result<PulledModel> done = owned->Run([&](const PullProgress& p) {
                        queue->Push(p);
                        return !cancelled->load();
                      });
                      owned.reset();  // frees the pull's slots before the caller hears it has ended
                      queue->Push(std::move(done));
                      queue->Close();
                    });
  // Whatever ends this coroutine (a return, or its destruction) cancels the pull.
  struct CancelOnExit {
    std::shared_ptr<std::atomic<bool>> flag;
    ~CancelOnExit() { flag->store(true); }
  } guard{cancelled};
  Result<PulledModel> result = UnavailableError("the pull ended without a result");
  bool streaming = true;
  while (true) {
    std::optional<Event> e = co_await queue->Pop();
    if (!e) break;
    if (auto* p = std::get_if<PullProgress>(&*e)) {
      if (streaming) {
        const bool more = co_await emit(*p);
        if (!more) {
          streaming = false;
          cancelled->store(true);
        }
      }
      continue;
    }
    result = std::move(std::get<Result<PulledModel>>(*e));
  }
  co_return result;
}

}  // namespace llmux::pull
