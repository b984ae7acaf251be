#include "net/http/async_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>
#include <vector>

namespace llmux::http {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using std::chrono::milliseconds;

// Runs `body` as a coroutine on a fresh io_context until it finishes.
void RunCoroutine(std::function<awaitable<void>()> body) {
  asio::io_context ioc;
  bool finished = false;
  asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
    finished = true;
    if (e) std::rethrow_exception(e);
  });
  ioc.run();
  EXPECT_TRUE(finished);
}

TEST(AsyncQueue, ItemsQueuedBeforePopComeOutInOrderThenNulloptAfterClose) {
  AsyncQueue<int> q;
  EXPECT_TRUE(q.Push(1));
  EXPECT_TRUE(q.Push(2));
  q.Close();
  EXPECT_FALSE(q.Push(3));  // dropped after Close
  EXPECT_TRUE(q.closed());
  std::vector<std::optional<int>> got;
  RunCoroutine([&]() -> awaitable<void> {
    for (int i = 0; i < 3; ++i) got.push_back(co_await q.Pop());
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], 1);
  EXPECT_EQ(got[1], 2);
  EXPECT_EQ(got[2], std::nullopt);
}

TEST(AsyncQueue, PopWaitsForAPushFromAnotherThread) {
  AsyncQueue<std::string> q;
  std::thread producer;
  std::optional<std::string> got;
  const auto start = std::chrono::steady_clock::now();
  RunCoroutine([&]() -> awaitable<void> {
    producer = std::thread([&] {
      std::this_thread::sleep_for(milliseconds(50));
      q.Push("late");
    });
    got = co_await q.Pop();
  });
  producer.join();
  EXPECT_EQ(got, "late");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(40));
}

TEST(AsyncQueue, ManyProducersEveryItemArrivesOncePerProducerOrderKept) {
  constexpr int kProducers = 4;
  constexpr int kItems = 5000;
  AsyncQueue<std::pair<int, int>> q;
  std::vector<int> next(kProducers, 0);
  int received = 0;
  bool in_order = true;
  std::vector<std::thread> producers;
  std::atomic<int> remaining{kProducers};
  RunCoroutine([&]() -> awaitable<void> {
    for (int p = 0; p < kProducers; ++p) {
      producers.emplace_back([&, p] {
        for (int i = 0; i < kItems; ++i) q.Push({p, i});
        if (remaining.fetch_sub(1) == 1) q.Close();
      });
    }
    while (auto item = co_await q.Pop()) {
      auto [p, i] = *item;
      in_order = in_order && next[p] == i;
      next[p] = i + 1;
      ++received;
    }
  });
  for (auto& t : producers) t.join();
  EXPECT_EQ(received, kProducers * kItems);
  EXPECT_TRUE(in_order);
}

TEST(AsyncQueue, CloseWakesAWaitingPop) {
  AsyncQueue<int> q;
  std::thread closer;
  bool got_nullopt = false;
  RunCoroutine([&]() -> awaitable<void> {
    closer = std::thread([&] {
      std::this_thread::sleep_for(milliseconds(20));
      q.Close();
    });
    got_nullopt = !(co_await q.Pop()).has_value();
  });
  closer.join();
  EXPECT_TRUE(got_nullopt);
}

TEST(AsyncQueue, CancellingTheWaitingCoroutineYieldsNullopt) {
  AsyncQueue<int> q;
  asio::io_context ioc;
  asio::cancellation_signal signal;
  std::optional<std::optional<int>> result;
  asio::co_spawn(
      ioc, [&]() -> awaitable<void> { result = co_await q.Pop(); },
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::steady_timer timer(ioc);
  timer.expires_after(milliseconds(20));
  timer.async_wait(
      [&](const boost::system::error_code&) { signal.emit(asio::cancellation_type::terminal); });
  ioc.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, std::nullopt);
  // The queue still works afterwards.
  EXPECT_TRUE(q.Push(7));
  EXPECT_EQ(q.TryPop(), 7);
}

TEST(AsyncQueue, DestroyingTheQueueWakesAWaitingPop) {
  auto q = std::make_unique<AsyncQueue<int>>();
  asio::io_context ioc;
  std::optional<std::optional<int>> result;
  asio::co_spawn(
      ioc, [&]() -> awaitable<void> { result = co_await q->Pop(); }, asio::detached);
  asio::post(ioc, [&] { q.reset(); });
  ioc.run();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, std::nullopt);
}

TEST(AsyncQueue, TryPopAndSize) {
  AsyncQueue<int> q;
  EXPECT_EQ(q.TryPop(), std::nullopt);
  q.Push(5);
  q.Push(6);
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.TryPop(), 5);
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace llmux::http
