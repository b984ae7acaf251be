#include "engine/gguf/gguf_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "base/mapped_pages.h"

namespace llmux::gguf {

static_assert(std::endian::native == std::endian::little, "the GGUF reader assumes a little-endian host");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 16;       // nested arrays deeper than this are refused
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;        // empty key, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset

std::string Quote(std::string_view s) {
  // Names in error messages come from untrusted files: cap the length and escape non-printables.
  std::string out = "'";
  size_t n = std::min<size_t>(s.size(), 120);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > n) out += "...";
  out += "'";
  return out;
}

bool MulOverflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
bool AddOverflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

// Sequential little-endian reads from a bounded buffer. Every read checks the remaining size.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, uint64_t size) : data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status Need(uint64_t n, std::string_view what) const {
    if (n > remaining()) {
      return DataLossError("unexpected end of file reading " + std::string(what) + " at offset " +
                           std::to_string(pos_) + " (need " + std::to_string(n) + " bytes, " +
                           std::to_string(remaining()) + " left)");
    }
    return Status::Ok();
  }

  template <typename T>
  Status Read(T* out, std::string_view what) {
    LLMUX_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  // Copies n bytes into out (out must have room for n bytes).
  Status ReadBytes(void* out, uint64_t n, std::string_view what) {
    LLMUX_RETURN_IF_ERROR(Need(n, what));
    if (n > 0) std::memcpy(out, data_ + pos_, n);
    pos_ += n;
    return Status::Ok();
  }

  // Reads a u64-length-prefixed string. The description of what is read is assembled only on
  // error (`what`, then " " + index when index >= 0), since vocabularies hold 150k strings.
  Status ReadString(std::string* out, std::string_view what, int64_t index = -1) {
    uint64_t len = 0;
    if (remaining() < 8 || (std::memcpy(&len, data_ + pos_, 8), len > remaining() - 8)) {
      std::string desc(what);
      if (index >= 0) desc += " " + std::to_string(index);
      if (remaining() < 8) return Need(8, desc);
      return DataLossError(desc + " at offset " + std::to_string(pos_) + " has length " +
                           std::to_string(len) + " but only " + std::to_string(remaining() - 8) +
                           " bytes remain in the file");
    }
    pos_ += 8;
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// Smallest number of bytes one array element of this type can occupy in a file.
uint64_t MinElementBytes(ValueType t) {
  if (t == ValueType::kString) return 8;
  if (t == ValueType::kArray) return 4 + 8;
  return ScalarSize(t);
}

Status ReadValue(ByteReader& r, ValueType type, int depth, const std::string& key, Value* out);

template <typename T>
Status ReadNumericArray(ByteReader& r, uint64_t count, const std::string& key, ValueArray::Storage* out) {
  std::vector<T> v(count);
  LLMUX_RETURN_IF_ERROR(r.ReadBytes(v.data(), count * sizeof(T), "array elements of key " + key));
  *out = std::move(v);
  return Status::Ok();
}

Status ReadArray(ByteReader& r, int depth, const std::string& key, Value* out) {
  const std::string what = "metadata key " + Quote(key);
  if (depth >= kMaxArrayDepth) {
    return DataLossError(what + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth) +
                         " levels");
  }
  uint32_t raw_type = 0;
  uint64_t count = 0;
  LLMUX_RETURN_IF_ERROR(r.Read(&raw_type, what + " array element type"));
  if (!IsValidValueType(raw_type)) {
    return DataLossError(what + ": unknown array element type " + std::to_string(raw_type));
  }
  LLMUX_RETURN_IF_ERROR(r.Read(&count, what + " array count"));
  const auto elem = static_cast<ValueType>(raw_type);
  // Refuse counts the rest of the file cannot hold before allocating anything.
  if (count > r.remaining() / MinElementBytes(elem)) {
    return DataLossError(what + ": array of " + std::to_string(count) + " " +
                         ValueTypeName(elem) + " elements does not fit in the " +
                         std::to_string(r.remaining()) + " bytes left in the file");
  }
  ValueArray::Storage storage;
  switch (elem) {
    case ValueType::kUint8:
    case ValueType::kBool: LLMUX_RETURN_IF_ERROR(ReadNumericArray<uint8_t>(r, count, key, &storage)); break;
    case ValueType::kInt8: LLMUX_RETURN_IF_ERROR(ReadNumericArray<int8_t>(r, count, key, &storage)); break;
    case ValueType::kUint16: LLMUX_RETURN_IF_ERROR(ReadNumericArray<uint16_t>(r, count, key, &storage)); break;
    case ValueType::kInt16: LLMUX_RETURN_IF_ERROR(ReadNumericArray<int16_t>(r, count, key, &storage)); break;
    case ValueType::kUint32: LLMUX_RETURN_IF_ERROR(ReadNumericArray<uint32_t>(r, count, key, &storage)); break;
    case ValueType::kInt32: LLMUX_RETURN_IF_ERROR(ReadNumericArray<int32_t>(r, count, key, &storage)); break;
    case ValueType::kFloat32: LLMUX_RETURN_IF_ERROR(ReadNumericArray<float>(r, count, key, &storage)); break;
    case ValueType::kUint64: LLMUX_RETURN_IF_ERROR(ReadNumericArray<uint64_t>(r, count, key, &storage)); break;
    case ValueType::kInt64: LLMUX_RETURN_IF_ERROR(ReadNumericArray<int64_t>(r, count, key, &storage)); break;
    case ValueType::kFloat64: LLMUX_RETURN_IF_ERROR(ReadNumericArray<double>(r, count, key, &storage)); break;
    case ValueType::kString: {
      std::vector<std::string> v(count);
      const std::string elem_what = what + " string element";
      for (uint64_t i = 0; i < count; ++i) {
        LLMUX_RETURN_IF_ERROR(r.ReadString(&v[i], elem_what, static_cast<int64_t>(i)));
      }
      storage = std::move(v);
      break;
    }
    case ValueType::kArray: {
      std::vector<Value> v;
      v.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        Value inner;
        LLMUX_RETURN_IF_ERROR(ReadArray(r, depth + 1, key, &inner));
        v.push_back(std::move(inner));
      }
      storage = std::move(v);
      break;
    }
  }
  if (elem == ValueType::kBool) {
    // Normalize to 0/1 so that every consumer sees the same truth value.
    for (auto& b : std::get<std::vector<uint8_t>>(storage)) b = b != 0 ? 1 : 0;
  }
  *out = Value::Array(elem, std::move(storage));
  return Status::Ok();
}

// Reads one scalar of C++ type T and wraps it with `make`.
template <typename T, typename Make>
Status ReadScalar(ByteReader& r, const std::string& key, Make make, Value* out) {
  T v{};
  LLMUX_RETURN_IF_ERROR(r.Read(&v, "value of metadata key " + Quote(key)));
  *out = make(v);
  return Status::Ok();
}

Status ReadValue(ByteReader& r, ValueType type, int depth, const std::string& key, Value* out) {
  switch (type) {
    case ValueType::kUint8: return ReadScalar<uint8_t>(r, key, Value::Uint8, out);
    case ValueType::kInt8: return ReadScalar<int8_t>(r, key, Value::Int8, out);
    case ValueType::kUint16: return ReadScalar<uint16_t>(r, key, Value::Uint16, out);
    case ValueType::kInt16: return ReadScalar<int16_t>(r, key, Value::Int16, out);
    case ValueType::kUint32: return ReadScalar<uint32_t>(r, key, Value::Uint32, out);
    case ValueType::kInt32: return ReadScalar<int32_t>(r, key, Value::Int32, out);
    case ValueType::kFloat32: return ReadScalar<float>(r, key, Value::Float32, out);
    case ValueType::kBool:
      return ReadScalar<uint8_t>(r, key, [](uint8_t b) { return Value::Bool(b != 0); }, out);
    case ValueType::kUint64: return ReadScalar<uint64_t>(r, key, Value::Uint64, out);
    case ValueType::kInt64: return ReadScalar<int64_t>(r, key, Value::Int64, out);
    case ValueType::kFloat64: return ReadScalar<double>(r, key, Value::Float64, out);
    case ValueType::kString: {
      std::string s;
      LLMUX_RETURN_IF_ERROR(r.ReadString(&s, "string value of metadata key " + Quote(key)));
      *out = Value::String(std::move(s));
      break;
    }
    case ValueType::kArray: return ReadArray(r, depth, key, out);
  }
  return Status::Ok();
}

std::string ShapeString(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

}  // namespace

std::optional<uint64_t> AlignUp(uint64_t x, uint64_t alignment) {
  uint64_t sum = 0;
  if (alignment == 0 || AddOverflows(x, alignment - 1, &sum)) return std::nullopt;
  return sum / alignment * alignment;
}

int64_t TensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated not to overflow when the file was parsed
  return n;
}

// ---------------------------------------------------------------------------------------------
// Opening

GgufFile::~GgufFile() {
  if (mapping_ != nullptr) munmap(mapping_, mapping_size_);
}

void GgufFile::ReleasePages(const void* data, size_t size) const {
  // Borrowed memory (Parse) has no mapping_ and is left alone.
  ReleaseMappedPages(mapping_, mapping_size_, data, size);
}

Result<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = "cannot open '" + path + "': " + std::strerror(err);
    if (err == ENOENT) return NotFoundError(msg);
    return IoError(msg);
  }
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    std::string msg = "cannot stat '" + path + "': " + std::strerror(errno);
    ::close(fd);
    return IoError(msg);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError("'" + path + "' is not a regular file");
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return DataLossError("'" + path + "' is empty (not a GGUF file)");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) {
    return IoError("cannot map '" + path + "': " + std::strerror(map_errno));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->mapping_ = map;
  file->mapping_size_ = size;
  file->base_ = static_cast<const uint8_t*>(map);
  file->size_ = size;
  Status st_parse = file->ParseAll();
  if (!st_parse.ok()) return st_parse.WithContext(path);
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, size_t size) {
  if (data == nullptr && size != 0) return InvalidArgumentError("GgufFile::Parse: null data");
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->base_ = data;
  file->size_ = size;
  LLMUX_RETURN_IF_ERROR(file->ParseAll());
  return file;
}

// ---------------------------------------------------------------------------------------------
// Parsing

Status GgufFile::ParseAll() {
  ByteReader r(base_, size_);
  uint32_t magic = 0;
  if (size_ < 4) {
    return DataLossError("not a GGUF file: " + std::to_string(size_) +
                         " bytes is too short for the magic");
  }
  LLMUX_RETURN_IF_ERROR(r.Read(&magic, "magic"));
  if (magic != kMagic) {
    return DataLossError("not a GGUF file: bad magic (first bytes " + Quote(std::string_view(
                             reinterpret_cast<const char*>(base_), 4)) + ", expected 'GGUF')");
  }
  LLMUX_RETURN_IF_ERROR(r.Read(&version_, "version"));
  if (version_ == 1) {
    return InvalidArgumentError(
        "GGUF version 1 is not supported (only versions 2 and 3); re-convert the file");
  }
  if (version_ != 2 && version_ != 3) {
    uint32_t swapped = __builtin_bswap32(version_);
    if (swapped >= 1 && swapped <= 3) {
      return InvalidArgumentError("big-endian GGUF files are not supported");
    }
    return InvalidArgumentError("unsupported GGUF version " + std::to_string(version_) +
                                " (only versions 2 and 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  LLMUX_RETURN_IF_ERROR(r.Read(&n_tensors, "tensor count"));
  LLMUX_RETURN_IF_ERROR(r.Read(&n_kv, "metadata count"));
  if (n_kv > r.remaining() / kMinKvBytes) {
    return DataLossError("metadata count " + std::to_string(n_kv) + " cannot fit in the " +
                         std::to_string(r.remaining()) + " bytes after the header");
  }
  if (n_tensors > r.remaining() / kMinTensorInfoBytes) {
    return DataLossError("tensor count " + std::to_string(n_tensors) + " cannot fit in the " +
                         std::to_string(r.remaining()) + " bytes after the header");
  }

  // Metadata.
  metadata_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    MetadataEntry e;
    LLMUX_RETURN_IF_ERROR(r.ReadString(&e.key, "key of metadata entry " + std::to_string(i)));
    uint32_t raw_type = 0;
    LLMUX_RETURN_IF_ERROR(r.Read(&raw_type, "value type of metadata key " + Quote(e.key)));
    if (!IsValidValueType(raw_type)) {
      return DataLossError("metadata key " + Quote(e.key) + " has unknown value type " +
                           std::to_string(raw_type));
    }
    LLMUX_RETURN_IF_ERROR(ReadValue(r, static_cast<ValueType>(raw_type), 0, e.key, &e.value));
    metadata_.push_back(std::move(e));
  }

  // Tensor infos.
  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    LLMUX_RETURN_IF_ERROR(r.ReadString(&t.name, "name of tensor " + std::to_string(i)));
    const std::string what = "tensor " + Quote(t.name);
    uint32_t n_dims = 0;
    LLMUX_RETURN_IF_ERROR(r.Read(&n_dims, what + " n_dims"));
    if (n_dims < 1 || n_dims > kMaxDims) {
      return DataLossError(what + " has " + std::to_string(n_dims) + " dimensions (1 to " +
                           std::to_string(kMaxDims) + " supported)");
    }
    t.ne.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
      LLMUX_RETURN_IF_ERROR(r.Read(&t.ne[d], what + " shape"));
      if (t.ne[d] < 0) {
        return DataLossError(what + " has negative dimension ne[" + std::to_string(d) +
                             "] = " + std::to_string(t.ne[d]));
      }
    }
    uint32_t raw_type = 0;
    LLMUX_RETURN_IF_ERROR(r.Read(&raw_type, what + " type"));
    auto traits = GetDTypeTraits(raw_type);
    if (!traits) {
      return DataLossError(what + " has unknown tensor type id " + std::to_string(raw_type));
    }
    t.type = traits->type;
    LLMUX_RETURN_IF_ERROR(r.Read(&t.offset, what + " offset"));
    tensors_.push_back(std::move(t));
  }

  // Alignment (needed for the data section start).
  for (const auto& e : metadata_) {
    if (e.key != kAlignmentKey) continue;
    if (e.value.type() != ValueType::kUint32) {
      return DataLossError(std::string(kAlignmentKey) + " must be a u32, got " +
                           ValueTypeName(e.value.type()));
    }
    uint64_t a = *e.value.AsUint();
    if (a == 0 || (a & (a - 1)) != 0) {
      return DataLossError(std::string(kAlignmentKey) + " = " + std::to_string(a) +
                           " is not a non-zero power of two");
    }
    alignment_ = a;
  }
  auto data_offset = AlignUp(r.pos(), alignment_);
  if (!data_offset) return DataLossError("data section offset overflows");
  data_offset_ = *data_offset;

  LLMUX_RETURN_IF_ERROR(BuildIndexes());
  return ValidateTensors();
}

Status GgufFile::BuildIndexes() {
  key_index_.reserve(metadata_.size());
  for (size_t i = 0; i < metadata_.size(); ++i) {
    if (!key_index_.emplace(metadata_[i].key, i).second) {
      return DataLossError("duplicate metadata key " + Quote(metadata_[i].key));
    }
  }
  tensor_index_.reserve(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!tensor_index_.emplace(tensors_[i].name, i).second) {
      return DataLossError("duplicate tensor name " + Quote(tensors_[i].name));
    }
  }
  return Status::Ok();
}

Status GgufFile::ValidateTensors() {
  for (auto& t : tensors_) {
    const std::string what = "tensor " + Quote(t.name);
    const auto& traits = Traits(t.type);
    // Element count must fit in int64.
    uint64_t n = 1;
    for (int64_t d : t.ne) {
      if (MulOverflows(n, static_cast<uint64_t>(d), &n) ||
          n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return DataLossError(what + " shape " + ShapeString(t.ne) + " has too many elements");
      }
    }
    if (t.ne[0] % traits.block_size != 0) {
      return DataLossError(what + " of type " + std::string(traits.name) + " has row length " +
                           std::to_string(t.ne[0]) + ", not a multiple of the block size " +
                           std::to_string(traits.block_size));
    }
    uint64_t nbytes = static_cast<uint64_t>(t.ne[0] / traits.block_size);
    if (MulOverflows(nbytes, traits.block_bytes, &nbytes)) {
      return DataLossError(what + " size overflows");
    }
    for (size_t d = 1; d < t.ne.size(); ++d) {
      if (MulOverflows(nbytes, static_cast<uint64_t>(t.ne[d]), &nbytes)) {
        return DataLossError(what + " size overflows");
      }
    }
    t.nbytes = nbytes;
    if (t.offset % alignment_ != 0) {
      return DataLossError(what + " offset " + std::to_string(t.offset) +
                           " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    uint64_t begin = 0, end = 0;
    if (AddOverflows(data_offset_, t.offset, &begin) || AddOverflows(begin, nbytes, &end) ||
        end > size_) {
      return DataLossError(what + " data [" + std::to_string(data_offset_) + " + " +
                           std::to_string(t.offset) + ", +" + std::to_string(nbytes) +
                           ") extends past end of file (size " + std::to_string(size_) + ")");
    }
    t.data = base_ + begin;
  }

  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& t : tensors_) {
    if (t.nbytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    const TensorInfo* cur = by_offset[i];
    if (prev->offset + prev->nbytes > cur->offset) {
      return DataLossError("tensor " + Quote(cur->name) + " data (offset " +
                           std::to_string(cur->offset) + ") overlaps tensor " + Quote(prev->name) +
                           " (offset " + std::to_string(prev->offset) + ", " +
                           std::to_string(prev->nbytes) + " bytes)");
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Lookups

const Value* GgufFile::Find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

std::optional<std::string> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return std::nullopt;
  auto s = v->AsString();
  if (!s) return std::nullopt;
  return std::string(*s);
}

std::optional<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  return v == nullptr ? std::nullopt : v->AsInt();
}

std::optional<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  return v == nullptr ? std::nullopt : v->AsFloat();
}

std::optional<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  return v == nullptr ? std::nullopt : v->AsBool();
}

const ValueArray* GgufFile::FindArray(std::string_view key) const {
  const Value* v = Find(key);
  return v == nullptr ? nullptr : v->AsArray();
}

namespace {

Result<const ValueArray*> ArrayOrError(const GgufFile& f, std::string_view key) {
  const Value* v = f.Find(key);
  if (v == nullptr) return NotFoundError("metadata key " + Quote(key) + " not found");
  const ValueArray* a = v->AsArray();
  if (a == nullptr) {
    return InvalidArgumentError("metadata key " + Quote(key) + " is a " +
                                ValueTypeName(v->type()) + ", not an array");
  }
  return a;
}

Status ElementTypeError(std::string_view key, const ValueArray& a, const char* wanted) {
  return InvalidArgumentError("metadata key " + Quote(key) + " is an array of " +
                              ValueTypeName(a.element_type()) + ", not of " + wanted);
}

}  // namespace

Result<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  LLMUX_ASSIGN_OR_RETURN(const ValueArray* a, ArrayOrError(*this, key));
  const auto* s = a->as<std::string>();
  if (s == nullptr) return ElementTypeError(key, *a, "strings");
  return *s;
}

Result<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  LLMUX_ASSIGN_OR_RETURN(const ValueArray* a, ArrayOrError(*this, key));
  if (const auto* f = a->as<float>()) return *f;
  if (!IsFloatType(a->element_type()) && !IsIntegerType(a->element_type())) {
    return ElementTypeError(key, *a, "numbers");
  }
  std::vector<float> out(a->size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(*a->FloatAt(i));
  return out;
}

Result<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  LLMUX_ASSIGN_OR_RETURN(const ValueArray* a, ArrayOrError(*this, key));
  if (!IsIntegerType(a->element_type())) return ElementTypeError(key, *a, "integers");
  std::vector<int64_t> out(a->size());
  for (size_t i = 0; i < out.size(); ++i) {
    auto v = a->IntAt(i);
    if (!v) {
      return InvalidArgumentError("metadata key " + Quote(key) + " element " + std::to_string(i) +
                                  " does not fit in int64");
    }
    out[i] = *v;
  }
  return out;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace llmux::gguf
