// The benchmark's own etcd (Debian's /usr/bin/etcd): started on free loopback ports with a
// temporary data directory, with etcd's default raft timings (as a real deployment runs it),
// killed and removed when the object goes. Used when registry_bench is given no --etcd.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace llmux::bench {

class EtcdProcess {
 public:
  static Result<std::unique_ptr<EtcdProcess>> Start(const std::string& binary);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  std::string endpoint() const;  // 127.0.0.1:<client port>

 private:
  EtcdProcess() = default;
  Status WaitReady();

  std::string dir_;
  int client_port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace llmux::bench
