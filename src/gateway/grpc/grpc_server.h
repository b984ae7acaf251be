// The gRPC listener of `llmux serve`: llmux.v1.Inference, llmux.v1.Auth and llmux.v1.Mcp
// (when configured), the standard health service (grpc.health.v1.Health) and server
// reflection on one port.
//
//   GrpcServer grpc(service, {.host = "127.0.0.1", .port = 50051});
//   LLMUX_RETURN_IF_ERROR(grpc.Start());           // listening; grpc.port() is the bound port
//   grpc.SetServing(service.Ready());              // again when models finish loading
//   ...
//   grpc.Shutdown(std::chrono::seconds(10));       // on SIGTERM: running streams get up to
//                                                  // 10 s, then are cancelled
//
// TLS: set tls_cert_file and tls_key_file. For internal callers that authenticate with
// certificates (mutual TLS) add tls_client_ca_file, and require_client_cert to refuse
// clients without one.
#pragma once
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "serving/inference_service.h"

namespace grpc {
class Server;
}

namespace llmux::auth {
class AuthService;
}

namespace llmux::registry {
class RegistryService;
}
namespace llmux::requestlog {
class RequestLog;
}

namespace llmux::mcp {
class McpServer;
class SessionRegistry;
}  // namespace llmux::mcp

namespace llmux::gateway {

class AccessGate;
class AuthGrpcService;
class RegistryGrpcService;
class InferenceGrpcService;
class McpGrpcService;

struct GrpcServerOptions {
  std::string host = "127.0.0.1";  // IPv4/IPv6 address or name; IPv6 without brackets is fine
  int port = 50051;                // 0 picks a free port (read it with port() after Start)
  int max_receive_message_bytes = 16 << 20;

  // gRPC over TLS: PEM files of the server certificate (chain, the server's first) and its
  // unencrypted private key. Both empty: plaintext (insecure) gRPC.
  std::string tls_cert_file = "";
  std::string tls_key_file = "";
  // PEM certificates of the CA(s) that sign client certificates (needs TLS). When set, the
  // server asks every client for a certificate and verifies one that is sent against these
  // CAs; a client sending a certificate they did not sign fails the handshake.
  std::string tls_client_ca_file = "";
  // With tls_client_ca_file: a client without a (valid) certificate fails the handshake.
  // Without it such clients are admitted (no certificate is then no identity). Needs
  // tls_client_ca_file.
  bool require_client_cert = false;

  // Authentication, permissions and limits of every call (must outlive the server). Null or
  // auth off: no checks. With auth on, server reflection is not offered (only health is
  // public).
  AccessGate* access_gate = nullptr;
  // Offered as llmux.v1.Auth when set together with an access gate (must outlive the server).
  auth::AuthService* auth_service = nullptr;
  // Offered as llmux.v1.Registry when set together with an access gate with auth on (must
  // outlive the server).
  registry::RegistryService* registry_service = nullptr;
  // Read by llmux.v1.Auth/ListRequestLogs; null: none kept (must outlive the server).
  requestlog::RequestLog* request_log = nullptr;
  // Offered as llmux.v1.Mcp (proto/llmux/v1/mcp.proto) when both are set: the same MCP
  // server and sessions as /mcp (both must outlive the server).
  mcp::McpServer* mcp_server = nullptr;
  mcp::SessionRegistry* mcp_sessions = nullptr;
};

class GrpcServer {
 public:
  // `service` must outlive this object.
  GrpcServer(serving::InferenceService& service, GrpcServerOptions options);
  ~GrpcServer();  // Shutdown(now) if still running
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Binds and starts serving on gRPC's own threads; returns at once. kIoError if the
  // address cannot be bound (e.g. the port is in use), kInvalidArgument for a bad port or
  // inconsistent TLS options, kNotFound / kInvalidArgument for a TLS file that cannot be
  // read or does not hold what it should (the message names it).
  // Health starts as SERVING if service.Ready(), else NOT_SERVING.
  Status Start();

  // The bound port (after a successful Start), or 0.
  int port() const { return port_; }
  // "host:port" as bound, for logs and clients.
  std::string address() const;
  // Whether the server speaks TLS (after a successful Start).
  bool tls() const { return !options_.tls_cert_file.empty() && server_ != nullptr; }

  // Health status of "" (the whole server) and "llmux.v1.Inference".
  void SetServing(bool serving);

  // Graceful stop: health turns NOT_SERVING, new calls are refused, running calls may finish
  // until the deadline, then they are cancelled (which cancels their generation). Blocks
  // until every call is done. Safe to call more than once, and before Start.
  void Shutdown(std::chrono::system_clock::time_point deadline);
  void Shutdown(std::chrono::milliseconds grace) {
    Shutdown(std::chrono::system_clock::now() + grace);
  }

 private:
  serving::InferenceService& service_;
  GrpcServerOptions options_;
  std::unique_ptr<InferenceGrpcService> grpc_service_;  // outlives server_ (declared first)
  std::unique_ptr<AuthGrpcService> auth_service_;       // likewise
  std::unique_ptr<RegistryGrpcService> registry_service_;  // likewise
  std::unique_ptr<McpGrpcService> mcp_service_;         // likewise
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex mu_;  // guards shut_down_ against SetServing/Shutdown from other threads
  bool shut_down_ = false;
};

}  // namespace llmux::gateway
