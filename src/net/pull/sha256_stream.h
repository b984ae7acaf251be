// SHA-256 over a stream of pieces (OpenSSL EVP), for checking downloads as they arrive.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace llmux::pull {

class Sha256Stream {
 public:
  Sha256Stream();
  void Update(std::string_view bytes);
  // Lower-case hex of the digest of everything so far (the stream can go on after).
  std::string HexDigest() const;
  // Starts over, as if new.
  void Reset();

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// Feeds the first `length` bytes of the file at `path` to `hash`.
Status HashFilePrefix(const std::string& path, uint64_t length, Sha256Stream& hash);

// True for 64 lower- or upper-case hex digits.
bool IsSha256Hex(std::string_view s);

}  // namespace llmux::pull
