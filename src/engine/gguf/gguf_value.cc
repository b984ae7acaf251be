#include "engine/gguf/gguf_value.h"

#include <bit>
#include <cstring>
#include <limits>

namespace llmux::gguf {

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "str";
    case ValueType::kArray: return "arr";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "?";
}

bool IsValidValueType(uint32_t raw) { return raw <= static_cast<uint32_t>(ValueType::kFloat64); }

size_t ScalarSize(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64: return 8;
    case ValueType::kString:
    case ValueType::kArray: return 0;
  }
  return 0;
}

bool IsIntegerType(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64: return true;
    default: return false;
  }
}

bool IsFloatType(ValueType type) {
  return type == ValueType::kFloat32 || type == ValueType::kFloat64;
}

// ---------------------------------------------------------------------------------------------
// ValueArray

ValueArray::ValueArray(ValueType element_type, Storage storage)
    : element_type_(element_type), storage_(std::move(storage)) {}

size_t ValueArray::size() const {
  return std::visit([](const auto& v) { return v.size(); }, storage_);
}

std::optional<int64_t> ValueArray::IntAt(size_t i) const {
  if (i >= size() || !IsIntegerType(element_type_)) return std::nullopt;
  return std::visit(
      [i](const auto& v) -> std::optional<int64_t> {
        using E = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_same_v<E, uint64_t>) {
          if (v[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return static_cast<int64_t>(v[i]);
        } else if constexpr (std::is_integral_v<E>) {
          return static_cast<int64_t>(v[i]);
        } else {
          return std::nullopt;
        }
      },
      storage_);
}

std::optional<double> ValueArray::FloatAt(size_t i) const {
  if (i >= size()) return std::nullopt;
  if (!IsIntegerType(element_type_) && !IsFloatType(element_type_)) return std::nullopt;
  return std::visit(
      [i](const auto& v) -> std::optional<double> {
        using E = typename std::decay_t<decltype(v)>::value_type;
        if constexpr (std::is_arithmetic_v<E>) {
          return static_cast<double>(v[i]);
        } else {
          return std::nullopt;
        }
      },
      storage_);
}

std::optional<std::string_view> ValueArray::StringAt(size_t i) const {
  const auto* s = as<std::string>();
  if (s == nullptr || i >= s->size()) return std::nullopt;
  return std::string_view((*s)[i]);
}

Value ValueArray::At(size_t i) const {
  return std::visit(
      [this, i](const auto& v) -> Value {
        using E = typename std::decay_t<decltype(v)>::value_type;
        if (i >= v.size()) return Value();
        if constexpr (std::is_same_v<E, Value>) {
          return v[i];
        } else if constexpr (std::is_same_v<E, std::string>) {
          return Value::String(v[i]);
        } else if constexpr (std::is_same_v<E, float>) {
          return Value::Float32(v[i]);
        } else if constexpr (std::is_same_v<E, double>) {
          return Value::Float64(v[i]);
        } else if constexpr (std::is_same_v<E, uint8_t>) {
          return element_type_ == ValueType::kBool ? Value::Bool(v[i] != 0) : Value::Uint8(v[i]);
        } else if constexpr (std::is_same_v<E, int8_t>) {
          return Value::Int8(v[i]);
        } else if constexpr (std::is_same_v<E, uint16_t>) {
          return Value::Uint16(v[i]);
        } else if constexpr (std::is_same_v<E, int16_t>) {
          return Value::Int16(v[i]);
        } else if constexpr (std::is_same_v<E, uint32_t>) {
          return Value::Uint32(v[i]);
        } else if constexpr (std::is_same_v<E, int32_t>) {
          return Value::Int32(v[i]);
        } else if constexpr (std::is_same_v<E, uint64_t>) {
          return Value::Uint64(v[i]);
        } else {
          return Value::Int64(v[i]);
        }
      },
      storage_);
}

// ---------------------------------------------------------------------------------------------
// Value

Value Value::Float32(float v) { return Value(ValueType::kFloat32, std::bit_cast<uint32_t>(v)); }
Value Value::Float64(double v) { return Value(ValueType::kFloat64, std::bit_cast<uint64_t>(v)); }

Value Value::String(std::string v) {
  Value out(ValueType::kString, 0);
  out.string_ = std::move(v);
  return out;
}

Value Value::Array(ValueType element_type, ValueArray::Storage storage) {
  return Array(std::make_shared<const ValueArray>(element_type, std::move(storage)));
}

Value Value::Array(std::shared_ptr<const ValueArray> array) {
  Value out(ValueType::kArray, 0);
  out.array_ = std::move(array);
  return out;
}

std::optional<int64_t> Value::AsInt() const {
  if (!IsIntegerType(type_)) return std::nullopt;
  if (type_ == ValueType::kUint64 &&
      bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(bits_);
}

std::optional<uint64_t> Value::AsUint() const {
  if (!IsIntegerType(type_)) return std::nullopt;
  if (type_ == ValueType::kUint64) return bits_;
  auto s = static_cast<int64_t>(bits_);
  if (s < 0) return std::nullopt;
  return static_cast<uint64_t>(s);
}

std::optional<double> Value::AsFloat() const {
  if (type_ == ValueType::kFloat32) return std::bit_cast<float>(static_cast<uint32_t>(bits_));
  if (type_ == ValueType::kFloat64) return std::bit_cast<double>(bits_);
  if (type_ == ValueType::kUint64) return static_cast<double>(bits_);
  if (IsIntegerType(type_)) return static_cast<double>(static_cast<int64_t>(bits_));
  return std::nullopt;
}

std::optional<bool> Value::AsBool() const {
  if (type_ != ValueType::kBool) return std::nullopt;
  return bits_ != 0;
}

std::optional<std::string_view> Value::AsString() const {
  if (type_ != ValueType::kString) return std::nullopt;
  return std::string_view(string_);
}

namespace {

template <typename T>
bool BitwiseEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

bool ArraysEqual(const ValueArray& a, const ValueArray& b) {
  if (a.element_type() != b.element_type() || a.storage().index() != b.storage().index()) {
    return false;
  }
  return std::visit(
      [&b](const auto& va) -> bool {
        using V = std::decay_t<decltype(va)>;
        const auto& vb = std::get<V>(b.storage());
        if constexpr (std::is_arithmetic_v<typename V::value_type>) {
          return BitwiseEqual(va, vb);
        } else {
          return va == vb;
        }
      },
      a.storage());
}

}  // namespace

bool Value::operator==(const Value& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case ValueType::kString: return string_ == other.string_;
    case ValueType::kArray:
      if (array_ == other.array_) return true;
      if (!array_ || !other.array_) return false;
      return ArraysEqual(*array_, *other.array_);
    default: return bits_ == other.bits_;
  }
}

}  // namespace llmux::gguf
