#include "services/registry/file_digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace llmux::registry {

namespace {

constexpr size_t kChunk = 1 << 20;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Result<FileDigest> Sha256File(const std::string& path) {
  Fd f;
  f.fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFoundError("no file at " + path);
    return IoError("cannot open " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(f.fd, &st) != 0) return IoError("cannot stat " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path + " is not a regular file");

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return InternalError("sha256 is not available");
  }
  std::vector<unsigned char> buf(kChunk);
  FileDigest out;
  for (;;) {
    const ssize_t n = read(f.fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("reading " + path + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
      return InternalError("sha256 update failed");
    }
    out.size_bytes += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1 || len != 32) {
    return InternalError("sha256 final failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  out.digest = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out.digest += kHex[md[i] >> 4];
    out.digest += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace llmux::registry
