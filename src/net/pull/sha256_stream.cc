#include "net/pull/sha256_stream.h"

#include <cstdio>
#include <vector>

namespace llmux::pull {

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) { Reset(); }

void Sha256Stream::Reset() { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }

void Sha256Stream::Update(std::string_view bytes) {
  EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
}

std::string Sha256Stream::HexDigest() const {
  std::unique_ptr<EVP_MD_CTX, Free> copy(EVP_MD_CTX_new());
  EVP_MD_CTX_copy_ex(copy.get(), ctx_.get());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy.get(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

Status HashFilePrefix(const std::string& path, uint64_t length, Sha256Stream& hash) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return IoError("cannot read " + path);
  std::vector<char> buf(1 << 20);
  uint64_t left = length;
  while (left > 0) {
    const size_t want = left < buf.size() ? static_cast<size_t>(left) : buf.size();
    const size_t got = std::fread(buf.data(), 1, want, f);
    if (got == 0) break;
    hash.Update(std::string_view(buf.data(), got));
    left -= got;
  }
  std::fclose(f);
  if (left != 0) return IoError(path + " is shorter than expected");
  return Status::Ok();
}

bool IsSha256Hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex) return false;
  }
  return true;
}

}  // namespace llmux::pull
