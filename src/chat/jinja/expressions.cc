// Expressions: operators, member access and slices, calls and their arguments, literals, with
// the reference's typing (e.g. "1" == 1, 2.0 ~ "" is "2", [] + [] concatenates).
#include <algorithm>
#include <cmath>
#include <utility>

#include "chat/jinja/builtins.h"
#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

Status Error(const std::string& message) { return InvalidArgumentError(message); }

Value Str(std::string s) { return Value::String(std::move(s)); }

// Arithmetic on two JavaScript numbers, typed as the reference types it.
Result<Value> Arithmetic(const std::string& op, const Value& l, const Value& r) {
  const bool is_float = l.is(ValueType::kFloat) || r.is(ValueType::kFloat);
  const double a = l.number(), b = r.number();
  auto typed = [&](double v) -> Result<Value> {
    if (is_float) return Value::Float(v);
    if (!std::isfinite(v) || std::fabs(v) > 9.007199254740992e15) {
      return Error("integer result out of range");
    }
    return Value::Int(static_cast<int64_t>(v));
  };
  if (op == "+") return typed(a + b);
  if (op == "-") return typed(a - b);
  if (op == "*") return typed(a * b);
  if (op == "/") return Value::Float(a / b);
  if (op == "//") {
    if (!is_float && b == 0) return Error("integer division by zero");
    return typed(std::floor(a / b));
  }
  if (op == "%") {
    if (!is_float && b == 0) return Error("integer modulo by zero");
    return typed(std::fmod(a, b));
  }
  if (op == "<") return Value::Bool(a < b);
  if (op == ">") return Value::Bool(a > b);
  if (op == ">=") return Value::Bool(a >= b);
  if (op == "<=") return Value::Bool(a <= b);
  return Error("Unknown operator \"" + op + "\" between numbers");
}

}  // namespace

Status Interpreter::EvalArguments(const NodeList& args, Env* env, std::vector<Value>* positional,
                                  std::shared_ptr<Object>* keywords) {
  *keywords = std::make_shared<Object>();
  for (const NodePtr& a : args) {
    if (a->kind == NodeKind::kSpread) {
      LLMUX_ASSIGN_OR_RETURN(Value v, Eval(a->a.get(), env));
      if (!v.is(ValueType::kArray))
        return Error(std::string("Cannot unpack non-iterable type: ") + TypeName(v));
      for (const Value& x : v.array().items) positional->push_back(x);
    } else if (a->kind != NodeKind::kKeywordArg && a->kind != NodeKind::kKeywordSpread) {
      LLMUX_ASSIGN_OR_RETURN(Value v, Eval(a.get(), env));
      positional->push_back(std::move(v));
    }
  }
  auto add = [&](const std::string& key, Value v) -> Status {
    if ((*keywords)->Find(key) != nullptr) {
      return Error("Got multiple values for keyword argument '" + key + "'");
    }
    (*keywords)->Set(key, std::move(v));
    return Status::Ok();
  };
  for (const NodePtr& a : args) {
    if (a->kind == NodeKind::kKeywordArg) {
      LLMUX_ASSIGN_OR_RETURN(Value v, Eval(a->a.get(), env));
      LLMUX_RETURN_IF_ERROR(add(a->str, std::move(v)));
    } else if (a->kind == NodeKind::kKeywordSpread) {
      LLMUX_ASSIGN_OR_RETURN(Value v, Eval(a->a.get(), env));
      if (!v.is(ValueType::kObject)) {
        return Error(std::string("Argument after ** must be a mapping, not ") + TypeName(v));
      }
      for (const auto& [k, x] : v.object().entries) LLMUX_RETURN_IF_ERROR(add(k, x));
    }
  }
  return Status::Ok();
}

Result<std::vector<Value>> Interpreter::EvalCallArguments(const NodeList& args, Env* env) {
  std::vector<Value> positional;
  std::shared_ptr<Object> keywords;
  LLMUX_RETURN_IF_ERROR(EvalArguments(args, env, &positional, &keywords));
  if (keywords->size() > 0) {
    keywords->kwargs = true;
    positional.push_back(Value::MakeObject(keywords));
  }
  return positional;
}

Result<Value> Interpreter::EvalCall(const Node* n, Env* env) {
  LLMUX_ASSIGN_OR_RETURN(std::vector<Value> args, EvalCallArguments(n->list, env));
  LLMUX_ASSIGN_OR_RETURN(Value fn, Eval(n->a.get(), env));
  if (!fn.is(ValueType::kFunction)) {
    return Error(std::string("Cannot call something that is not a function: got ") + TypeName(fn));
  }
  return fn.function()(args, env);
}

Result<Value> Interpreter::EvalBinary(const Node* n, Env* env) {
  const std::string& op = n->str;
  LLMUX_ASSIGN_OR_RETURN(Value left, Eval(n->a.get(), env));
  if (op == "and") return Truthy(left) ? Eval(n->b.get(), env) : Result<Value>(left);
  if (op == "or") return Truthy(left) ? Result<Value>(left) : Eval(n->b.get(), env);
  LLMUX_ASSIGN_OR_RETURN(Value right, Eval(n->b.get(), env));
  if (op == "==") return Value::Bool(LooseEquals(left, right));
  if (op == "!=") return Value::Bool(!LooseEquals(left, right));
  const int depth = limits_.max_value_depth;

  if (left.is_number() && right.is_number() && op != "~" && op != "**") {
    if (op != "in" && op != "not in") return Arithmetic(op, left, right);
  } else if (left.is_undefined() || right.is_undefined()) {
    if (right.is_undefined() && (op == "in" || op == "not in")) return Value::Bool(op == "not in");
    if (op == "~" && !left.is_null() && !right.is_null()) {
      std::string l, r;
      if (!left.is_undefined()) {
        LLMUX_ASSIGN_OR_RETURN(l, JsString(left, depth));
      }
      if (!right.is_undefined()) {
        LLMUX_ASSIGN_OR_RETURN(r, JsString(right, depth));
      }
      LLMUX_RETURN_IF_ERROR(ChargeString(l.size() + r.size()));
      return Str(l + r);
    }
    return Error("Cannot perform operation " + op + " on undefined values");
  } else if (left.is_null() || right.is_null()) {
    return Error("Cannot perform operation on null values");
  } else if (op == "~") {
    LLMUX_ASSIGN_OR_RETURN(std::string l, JsString(left, depth));
    LLMUX_ASSIGN_OR_RETURN(std::string r, JsString(right, depth));
    LLMUX_RETURN_IF_ERROR(ChargeString(l.size() + r.size()));
    return Str(l + r);
  } else if (op == "**" && (left.is_number() || left.is(ValueType::kBool)) &&
             (right.is_number() || right.is(ValueType::kBool))) {
    const double a = left.is(ValueType::kBool) ? (left.boolean() ? 1 : 0) : left.number();
    const double b = right.is(ValueType::kBool) ? (right.boolean() ? 1 : 0) : right.number();
    if (a == 0 && b < 0) return Error("0.0 cannot be raised to a negative power");
    const double result = std::pow(a, b);
    if (!std::isfinite(result)) return Error("Exponentiation result is not a finite real number");
    if (left.is(ValueType::kFloat) || right.is(ValueType::kFloat) || b < 0)
      return Value::Float(result);
    if (std::fabs(result) > 9.007199254740992e15) return Error("integer result out of range");
    return Value::Int(static_cast<int64_t>(result));
  } else if (left.is(ValueType::kArray) && right.is(ValueType::kArray)) {
    if (op == "+") {
      const auto& l = left.array().items;
      const auto& r = right.array().items;
      LLMUX_RETURN_IF_ERROR(ChargeString((l.size() + r.size()) * sizeof(Value)));
      std::vector<Value> all(l);
      all.insert(all.end(), r.begin(), r.end());
      return Value::MakeArray(std::move(all));
    }
  }
  if (right.is(ValueType::kArray) && !left.is(ValueType::kArray) && !left.is_undefined() &&
      !left.is_null()) {
    if (op == "in" || op == "not in") {
      bool member = false;
      for (const Value& x : right.array().items) {
        if (StrictEquals(x, left)) {
          member = true;
          break;
        }
      }
      return Value::Bool(op == "in" ? member : !member);
    }
  }
  if ((left.is(ValueType::kString) || right.is(ValueType::kString)) && op == "+") {
    LLMUX_ASSIGN_OR_RETURN(std::string l, JsString(left, depth));
    LLMUX_ASSIGN_OR_RETURN(std::string r, JsString(right, depth));
    LLMUX_RETURN_IF_ERROR(ChargeString(l.size() + r.size()));
    return Str(l + r);
  }
  if (left.is(ValueType::kString) && right.is(ValueType::kString) &&
      (op == "in" || op == "not in")) {
    const bool found = right.str().find(left.str()) != std::string::npos;
    return Value::Bool(op == "in" ? found : !found);
  }
  if (left.is(ValueType::kString) && right.is(ValueType::kObject) &&
      (op == "in" || op == "not in")) {
    const bool found = right.object().Find(left.str()) != nullptr;
    return Value::Bool(op == "in" ? found : !found);
  }
  return Error("Unknown operator \"" + op + "\" between " + TypeName(left) + " and " +
               TypeName(right));
}

Result<Value> Interpreter::EvalUnary(const Node* n, Env* env) {
  LLMUX_ASSIGN_OR_RETURN(Value arg, Eval(n->a.get(), env));
  if (n->str == "not") return Value::Bool(!Truthy(arg));
  const double sign = n->str == "-" ? -1 : 1;
  if (arg.is(ValueType::kFloat)) return Value::Float(sign * arg.number());
  if (arg.is(ValueType::kInt)) return Value::Int(n->str == "-" ? -arg.integer() : arg.integer());
  if (arg.is(ValueType::kBool))
    return Value::Int(static_cast<int64_t>(sign) * (arg.boolean() ? 1 : 0));
  return Error("Unknown operator \"" + n->str + "\" for " + TypeName(arg));
}

Result<Value> Interpreter::EvalSlice(const Value& object, const Node* slice, Env* env) {
  if (!object.is(ValueType::kArray) && !object.is(ValueType::kString)) {
    return Error("Slice object must be an array or string");
  }
  std::optional<int64_t> parts[3];
  const Node* nodes[3] = {slice->a.get(), slice->b.get(), slice->c.get()};
  const char* names[3] = {"start", "stop", "step"};
  for (int k = 0; k < 3; ++k) {
    if (nodes[k] == nullptr) continue;
    LLMUX_ASSIGN_OR_RETURN(Value v, Eval(nodes[k], env));
    if (v.is_undefined()) continue;
    if (!v.is(ValueType::kInt))
      return Error(std::string("Slice ") + names[k] + " must be numeric or undefined");
    parts[k] = v.integer();
  }
  const int64_t step = parts[2].value_or(1);
  std::vector<std::string> chars;
  if (object.is(ValueType::kString)) chars = CodePoints(object.str());
  const auto len = static_cast<int64_t>(
      object.is(ValueType::kString) ? chars.size() : object.array().items.size());
  int64_t start, stop;
  if (step >= 0) {
    start = parts[0].value_or(0);
    start = start < 0 ? std::max<int64_t>(len + start, 0) : std::min(start, len);
    stop = parts[1].value_or(len);
    stop = stop < 0 ? std::max<int64_t>(len + stop, 0) : std::min(stop, len);
  } else {
    start = parts[0].value_or(len - 1);
    start = start < 0 ? std::max<int64_t>(len + start, -1) : std::min(start, len - 1);
    stop = parts[1].value_or(-1);
    stop = stop < -1 ? std::max<int64_t>(len + stop, -1) : std::min(stop, len - 1);
  }
  // The reference loops forever on a zero step; refuse it instead.
  if (step == 0) return Error("slice step cannot be zero");
  const int64_t dir = step > 0 ? 1 : -1;
  if (object.is(ValueType::kString)) {
    std::string out;
    for (int64_t i = start; dir * i < dir * stop; i += step) out += chars[static_cast<size_t>(i)];
    return Str(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = start; dir * i < dir * stop; i += step)
    out.push_back(object.array().items[static_cast<size_t>(i)]);
  return Value::MakeArray(std::move(out));
}

Result<Value> Interpreter::EvalMember(const Node* n, Env* env) {
  LLMUX_ASSIGN_OR_RETURN(Value object, Eval(n->a.get(), env));
  Value property;
  if (n->flag) {
    if (n->b->kind == NodeKind::kSlice) return EvalSlice(object, n->b.get(), env);
    LLMUX_ASSIGN_OR_RETURN(property, Eval(n->b.get(), env));
  } else if (n->b->kind == NodeKind::kIntegerLiteral) {
    property = Value::Int(n->b->i);
  } else {
    property = Str(n->b->str);
  }
  if (object.is_mapping()) {
    if (!property.is(ValueType::kString)) {
      return Error(std::string("Cannot access property with non-string: got ") +
                   TypeName(property));
    }
    if (const Value* v = object.object().Find(property.str())) return *v;
    if (object.is(ValueType::kObject))
      return MemberBuiltin(object, property.str(), this).value_or(Value());
    return Value();
  }
  if (object.is(ValueType::kArray) || object.is(ValueType::kString)) {
    if (property.is(ValueType::kInt)) {
      int64_t i = property.integer();
      if (object.is(ValueType::kString)) {
        const std::vector<std::string> chars = CodePoints(object.str());
        const auto len = static_cast<int64_t>(chars.size());
        if (i < 0) i += len;
        if (i < 0 || i >= len) return Value();
        return Str(chars[static_cast<size_t>(i)]);
      }
      const auto len = static_cast<int64_t>(object.array().items.size());
      if (i < 0) i += len;
      if (i < 0 || i >= len) return Value();
      return object.array().items[static_cast<size_t>(i)];
    }
    if (property.is(ValueType::kString))
      return MemberBuiltin(object, property.str(), this).value_or(Value());
    return Error(std::string("Cannot access property with non-string/non-number: got ") +
                 TypeName(property));
  }
  if (!property.is(ValueType::kString)) {
    return Error(std::string("Cannot access property with non-string: got ") + TypeName(property));
  }
  return MemberBuiltin(object, property.str(), this).value_or(Value());
}

Result<Value> Interpreter::Eval(const Node* n, Env* env) {
  if (n == nullptr) return Value();
  switch (n->kind) {
    case NodeKind::kIdentifier:
      return env->Lookup(n->str);
    case NodeKind::kIntegerLiteral:
      return Value::Int(n->i);
    case NodeKind::kFloatLiteral:
      return Value::Float(n->f);
    case NodeKind::kStringLiteral:
      return Str(n->str);
    case NodeKind::kBinary:
      return EvalBinary(n, env);
    case NodeKind::kMember:
      return EvalMember(n, env);
    case NodeKind::kCall:
      return EvalCall(n, env);
    case NodeKind::kFilter: {
      LLMUX_ASSIGN_OR_RETURN(Value operand, Eval(n->a.get(), env));
      return ApplyFilter(operand, n->b.get(), env);
    }
    case NodeKind::kTest: {
      LLMUX_ASSIGN_OR_RETURN(Value operand, Eval(n->a.get(), env));
      LLMUX_ASSIGN_OR_RETURN(bool result, RunTest(n->str, {operand}));
      return Value::Bool(n->flag ? !result : result);
    }
    case NodeKind::kTernary: {
      LLMUX_ASSIGN_OR_RETURN(Value cond, Eval(n->a.get(), env));
      return Eval(Truthy(cond) ? n->b.get() : n->c.get(), env);
    }
    case NodeKind::kSelect: {
      LLMUX_ASSIGN_OR_RETURN(Value cond, Eval(n->b.get(), env));
      if (!Truthy(cond)) return Value();
      return Eval(n->a.get(), env);
    }
    case NodeKind::kUnary:
      return EvalUnary(n, env);
    case NodeKind::kArrayLiteral:
    case NodeKind::kTupleLiteral: {
      std::vector<Value> items;
      for (const NodePtr& x : n->list) {
        LLMUX_ASSIGN_OR_RETURN(Value v, Eval(x.get(), env));
        items.push_back(std::move(v));
      }
      Value arr = Value::MakeArray(std::move(items), n->kind == NodeKind::kTupleLiteral);
      if (arr.height() > limits_.max_value_depth) {
        return ResourceExhaustedError("value nests deeper than " +
                                      std::to_string(limits_.max_value_depth) + " levels");
      }
      return arr;
    }
    case NodeKind::kObjectLiteral: {
      auto obj = std::make_shared<Object>();
      for (size_t i = 0; i < n->list.size(); ++i) {
        LLMUX_ASSIGN_OR_RETURN(Value key, Eval(n->list[i].get(), env));
        if (!key.is(ValueType::kString)) {
          return Error(std::string("Object keys must be strings: got ") + TypeName(key));
        }
        LLMUX_ASSIGN_OR_RETURN(Value v, Eval(n->list2[i].get(), env));
        obj->Set(key.str(), std::move(v));
      }
      Value o = Value::MakeObject(std::move(obj));
      if (o.height() > limits_.max_value_depth) {
        return ResourceExhaustedError("value nests deeper than " +
                                      std::to_string(limits_.max_value_depth) + " levels");
      }
      return o;
    }
    case NodeKind::kIf: {
      std::string out;
      LLMUX_RETURN_IF_ERROR(RenderIf(n, env, &out));
      return Str(std::move(out));
    }
    case NodeKind::kFor: {
      std::string out;
      LLMUX_RETURN_IF_ERROR(RenderFor(n, env, &out));
      return Str(std::move(out));
    }
    case NodeKind::kSet: {
      LLMUX_RETURN_IF_ERROR(ExecuteSet(n, env));
      return Value::Null();
    }
    case NodeKind::kMacro:
      return DefineMacro(n, env);
    case NodeKind::kCallBlock:
      return EvalCallBlock(n, env);
    case NodeKind::kFilterBlock: {
      LLMUX_ASSIGN_OR_RETURN(Value body, RenderBody(n->list, env));
      return ApplyFilter(body, n->b.get(), env);
    }
    case NodeKind::kComment:
      return Value::Null();
    case NodeKind::kBreak:
      control_ = Control::kBreak;
      return Value::Null();
    case NodeKind::kContinue:
      control_ = Control::kContinue;
      return Value::Null();
    default:
      return Error("unexpected syntax node in an expression");
  }
}

}  // namespace llmux::chat::jinja
