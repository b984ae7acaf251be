// Listening addresses and TLS credentials for llmux's gRPC servers and clients (the public API,
// the worker API), read from PEM files and checked here, so that a bad file is a clear error
// rather than a failed BuildAndStart or a channel that never connects.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace grpc {
class ServerCredentials;
class ChannelCredentials;
}  // namespace grpc

namespace llmux::rpc {

// gRPC wants IPv6 literals in brackets: "[::1]:50051".
std::string HostPort(const std::string& host, int port);

struct ServerTlsFiles {
  std::string cert_file;  // both empty: plaintext
  std::string key_file;
  std::string client_ca_file;  // ask clients for certificates signed by these CAs
  bool require_client_cert = false;  // refuse clients without one (needs client_ca_file)
};
Result<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerTlsFiles& files);

struct ClientTlsFiles {
  std::string ca_file;    // empty: plaintext (and no client certificate)
  std::string cert_file;  // the client's own certificate (mutual TLS), with key_file
  std::string key_file;
};
Result<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const ClientTlsFiles& files);

}  // namespace llmux::rpc
