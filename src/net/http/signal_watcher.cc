#include "net/http/signal_watcher.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <thread>

namespace llmux::http {

namespace asio = boost::asio;

struct SignalWatcher::Impl {
  asio::io_context ioc{1};
  asio::signal_set signals{ioc};
  std::function<void(int)> on_signal;
  std::thread thread;

  void Arm() {
    signals.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;  // cancelled: the watcher is going away
      if (on_signal) on_signal(signo);
      Arm();
    });
  }
};

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal, std::vector<int> signals)
    : impl_(std::make_unique<Impl>()) {
  if (signals.empty()) signals = {SIGINT, SIGTERM};
  impl_->on_signal = std::move(on_signal);
  for (int s : signals) {
    boost::system::error_code ec;
    impl_->signals.add(s, ec);  // an invalid signal number is skipped
  }
  impl_->Arm();
  impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
}

SignalWatcher::~SignalWatcher() {
  asio::post(impl_->ioc, [impl = impl_.get()] {
    boost::system::error_code ec;
    impl->signals.cancel(ec);
    impl->signals.clear(ec);
  });
  impl_->thread.join();
}

}  // namespace llmux::http
