#include "chat/jinja/value.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

Status TooDeep(int max_depth) {
  return ResourceExhaustedError("value nests deeper than " + std::to_string(max_depth) + " levels");
}

int HeightOfEntries(const Object& o) {
  int h = 0;
  for (const auto& [k, v] : o.entries) h = std::max(h, v.height());
  return h + 1;
}

// JavaScript's ToNumber on a string (decimal forms only).
double StringToNumber(const std::string& s) {
  const std::string_view t = Trim(s);
  if (t.empty()) return 0;
  const std::string text(t);
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nan("");
  if (text.find_first_of("xXnN") != std::string::npos && text != "Infinity" &&
      text != "-Infinity" && text != "+Infinity") {
    return std::nan("");  // strtod reads hex, "nan", "inf"; JavaScript does not
  }
  return v;
}

// A primitive's JavaScript number (for ==).
double PrimitiveNumber(const Value& v) {
  switch (v.type()) {
    case ValueType::kBool:
      return v.boolean() ? 1 : 0;
    case ValueType::kInt:
    case ValueType::kFloat:
      return v.number();
    case ValueType::kString:
      return StringToNumber(v.str());
    default:
      return std::nan("");
  }
}

bool IsPrimitive(const Value& v) {
  return v.is(ValueType::kBool) || v.is_number() || v.is(ValueType::kString);
}

Result<std::string> JsonImpl(const Value& v, const JsonOptions& o, bool undefined_to_null,
                             int depth, int max_depth) {
  if (depth > max_depth) return TooDeep(max_depth);
  std::string item_sep, key_sep;
  const bool indented = o.indent.has_value() && *o.indent != 0;
  if (o.separators) {
    item_sep = o.separators->first;
    key_sep = o.separators->second;
  } else {
    item_sep = indented ? "," : ", ";
    key_sep = ": ";
  }
  switch (v.type()) {
    case ValueType::kNull:
      return std::string("null");
    case ValueType::kUndefined:
      return std::string(undefined_to_null ? "null" : "undefined");
    case ValueType::kBool:
      return std::string(v.boolean() ? "true" : "false");
    case ValueType::kInt:
    case ValueType::kFloat: {
      const double d = v.number();
      return std::isfinite(d) ? JsNumber(d) : std::string("null");
    }
    case ValueType::kString:
      return JsonQuote(v.str(), o.ensure_ascii);
    case ValueType::kArray:
    case ValueType::kObject:
    case ValueType::kNamespace: {
      if (v.is(ValueType::kArray) && v.array().tuple) {
        return InvalidArgumentError("Cannot convert to JSON: TupleValue");
      }
      if (v.is(ValueType::kObject) && v.object().kwargs) {
        return InvalidArgumentError("Cannot convert to JSON: KeywordArgumentsValue");
      }
      // A negative indent is "" (JavaScript's " ".repeat refuses it; treat as no padding).
      const std::string unit =
          indented && *o.indent > 0 ? std::string(static_cast<size_t>(*o.indent), ' ') : "";
      std::string base = "\n";
      for (int i = 0; i < depth; ++i) base += unit;
      const std::string child = base + unit;
      std::vector<std::string> core;
      if (v.is(ValueType::kArray)) {
        for (const Value& x : v.array().items) {
          LLMUX_ASSIGN_OR_RETURN(std::string s,
                                 JsonImpl(x, o, undefined_to_null, depth + 1, max_depth));
          core.push_back(std::move(s));
        }
        std::string out = "[";
        const std::string sep = indented ? item_sep + child : item_sep;
        if (indented && !core.empty()) out += child;
        for (size_t i = 0; i < core.size(); ++i) out += (i ? sep : "") + core[i];
        if (indented && !core.empty()) out += base;
        return out + "]";
      }
      std::vector<const std::pair<std::string, Value>*> entries;
      for (const auto& e : v.object().entries) entries.push_back(&e);
      if (o.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto* a, const auto* b) { return a->first < b->first; });
      }
      for (const auto* e : entries) {
        LLMUX_ASSIGN_OR_RETURN(std::string s,
                               JsonImpl(e->second, o, undefined_to_null, depth + 1, max_depth));
        core.push_back((indented ? child : "") + JsonQuote(e->first, o.ensure_ascii) + key_sep + s);
      }
      std::string out = "{";
      for (size_t i = 0; i < core.size(); ++i) out += (i ? item_sep : "") + core[i];
      if (indented && !core.empty()) out += base;
      return out + "}";
    }
    case ValueType::kFunction:
      return InvalidArgumentError("Cannot convert to JSON: FunctionValue");
  }
  return InternalError("unknown value type");
}

}  // namespace

size_t Object::size() const { return entries.size(); }

const Value* Object::Find(const std::string& key) const {
  auto it = index.find(key);
  return it == index.end() ? nullptr : &entries[it->second].second;
}

void Object::Set(const std::string& key, Value value) {
  auto it = index.find(key);
  if (it != index.end()) {
    entries[it->second].second = std::move(value);
    return;
  }
  index.emplace(key, entries.size());
  entries.emplace_back(key, std::move(value));
}

Value Value::MakeArray(std::vector<Value> items, bool tuple) {
  Value v(ValueType::kArray);
  v.arr_ = std::make_shared<Array>();
  int h = 0;
  for (const Value& x : items) h = std::max(h, x.height());
  v.arr_->items = std::move(items);
  v.arr_->tuple = tuple;
  v.arr_->height = h + 1;
  return v;
}

Value Value::MakeObject(std::shared_ptr<Object> object) {
  Value v(ValueType::kObject);
  object->height = HeightOfEntries(*object);
  v.obj_ = std::move(object);
  return v;
}

Value Value::MakeNamespace(std::shared_ptr<Object> object) {
  Value v(ValueType::kNamespace);
  object->height = HeightOfEntries(*object);
  v.obj_ = std::move(object);
  return v;
}

Value Value::MakeFunction(NativeFn fn) {
  Value v(ValueType::kFunction);
  v.fn_ = std::make_shared<Function>(Function{std::move(fn)});
  return v;
}

const void* Value::identity() const {
  if (arr_) return arr_.get();
  if (obj_) return obj_.get();
  if (fn_) return fn_.get();
  return nullptr;
}

int Value::height() const {
  if (arr_) return arr_->height;
  if (obj_) return obj_->height;
  return 0;
}

const char* TypeName(const Value& v) {
  switch (v.type()) {
    case ValueType::kUndefined:
      return "UndefinedValue";
    case ValueType::kNull:
      return "NullValue";
    case ValueType::kBool:
      return "BooleanValue";
    case ValueType::kInt:
      return "IntegerValue";
    case ValueType::kFloat:
      return "FloatValue";
    case ValueType::kString:
      return "StringValue";
    case ValueType::kArray:
      return v.array().tuple ? "TupleValue" : "ArrayValue";
    case ValueType::kObject:
      return v.object().kwargs ? "KeywordArgumentsValue" : "ObjectValue";
    case ValueType::kNamespace:
      return "NamespaceValue";
    case ValueType::kFunction:
      return "FunctionValue";
  }
  return "?";
}

namespace {

Result<Value> FromJsonAt(const nlohmann::ordered_json& j, int depth, int max_depth) {
  if (depth > max_depth) return TooDeep(max_depth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return Value::Null();
    case nlohmann::ordered_json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::Int(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::Float(static_cast<double>(u));
      return Value::Int(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: {
      const double d = j.get<double>();
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18) {
        return Value::Int(static_cast<int64_t>(d));
      }
      return Value::Float(d);
    }
    case nlohmann::ordered_json::value_t::string:
      return Value::String(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) {
        LLMUX_ASSIGN_OR_RETURN(Value v, FromJsonAt(x, depth + 1, max_depth));
        items.push_back(std::move(v));
      }
      return Value::MakeArray(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      auto obj = std::make_shared<Object>();
      for (const auto& [k, x] : j.items()) {
        LLMUX_ASSIGN_OR_RETURN(Value v, FromJsonAt(x, depth + 1, max_depth));
        obj->Set(k, std::move(v));
      }
      return Value::MakeObject(std::move(obj));
    }
    default:
      return InvalidArgumentError("unsupported JSON value (binary or discarded)");
  }
}

}  // namespace

Result<Value> FromJson(const nlohmann::ordered_json& j, int max_depth) {
  return FromJsonAt(j, 0, max_depth);
}

bool Truthy(const Value& v) {
  switch (v.type()) {
    case ValueType::kUndefined:
    case ValueType::kNull:
      return false;
    case ValueType::kBool:
      return v.boolean();
    case ValueType::kInt:
      return v.integer() != 0;
    case ValueType::kFloat:
      return v.number() != 0 && !std::isnan(v.number());
    case ValueType::kString:
      return !v.str().empty();
    case ValueType::kArray:
      return !v.array().items.empty();
    case ValueType::kObject:
      return v.object().size() > 0;
    case ValueType::kNamespace:
    case ValueType::kFunction:
      return true;
  }
  return false;
}

Result<std::string> ToJson(const Value& v, const JsonOptions& options, bool undefined_to_null,
                           int max_depth) {
  return JsonImpl(v, options, undefined_to_null, 0, max_depth);
}

Result<std::string> Display(const Value& v, int max_depth) {
  switch (v.type()) {
    case ValueType::kUndefined:
      return std::string("undefined");
    case ValueType::kNull:
      return std::string("null");
    case ValueType::kBool:
      return std::string(v.boolean() ? "true" : "false");
    case ValueType::kInt:
      return JsNumber(v.number());
    case ValueType::kFloat: {
      const double d = v.number();
      if (d == 0 && std::signbit(d)) return std::string("-0.0");
      if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e21) return JsNumber(d) + ".0";
      return JsNumber(d);
    }
    case ValueType::kString:
      return v.str();
    case ValueType::kArray:
    case ValueType::kObject:
    case ValueType::kNamespace:
      return ToJson(v, JsonOptions{}, false, max_depth);
    case ValueType::kFunction:
      return InvalidArgumentError(
          "cannot print a function (the reference prints its JavaScript source)");
  }
  return InternalError("unknown value type");
}

Result<std::string> JsString(const Value& v, int max_depth) {
  switch (v.type()) {
    case ValueType::kUndefined:
      return std::string("undefined");
    case ValueType::kNull:
      return std::string("null");
    case ValueType::kInt:
    case ValueType::kFloat:
      return JsNumber(v.number());
    case ValueType::kArray: {
      // Array.prototype.toString: the elements' own toString joined by ",".
      std::string out;
      bool first = true;
      for (const Value& x : v.array().items) {
        if (!first) out += ',';
        first = false;
        if (x.is_null() || x.is_undefined()) continue;
        LLMUX_ASSIGN_OR_RETURN(std::string s, Display(x, max_depth));
        out += s;
      }
      return out;
    }
    case ValueType::kObject:
    case ValueType::kNamespace:
      return std::string("[object Map]");
    default:
      return Display(v, max_depth);
  }
}

bool StrictEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.number() == b.number();
  if (a.type() != b.type()) {
    // Objects and keyword bundles are both Maps; namespaces too.
    return a.identity() != nullptr && a.identity() == b.identity();
  }
  switch (a.type()) {
    case ValueType::kUndefined:
    case ValueType::kNull:
      return true;
    case ValueType::kBool:
      return a.boolean() == b.boolean();
    case ValueType::kString:
      return a.str() == b.str();
    default:
      return a.identity() == b.identity();
  }
}

bool LooseEquals(const Value& a, const Value& b) {
  const bool a_nullish = a.is_null() || a.is_undefined();
  const bool b_nullish = b.is_null() || b.is_undefined();
  if (a_nullish || b_nullish) return a_nullish && b_nullish;
  if (a.is(ValueType::kString) && b.is(ValueType::kString)) return a.str() == b.str();
  if (IsPrimitive(a) && IsPrimitive(b)) return PrimitiveNumber(a) == PrimitiveNumber(b);
  if (IsPrimitive(a) || IsPrimitive(b)) return false;  // an object against a primitive
  return a.identity() == b.identity();
}

}  // namespace llmux::chat::jinja
