// Reading and checking the PEM files of a TLS server (HTTPS and gRPC share this), so that a
// missing file, a file without a certificate, an encrypted key or a key that belongs to
// another certificate is a clear Status at start rather than a failure on the first client.
// Plain OpenSSL underneath; no Asio.
#pragma once

#include <string>

#include "base/status.h"

namespace llmux::http {

struct ServerTlsPem {
  std::string cert_chain;   // the server certificate first, then intermediates
  std::string private_key;  // unencrypted
  std::string client_ca;    // certificates that sign accepted client certificates; may be empty
};

// Reads `cert_file` (PEM, one or more certificates), `key_file` (PEM private key, not
// encrypted: llmux never prompts for a passphrase) and, when not empty, `client_ca_file`
// (PEM, one or more certificates). Checks that each parses and that the key matches the
// first certificate. Errors: kNotFound for a file that cannot be read, kInvalidArgument for
// content that is not what it should be; the message names the file.
Result<ServerTlsPem> LoadServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                                        const std::string& client_ca_file = "");

}  // namespace llmux::http
