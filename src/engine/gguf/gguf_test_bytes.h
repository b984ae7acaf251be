// Test helper: assembles GGUF bytes by hand, field by field, so that reader tests do not depend
// on the writer and can produce malformed files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llmux::gguf::testing {

class GgufBytes {
 public:
  GgufBytes& Raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
    return *this;
  }
  template <typename T>
  GgufBytes& Put(T v) {
    return Raw(&v, sizeof(v));
  }
  GgufBytes& U8(uint8_t v) { return Put(v); }
  GgufBytes& U32(uint32_t v) { return Put(v); }
  GgufBytes& U64(uint64_t v) { return Put(v); }
  GgufBytes& I64(int64_t v) { return Put(v); }
  GgufBytes& Str(std::string_view s) {
    U64(s.size());
    return Raw(s.data(), s.size());
  }
  // "GGUF", version, tensor count, kv count.
  GgufBytes& Header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    Raw("GGUF", 4);
    U32(version);
    U64(n_tensors);
    return U64(n_kv);
  }
  GgufBytes& KvU32(std::string_view key, uint32_t v) { return Str(key).U32(4).U32(v); }
  GgufBytes& KvStr(std::string_view key, std::string_view v) { return Str(key).U32(8).Str(v); }
  GgufBytes& TensorInfo(std::string_view name, std::vector<int64_t> ne, uint32_t type,
                        uint64_t offset) {
    Str(name).U32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) I64(d);
    return U32(type).U64(offset);
  }
  GgufBytes& PadTo(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_.push_back(0);
    return *this;
  }
  GgufBytes& Zeros(size_t n) {
    bytes_.insert(bytes_.end(), n, 0);
    return *this;
  }
  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace llmux::gguf::testing
