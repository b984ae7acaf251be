#include "gateway/grpc/grpc_server.h"

#include <fmt/format.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "base/log.h"
#include "gateway/grpc/auth_grpc_service.h"
#include "gateway/grpc/inference_grpc_service.h"
#include "gateway/grpc/mcp_grpc_service.h"
#include "gateway/grpc/registry_grpc_service.h"
#include "net/grpc/grpc_tls.h"

namespace llmux::gateway {
namespace {

constexpr const char* kInferenceServiceName = "llmux.v1.Inference";

Result<std::shared_ptr<grpc::ServerCredentials>> MakeCredentials(const GrpcServerOptions& o) {
  return rpc::MakeServerCredentials(
      {o.tls_cert_file, o.tls_key_file, o.tls_client_ca_file, o.require_client_cert});
}

using rpc::HostPort;

}  // namespace

GrpcServer::GrpcServer(serving::InferenceService& service, GrpcServerOptions options)
    : service_(service), options_(std::move(options)) {}

GrpcServer::~GrpcServer() { Shutdown(std::chrono::system_clock::now()); }

Status GrpcServer::Start() {
  if (server_) return InternalError("gRPC server already started");
  if (options_.port < 0 || options_.port > 65535) {
    return InvalidArgumentError(fmt::format("gRPC port must be 0..65535, got {}", options_.port));
  }
  if (options_.host.empty()) return InvalidArgumentError("gRPC host must not be empty");
  LLMUX_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                         MakeCredentials(options_));

  grpc::EnableDefaultHealthCheckService(true);
  const bool auth_on = options_.access_gate != nullptr && options_.access_gate->auth_enabled();
  if (!auth_on) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc_service_ = std::make_unique<InferenceGrpcService>(service_, options_.access_gate);
  const std::string address = HostPort(options_.host, options_.port);
  int bound_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, credentials, &bound_port);
  // Without this, Linux SO_REUSEPORT lets a second server share a busy port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.RegisterService(grpc_service_.get());
  if (options_.auth_service != nullptr && auth_on) {
    auth_service_ = std::make_unique<AuthGrpcService>(*options_.auth_service, *options_.access_gate,
                                                      options_.request_log);
    builder.RegisterService(auth_service_.get());
  }
  if (options_.registry_service != nullptr && auth_on) {
    registry_service_ =
        std::make_unique<RegistryGrpcService>(*options_.registry_service, *options_.access_gate);
    builder.RegisterService(registry_service_.get());
  }
  if (options_.mcp_server != nullptr && options_.mcp_sessions != nullptr) {
    mcp_service_ = std::make_unique<McpGrpcService>(*options_.mcp_server, *options_.mcp_sessions,
                                                    options_.access_gate);
    builder.RegisterService(mcp_service_.get());
  }
  server_ = builder.BuildAndStart();
  if (!server_ || bound_port == 0) {
    server_.reset();
    grpc_service_.reset();
    auth_service_.reset();
    registry_service_.reset();
    mcp_service_.reset();
    return IoError(
        fmt::format("gRPC: cannot listen on {} (in use or not a local address?)", address));
  }
  port_ = bound_port;
  SetServing(service_.Ready());
  spdlog::info("gRPC listening on {}{}", this->address(), tls() ? " (TLS)" : "");
  return Status::Ok();
}

std::string GrpcServer::address() const { return HostPort(options_.host, port_); }

void GrpcServer::SetServing(bool serving) {
  std::lock_guard lock(mu_);
  if (!server_ || shut_down_) return;
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(kInferenceServiceName, serving);
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  grpc::Server* server = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!server_ || shut_down_) return;
    shut_down_ = true;
    server = server_.get();
    // Health checkers see NOT_SERVING while running calls drain.
    if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
      health->Shutdown();
    }
  }
  server->Shutdown(deadline);
  server->Wait();
}

}  // namespace llmux::gateway
