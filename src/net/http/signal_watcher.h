// SignalWatcher: calls a function when the process gets SIGINT or SIGTERM (or other given
// signals), on a small thread of its own, e.g. to start HttpServer::Shutdown. Signals keep
// being watched until the watcher is destroyed, so a second Ctrl-C can force an exit.
#pragma once

#include <functional>
#include <memory>
#include <vector>

namespace llmux::http {

class SignalWatcher {
 public:
  // Starts watching at once. `on_signal` gets the signal number; it runs on the watcher's
  // thread and must not destroy the watcher.
  explicit SignalWatcher(std::function<void(int signo)> on_signal, std::vector<int> signals = {});
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmux::http
