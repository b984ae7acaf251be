// Read-only access to a GGUF file (versions 2 and 3, little-endian).
//
// Layout (all integers little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value type | value }
//   n_tensors x { string name | u32 n_dims | n_dims x i64 ne | u32 ggml type | u64 offset }
//   padding to `alignment` | tensor data (each tensor at data_offset + offset)
// where a string is u64 length + bytes and an array value is u32 element type + u64 count +
// elements. The alignment is general.alignment (u32) or 32.
//
// Everything is validated when the file is opened: every length, count and offset is checked
// against the file size with overflow-safe arithmetic, so a TensorInfo's data pointer can be used
// without further checks. Malformed files give DataLoss with a reason; GGUF v1 and other
// unsupported versions give InvalidArgument.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/gguf/gguf_value.h"
#include "engine/tensor/dtype.h"

namespace llmux::gguf {

inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;
inline constexpr std::string_view kAlignmentKey = "general.alignment";

struct MetadataEntry {
  std::string key;
  Value value;
};

struct TensorInfo {
  std::string name;
  DType type = DType::kF32;
  std::vector<int64_t> ne;  // ne[0] = contiguous (row length), ggml order
  uint64_t offset = 0;      // relative to the data section
  const uint8_t* data = nullptr;  // points into the mapping, bounds-checked
  uint64_t nbytes = 0;
  int64_t n_elements() const;
};

class GgufFile {
 public:
  // Maps the file read-only. The mapping lives as long as the GgufFile.
  static Result<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses borrowed memory, which must outlive the GgufFile and stay unchanged.
  static Result<std::unique_ptr<GgufFile>> Parse(const uint8_t* data, size_t size);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // Start of the tensor data section (end of the tensor infos, rounded up to alignment()).
  // With no tensors it may equal or exceed file_size().
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }
  // The whole file (mapping or borrowed memory).
  const uint8_t* file_data() const { return base_; }
  // The path given to Open, or "" for Parse.
  const std::string& path() const { return path_; }

  const std::vector<MetadataEntry>& metadata() const { return metadata_; }  // file order
  const Value* Find(std::string_view key) const;

  std::optional<std::string> GetString(std::string_view key) const;
  std::optional<int64_t> GetInt(std::string_view key) const;   // any integer type
  std::optional<double> GetFloat(std::string_view key) const;  // f32/f64 (ints also accepted)
  std::optional<bool> GetBool(std::string_view key) const;
  // NotFound if missing, InvalidArgument if the element type does not fit.
  Result<std::vector<std::string>> GetStringArray(std::string_view key) const;
  Result<std::vector<float>> GetFloatArray(std::string_view key) const;  // float or int elements
  Result<std::vector<int64_t>> GetIntArray(std::string_view key) const;  // integer elements
  // The array itself without copying (nullptr if missing or not an array).
  const ValueArray* FindArray(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* FindTensor(std::string_view name) const;

  // Says that this process no longer reads [data, data + size) (e.g. a backend copied those
  // weights). A mapped file drops the whole pages of the range from the mapping: they leave
  // the process's resident memory but stay in the page cache, so a later read, or the next
  // load of the file, maps them again without reading the disk. Borrowed memory is left alone.
  void ReleasePages(const void* data, size_t size) const;

 private:
  GgufFile() = default;
  Status ParseAll();
  Status ValidateTensors();
  Status BuildIndexes();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when Open mapped the file
  size_t mapping_size_ = 0;

  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<MetadataEntry> metadata_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> key_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Round `x` up to a multiple of `alignment` (a power of two); nullopt on overflow.
std::optional<uint64_t> AlignUp(uint64_t x, uint64_t alignment);

}  // namespace llmux::gguf
