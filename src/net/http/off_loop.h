// RunOffLoop: runs a call that may block (wait on the network) on a thread pool and resumes the
// calling coroutine on its own executor with the result, so that the call holds no io thread
// meanwhile. For example a gateway's submit, which waits until a worker accepts the request:
// on an io thread, two such waits would stall every connection of a two-thread server.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>
#include <type_traits>
#include <utility>

namespace llmux::http {

template <typename Fn>
boost::asio::awaitable<std::invoke_result_t<Fn&>> RunOffLoop(boost::asio::thread_pool& pool, Fn fn) {
  using R = std::invoke_result_t<Fn&>;
  std::optional<R> result;
  // The closure captures references only (trivially destructible): GCC 12 may destroy a
  // temporary closure inside co_await twice.
  auto run = [&result, &fn]() -> boost::asio::awaitable<void> {
    result.emplace(fn());
    co_return;
  };
  co_await boost::asio::co_spawn(pool, run, boost::asio::use_awaitable);
  co_return std::move(*result);
}

}  // namespace llmux::http
