#include "net/http/tls_files.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>
#include <system_error>

namespace llmux::http {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;  // certificate chains are a few KiB

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The oldest queued OpenSSL error as text (queue cleared), or `fallback`.
std::string TakeOpenSslError(std::string_view fallback) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return std::string(fallback);
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  if (path.empty()) return InvalidArgumentError(std::string(what) + " file name is empty");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFoundError(std::string(what) + " file '" + path + "' cannot be read: " +
                         (ec ? ec.message() : "not a regular file or does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFoundError(std::string(what) + " file '" + path +
                         "' cannot be read: " + std::strerror(errno));
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = std::move(out).str();
  if (in.bad()) return NotFoundError(std::string(what) + " file '" + path + "' cannot be read");
  if (text.empty())
    return InvalidArgumentError(std::string(what) + " file '" + path + "' is empty");
  if (text.size() > kMaxPemBytes) {
    return InvalidArgumentError(std::string(what) + " file '" + path + "' is too large for PEM");
  }
  return text;
}

BioPtr MemoryBio(const std::string& text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Every certificate in `pem`; the first one is returned through `first`.
Result<int> CountCertificates(const std::string& pem, const std::string& path,
                              std::string_view what, X509Ptr* first) {
  BioPtr bio = MemoryBio(pem);
  if (!bio) return InternalError("OpenSSL: out of memory");
  int count = 0;
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509Ptr cert(raw);
    if (count++ == 0 && first != nullptr) *first = std::move(cert);
  }
  ERR_clear_error();  // the read past the last certificate always leaves an error
  if (count == 0) {
    return InvalidArgumentError(std::string(what) + " file '" + path +
                                "' holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")");
  }
  return count;
}

// Refuses to ask for a passphrase (OpenSSL's default would read the terminal).
int NoPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

Result<ServerTlsPem> LoadServerTlsFiles(const std::string& cert_file, const std::string& key_file,
                                        const std::string& client_ca_file) {
  ERR_clear_error();
  ServerTlsPem pem;
  LLMUX_ASSIGN_OR_RETURN(pem.cert_chain, ReadFile(cert_file, "TLS certificate"));
  LLMUX_ASSIGN_OR_RETURN(pem.private_key, ReadFile(key_file, "TLS private key"));

  X509Ptr leaf;
  LLMUX_RETURN_IF_ERROR(
      CountCertificates(pem.cert_chain, cert_file, "TLS certificate", &leaf).status());

  BioPtr key_bio = MemoryBio(pem.private_key);
  if (!key_bio) return InternalError("OpenSSL: out of memory");
  PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return InvalidArgumentError("TLS private key file '" + key_file +
                                "' holds no usable PEM private key (encrypted keys are not "
                                "supported): " +
                                TakeOpenSslError("no key found"));
  }
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return InvalidArgumentError("TLS private key file '" + key_file +
                                "' does not match the certificate in '" + cert_file + "'");
  }

  if (!client_ca_file.empty()) {
    LLMUX_ASSIGN_OR_RETURN(pem.client_ca, ReadFile(client_ca_file, "TLS client CA"));
    LLMUX_RETURN_IF_ERROR(
        CountCertificates(pem.client_ca, client_ca_file, "TLS client CA", nullptr).status());
  }
  ERR_clear_error();
  return pem;
}

}  // namespace llmux::http
