// AsyncQueue<T>: hands items from producer threads (e.g. the engine thread) to one consumer
// coroutine on an Asio executor (e.g. an HTTP handler).
//
//   auto q = std::make_shared<AsyncQueue<Delta>>();
//   engine thread:   q->Push(delta); ...; q->Close();
//   handler:         while (auto d = co_await q->Pop()) { co_await w.Write(Format(*d)); }
//
// Push/Close/TryPop are thread-safe and never block on the consumer (the queue is
// unbounded). Pop supports one waiting consumer at a time; it resumes the coroutine on its own
// executor and yields std::nullopt once the queue is closed and drained, or when the waiting
// coroutine is cancelled (Asio per-operation cancellation of any type).
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cassert>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace llmux::http {

template <typename T>
class AsyncQueue {
 public:
  AsyncQueue() : state_(std::make_shared<State>()) {}
  // A pending Pop is completed with nullopt.
  ~AsyncQueue() { Close(); }
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Adds an item, waking the consumer. Returns false (and drops the item) once closed.
  bool Push(T item) {
    std::unique_ptr<Waiter> waiter;
    {
      std::lock_guard lock(state_->mu);
      if (state_->closed) return false;
      if (!state_->waiter) {
        state_->items.push_back(std::move(item));
        return true;
      }
      waiter = std::move(state_->waiter);
    }
    waiter->Complete(std::move(item));
    return true;
  }

  // No more items: Pop drains what is queued, then yields nullopt. Idempotent.
  void Close() {
    std::unique_ptr<Waiter> waiter;
    {
      std::lock_guard lock(state_->mu);
      state_->closed = true;
      if (!state_->items.empty()) return;  // a waiter implies an empty queue
      waiter = std::move(state_->waiter);
    }
    if (waiter) waiter->Complete(std::nullopt);
  }

  bool closed() const {
    std::lock_guard lock(state_->mu);
    return state_->closed;
  }
  size_t size() const {
    std::lock_guard lock(state_->mu);
    return state_->items.size();
  }

  // The next item if one is queued, without waiting.
  std::optional<T> TryPop() {
    std::lock_guard lock(state_->mu);
    return TakeLocked(*state_);
  }

  // The next item; nullopt when closed and empty, or when cancelled while waiting.
  boost::asio::awaitable<std::optional<T>> Pop() {
    {
      std::lock_guard lock(state_->mu);
      if (!state_->items.empty() || state_->closed) co_return TakeLocked(*state_);
    }
    // The initiation captures only `this`: GCC 12 destroys a prvalue closure with
    // non-trivial captures twice when it is passed to async_initiate inside co_await.
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                   void(std::optional<T>)>(
        [this](auto handler) { Wait(state_, std::move(handler)); }, boost::asio::use_awaitable);
  }

 private:
  struct Waiter {
    virtual ~Waiter() = default;
    virtual void Complete(std::optional<T> value) = 0;
  };

  struct State {
    mutable std::mutex mu;
    std::deque<T> items;
    bool closed = false;
    std::unique_ptr<Waiter> waiter;  // the one pending Pop, if any
    uint64_t waiter_id = 0;          // tells a late cancellation from a newer Pop
  };

  // Owns a pending Pop's completion handler; completes it on the handler's executor.
  template <typename Handler>
  struct WaiterImpl : Waiter {
    using Executor = boost::asio::associated_executor_t<Handler>;

    explicit WaiterImpl(Handler h)
        : handler(std::move(h)),
          work(boost::asio::get_associated_executor(handler)),
          slot(boost::asio::get_associated_cancellation_slot(handler)) {}

    void Complete(std::optional<T> value) override {
      auto executor = work.get_executor();
      boost::asio::post(executor, [h = std::move(handler), s = slot, w = std::move(work),
                                   v = std::move(value)]() mutable {
        if (s.is_connected()) s.clear();
        std::move(h)(std::move(v));
      });
    }

    Handler handler;
    boost::asio::executor_work_guard<Executor> work;  // keeps the executor's context running
    boost::asio::cancellation_slot slot;
  };

  template <typename Handler>
  static void Wait(const std::shared_ptr<State>& state, Handler handler) {
    auto waiter = std::make_unique<WaiterImpl<Handler>>(std::move(handler));
    std::unique_lock lock(state->mu);
    if (!state->items.empty() || state->closed) {  // raced with Push/Close
      std::optional<T> value = TakeLocked(*state);
      lock.unlock();
      waiter->Complete(std::move(value));
      return;
    }
    assert(!state->waiter && "AsyncQueue supports one waiting consumer");
    const uint64_t id = ++state->waiter_id;
    if (waiter->slot.is_connected()) {
      waiter->slot.assign([weak = std::weak_ptr<State>(state), id](boost::asio::cancellation_type) {
        auto s = weak.lock();
        if (!s) return;
        std::unique_ptr<Waiter> cancelled;
        {
          std::lock_guard l(s->mu);
          if (s->waiter && s->waiter_id == id) cancelled = std::move(s->waiter);
        }
        if (cancelled) cancelled->Complete(std::nullopt);
      });
    }
    state->waiter = std::move(waiter);
  }

  static std::optional<T> TakeLocked(State& s) {
    if (s.items.empty()) return std::nullopt;
    std::optional<T> value(std::move(s.items.front()));
    s.items.pop_front();
    return value;
  }

  std::shared_ptr<State> state_;
};

}  // namespace llmux::http
