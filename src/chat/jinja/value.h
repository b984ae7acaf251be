// The values a template computes with, modelled on @huggingface/jinja's runtime values: JSON's
// types plus tuples, keyword-argument bundles, namespaces (the one mutable kind) and functions.
// Lists, dicts and namespaces are shared by reference, as in JavaScript.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace llmux::chat::jinja {

class Env;
class Value;

using NativeFn = std::function<Result<Value>(std::vector<Value>& args, Env* call_site)>;

enum class ValueType {
  kUndefined,
  kNull,
  kBool,
  kInt,
  kFloat,
  kString,
  kArray,
  kObject,
  kNamespace,
  kFunction
};

struct Array {
  std::vector<Value> items;
  bool tuple = false;
  int height = 1;  // nesting of containers below and including this one
};

// Insertion-ordered string-keyed map (JavaScript Map semantics).
struct Object {
  const Value* Find(const std::string& key) const;
  void Set(const std::string& key, Value value);
  size_t size() const;  // out of line: Value is incomplete here (clang instantiates eagerly)

  std::vector<std::pair<std::string, Value>> entries;
  std::unordered_map<std::string, size_t> index;
  bool kwargs = false;  // the keyword arguments of a call, passed as the last argument
  int height = 1;
};

struct Function {
  NativeFn fn;
};

class Value {
 public:
  Value() = default;  // undefined
  static Value Null() { return Value(ValueType::kNull); }
  static Value Bool(bool b) {
    Value v(ValueType::kBool);
    v.b_ = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(ValueType::kInt);
    v.i_ = i;
    return v;
  }
  static Value Float(double f) {
    Value v(ValueType::kFloat);
    v.f_ = f;
    return v;
  }
  static Value String(std::string s) {
    Value v(ValueType::kString);
    v.s_ = std::move(s);
    return v;
  }
  static Value MakeArray(std::vector<Value> items, bool tuple = false);
  static Value MakeObject(std::shared_ptr<Object> object);
  static Value MakeNamespace(std::shared_ptr<Object> object);
  static Value MakeFunction(NativeFn fn);

  ValueType type() const { return type_; }
  bool is(ValueType t) const { return type_ == t; }
  bool is_undefined() const { return type_ == ValueType::kUndefined; }
  bool is_null() const { return type_ == ValueType::kNull; }
  bool is_number() const { return type_ == ValueType::kInt || type_ == ValueType::kFloat; }
  // An Object or a Namespace: what attribute access reads from.
  bool is_mapping() const { return type_ == ValueType::kObject || type_ == ValueType::kNamespace; }

  bool boolean() const { return b_; }
  int64_t integer() const { return i_; }
  double number() const { return type_ == ValueType::kInt ? static_cast<double>(i_) : f_; }
  const std::string& str() const { return s_; }
  Array& array() const { return *arr_; }
  Object& object() const { return *obj_; }
  const std::shared_ptr<Object>& object_ptr() const { return obj_; }
  const NativeFn& function() const { return fn_->fn; }
  // Containers shared by reference compare by identity (JavaScript's == on objects).
  const void* identity() const;
  int height() const;

 private:
  explicit Value(ValueType t) : type_(t) {}

  ValueType type_ = ValueType::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<Array> arr_;
  std::shared_ptr<Object> obj_;
  std::shared_ptr<Function> fn_;
};

// The reference's type names ("StringValue", "ObjectValue"...), for error messages.
const char* TypeName(const Value& v);

// Request data -> values, refusing nesting deeper than max_depth. Numbers are integers when
// they are whole (JavaScript has one number type; the reference calls whole ones integers).
Result<Value> FromJson(const nlohmann::ordered_json& j, int max_depth);

// JavaScript truthiness of the value (the reference's __bool__).
bool Truthy(const Value& v);

struct JsonOptions {
  std::optional<int64_t> indent;
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;
};

// The reference's toJSON; undefined becomes null, or "undefined" where it prints a value.
Result<std::string> ToJson(const Value& v, const JsonOptions& options, bool undefined_to_null,
                           int max_depth);

// How the value is written into the output ({{ x }}): the reference's toString.
Result<std::string> Display(const Value& v, int max_depth);
// JavaScript's String(x.value): what ~, + and join use (2.0 is "2" there, "2.0" in Display).
Result<std::string> JsString(const Value& v, int max_depth);

// JavaScript's == and === on the values' payloads (the reference compares x.value).
bool LooseEquals(const Value& a, const Value& b);
bool StrictEquals(const Value& a, const Value& b);

}  // namespace llmux::chat::jinja
