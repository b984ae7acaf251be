#include "net/http/off_loop.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace llmux::http {
namespace {

namespace asio = boost::asio;

// The call runs on the pool while the io thread goes on with other work, and the coroutine
// resumes on the io thread with the call's result.
TEST(RunOffLoop, TheCallRunsOnThePoolAndTheCoroutineResumesOnItsOwnThread) {
  asio::io_context ioc;
  asio::thread_pool pool(1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread::id call_thread, resumed_thread;
  std::unique_ptr<std::string> result;
  bool other_work_ran_while_waiting = false;

  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto call = [&] {
          call_thread = std::this_thread::get_id();
          released.wait();  // blocks the pool thread, not the io thread
          return std::make_unique<std::string>("done");  // move-only results pass through
        };
        result = co_await RunOffLoop(pool, call);
        resumed_thread = std::this_thread::get_id();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  asio::post(ioc, [&] {
    other_work_ran_while_waiting = !result;
    release.set_value();
  });
  const std::thread::id io_thread = std::this_thread::get_id();
  ioc.run();

  EXPECT_TRUE(other_work_ran_while_waiting);
  ASSERT_NE(result, nullptr);
  EXPECT_EQ(*result, "done");
  EXPECT_NE(call_thread, io_thread);
  EXPECT_EQ(resumed_thread, io_thread);
}

}  // namespace
}  // namespace llmux::http
