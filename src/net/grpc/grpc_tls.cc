#include "net/grpc/grpc_tls.h"

#include <fmt/format.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <fstream>
#include <sstream>

#include "net/http/tls_files.h"

namespace llmux::rpc {

std::string HostPort(const std::string& host, int port) {
  const bool bare_ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return bare_ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

Result<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const ServerTlsFiles& o) {
  const bool tls = !o.cert_file.empty() || !o.key_file.empty();
  if (!tls) {
    if (!o.client_ca_file.empty() || o.require_client_cert) {
      return InvalidArgumentError(
          "gRPC client certificates need TLS: set a server certificate and key too");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.cert_file.empty() || o.key_file.empty()) {
    return InvalidArgumentError(
        "gRPC over TLS needs both a certificate file and a private key file (only one was "
        "given)");
  }
  if (o.require_client_cert && o.client_ca_file.empty()) {
    return InvalidArgumentError(
        "requiring gRPC client certificates needs a client CA file to verify them against");
  }
  LLMUX_ASSIGN_OR_RETURN(http::ServerTlsPem pem,
                         http::LoadServerTlsFiles(o.cert_file, o.key_file, o.client_ca_file));
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({pem.private_key, pem.cert_chain});
  ssl.pem_root_certs = pem.client_ca;
  if (pem.client_ca.empty()) {
    ssl.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  } else if (o.require_client_cert) {
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  } else {
    // Asked for; one that is sent must verify, none at all is accepted.
    ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

namespace {

Result<std::string> ReadPem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(fmt::format("cannot read the {} file {}", what, path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN ") == std::string::npos) {
    return InvalidArgumentError(fmt::format("the {} file {} holds no PEM data", what, path));
  }
  return ss.str();
}

}  // namespace

Result<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(const ClientTlsFiles& o) {
  if (o.ca_file.empty()) {
    if (!o.cert_file.empty() || !o.key_file.empty()) {
      return InvalidArgumentError("a gRPC client certificate needs TLS: set the CA file too");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (o.cert_file.empty() != o.key_file.empty()) {
    return InvalidArgumentError("a gRPC client certificate needs both its certificate and key files");
  }
  grpc::SslCredentialsOptions ssl;
  if (o.cert_file.empty()) {
    LLMUX_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(o.ca_file, "CA"));
  } else {
    // The same checks as a server's files: the key must match the certificate.
    LLMUX_ASSIGN_OR_RETURN(http::ServerTlsPem pem,
                           http::LoadServerTlsFiles(o.cert_file, o.key_file, o.ca_file));
    ssl.pem_root_certs = pem.client_ca;
    ssl.pem_cert_chain = pem.cert_chain;
    ssl.pem_private_key = pem.private_key;
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace llmux::rpc
