// Test fixture (compiled into tests only): a real etcd process (Debian's /usr/bin/etcd) on free
// loopback ports with a temporary data directory, started fresh for a test and killed at the end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/status.h"

namespace llmux::discovery {

// Polls condition every 10 ms until it holds (true) or timeout passes (false).
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

class EtcdTestServer {
 public:
  // Starts etcd and waits (bounded) until it answers.
  static Result<std::unique_ptr<EtcdTestServer>> Start();
  ~EtcdTestServer();  // kills etcd, removes its data directory

  std::string endpoint() const;  // 127.0.0.1:<client port>

  // SIGKILL and reap: the process is gone, the data directory stays.
  void Kill();
  // Starts etcd again on the same ports and data directory and waits until it answers.
  Status Restart();
  // SIGSTOP / SIGCONT: etcd keeps its sockets but answers nothing, like a hung or partitioned
  // server.
  void Pause();
  void Resume();

  // `etcdctl --endpoints <endpoint> <args>`'s standard output.
  Result<std::string> Etcdctl(const std::string& args) const;

 private:
  EtcdTestServer() = default;
  Status Launch();
  Status WaitReady(std::chrono::milliseconds timeout);

  std::string dir_;  // holds data/ and etcd.log
  int client_port_ = 0;
  int peer_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace llmux::discovery
