// Writes GGUF version 3 files: metadata in insertion order, then tensor infos, then the tensor
// data, each tensor aligned to general.alignment (32 when the key is not set).
//
// Tensor data is either borrowed (AddTensor with a pointer: it must stay valid until Write) or
// produced on demand (AddTensor with a callback: called once during Write, in tensor order, to
// fill a buffer of exactly the tensor's size), so a large model can be generated or converted
// one tensor at a time.
//
// Mistakes in AddTensor (bad shape, wrong byte count, duplicate name) are remembered and
// returned by Write(); status() reports the first one early.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "engine/gguf/gguf_value.h"
#include "engine/tensor/dtype.h"

namespace llmux::gguf {

class GgufWriter {
 public:
  // Fills `out` (exactly the tensor's byte size) with the tensor's data.
  using TensorProducer = std::function<Status(std::span<uint8_t> out)>;

  GgufWriter() = default;
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  // Metadata. Setting an existing key replaces its value and keeps its position.
  void Set(std::string_view key, Value value);
  void CopyValue(std::string_view key, const Value& value) { Set(key, value); }
  void SetString(std::string_view key, std::string value) { Set(key, Value::String(std::move(value))); }
  void SetUint32(std::string_view key, uint32_t v) { Set(key, Value::Uint32(v)); }
  void SetInt32(std::string_view key, int32_t v) { Set(key, Value::Int32(v)); }
  void SetUint64(std::string_view key, uint64_t v) { Set(key, Value::Uint64(v)); }
  void SetInt64(std::string_view key, int64_t v) { Set(key, Value::Int64(v)); }
  void SetFloat32(std::string_view key, float v) { Set(key, Value::Float32(v)); }
  void SetFloat64(std::string_view key, double v) { Set(key, Value::Float64(v)); }
  void SetBool(std::string_view key, bool v) { Set(key, Value::Bool(v)); }
  void SetStringArray(std::string_view key, std::vector<std::string> v);
  void SetFloat32Array(std::string_view key, std::vector<float> v);
  void SetInt32Array(std::string_view key, std::vector<int32_t> v);
  // Removes a key; returns false if it was not set.
  bool Remove(std::string_view key);
  const Value* Find(std::string_view key) const;
  size_t metadata_count() const { return metadata_.size(); }

  // Tensors, written in the order added. ne[0] is the row length (ggml order), 1 to 4 dims.
  void AddTensor(std::string_view name, DType type, std::vector<int64_t> ne, const void* data,
                 size_t nbytes);
  void AddTensor(std::string_view name, DType type, std::vector<int64_t> ne,
                 TensorProducer producer);
  size_t tensor_count() const { return tensors_.size(); }

  // The first error recorded by AddTensor, or OK.
  const Status& status() const { return status_; }

  // Writes the file (through a temporary file renamed into place). Can be called again.
  Status Write(const std::string& path);
  // The bytes of a file with metadata only (InvalidArgument if tensors were added): a
  // vocabulary-only GGUF to send over the wire.
  Result<std::string> MetadataOnlyBytes() const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t nbytes = 0;
    const void* data = nullptr;  // borrowed, or null when `producer` is set
    TensorProducer producer;
  };

  Result<uint64_t> CheckTensor(std::string_view name, DType type, const std::vector<int64_t>& ne);
  void Fail(Status s);
  Result<uint64_t> Alignment() const;
  // Header, metadata and tensor infos.
  Result<std::vector<uint8_t>> HeaderBytes(uint64_t alignment) const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::unordered_map<std::string, size_t> key_index_;
  std::vector<PendingTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  Status status_;
};

}  // namespace llmux::gguf
