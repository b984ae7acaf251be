// AwaitCallback: awaits an operation that reports once through a callback from any thread,
// e.g. a service's SubmitChat(request, sink, done), and resumes the awaiting coroutine on its
// own executor with the value, so that the operation holds no io thread while it waits.
//
//   Result<Handle> handle = co_await http::AwaitCallback<Result<Handle>>(
//       [&](std::function<void(Result<Handle>)> done) { service.SubmitChat(r, sink, done); });
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <utility>

namespace llmux::http {

// `start(done)` must call `done(value)` exactly once, now or later, on any thread.
template <typename T, typename Start>
boost::asio::awaitable<T> AwaitCallback(Start start) {
  // The initiation captures a reference only: GCC 12 may destroy a closure with non-trivial
  // captures twice when it is passed to async_initiate inside co_await.
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(T)>(
      [&start](auto handler) {
        using Handler = decltype(handler);
        // std::function needs a copyable callback; the handler is move-only.
        auto owned = std::make_shared<Handler>(std::move(handler));
        auto work = boost::asio::make_work_guard(boost::asio::get_associated_executor(*owned));
        start(std::function<void(T)>([owned, work](T value) mutable {
          auto executor = work.get_executor();
          boost::asio::post(executor, [owned, value = std::move(value)]() mutable {
            std::move (*owned)(std::move(value));
          });
          work.reset();
        }));
      },
      boost::asio::use_awaitable);
}

}  // namespace llmux::http
