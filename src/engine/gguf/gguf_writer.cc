#include "engine/gguf/gguf_writer.h"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/gguf/gguf_reader.h"  // kAlignmentKey, kMaxDims, AlignUp

namespace llmux::gguf {

static_assert(std::endian::native == std::endian::little, "the GGUF writer assumes a little-endian host");

namespace {

constexpr uint32_t kVersion = 3;

// Appends little-endian fields to a byte vector.
class ByteSink {
 public:
  template <typename T>
  void Put(T v) {
    Raw(&v, sizeof(v));
  }
  void Raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void Str(std::string_view s) {
    Put<uint64_t>(s.size());
    Raw(s.data(), s.size());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// True when the array's storage vector is the one its element type calls for.
bool StorageMatches(const ValueArray& a) {
  const auto& s = a.storage();
  switch (a.element_type()) {
    case ValueType::kUint8:
    case ValueType::kBool: return std::holds_alternative<std::vector<uint8_t>>(s);
    case ValueType::kInt8: return std::holds_alternative<std::vector<int8_t>>(s);
    case ValueType::kUint16: return std::holds_alternative<std::vector<uint16_t>>(s);
    case ValueType::kInt16: return std::holds_alternative<std::vector<int16_t>>(s);
    case ValueType::kUint32: return std::holds_alternative<std::vector<uint32_t>>(s);
    case ValueType::kInt32: return std::holds_alternative<std::vector<int32_t>>(s);
    case ValueType::kFloat32: return std::holds_alternative<std::vector<float>>(s);
    case ValueType::kUint64: return std::holds_alternative<std::vector<uint64_t>>(s);
    case ValueType::kInt64: return std::holds_alternative<std::vector<int64_t>>(s);
    case ValueType::kFloat64: return std::holds_alternative<std::vector<double>>(s);
    case ValueType::kString: return std::holds_alternative<std::vector<std::string>>(s);
    case ValueType::kArray: return std::holds_alternative<std::vector<Value>>(s);
  }
  return false;
}

Status WriteValue(ByteSink& out, const Value& v, const std::string& key);

Status WriteArray(ByteSink& out, const ValueArray& a, const std::string& key) {
  if (!StorageMatches(a)) {
    return InvalidArgumentError("metadata key '" + key + "': array storage does not match its " +
                                ValueTypeName(a.element_type()) + " element type");
  }
  out.Put<uint32_t>(static_cast<uint32_t>(a.element_type()));
  out.Put<uint64_t>(a.size());
  return std::visit(
      [&](const auto& vec) -> Status {
        using E = typename std::decay_t<decltype(vec)>::value_type;
        if constexpr (std::is_arithmetic_v<E>) {
          out.Raw(vec.data(), vec.size() * sizeof(E));
        } else if constexpr (std::is_same_v<E, std::string>) {
          for (const auto& s : vec) out.Str(s);
        } else {
          for (const Value& inner : vec) {
            if (!inner.is_array()) {
              return InvalidArgumentError("metadata key '" + key +
                                          "': an array of arrays holds a non-array element");
            }
            LLMUX_RETURN_IF_ERROR(WriteArray(out, *inner.AsArray(), key));
          }
        }
        return Status::Ok();
      },
      a.storage());
}

// Writes the value (without its type tag).
Status WriteValue(ByteSink& out, const Value& v, const std::string& key) {
  switch (v.type()) {
    case ValueType::kUint8: out.Put<uint8_t>(static_cast<uint8_t>(*v.AsUint())); break;
    case ValueType::kInt8: out.Put<int8_t>(static_cast<int8_t>(*v.AsInt())); break;
    case ValueType::kUint16: out.Put<uint16_t>(static_cast<uint16_t>(*v.AsUint())); break;
    case ValueType::kInt16: out.Put<int16_t>(static_cast<int16_t>(*v.AsInt())); break;
    case ValueType::kUint32: out.Put<uint32_t>(static_cast<uint32_t>(*v.AsUint())); break;
    case ValueType::kInt32: out.Put<int32_t>(static_cast<int32_t>(*v.AsInt())); break;
    case ValueType::kUint64: out.Put<uint64_t>(*v.AsUint()); break;
    case ValueType::kInt64: out.Put<int64_t>(*v.AsInt()); break;
    case ValueType::kFloat32: out.Put<float>(static_cast<float>(*v.AsFloat())); break;
    case ValueType::kFloat64: out.Put<double>(*v.AsFloat()); break;
    case ValueType::kBool: out.Put<uint8_t>(*v.AsBool() ? 1 : 0); break;
    case ValueType::kString: out.Str(*v.AsString()); break;
    case ValueType::kArray:
      if (v.AsArray() == nullptr) return InvalidArgumentError("metadata key '" + key + "': null array");
      return WriteArray(out, *v.AsArray(), key);
  }
  return Status::Ok();
}

// An output file written through a temporary name and renamed into place on success.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)), tmp_path_(path_ + ".tmp") {}
  ~OutputFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(tmp_path_.c_str());
    }
  }
  Status Open() {
    f_ = std::fopen(tmp_path_.c_str(), "wb");
    if (f_ == nullptr) return IoError("cannot create '" + tmp_path_ + "': " + std::strerror(errno));
    return Status::Ok();
  }
  Status Write(const void* p, size_t n) {
    if (n > 0 && std::fwrite(p, 1, n, f_) != n) {
      return IoError("write to '" + tmp_path_ + "' failed: " + std::strerror(errno));
    }
    written_ += n;
    return Status::Ok();
  }
  Status PadTo(uint64_t alignment) {
    static const uint8_t kZeros[256] = {};
    uint64_t target = *AlignUp(written_, alignment);
    while (written_ < target) {
      LLMUX_RETURN_IF_ERROR(Write(kZeros, std::min<uint64_t>(sizeof(kZeros), target - written_)));
    }
    return Status::Ok();
  }
  uint64_t written() const { return written_; }
  Status Commit() {
    int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) {
      std::remove(tmp_path_.c_str());
      return IoError("closing '" + tmp_path_ + "' failed: " + std::strerror(errno));
    }
    if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      std::string msg = "cannot rename '" + tmp_path_ + "' to '" + path_ + "': " + std::strerror(errno);
      std::remove(tmp_path_.c_str());
      return IoError(msg);
    }
    return Status::Ok();
  }

 private:
  std::string path_;
  std::string tmp_path_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Metadata

void GgufWriter::Set(std::string_view key, Value value) {
  std::string k(key);
  auto it = key_index_.find(k);
  if (it != key_index_.end()) {
    metadata_[it->second].second = std::move(value);
    return;
  }
  key_index_.emplace(k, metadata_.size());
  metadata_.emplace_back(std::move(k), std::move(value));
}

void GgufWriter::SetStringArray(std::string_view key, std::vector<std::string> v) {
  Set(key, Value::Array(ValueType::kString, std::move(v)));
}
void GgufWriter::SetFloat32Array(std::string_view key, std::vector<float> v) {
  Set(key, Value::Array(ValueType::kFloat32, std::move(v)));
}
void GgufWriter::SetInt32Array(std::string_view key, std::vector<int32_t> v) {
  Set(key, Value::Array(ValueType::kInt32, std::move(v)));
}

bool GgufWriter::Remove(std::string_view key) {
  auto it = key_index_.find(std::string(key));
  if (it == key_index_.end()) return false;
  metadata_.erase(metadata_.begin() + static_cast<ptrdiff_t>(it->second));
  key_index_.clear();
  for (size_t i = 0; i < metadata_.size(); ++i) key_index_.emplace(metadata_[i].first, i);
  return true;
}

const Value* GgufWriter::Find(std::string_view key) const {
  auto it = key_index_.find(std::string(key));
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

// ---------------------------------------------------------------------------------------------
// Tensors

void GgufWriter::Fail(Status s) {
  if (status_.ok()) status_ = std::move(s);
}

Result<uint64_t> GgufWriter::CheckTensor(std::string_view name, DType type,
                                         const std::vector<int64_t>& ne) {
  const std::string what = "tensor '" + std::string(name) + "'";
  if (name.empty()) return InvalidArgumentError("tensor with an empty name");
  if (tensor_index_.count(std::string(name)) != 0) {
    return InvalidArgumentError("duplicate " + what);
  }
  if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) {
    return InvalidArgumentError(what + " has " + std::to_string(ne.size()) +
                                " dimensions (1 to 4 supported)");
  }
  if (!GetDTypeTraits(static_cast<uint32_t>(type))) {
    return InvalidArgumentError(what + " has unknown type id " +
                                std::to_string(static_cast<uint32_t>(type)));
  }
  for (int64_t d : ne) {
    if (d < 0) return InvalidArgumentError(what + " has a negative dimension");
  }
  auto row = RowBytes(type, ne[0]);
  if (!row) {
    return InvalidArgumentError(what + " row length " + std::to_string(ne[0]) +
                                " is not a multiple of the " + std::string(Traits(type).name) +
                                " block size");
  }
  uint64_t nbytes = *row;
  for (size_t d = 1; d < ne.size(); ++d) {
    if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(ne[d]), &nbytes)) {
      return InvalidArgumentError(what + " size overflows");
    }
  }
  return nbytes;
}

void GgufWriter::AddTensor(std::string_view name, DType type, std::vector<int64_t> ne,
                           const void* data, size_t nbytes) {
  auto expected = CheckTensor(name, type, ne);
  if (!expected.ok()) return Fail(expected.status());
  if (*expected != nbytes) {
    return Fail(InvalidArgumentError("tensor '" + std::string(name) + "' has " +
                                     std::to_string(nbytes) + " bytes of data, its shape needs " +
                                     std::to_string(*expected)));
  }
  if (data == nullptr && nbytes > 0) {
    return Fail(InvalidArgumentError("tensor '" + std::string(name) + "' has null data"));
  }
  tensor_index_.emplace(std::string(name), tensors_.size());
  tensors_.push_back(PendingTensor{std::string(name), type, std::move(ne), nbytes, data, {}});
}

void GgufWriter::AddTensor(std::string_view name, DType type, std::vector<int64_t> ne,
                           TensorProducer producer) {
  auto expected = CheckTensor(name, type, ne);
  if (!expected.ok()) return Fail(expected.status());
  if (!producer) return Fail(InvalidArgumentError("tensor '" + std::string(name) + "' has no producer"));
  tensor_index_.emplace(std::string(name), tensors_.size());
  tensors_.push_back(
      PendingTensor{std::string(name), type, std::move(ne), *expected, nullptr, std::move(producer)});
}

// ---------------------------------------------------------------------------------------------
// Writing

Result<uint64_t> GgufWriter::Alignment() const {
  const Value* v = Find(kAlignmentKey);
  if (v == nullptr) return kDefaultAlignment;
  auto a = v->AsUint();
  if (v->type() != ValueType::kUint32 || !a || *a == 0 || (*a & (*a - 1)) != 0) {
    return InvalidArgumentError(std::string(kAlignmentKey) + " must be a u32 power of two");
  }
  return *a;
}

Result<std::vector<uint8_t>> GgufWriter::HeaderBytes(uint64_t alignment) const {
  ByteSink header;
  header.Raw("GGUF", 4);
  header.Put<uint32_t>(kVersion);
  header.Put<uint64_t>(tensors_.size());
  header.Put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    header.Str(key);
    header.Put<uint32_t>(static_cast<uint32_t>(value.type()));
    LLMUX_RETURN_IF_ERROR(WriteValue(header, value, key));
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header.Str(t.name);
    header.Put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) header.Put<int64_t>(d);
    header.Put<uint32_t>(static_cast<uint32_t>(t.type));
    header.Put<uint64_t>(offset);
    offset = *AlignUp(offset + t.nbytes, alignment);
  }
  return std::move(header.bytes());
}

Result<std::string> GgufWriter::MetadataOnlyBytes() const {
  LLMUX_RETURN_IF_ERROR(status_);
  if (!tensors_.empty()) return InvalidArgumentError("MetadataOnlyBytes: the writer has tensors");
  LLMUX_ASSIGN_OR_RETURN(uint64_t alignment, Alignment());
  LLMUX_ASSIGN_OR_RETURN(std::vector<uint8_t> header, HeaderBytes(alignment));
  return std::string(reinterpret_cast<const char*>(header.data()), header.size());
}

Status GgufWriter::Write(const std::string& path) {
  LLMUX_RETURN_IF_ERROR(status_);
  LLMUX_ASSIGN_OR_RETURN(uint64_t alignment, Alignment());
  LLMUX_ASSIGN_OR_RETURN(std::vector<uint8_t> header, HeaderBytes(alignment));

  OutputFile out(path);
  LLMUX_RETURN_IF_ERROR(out.Open());
  LLMUX_RETURN_IF_ERROR(out.Write(header.data(), header.size()));
  std::vector<uint8_t>().swap(header);  // the vocabulary can be megabytes; free it before the tensor data
  // Like gguf-py, a file without tensors ends right after the metadata (no data section).
  if (!tensors_.empty()) LLMUX_RETURN_IF_ERROR(out.PadTo(alignment));

  std::vector<uint8_t> buffer;
  for (const auto& t : tensors_) {
    if (t.producer) {
      buffer.assign(t.nbytes, 0);
      Status s = t.producer(std::span<uint8_t>(buffer.data(), buffer.size()));
      if (!s.ok()) return s.WithContext("producing tensor '" + t.name + "'");
      LLMUX_RETURN_IF_ERROR(out.Write(buffer.data(), buffer.size()));
      std::vector<uint8_t>().swap(buffer);
    } else {
      LLMUX_RETURN_IF_ERROR(out.Write(t.data, t.nbytes));
    }
    LLMUX_RETURN_IF_ERROR(out.PadTo(alignment));
  }
  return out.Commit();
}

}  // namespace llmux::gguf
