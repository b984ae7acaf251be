// The worker's gRPC server: llmux.worker.v1.Worker and the standard health service (SERVING
// once the models are loaded), over plaintext or mutual TLS.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "serving/inference_service.h"

namespace grpc {
class Server;
}

namespace llmux::worker {

class WorkerGrpcService;

struct WorkerServerOptions {
  std::string host = "127.0.0.1";
  int port = 50061;  // 0 picks a free port (read it with port() after Start)
  // TLS: both empty means plaintext. With a client CA, gateways must show a certificate it
  // signed (mutual TLS) when require_client_cert is set.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  bool require_client_cert = false;
  int max_receive_message_bytes = 16 << 20;
  // A generation's deltas produced within this time of its previous message go out merged as
  // one message (a token every few ms or slower: one message each, as without a window).
  std::chrono::microseconds stream_window{5000};
};

class WorkerServer {
 public:
  // `service` must outlive the server. `on_drain` is what the Drain call starts (see
  // worker.proto); it must return at once.
  WorkerServer(serving::InferenceService& service, WorkerServerOptions options,
               std::function<void()> on_drain = {});
  ~WorkerServer();

  Status Start();
  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert_file.empty(); }
  int in_flight() const;
  // The health service's answer (NOT_SERVING until the models are loaded).
  void SetServing(bool serving);
  // Stops taking calls, lets running ones finish for up to `grace`, then cancels the rest.
  void Shutdown(std::chrono::milliseconds grace);

 private:
  serving::InferenceService& service_;
  const WorkerServerOptions options_;
  std::function<void()> on_drain_;
  std::unique_ptr<WorkerGrpcService> grpc_service_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  bool shut_down_ = false;
  int port_ = 0;
};

}  // namespace llmux::worker
