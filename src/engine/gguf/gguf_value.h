// GGUF metadata values: scalars, strings and (possibly nested) arrays.
//
// Arrays keep their elements in one typed vector (std::vector<float>, std::vector<std::string>, ...),
// not as a vector of variants, so a 150k-token vocabulary costs one std::string per token and
// nothing more. Array payloads are shared and immutable, so copying a Value is cheap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace llmux::gguf {

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

// "u8", "i32", "f32", "bool", "str", "arr", ... ; "?" for ids outside the enum.
const char* ValueTypeName(ValueType type);
// True for the 13 ids the format defines.
bool IsValidValueType(uint32_t raw);
// Bytes one scalar of this type takes in a file (0 for string and array).
size_t ScalarSize(ValueType type);
bool IsIntegerType(ValueType type);  // u8..i64 (not bool)
bool IsFloatType(ValueType type);    // f32, f64

class Value;

// The elements of one array, all of one type. Bools are stored as uint8_t (0/1).
class ValueArray {
 public:
  using Storage =
      std::variant<std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>,
                   std::vector<int16_t>, std::vector<uint32_t>, std::vector<int32_t>,
                   std::vector<float>, std::vector<uint64_t>, std::vector<int64_t>,
                   std::vector<double>, std::vector<std::string>, std::vector<Value>>;

  // `storage` must hold the vector type that matches `element_type` (uint8_t for kBool,
  // Value for kArray, each element itself an array).
  ValueArray(ValueType element_type, Storage storage);

  ValueType element_type() const { return element_type_; }
  size_t size() const;
  bool empty() const { return size() == 0; }

  // The typed vector, or nullptr if T is not the storage type.
  template <typename T>
  const std::vector<T>* as() const {
    return std::get_if<std::vector<T>>(&storage_);
  }
  const Storage& storage() const { return storage_; }

  // Element i converted: integers (not bool) as int64 (nullopt for a u64 above INT64_MAX or
  // a non-integer type), numbers as double, strings as views.
  std::optional<int64_t> IntAt(size_t i) const;
  std::optional<double> FloatAt(size_t i) const;
  std::optional<std::string_view> StringAt(size_t i) const;
  // Element i as a standalone Value (for nested arrays, the inner array).
  Value At(size_t i) const;

 private:
  ValueType element_type_;
  Storage storage_;
};

class Value {
 public:
  Value() = default;  // a uint8 zero

  static Value Uint8(uint8_t v) { return Value(ValueType::kUint8, uint64_t{v}); }
  static Value Int8(int8_t v) { return Value(ValueType::kInt8, static_cast<uint64_t>(int64_t{v})); }
  static Value Uint16(uint16_t v) { return Value(ValueType::kUint16, uint64_t{v}); }
  static Value Int16(int16_t v) { return Value(ValueType::kInt16, static_cast<uint64_t>(int64_t{v})); }
  static Value Uint32(uint32_t v) { return Value(ValueType::kUint32, uint64_t{v}); }
  static Value Int32(int32_t v) { return Value(ValueType::kInt32, static_cast<uint64_t>(int64_t{v})); }
  static Value Uint64(uint64_t v) { return Value(ValueType::kUint64, v); }
  static Value Int64(int64_t v) { return Value(ValueType::kInt64, static_cast<uint64_t>(v)); }
  static Value Float32(float v);
  static Value Float64(double v);
  static Value Bool(bool v) { return Value(ValueType::kBool, uint64_t{v ? 1u : 0u}); }
  static Value String(std::string v);
  static Value Array(ValueType element_type, ValueArray::Storage storage);
  static Value Array(std::shared_ptr<const ValueArray> array);

  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::kArray; }
  bool is_string() const { return type_ == ValueType::kString; }

  // Any integer type (not bool); nullopt for other types or a u64 above INT64_MAX.
  std::optional<int64_t> AsInt() const;
  // Any integer type with a non-negative value.
  std::optional<uint64_t> AsUint() const;
  // f32/f64, and integers converted.
  std::optional<double> AsFloat() const;
  std::optional<bool> AsBool() const;
  std::optional<std::string_view> AsString() const;
  // The array, or nullptr when this is not an array.
  const ValueArray* AsArray() const { return array_.get(); }

  // Exact equality of type and content (f32/f64 compared bitwise).
  bool operator==(const Value& other) const;

 private:
  Value(ValueType type, uint64_t bits) : type_(type), bits_(bits) {}

  ValueType type_ = ValueType::kUint8;
  uint64_t bits_ = 0;  // scalars: zero/sign-extended integer, or the raw float/double bits
  std::string string_;
  std::shared_ptr<const ValueArray> array_;
};

}  // namespace llmux::gguf
