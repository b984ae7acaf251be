#include "worker/worker_server.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <spdlog/spdlog.h>

#include "net/grpc/grpc_tls.h"
#include "worker/worker_service.h"

namespace llmux::worker {

constexpr const char* kWorkerServiceName = "llmux.worker.v1.Worker";

WorkerServer::WorkerServer(serving::InferenceService& service, WorkerServerOptions options,
                           std::function<void()> on_drain)
    : service_(service), options_(std::move(options)), on_drain_(std::move(on_drain)) {}

WorkerServer::~WorkerServer() { Shutdown(std::chrono::milliseconds(0)); }

Status WorkerServer::Start() {
  if (server_) return InternalError("the worker server is already started");
  if (options_.port < 0 || options_.port > 65535) {
    return InvalidArgumentError(fmt::format("the worker port must be 0..65535, got {}", options_.port));
  }
  LLMUX_ASSIGN_OR_RETURN(
      std::shared_ptr<grpc::ServerCredentials> credentials,
      rpc::MakeServerCredentials({options_.tls_cert_file, options_.tls_key_file,
                                  options_.tls_client_ca_file, options_.require_client_cert}));
  grpc::EnableDefaultHealthCheckService(true);
  grpc_service_ = std::make_unique<WorkerGrpcService>(service_, on_drain_, options_.stream_window);
  const std::string address = rpc::HostPort(options_.host, options_.port);
  int bound_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials, &bound_port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Gateways ping their connections (RemoteInferenceOptions::keepalive, 100 ms at the least):
  // answer them rather than counting them as abuse and closing the connection.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 50);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.RegisterService(grpc_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    server_.reset();
    return IoError(fmt::format("cannot listen on {} (in use or not a local address?)", address));
  }
  port_ = bound_port;
  SetServing(service_.Ready());
  return Status::Ok();
}

int WorkerServer::in_flight() const { return grpc_service_ ? grpc_service_->in_flight() : 0; }

void WorkerServer::SetServing(bool serving) {
  std::lock_guard lock(mu_);
  if (!server_ || shut_down_) return;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus("", serving);
    health->SetServingStatus(kWorkerServiceName, serving);
  }
}

void WorkerServer::Shutdown(std::chrono::milliseconds grace) {
  grpc::Server* server = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!server_ || shut_down_) return;
    shut_down_ = true;
    server = server_.get();
    if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) health->Shutdown();
  }
  server->Shutdown(std::chrono::system_clock::now() + grace);
  server->Wait();
}

}  // namespace llmux::worker
