// For TLS tests: a throwaway PKI made with the `openssl` command line in a fresh temporary
// directory (removed again by the destructor): a CA, a server certificate for 127.0.0.1
// and localhost signed by it, a client certificate signed by it, and a self-signed "rogue"
// client certificate that the CA did not sign. Keys are EC P-256, unencrypted PEM.
#pragma once

#include <string>

namespace llmux::http::testing {

class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // False if a file could not be made; error() then says why (openssl's output).
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  // File paths.
  std::string ca_cert, ca_key;
  std::string server_cert, server_key;
  std::string client_cert, client_key;
  std::string rogue_cert, rogue_key;

  // The contents of a file ("" if unreadable), e.g. PEM for gRPC credentials.
  static std::string Read(const std::string& path);
  // Writes `text` to dir()/name and returns the path.
  std::string Write(const std::string& name, const std::string& text) const;

 private:
  bool Run(const std::string& args);

  std::string dir_;
  std::string error_;
};

}  // namespace llmux::http::testing
