// Internal to llmux_discovery: the gRPC channels and stubs of an EtcdClient, and the mapping of
// gRPC statuses to llmux Status, shared by the unary calls and the watch thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "discovery/etcd_client.h"
#include "etcd/etcdserverpb/rpc_subset.grpc.pb.h"

namespace llmux::discovery {

// One gRPC channel to an endpoint and its stubs.
struct EtcdConnection {
  explicit EtcdConnection(const std::string& address);
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

// An endpoint's current connection. gRPC 1.51's pick_first leaves a channel whose connection
// attempt failed idle for about 10 s before it tries again, far too long to notice an etcd that
// came back (or finished starting); so a call that finds the endpoint unreachable replaces the
// channel (at most every 200 ms), and the next call connects afresh.
class EtcdEndpoint {
 public:
  explicit EtcdEndpoint(std::string address);
  const std::string& address() const { return address_; }
  std::shared_ptr<EtcdConnection> connection();
  // After a call on `used` failed as unreachable: a new channel unless `used` is already
  // replaced, connected, or was made less than 200 ms ago.
  void ReplaceIfFailing(const std::shared_ptr<EtcdConnection>& used);

 private:
  const std::string address_;
  std::mutex mu_;
  std::shared_ptr<EtcdConnection> connection_;
  std::chrono::steady_clock::time_point made_;
};

struct EtcdClient::Channels {
  std::vector<std::unique_ptr<EtcdEndpoint>> endpoints;
  // The endpoint that answered last; calls start there.
  std::atomic<size_t> preferred{0};
};

// "etcd <what> at <endpoint>: ..." with the code mapped: unreachable or too slow -> kUnavailable.
Status StatusFromGrpc(const grpc::Status& status, const std::string& what,
                      const std::string& endpoint);

}  // namespace llmux::discovery
