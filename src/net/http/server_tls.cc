#include "net/http/server_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/context.hpp>
#include <exception>

#include "net/http/tls_files.h"

namespace llmux::http {
namespace {

namespace ssl = boost::asio::ssl;

// Mozilla's "intermediate" TLS 1.2 list (ECDHE only); TLS 1.3 suites are OpenSSL's default.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status Failed(const std::string& what, const boost::system::error_code& ec) {
  ERR_clear_error();
  return InvalidArgumentError("TLS: " + what + ": " + ec.message());
}

Result<std::shared_ptr<ssl::context>> Build(const ServerTlsPem& pem, const std::string& cert_file,
                                            const std::string& key_file) {
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = tls->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return InternalError("TLS: cannot require TLS 1.2 or later");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    ERR_clear_error();
    return InternalError("TLS: OpenSSL refuses the TLS 1.2 cipher list");
  }
  boost::system::error_code ec;
  tls->use_certificate_chain(boost::asio::buffer(pem.cert_chain), ec);
  if (ec) return Failed("cannot use the certificate in '" + cert_file + "'", ec);
  tls->use_private_key(boost::asio::buffer(pem.private_key), ssl::context::pem, ec);
  if (ec) return Failed("cannot use the private key in '" + key_file + "'", ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("TLS private key file '" + key_file +
                                "' does not match the certificate in '" + cert_file + "'");
  }
  return tls;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerTlsContext(const std::string& cert_file,
                                                           const std::string& key_file) {
  LLMUX_ASSIGN_OR_RETURN(ServerTlsPem pem, LoadServerTlsFiles(cert_file, key_file));
  try {  // ssl::context's constructor throws if OpenSSL cannot make a context
    return Build(pem, cert_file, key_file);
  } catch (const std::exception& e) {
    ERR_clear_error();
    return InternalError(std::string("TLS: cannot set up OpenSSL: ") + e.what());
  }
}

}  // namespace llmux::http
