// Filters (x | f, x | f(args)) and tests (x is t), ported case by case from @huggingface/jinja:
// which filter applies to which type, its arguments and its error cases are the reference's.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <utility>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

Status Error(const std::string& message) { return InvalidArgumentError(message); }
Value Str(std::string s) { return Value::String(std::move(s)); }

Status CannotApply(const std::string& filter, const Value& v) {
  return Error("Cannot apply filter \"" + filter + "\" to type: " + TypeName(v));
}

// JavaScript's parseInt(s, 10) / parseFloat(s): the longest numeric prefix after whitespace.
std::optional<double> ParseNumberPrefix(const std::string& s, bool integer) {
  const std::string text(TrimStart(s));
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const size_t digits_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  size_t end = i;
  if (!integer) {
    if (i < text.size() && text[i] == '.') {
      size_t j = i + 1;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
      if (j > i + 1 || i > digits_start) end = j;
    }
    if (end > digits_start && end < text.size() && (text[end] == 'e' || text[end] == 'E')) {
      size_t j = end + 1;
      if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
      const size_t exp_digits = j;
      while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
      if (j > exp_digits) end = j;
    }
  }
  if (end == digits_start || (end == digits_start + 1 && text[digits_start] == '.'))
    return std::nullopt;
  return std::strtod(text.substr(0, end).c_str(), nullptr);
}

Value IntOf(double d) { return Value::Int(static_cast<int64_t>(std::trunc(d))); }

const Value* Kw(const std::shared_ptr<Object>& kw, const char* key) { return kw->Find(key); }

// getAttributeValue: a dotted path through dicts and list indices.
Value AttributePath(const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (v.is_mapping()) {
      const Value* x = v.object().Find(part);
      v = x != nullptr ? *x : Value();
    } else if (v.is(ValueType::kArray)) {
      char* end = nullptr;
      const long idx = std::strtol(part.c_str(), &end, 10);
      if (end == part.c_str() || idx < 0 || static_cast<size_t>(idx) >= v.array().items.size())
        return Value();
      v = v.array().items[static_cast<size_t>(idx)];
    } else {
      return Value();
    }
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// The indent filter: `pad` before each line but the first (unless `first`) and the blank ones
// (unless `blank`). Stops once the text is longer than `limit` (the caller's ChargeString then
// refuses it).
std::string IndentLines(const std::string& s, const std::string& pad, bool first, bool blank,
                        size_t limit) {
  std::string out;
  size_t start = 0, line = 0;
  while (true) {
    const size_t nl = s.find('\n', start);
    const std::string part =
        s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    const bool keep = (!first && line == 0) || (!blank && part.empty());
    out += keep ? part : pad + part;
    if (out.size() > limit || nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
    ++line;
  }
  return out;
}

}  // namespace

Result<bool> Interpreter::RunTest(const std::string& name, const std::vector<Value>& args) {
  const Value& v = args[0];
  const ValueType t = v.type();
  if (name == "boolean") return t == ValueType::kBool;
  if (name == "callable") return t == ValueType::kFunction;
  if (name == "odd" || name == "even") {
    if (t != ValueType::kInt) return Error("cannot " + name + " on " + TypeName(v));
    return (v.integer() % 2 != 0) == (name == "odd");
  }
  if (name == "false") return t == ValueType::kBool && !v.boolean();
  if (name == "true") return t == ValueType::kBool && v.boolean();
  if (name == "none") return t == ValueType::kNull;
  if (name == "string") return t == ValueType::kString;
  if (name == "number") return v.is_number();
  if (name == "integer") return t == ValueType::kInt;
  if (name == "iterable")
    return (t == ValueType::kArray && !v.array().tuple) || t == ValueType::kString;
  if (name == "mapping") return t == ValueType::kObject;
  if (name == "sequence")
    return t == ValueType::kArray || t == ValueType::kObject || t == ValueType::kString;
  if (name == "lower") return t == ValueType::kString && v.str() == Lower(v.str());
  if (name == "upper") return t == ValueType::kString && v.str() == Upper(v.str());
  if (name == "defined") return t != ValueType::kUndefined;
  if (name == "undefined") return t == ValueType::kUndefined;
  if (name == "equalto" || name == "eq") {
    // The reference compares the payloads with ===.
    if (args.size() < 2) return Error("the " + name + " test needs a value to compare with");
    return StrictEquals(v, args[1]);
  }
  return Error("Unknown test: " + name);
}

Result<Value> Interpreter::ApplyFilter(const Value& operand, const Node* filter, Env* env) {
  const int depth = limits_.max_value_depth;
  if (filter->kind == NodeKind::kIdentifier) {
    const std::string& name = filter->str;
    if (name == "safe") return operand;
    if (name == "tojson") {
      LLMUX_ASSIGN_OR_RETURN(std::string s, ToJson(operand, JsonOptions{}, true, depth));
      LLMUX_RETURN_IF_ERROR(ChargeString(s.size()));
      return Str(std::move(s));
    }
    switch (operand.type()) {
      case ValueType::kArray: {
        const auto& items = operand.array().items;
        if (name == "list") return operand;
        if (name == "first") return items.empty() ? Value() : items.front();
        if (name == "last") return items.empty() ? Value() : items.back();
        if (name == "length") return Value::Int(static_cast<int64_t>(items.size()));
        if (name == "reverse")
          return Value::MakeArray(std::vector<Value>(items.rbegin(), items.rend()));
        if (name == "join") {
          std::string out;
          for (const Value& x : items) {
            if (x.is_null() || x.is_undefined()) continue;
            LLMUX_ASSIGN_OR_RETURN(std::string s, JsString(x, depth));
            out += s;
          }
          LLMUX_RETURN_IF_ERROR(ChargeString(out.size()));
          return Str(std::move(out));
        }
        if (name == "string") {
          LLMUX_ASSIGN_OR_RETURN(std::string s, ToJson(operand, JsonOptions{}, false, depth));
          return Str(std::move(s));
        }
        if (name == "unique") {
          std::vector<Value> out;
          for (const Value& x : items) {
            bool seen = false;
            for (const Value& y : out) seen = seen || StrictEquals(x, y);
            if (!seen) out.push_back(x);
          }
          return Value::MakeArray(std::move(out));
        }
        if (name == "sort") {
          std::vector<Value> sorted = items;
          Status failure;
          std::stable_sort(sorted.begin(), sorted.end(), [&](const Value& a, const Value& b) {
            auto r = CompareValues(a, b, false);
            if (!r.ok()) {
              if (failure.ok()) failure = r.status();
              return false;
            }
            return *r < 0;
          });
          if (!failure.ok()) return failure;
          return Value::MakeArray(std::move(sorted));
        }
        return Error("Unknown ArrayValue filter: " + name);
      }
      case ValueType::kString: {
        const std::string& s = operand.str();
        if (name == "length" || name == "upper" || name == "lower" || name == "title" ||
            name == "capitalize") {
          std::optional<Value> b = MemberBuiltin(operand, name, this);
          if (b->is(ValueType::kInt)) return *b;
          std::vector<Value> none;
          return b->function()(none, env);
        }
        if (name == "trim") return Str(std::string(Trim(s)));
        if (name == "indent") {
          std::string out = IndentLines(s, "    ", false, false, limits_.max_output_bytes);
          LLMUX_RETURN_IF_ERROR(ChargeString(out.size()));
          return Str(std::move(out));
        }
        if (name == "join" || name == "string") return operand;
        if (name == "int") {
          auto v = ParseNumberPrefix(s, true);
          return v ? IntOf(*v) : Value::Int(0);
        }
        if (name == "float") {
          auto v = ParseNumberPrefix(s, false);
          return Value::Float(v ? *v : 0.0);
        }
        return Error("Unknown StringValue filter: " + name);
      }
      case ValueType::kInt:
      case ValueType::kFloat: {
        const bool is_int = operand.is(ValueType::kInt);
        if (name == "abs")
          return is_int ? Value::Int(std::llabs(operand.integer()))
                        : Value::Float(std::fabs(operand.number()));
        if (name == "int") return IntOf(operand.number());
        if (name == "float") return Value::Float(operand.number());
        if (name == "string") {
          LLMUX_ASSIGN_OR_RETURN(std::string s, Display(operand, depth));
          return Str(std::move(s));
        }
        return Error("Unknown NumericValue filter: " + name);
      }
      case ValueType::kObject: {
        if (name == "items") {
          std::vector<Value> items;
          for (const auto& [k, v] : operand.object().entries)
            items.push_back(Value::MakeArray({Str(k), v}));
          return Value::MakeArray(std::move(items));
        }
        if (name == "length") return Value::Int(static_cast<int64_t>(operand.object().size()));
        if (std::optional<Value> b = MemberBuiltin(operand, name, this)) {
          if (b->is(ValueType::kFunction)) {
            std::vector<Value> none;
            return b->function()(none, env);
          }
          return *b;
        }
        return Error("Unknown ObjectValue filter: " + name);
      }
      case ValueType::kBool: {
        if (name == "bool") return operand;
        if (name == "int") return Value::Int(operand.boolean() ? 1 : 0);
        if (name == "float") return Value::Float(operand.boolean() ? 1.0 : 0.0);
        if (name == "string") return Str(operand.boolean() ? "true" : "false");
        return Error("Unknown BooleanValue filter: " + name);
      }
      default:
        return CannotApply(name, operand);
    }
  }

  if (filter->kind != NodeKind::kCall || filter->a->kind != NodeKind::kIdentifier) {
    return Error("Unknown filter");
  }
  const std::string& name = filter->a->str;
  const NodeList& arg_nodes = filter->list;
  std::vector<Value> args;
  std::shared_ptr<Object> kw;
  auto eval_args = [&]() { return EvalArguments(arg_nodes, env, &args, &kw); };

  if (name == "tojson") {
    LLMUX_RETURN_IF_ERROR(eval_args());
    JsonOptions o;
    if (const Value* v = Kw(kw, "indent"); v != nullptr && !v->is_null()) {
      if (!v->is(ValueType::kInt)) return Error("If set, indent must be a number");
      o.indent = v->integer();
    }
    if (const Value* v = Kw(kw, "ensure_ascii")) {
      if (!v->is(ValueType::kBool)) return Error("If set, ensure_ascii must be a boolean");
      o.ensure_ascii = v->boolean();
    }
    if (const Value* v = Kw(kw, "sort_keys")) {
      if (!v->is(ValueType::kBool)) return Error("If set, sort_keys must be a boolean");
      o.sort_keys = v->boolean();
    }
    if (const Value* v = Kw(kw, "separators"); v != nullptr && !v->is_null()) {
      if (!v->is(ValueType::kArray))
        return Error("If set, separators must be a tuple of two strings");
      const auto& sep = v->array().items;
      if (sep.size() != 2 || !sep[0].is(ValueType::kString) || !sep[1].is(ValueType::kString)) {
        return Error("separators must be a tuple of two strings");
      }
      o.separators = std::make_pair(sep[0].str(), sep[1].str());
    }
    LLMUX_ASSIGN_OR_RETURN(std::string s, ToJson(operand, o, true, depth));
    LLMUX_RETURN_IF_ERROR(ChargeString(s.size()));
    return Str(std::move(s));
  }
  if (name == "join") {
    std::vector<std::string> parts;
    if (operand.is(ValueType::kString)) {
      parts = CodePoints(operand.str());
    } else if (operand.is(ValueType::kArray)) {
      for (const Value& x : operand.array().items) {
        if (x.is_null() || x.is_undefined()) {
          parts.emplace_back();
          continue;
        }
        LLMUX_ASSIGN_OR_RETURN(std::string s, JsString(x, depth));
        parts.push_back(std::move(s));
      }
    } else {
      return CannotApply(name, operand);
    }
    LLMUX_RETURN_IF_ERROR(eval_args());
    Value sep = !args.empty() ? args[0] : (Kw(kw, "separator") ? *Kw(kw, "separator") : Str(""));
    if (!sep.is(ValueType::kString)) return Error("separator must be a string");
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += sep.str();
      out += parts[i];
      if (out.size() > limits_.max_output_bytes) return ChargeString(out.size());
    }
    LLMUX_RETURN_IF_ERROR(ChargeString(out.size()));
    return Str(std::move(out));
  }
  if (name == "int" || name == "float") {
    LLMUX_RETURN_IF_ERROR(eval_args());
    const bool is_int = name == "int";
    Value fallback = !args.empty()       ? args[0]
                     : Kw(kw, "default") ? *Kw(kw, "default")
                                         : (is_int ? Value::Int(0) : Value::Float(0.0));
    if (operand.is(ValueType::kString)) {
      auto v = ParseNumberPrefix(operand.str(), is_int);
      if (!v) return fallback;
      return is_int ? IntOf(*v) : Value::Float(*v);
    }
    if (operand.is_number())
      return is_int ? IntOf(operand.number()) : Value::Float(operand.number());
    if (operand.is(ValueType::kBool)) {
      return is_int ? Value::Int(operand.boolean() ? 1 : 0)
                    : Value::Float(operand.boolean() ? 1.0 : 0.0);
    }
    return CannotApply(name, operand);
  }
  if (name == "default") {
    LLMUX_RETURN_IF_ERROR(eval_args());
    Value fallback = !args.empty() ? args[0] : Str("");
    Value boolean =
        args.size() > 1 ? args[1] : (Kw(kw, "boolean") ? *Kw(kw, "boolean") : Value::Bool(false));
    if (!boolean.is(ValueType::kBool)) return Error("`default` filter flag must be a boolean");
    if (operand.is_undefined() || (boolean.boolean() && !Truthy(operand))) return fallback;
    return operand;
  }

  if (operand.is(ValueType::kArray)) {
    const auto& items = operand.array().items;
    if (name == "sort") {
      LLMUX_RETURN_IF_ERROR(eval_args());
      auto arg = [&](size_t i, const char* key, Value fallback) {
        if (i < args.size()) return args[i];
        if (const Value* v = Kw(kw, key)) return *v;
        return fallback;
      };
      const Value reverse = arg(0, "reverse", Value::Bool(false));
      if (!reverse.is(ValueType::kBool)) return Error("reverse must be a boolean");
      const Value case_sensitive = arg(1, "case_sensitive", Value::Bool(false));
      if (!case_sensitive.is(ValueType::kBool)) return Error("case_sensitive must be a boolean");
      const Value attribute = arg(2, "attribute", Value::Null());
      if (!attribute.is(ValueType::kString) && !attribute.is(ValueType::kInt) &&
          !attribute.is_null()) {
        return Error("attribute must be a string, integer, or null");
      }
      auto key_of = [&](const Value& item) {
        if (attribute.is_null()) return item;
        return AttributePath(item, attribute.is(ValueType::kInt)
                                       ? std::to_string(attribute.integer())
                                       : attribute.str());
      };
      std::vector<Value> sorted = items;
      Status failure;
      std::stable_sort(sorted.begin(), sorted.end(), [&](const Value& a, const Value& b) {
        auto r = CompareValues(key_of(a), key_of(b), case_sensitive.boolean());
        if (!r.ok()) {
          if (failure.ok()) failure = r.status();
          return false;
        }
        return reverse.boolean() ? *r > 0 : *r < 0;
      });
      if (!failure.ok()) return failure;
      return Value::MakeArray(std::move(sorted));
    }
    if (name == "selectattr" || name == "rejectattr") {
      const bool select = name == "selectattr";
      for (const Value& x : items) {
        if (!x.is_mapping()) return Error("`" + name + "` can only be applied to array of objects");
      }
      for (const NodePtr& a : arg_nodes) {
        if (a->kind != NodeKind::kStringLiteral)
          return Error("arguments of `" + name + "` must be strings");
      }
      if (arg_nodes.empty()) return Error("`" + name + "` needs an attribute name");
      const std::string attr = arg_nodes[0]->str;
      std::vector<Value> test_args(1);
      if (arg_nodes.size() > 2) test_args.push_back(Str(arg_nodes[2]->str));
      std::vector<Value> out;
      for (const Value& item : items) {
        LLMUX_RETURN_IF_ERROR(ChargeIterations(1));
        const Value* a = item.object().Find(attr);
        bool result = false;
        if (a != nullptr) {
          if (arg_nodes.size() > 1) {
            test_args[0] = *a;
            LLMUX_ASSIGN_OR_RETURN(result, RunTest(arg_nodes[1]->str, test_args));
          } else {
            result = Truthy(*a);
          }
        }
        if (result == select) out.push_back(item);
      }
      return Value::MakeArray(std::move(out));
    }
    if (name == "map") {
      LLMUX_RETURN_IF_ERROR(eval_args());
      const Value* attr = Kw(kw, "attribute");
      if (attr == nullptr)
        return Error("`map` expressions without `attribute` set are not currently supported.");
      if (!attr->is(ValueType::kString)) return Error("attribute must be a string");
      const Value* fallback = Kw(kw, "default");
      std::vector<Value> out;
      for (const Value& item : items) {
        if (!item.is_mapping()) return Error("items in map must be an object");
        Value v = AttributePath(item, attr->str());
        out.push_back(v.is_undefined() && fallback != nullptr ? *fallback : v);
      }
      return Value::MakeArray(std::move(out));
    }
    return Error("Unknown ArrayValue filter: " + name);
  }
  if (operand.is(ValueType::kString)) {
    if (name == "indent") {
      LLMUX_RETURN_IF_ERROR(eval_args());
      const Value width =
          !args.empty() ? args[0] : (Kw(kw, "width") ? *Kw(kw, "width") : Value::Int(4));
      if (!width.is(ValueType::kInt) && !width.is(ValueType::kString)) {
        return Error("width must be an integer or a string");
      }
      const Value first =
          args.size() > 1 ? args[1] : (Kw(kw, "first") ? *Kw(kw, "first") : Value::Bool(false));
      const Value blank =
          args.size() > 2 ? args[2] : (Kw(kw, "blank") ? *Kw(kw, "blank") : Value::Bool(false));
      if (width.is(ValueType::kInt) &&
          width.integer() > static_cast<int64_t>(limits_.max_output_bytes)) {
        return ResourceExhaustedError("indent width exceeds the output limit");
      }
      const std::string pad =
          width.is(ValueType::kString)
              ? width.str()
              : std::string(static_cast<size_t>(std::max<int64_t>(0, width.integer())), ' ');
      const std::string& s = operand.str();
      std::string out = IndentLines(s, pad, Truthy(first), Truthy(blank), limits_.max_output_bytes);
      LLMUX_RETURN_IF_ERROR(ChargeString(out.size()));
      return Str(std::move(out));
    }
    if (name == "replace") {
      LLMUX_RETURN_IF_ERROR(eval_args());
      kw->kwargs = true;
      args.push_back(Value::MakeObject(kw));
      std::optional<Value> fn = MemberBuiltin(operand, "replace", this);
      return fn->function()(args, env);
    }
    return Error("Unknown StringValue filter: " + name);
  }
  if (operand.is(ValueType::kObject)) {
    std::optional<Value> b = MemberBuiltin(operand, name, this);
    if (b && b->is(ValueType::kFunction)) {
      LLMUX_ASSIGN_OR_RETURN(std::vector<Value> call_args, EvalCallArguments(arg_nodes, env));
      return b->function()(call_args, env);
    }
    return Error("Unknown ObjectValue filter: " + name);
  }
  return CannotApply(name, operand);
}

}  // namespace llmux::chat::jinja
