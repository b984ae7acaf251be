#include "net/http/test_pki.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace llmux::http::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kNewKey = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2";

}  // namespace

TestPki::TestPki() {
  static std::atomic<int> counter{0};
  dir_ = (fs::temp_directory_path() /
          ("llmux_pki_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
             .string();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (!fs::create_directories(dir_, ec)) {
    error_ = "cannot create " + dir_ + ": " + ec.message();
    return;
  }
  const auto path = [&](const char* name) { return (fs::path(dir_) / name).string(); };
  ca_cert = path("ca.pem");
  ca_key = path("ca.key");
  server_cert = path("server.pem");
  server_key = path("server.key");
  client_cert = path("client.pem");
  client_key = path("client.key");
  rogue_cert = path("rogue.pem");
  rogue_key = path("rogue.key");

  const std::string ca = " -CA " + ca_cert + " -CAkey " + ca_key;
  const std::string leaf = " -addext basicConstraints=critical,CA:FALSE";
  const std::vector<std::string> steps = {
      std::string("req -x509 ") + kNewKey + " -subj /CN=llmux-test-ca" +
          " -addext basicConstraints=critical,CA:TRUE" +
          " -addext keyUsage=critical,keyCertSign,cRLSign -keyout " + ca_key + " -out " + ca_cert,
      std::string("req -x509 ") + kNewKey + " -subj /CN=localhost" + ca + leaf +
          " -addext subjectAltName=IP:127.0.0.1,DNS:localhost" +
          " -addext extendedKeyUsage=serverAuth -keyout " + server_key + " -out " + server_cert,
      std::string("req -x509 ") + kNewKey + " -subj /CN=llmux-test-client" + ca + leaf +
          " -addext extendedKeyUsage=clientAuth -keyout " + client_key + " -out " + client_cert,
      std::string("req -x509 ") + kNewKey + " -subj /CN=llmux-rogue-client" + leaf +
          " -addext extendedKeyUsage=clientAuth -keyout " + rogue_key + " -out " + rogue_cert,
  };
  for (const std::string& step : steps) {
    if (!Run(step)) return;
  }
}

TestPki::~TestPki() {
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

bool TestPki::Run(const std::string& args) {
  const std::string log = (fs::path(dir_) / "openssl.log").string();
  const std::string command = "openssl " + args + " >" + log + " 2>&1";
  if (std::system(command.c_str()) == 0) return true;
  error_ = "`" + command + "` failed: " + Read(log);
  return false;
}

std::string TestPki::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

std::string TestPki::Write(const std::string& name, const std::string& text) const {
  const std::string path = (fs::path(dir_) / name).string();
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

}  // namespace llmux::http::testing
