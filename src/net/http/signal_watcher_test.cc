#include "net/http/signal_watcher.h"

#include <gtest/gtest.h>

#include <csignal>
#include <future>

namespace llmux::http {
namespace {

TEST(SignalWatcher, CallsBackWithTheSignalNumber) {
  std::promise<int> got;
  std::atomic<int> calls{0};
  {
    SignalWatcher watcher(
        [&](int signo) {
          if (calls.fetch_add(1) == 0) got.set_value(signo);
        },
        {SIGUSR1});
    ASSERT_EQ(std::raise(SIGUSR1), 0);
    auto f = got.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(3)), std::future_status::ready);
    EXPECT_EQ(f.get(), SIGUSR1);
  }  // the destructor returns: the watcher thread has ended
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace llmux::http
