// Statements, scopes and macros: how a parsed template renders, block by block.
#include "chat/jinja/interpreter.h"

#include <cmath>
#include <utility>

#include "chat/jinja/builtins.h"
#include "chat/jinja/text.h"

namespace llmux::chat::jinja {
namespace {

Status Error(const std::string& message) { return InvalidArgumentError(message); }

Value Str(std::string s) { return Value::String(std::move(s)); }

}  // namespace

Value Env::Lookup(const std::string& name) const {
  for (const Env* e = this; e != nullptr; e = e->parent_) {
    if (const Value* v = e->FindLocal(name)) return *v;
  }
  return Value();
}

const Value* Env::FindLocal(const std::string& name) const {
  auto it = vars_.find(name);
  return it == vars_.end() ? nullptr : &it->second;
}

Env* Interpreter::NewEnv(Env* parent) {
  envs_.push_back(std::make_unique<Env>(parent));
  return envs_.back().get();
}

void Interpreter::ReleaseEnvs(size_t mark) {
  for (size_t i = mark; i < envs_.size(); ++i) {
    if (envs_[i]->captured) return;
  }
  envs_.resize(mark);
}

Status Interpreter::ChargeString(size_t bytes) {
  if (bytes > limits_.max_output_bytes) {
    return ResourceExhaustedError("template output exceeds " +
                                  std::to_string(limits_.max_output_bytes) + " bytes");
  }
  copied_ += static_cast<int64_t>(bytes);
  if (copied_ > limits_.max_copy_bytes) {
    return ResourceExhaustedError("template copies more than " +
                                  std::to_string(limits_.max_copy_bytes) + " bytes");
  }
  return Status::Ok();
}

Status Interpreter::ChargeIterations(int64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_loop_iterations) {
    return ResourceExhaustedError("template loops more than " +
                                  std::to_string(limits_.max_loop_iterations) + " times");
  }
  return Status::Ok();
}

Result<Value> Interpreter::NewNamespace(std::shared_ptr<Object> entries) {
  Value ns = Value::MakeNamespace(entries);
  if (ns.height() > limits_.max_value_depth) {
    return ResourceExhaustedError("value nests deeper than " +
                                  std::to_string(limits_.max_value_depth) + " levels");
  }
  namespaces_.push_back(std::move(entries));
  return ns;
}

Result<std::string> Interpreter::Run(const NodeList& program,
                                     const nlohmann::ordered_json& context) {
  Env* global = NewEnv(nullptr);
  global->captured = true;
  InstallGlobals(global, this);
  if (!context.is_object() && !context.is_null())
    return Error("the template context must be an object");
  if (context.is_object()) {
    for (const auto& [key, j] : context.items()) {
      // As the reference: a context key cannot replace a global (true, range, namespace...).
      if (global->FindLocal(key) != nullptr) return Error("Variable already declared: " + key);
      auto v = FromJson(j, limits_.max_value_depth);
      if (!v.ok()) return v.status().WithContext("template variable '" + key + "'");
      global->Set(key, std::move(v).value());
    }
  }
  std::string out;
  Status st = RenderBlock(program, global, &out);
  if (st.ok() && control_ != Control::kNone) st = Error("break or continue outside a loop");
  // Namespaces may refer to themselves (ns.x = [ns]): empty them so their memory is freed.
  for (auto& ns : namespaces_) {
    ns->entries.clear();
    ns->index.clear();
  }
  namespaces_.clear();
  envs_.clear();
  if (!st.ok()) return st;
  return out;
}

Status Interpreter::RenderBlock(const NodeList& statements, Env* env, std::string* out) {
  for (const NodePtr& s : statements) {
    switch (s->kind) {
      case NodeKind::kStringLiteral:
        *out += s->str;
        break;
      case NodeKind::kIf:
        LLMUX_RETURN_IF_ERROR(RenderIf(s.get(), env, out));
        break;
      case NodeKind::kFor:
        LLMUX_RETURN_IF_ERROR(RenderFor(s.get(), env, out));
        break;
      case NodeKind::kSet:
        LLMUX_RETURN_IF_ERROR(ExecuteSet(s.get(), env));
        break;
      case NodeKind::kComment:
        break;
      default: {
        LLMUX_ASSIGN_OR_RETURN(Value v, Eval(s.get(), env));
        if (!v.is_null() && !v.is_undefined()) {
          LLMUX_ASSIGN_OR_RETURN(std::string text, Display(v, limits_.max_value_depth));
          *out += text;
        }
      }
    }
    if (out->size() > limits_.max_output_bytes) {
      return ResourceExhaustedError("template output exceeds " +
                                    std::to_string(limits_.max_output_bytes) + " bytes");
    }
    if (control_ != Control::kNone) return Status::Ok();  // unwinding to the loop
  }
  return Status::Ok();
}

Status Interpreter::RenderIf(const Node* n, Env* env, std::string* out) {
  LLMUX_ASSIGN_OR_RETURN(Value test, Eval(n->a.get(), env));
  return RenderBlock(Truthy(test) ? n->list : n->list2, env, out);
}

Status Interpreter::BindLoopVariable(const Node* target, const Value& item, Env* scope) {
  if (target->kind == NodeKind::kIdentifier) {
    scope->Set(target->str, item);
    return Status::Ok();
  }
  const auto& values = item.array().items;
  for (size_t j = 0; j < target->list.size(); ++j) {
    if (target->list[j]->kind != NodeKind::kIdentifier) {
      return Error("Cannot unpack non-identifier type");
    }
    scope->Set(target->list[j]->str, j < values.size() ? values[j] : Value());
  }
  return Status::Ok();
}

Status Interpreter::RenderFor(const Node* n, Env* env, std::string* out) {
  const size_t mark = envs_.size();
  Env* scope = NewEnv(env);
  const Node* test = nullptr;
  Value iterable;
  if (n->b->kind == NodeKind::kSelect) {
    LLMUX_ASSIGN_OR_RETURN(iterable, Eval(n->b->a.get(), scope));
    test = n->b->b.get();
  } else {
    LLMUX_ASSIGN_OR_RETURN(iterable, Eval(n->b.get(), scope));
  }
  if (iterable.is(ValueType::kObject)) {
    std::vector<Value> keys;
    for (const auto& [k, v] : iterable.object().entries) keys.push_back(Str(k));
    iterable = Value::MakeArray(std::move(keys));
  } else if (!iterable.is(ValueType::kArray)) {
    return Error(std::string("Expected iterable or object type in for loop: got ") +
                 TypeName(iterable));
  }
  const Node* target = n->a.get();
  std::vector<Value> items;
  if (target->kind == NodeKind::kIdentifier && test == nullptr) {
    items = iterable.array().items;
  } else {
    Env* test_scope = test != nullptr ? NewEnv(scope) : nullptr;
    for (const Value& current : iterable.array().items) {
      if (target->kind == NodeKind::kTupleLiteral) {
        if (!current.is(ValueType::kArray) || current.array().tuple) {
          return Error(std::string("Cannot unpack non-iterable type: ") + TypeName(current));
        }
        const size_t expected = target->list.size(), actual = current.array().items.size();
        if (expected != actual) {
          return Error(std::string("Too ") + (expected > actual ? "few" : "many") +
                       " items to unpack");
        }
      }
      if (test != nullptr) {
        LLMUX_RETURN_IF_ERROR(ChargeIterations(1));
        LLMUX_RETURN_IF_ERROR(BindLoopVariable(target, current, test_scope));
        LLMUX_ASSIGN_OR_RETURN(Value keep, Eval(test, test_scope));
        if (!Truthy(keep)) continue;
      }
      items.push_back(current);
    }
  }

  bool no_iteration = true;
  const auto length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    LLMUX_RETURN_IF_ERROR(ChargeIterations(1));
    auto loop = std::make_shared<Object>();
    loop->Set("index", Value::Int(i + 1));
    loop->Set("index0", Value::Int(i));
    loop->Set("revindex", Value::Int(length - i));
    loop->Set("revindex0", Value::Int(length - i - 1));
    loop->Set("first", Value::Bool(i == 0));
    loop->Set("last", Value::Bool(i == length - 1));
    loop->Set("length", Value::Int(length));
    loop->Set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
    loop->Set("nextitem", i < length - 1 ? items[static_cast<size_t>(i + 1)] : Value());
    scope->Set("loop", Value::MakeObject(std::move(loop)));
    LLMUX_RETURN_IF_ERROR(BindLoopVariable(target, items[static_cast<size_t>(i)], scope));
    // The reference unwinds break/continue with an exception: the interrupted iteration's
    // output is dropped, and it does not count as an iteration for the else block.
    std::string body;
    LLMUX_RETURN_IF_ERROR(RenderBlock(n->list, scope, &body));
    if (control_ == Control::kContinue) {
      control_ = Control::kNone;
      continue;
    }
    if (control_ == Control::kBreak) {
      control_ = Control::kNone;
      break;
    }
    *out += body;
    if (out->size() > limits_.max_output_bytes) return ChargeString(out->size());
    no_iteration = false;
  }
  if (no_iteration) LLMUX_RETURN_IF_ERROR(RenderBlock(n->list2, scope, out));
  ReleaseEnvs(mark);
  return Status::Ok();
}

Status Interpreter::ExecuteSet(const Node* n, Env* env) {
  Value rhs;
  if (n->b) {
    LLMUX_ASSIGN_OR_RETURN(rhs, Eval(n->b.get(), env));
  } else {
    LLMUX_ASSIGN_OR_RETURN(rhs, RenderBody(n->list, env));
  }
  const Node* target = n->a.get();
  if (target->kind == NodeKind::kIdentifier) {
    env->Set(target->str, std::move(rhs));
    return Status::Ok();
  }
  if (target->kind == NodeKind::kTupleLiteral) {
    if (!rhs.is(ValueType::kArray)) {
      return Error(std::string("Cannot unpack non-iterable type in set: ") + TypeName(rhs));
    }
    const auto& arr = rhs.array().items;
    if (arr.size() != target->list.size()) {
      return Error(std::string("Too ") + (target->list.size() > arr.size() ? "few" : "many") +
                   " items to unpack in set");
    }
    for (size_t i = 0; i < arr.size(); ++i) {
      if (target->list[i]->kind != NodeKind::kIdentifier) {
        return Error("Cannot unpack to non-identifier in set");
      }
      env->Set(target->list[i]->str, arr[i]);
    }
    return Status::Ok();
  }
  if (target->kind == NodeKind::kMember) {
    LLMUX_ASSIGN_OR_RETURN(Value object, Eval(target->a.get(), env));
    if (!object.is(ValueType::kNamespace))
      return Error("cannot assign attribute on non-namespace object");
    if (target->b->kind != NodeKind::kIdentifier) {
      return Error("Cannot assign to member with non-identifier property");
    }
    const int height = rhs.height() + 1;
    if (height > limits_.max_value_depth) {
      return ResourceExhaustedError("value nests deeper than " +
                                    std::to_string(limits_.max_value_depth) + " levels");
    }
    Object& ns = object.object();
    if (height > ns.height) ns.height = height;
    ns.Set(target->b->str, std::move(rhs));
    return Status::Ok();
  }
  return Error("Invalid LHS inside assignment expression");
}

Result<Value> Interpreter::RenderBody(const NodeList& body, Env* scope) {
  std::string out;
  LLMUX_RETURN_IF_ERROR(RenderBlock(body, scope, &out));
  return Str(std::move(out));
}

Status Interpreter::BindMacroArguments(const std::string& display_name, const NodeList& params,
                                       const Node* owner, std::vector<Value> args, Env* scope) {
  auto keywords = std::make_shared<Object>();
  if (!args.empty() && args.back().is(ValueType::kObject) && args.back().object().kwargs) {
    *keywords = args.back().object();
    keywords->kwargs = false;
    args.pop_back();
  }
  std::vector<std::pair<std::string, const Node*>> pending_defaults;
  for (size_t i = 0; i < params.size(); ++i) {
    const Node* p = params[i].get();
    const std::string& name = p->str;
    const Node* default_value = p->kind == NodeKind::kKeywordArg ? p->a.get() : nullptr;
    Value value;
    bool has = false;
    if (i < args.size()) {
      value = args[i];
      has = true;
    } else if (const Value* kw = keywords->Find(name)) {
      value = *kw;
      has = true;
      auto rest = std::make_shared<Object>();
      for (auto& [k, v] : keywords->entries) {
        if (k != name) rest->Set(k, v);
      }
      keywords = rest;
    }
    if (!has && default_value != nullptr) pending_defaults.emplace_back(name, default_value);
    scope->Set(name, has ? value : Value());
  }
  if (owner->uses_kwargs) {
    scope->Set("kwargs", Value::MakeObject(keywords));
  } else if (keywords->size() > 0) {
    return Error("macro " + display_name + " takes no keyword argument '" +
                 keywords->entries[0].first + "'");
  }
  if (owner->uses_varargs) {
    std::vector<Value> rest;
    for (size_t i = params.size(); i < args.size(); ++i) rest.push_back(args[i]);
    scope->Set("varargs", Value::MakeArray(std::move(rest)));
  } else if (args.size() > params.size()) {
    return Error("macro " + display_name + " takes not more than " + std::to_string(params.size()) +
                 " argument(s)");
  }
  for (const auto& [name, expr] : pending_defaults) {
    LLMUX_ASSIGN_OR_RETURN(Value v, Eval(expr, scope));
    scope->Set(name, std::move(v));
  }
  return Status::Ok();
}

Result<Value> Interpreter::DefineMacro(const Node* n, Env* env) {
  env->captured = true;
  env->Set(n->str, Value::MakeFunction([this, n, env](std::vector<Value>& args,
                                                      Env* call_site) -> Result<Value> {
             if (call_depth_ >= limits_.max_call_depth) {
               return ResourceExhaustedError("macro calls nest deeper than " +
                                             std::to_string(limits_.max_call_depth));
             }
             const size_t mark = envs_.size();
             Env* parent = env;
             if (n->uses_caller) {
               const Value* caller =
                   call_site->call_block ? call_site->FindLocal("caller") : nullptr;
               parent = NewEnv(env);
               parent->Set("caller", caller != nullptr ? *caller : Value());
             }
             Env* scope = NewEnv(parent);
             LLMUX_RETURN_IF_ERROR(BindMacroArguments("'" + n->str + "'", n->list, n, args, scope));
             ++call_depth_;
             auto result = RenderBody(n->list2, scope);
             --call_depth_;
             ReleaseEnvs(mark);
             return result;
           }));
  return Value::Null();
}

Result<Value> Interpreter::EvalCallBlock(const Node* n, Env* env) {
  env->captured = true;
  Value caller =
      Value::MakeFunction([this, n, env](std::vector<Value>& args, Env*) -> Result<Value> {
        if (call_depth_ >= limits_.max_call_depth) {
          return ResourceExhaustedError("macro calls nest deeper than " +
                                        std::to_string(limits_.max_call_depth));
        }
        const size_t mark = envs_.size();
        Env* scope = NewEnv(env);
        LLMUX_RETURN_IF_ERROR(BindMacroArguments("None", n->list, n, args, scope));
        ++call_depth_;
        auto result = RenderBody(n->list2, scope);
        --call_depth_;
        ReleaseEnvs(mark);
        return result;
      });
  std::vector<Value> args;
  std::shared_ptr<Object> keywords;
  LLMUX_RETURN_IF_ERROR(EvalArguments(n->a->list, env, &args, &keywords));
  keywords->kwargs = true;
  args.push_back(Value::MakeObject(keywords));
  LLMUX_ASSIGN_OR_RETURN(Value fn, Eval(n->a->a.get(), env));
  if (!fn.is(ValueType::kFunction)) {
    return Error(std::string("Cannot call something that is not a function: got ") + TypeName(fn));
  }
  Env* call_env = NewEnv(env);
  call_env->call_block = true;
  call_env->captured = true;
  call_env->Set("caller", std::move(caller));
  return fn.function()(args, call_env);
}

}  // namespace llmux::chat::jinja
