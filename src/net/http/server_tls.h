// Internal: the OpenSSL context of an HTTPS server, built from its certificate and key files.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace boost::asio::ssl {
class context;
}

namespace llmux::http {

// TLS 1.2 and 1.3 only, forward-secret AEAD cipher suites for TLS 1.2, no compression, no
// renegotiation. The files are checked by LoadServerTlsFiles (tls_files.h) first, so every
// problem with them is a Status naming the file; nothing throws.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const std::string& cert_file, const std::string& key_file);

}  // namespace llmux::http
