#include "chat/jinja/builtins.h"

#include <algorithm>
#include <ctime>
#include <utility>
#include <vector>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

Status Error(const std::string& message) { return InvalidArgumentError(message); }
Value Str(std::string s) { return Value::String(std::move(s)); }

Value Method(NativeFn fn) { return Value::MakeFunction(std::move(fn)); }

bool IsKwargs(const Value& v) { return v.is(ValueType::kObject) && v.object().kwargs; }

// startswith / endswith with a string or a tuple of strings.
Result<Value> Affix(const std::string& s, std::vector<Value>& args, bool prefix) {
  const char* name = prefix ? "startswith" : "endswith";
  if (args.empty()) return Error(std::string(name) + "() requires at least one argument");
  auto test = [&](const std::string& a) {
    return a.size() <= s.size() && (prefix ? s.compare(0, a.size(), a) == 0
                                           : s.compare(s.size() - a.size(), a.size(), a) == 0);
  };
  if (args[0].is(ValueType::kString)) return Value::Bool(test(args[0].str()));
  if (args[0].is(ValueType::kArray)) {
    for (const Value& x : args[0].array().items) {
      if (!x.is(ValueType::kString))
        return Error(std::string(name) + "() tuple elements must be strings");
      if (test(x.str())) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  return Error(std::string(name) + "() argument must be a string or tuple of strings");
}

Result<Value> Split(const std::string& s, std::vector<Value>& args) {
  const Value sep = args.size() > 0 ? args[0] : Value::Null();
  if (!sep.is(ValueType::kString) && !sep.is_null())
    return Error("sep argument must be a string or null");
  const Value maxsplit_v = args.size() > 1 ? args[1] : Value::Int(-1);
  if (!maxsplit_v.is(ValueType::kInt)) return Error("maxsplit argument must be a number");
  const int64_t maxsplit = maxsplit_v.integer();
  std::vector<Value> out;
  if (sep.is_null()) {
    const std::string_view text = TrimStart(s);
    size_t i = 0;
    while (i < text.size()) {
      while (size_t n = WhitespaceAt(text, i)) i += n;
      if (i >= text.size()) break;
      size_t j = i;
      while (j < text.size() && WhitespaceAt(text, j) == 0) ++j;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
        out.push_back(Str(std::string(text.substr(i))));
        break;
      }
      out.push_back(Str(std::string(text.substr(i, j - i))));
      i = j;
    }
  } else {
    const std::string& d = sep.str();
    if (d.empty()) return Error("empty separator");
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t pos = s.find(d); pos != std::string::npos; pos = s.find(d, start)) {
      parts.push_back(s.substr(start, pos - start));
      start = pos + d.size();
    }
    parts.push_back(s.substr(start));
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) > maxsplit) {
      std::string rest;
      for (size_t k = static_cast<size_t>(maxsplit); k < parts.size(); ++k) {
        rest += (k > static_cast<size_t>(maxsplit) ? d : "") + parts[k];
      }
      parts.resize(static_cast<size_t>(maxsplit));
      parts.push_back(std::move(rest));
    }
    for (auto& p : parts) out.push_back(Str(std::move(p)));
  }
  return Value::MakeArray(std::move(out));
}

std::optional<Value> StringBuiltin(const std::string& s, const std::string& name,
                                   Interpreter* interp) {
  if (name == "upper")
    return Method([s](std::vector<Value>&, Env*) -> Result<Value> { return Str(Upper(s)); });
  if (name == "lower")
    return Method([s](std::vector<Value>&, Env*) -> Result<Value> { return Str(Lower(s)); });
  if (name == "strip") {
    return Method(
        [s](std::vector<Value>&, Env*) -> Result<Value> { return Str(std::string(Trim(s))); });
  }
  if (name == "lstrip") {
    return Method(
        [s](std::vector<Value>&, Env*) -> Result<Value> { return Str(std::string(TrimStart(s))); });
  }
  if (name == "rstrip") {
    return Method(
        [s](std::vector<Value>&, Env*) -> Result<Value> { return Str(std::string(TrimEnd(s))); });
  }
  if (name == "title")
    return Method([s](std::vector<Value>&, Env*) -> Result<Value> { return Str(TitleCase(s)); });
  if (name == "capitalize") {
    // The reference upper-cases the first character and leaves the rest as it is.
    return Method([s](std::vector<Value>&, Env*) -> Result<Value> {
      std::string out = s;
      if (!out.empty() && out[0] >= 'a' && out[0] <= 'z')
        out[0] = static_cast<char>(out[0] - 'a' + 'A');
      return Str(std::move(out));
    });
  }
  if (name == "length") return Value::Int(static_cast<int64_t>(Utf16Length(s)));
  if (name == "startswith") {
    return Method([s](std::vector<Value>& args, Env*) { return Affix(s, args, true); });
  }
  if (name == "endswith") {
    return Method([s](std::vector<Value>& args, Env*) { return Affix(s, args, false); });
  }
  if (name == "split")
    return Method([s](std::vector<Value>& args, Env*) { return Split(s, args); });
  if (name == "replace") {
    return Method([s, interp](std::vector<Value>& args, Env*) -> Result<Value> {
      if (args.size() < 2) return Error("replace() requires at least two arguments");
      if (!args[0].is(ValueType::kString) || !args[1].is(ValueType::kString)) {
        return Error("replace() arguments must be strings");
      }
      Value count = Value::Null();
      if (args.size() > 2) {
        if (IsKwargs(args[2])) {
          const Value* c = args[2].object().Find("count");
          count = c != nullptr ? *c : Value::Null();
        } else {
          count = args[2];
        }
      }
      if (!count.is(ValueType::kInt) && !count.is_null()) {
        return Error("replace() count argument must be a number or null");
      }
      std::string out =
          ReplaceString(s, args[0].str(), args[1].str(),
                        count.is_null() ? std::nullopt : std::optional<int64_t>(count.integer()));
      LLMUX_RETURN_IF_ERROR(interp->ChargeString(out.size()));
      return Str(std::move(out));
    });
  }
  return std::nullopt;
}

Value Items(const Object& o) {
  std::vector<Value> items;
  for (const auto& [k, v] : o.entries) items.push_back(Value::MakeArray({Str(k), v}));
  return Value::MakeArray(std::move(items));
}

}  // namespace

Result<int> CompareValues(const Value& a, const Value& b, bool case_sensitive) {
  if (a.is_null() && b.is_null()) return 0;
  if (a.is_null() || b.is_null())
    return Error(std::string("Cannot compare ") + TypeName(a) + " with " + TypeName(b));
  if (a.is_undefined() && b.is_undefined()) return 0;
  if (a.is_undefined() || b.is_undefined()) {
    return Error(std::string("Cannot compare ") + TypeName(a) + " with " + TypeName(b));
  }
  auto numeric = [](const Value& v) { return v.is_number() || v.is(ValueType::kBool); };
  auto num = [](const Value& v) {
    return v.is(ValueType::kBool) ? (v.boolean() ? 1.0 : 0.0) : v.number();
  };
  if (numeric(a) && numeric(b)) return num(a) < num(b) ? -1 : num(a) > num(b) ? 1 : 0;
  if (a.type() != b.type()) {
    return Error(std::string("Cannot compare different types: ") + TypeName(a) + " and " +
                 TypeName(b));
  }
  if (a.is(ValueType::kString)) {
    const std::string x = case_sensitive ? a.str() : Lower(a.str());
    const std::string y = case_sensitive ? b.str() : Lower(b.str());
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return Error(std::string("Cannot compare type: ") + TypeName(a));
}

namespace {

std::optional<Value> ObjectBuiltin(const Value& obj, const std::string& name) {
  if (name == "get") {
    return Method([obj](std::vector<Value>& args, Env*) -> Result<Value> {
      const Value key = args.empty() ? Value() : args[0];
      if (!key.is(ValueType::kString))
        return Error(std::string("Object key must be a string: got ") + TypeName(key));
      if (const Value* v = obj.object().Find(key.str())) return *v;
      return args.size() > 1 ? args[1] : Value::Null();
    });
  }
  if (name == "items")
    return Method(
        [obj](std::vector<Value>&, Env*) -> Result<Value> { return Items(obj.object()); });
  if (name == "keys") {
    return Method([obj](std::vector<Value>&, Env*) -> Result<Value> {
      std::vector<Value> keys;
      for (const auto& [k, v] : obj.object().entries) keys.push_back(Str(k));
      return Value::MakeArray(std::move(keys));
    });
  }
  if (name == "values") {
    return Method([obj](std::vector<Value>&, Env*) -> Result<Value> {
      std::vector<Value> values;
      for (const auto& [k, v] : obj.object().entries) values.push_back(v);
      return Value::MakeArray(std::move(values));
    });
  }
  if (name == "dictsort") {
    return Method([obj](std::vector<Value>& args, Env*) -> Result<Value> {
      const Object* kw = nullptr;
      std::vector<Value> pos;
      for (const Value& a : args) {
        if (IsKwargs(a)) {
          kw = &a.object();
        } else {
          pos.push_back(a);
        }
      }
      auto arg = [&](size_t i, const char* key, Value fallback) {
        if (i < pos.size()) return pos[i];
        if (kw != nullptr) {
          if (const Value* v = kw->Find(key)) return *v;
        }
        return fallback;
      };
      const Value case_sensitive = arg(0, "case_sensitive", Value::Bool(false));
      if (!case_sensitive.is(ValueType::kBool)) return Error("case_sensitive must be a boolean");
      const Value by = arg(1, "by", Str("key"));
      if (!by.is(ValueType::kString)) return Error("by must be a string");
      if (by.str() != "key" && by.str() != "value")
        return Error("by must be either 'key' or 'value'");
      const Value reverse = arg(2, "reverse", Value::Bool(false));
      if (!reverse.is(ValueType::kBool)) return Error("reverse must be a boolean");
      std::vector<Value> items = Items(obj.object()).array().items;
      const size_t idx = by.str() == "key" ? 0 : 1;
      Status failure;
      std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
        auto r =
            CompareValues(a.array().items[idx], b.array().items[idx], case_sensitive.boolean());
        if (!r.ok()) {
          if (failure.ok()) failure = r.status();
          return false;
        }
        return reverse.boolean() ? *r > 0 : *r < 0;
      });
      if (!failure.ok()) return failure;
      return Value::MakeArray(std::move(items));
    });
  }
  return std::nullopt;
}

// The reference's utils.strftime with English month names.
std::string Strftime(const std::string& format) {
  static const char* kShort[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static const char* kLong[] = {"January",   "February", "March",    "April",
                                "May",       "June",     "July",     "August",
                                "September", "October",  "November", "December"};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  auto pad2 = [](int n) {
    std::string s(n < 10 ? 1 : 0, '0');
    s.append(std::to_string(n));
    return s;
  };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 >= format.size()) {
      out += format[i];
      continue;
    }
    const char c = format[i + 1];
    switch (c) {
      case 'Y':
        out += std::to_string(tm.tm_year + 1900);
        break;
      case 'm':
        out += pad2(tm.tm_mon + 1);
        break;
      case 'd':
        out += pad2(tm.tm_mday);
        break;
      case 'b':
        out += kShort[tm.tm_mon];
        break;
      case 'B':
        out += kLong[tm.tm_mon];
        break;
      case 'H':
        out += pad2(tm.tm_hour);
        break;
      case 'M':
        out += pad2(tm.tm_min);
        break;
      case '%':
        out += '%';
        break;
      default:
        out += format.substr(i, 2);
    }
    ++i;
  }
  return out;
}

}  // namespace

std::string ReplaceString(const std::string& s, const std::string& from, const std::string& to,
                          std::optional<int64_t> count) {
  if (count && *count == 0) return s;
  int64_t remaining = (!count || *count < 0) ? INT64_MAX : *count;
  std::string out;
  if (from.empty()) {
    // /(?=)/gu: a match before every code point and at the end.
    for (const std::string& cp : CodePoints(s)) {
      if (remaining > 0) {
        out += to;
        --remaining;
      }
      out += cp;
    }
    if (remaining > 0) out += to;
    return out;
  }
  size_t start = 0;
  for (size_t pos = s.find(from); pos != std::string::npos && remaining > 0;
       pos = s.find(from, start)) {
    out.append(s, start, pos - start);
    out += to;
    start = pos + from.size();
    --remaining;
  }
  out.append(s, start, std::string::npos);
  return out;
}

std::optional<Value> MemberBuiltin(const Value& receiver, const std::string& name,
                                   Interpreter* interp) {
  switch (receiver.type()) {
    case ValueType::kString:
      return StringBuiltin(receiver.str(), name, interp);
    case ValueType::kObject:
      return ObjectBuiltin(receiver, name);
    case ValueType::kArray:
      if (name == "length") return Value::Int(static_cast<int64_t>(receiver.array().items.size()));
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

void InstallGlobals(Env* global, Interpreter* interp) {
  global->Set("true", Value::Bool(true));
  global->Set("false", Value::Bool(false));
  global->Set("none", Value::Null());
  global->Set("True", Value::Bool(true));
  global->Set("False", Value::Bool(false));
  global->Set("None", Value::Null());
  global->Set("raise_exception", Method([](std::vector<Value>& args, Env*) -> Result<Value> {
                // The template's own message, verbatim (what the client sees).
                std::string message = "undefined";
                if (!args.empty()) {
                  auto s = args[0].is(ValueType::kString) ? Result<std::string>(args[0].str())
                                                          : JsString(args[0], 8);
                  message = s.ok() ? *s : "raise_exception";
                }
                return InvalidArgumentError(message);
              }));
  global->Set("range", Method([interp](std::vector<Value>& args, Env*) -> Result<Value> {
                for (const Value& a : args) {
                  if (!a.is(ValueType::kInt)) return Error("range() arguments must be integers");
                }
                if (args.empty() || args.size() > 3) return Error("range() takes 1 to 3 arguments");
                int64_t start = 0, stop = 0, step = 1;
                if (args.size() == 1) {
                  stop = args[0].integer();
                } else {
                  start = args[0].integer();
                  stop = args[1].integer();
                  if (args.size() == 3) step = args[2].integer();
                }
                if (step == 0) return Error("range() step must not be zero");
                const int64_t count = step > 0
                                          ? (stop > start ? (stop - start + step - 1) / step : 0)
                                          : (start > stop ? (start - stop - step - 1) / -step : 0);
                LLMUX_RETURN_IF_ERROR(interp->ChargeIterations(count));
                std::vector<Value> out;
                out.reserve(static_cast<size_t>(count));
                for (int64_t i = 0, v = start; i < count; ++i, v += step)
                  out.push_back(Value::Int(v));
                return Value::MakeArray(std::move(out));
              }));
  global->Set("strftime_now", Method([](std::vector<Value>& args, Env*) -> Result<Value> {
                if (args.empty() || !args[0].is(ValueType::kString))
                  return Error("strftime_now() needs a format string");
                return Str(Strftime(args[0].str()));
              }));
  global->Set(
      "namespace", Method([interp](std::vector<Value>& args, Env*) -> Result<Value> {
        auto entries = std::make_shared<Object>();
        std::vector<Value> positional = args;
        const Object* kwargs = nullptr;
        Value kw_holder;
        if (!positional.empty() && IsKwargs(positional.back())) {
          kw_holder = positional.back();
          kwargs = &kw_holder.object();
          positional.pop_back();
        }
        if (positional.size() > 1) {
          return Error("namespace expected at most 1 argument, got " +
                       std::to_string(positional.size()));
        }
        if (positional.size() == 1) {
          const Value& source = positional[0];
          if (source.is(ValueType::kObject)) {
            for (const auto& [k, v] : source.object().entries) entries->Set(k, v);
          } else if (source.is(ValueType::kArray)) {
            for (const Value& pair : source.array().items) {
              if (!pair.is(ValueType::kArray) || pair.array().items.size() != 2) {
                return Error("namespace expected an object or an iterable of [key, value] pairs");
              }
              if (!pair.array().items[0].is(ValueType::kString))
                return Error("namespace keys must be strings");
              entries->Set(pair.array().items[0].str(), pair.array().items[1]);
            }
          } else {
            return Error(std::string("'") + TypeName(source) + "' object is not iterable");
          }
        }
        if (kwargs != nullptr) {
          for (const auto& [k, v] : kwargs->entries) entries->Set(k, v);
        }
        return interp->NewNamespace(std::move(entries));
      }));
}

}  // namespace llmux::chat::jinja
