// Renders a parsed template with @huggingface/jinja's semantics: its scoping (a for loop and a
// macro call open a scope, if does not), its undefined values, its error cases. Filters and
// tests live in filters.cc, methods of values and global functions in builtins.cc.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "chat/jinja/ast.h"
#include "chat/jinja/limits.h"
#include "chat/jinja/value.h"

namespace llmux::chat::jinja {

// A scope. Owned by the interpreter's arena for the length of one rendering.
class Env {
 public:
  explicit Env(Env* parent) : parent_(parent) {}

  Value Lookup(const std::string& name) const;
  const Value* FindLocal(const std::string& name) const;
  void Set(const std::string& name, Value v) { vars_[name] = std::move(v); }
  Env* parent() const { return parent_; }

  bool call_block = false;  // the scope a {% call %} passes to the macro it calls
  bool captured = false;    // a function value refers to this scope: keep it alive

 private:
  Env* parent_;
  std::unordered_map<std::string, Value> vars_;
};

class Interpreter {
 public:
  explicit Interpreter(const JinjaLimits& limits) : limits_(limits) {}

  // One rendering of the program with the context's keys as variables.
  Result<std::string> Run(const NodeList& program, const nlohmann::ordered_json& context);

  // Used by filters and builtins.
  Result<Value> Eval(const Node* n, Env* env);
  // Positional values, and keyword values gathered into a kwargs object appended last.
  Result<std::vector<Value>> EvalCallArguments(const NodeList& args, Env* env);
  Status EvalArguments(const NodeList& args, Env* env, std::vector<Value>* positional,
                       std::shared_ptr<Object>* keywords);
  Result<Value> ApplyFilter(const Value& operand, const Node* filter, Env* env);
  Result<bool> RunTest(const std::string& name, const std::vector<Value>& args);
  // A string result of `bytes` bytes: within the output bound, and charged to the copy budget.
  Status ChargeString(size_t bytes);
  Status ChargeIterations(int64_t n);
  const JinjaLimits& limits() const { return limits_; }
  // namespace(): registered so that cycles through it are broken after rendering.
  Result<Value> NewNamespace(std::shared_ptr<Object> entries);

 private:
  Env* NewEnv(Env* parent);
  // Drops the scopes made since `mark` unless a function value still refers to one.
  void ReleaseEnvs(size_t mark);

  Status RenderBlock(const NodeList& statements, Env* env, std::string* out);
  Status RenderIf(const Node* n, Env* env, std::string* out);
  Status RenderFor(const Node* n, Env* env, std::string* out);
  Status ExecuteSet(const Node* n, Env* env);
  Status BindLoopVariable(const Node* target, const Value& item, Env* scope);
  Status BindMacroArguments(const std::string& display_name, const NodeList& params,
                            const Node* owner, std::vector<Value> args, Env* scope);
  Result<Value> DefineMacro(const Node* n, Env* env);
  Result<Value> EvalCallBlock(const Node* n, Env* env);
  Result<Value> RenderBody(const NodeList& body, Env* scope);

  Result<Value> EvalBinary(const Node* n, Env* env);
  Result<Value> EvalUnary(const Node* n, Env* env);
  Result<Value> EvalMember(const Node* n, Env* env);
  Result<Value> EvalSlice(const Value& object, const Node* slice, Env* env);
  Result<Value> EvalCall(const Node* n, Env* env);

  enum class Control { kNone, kBreak, kContinue };

  const JinjaLimits limits_;
  std::vector<std::unique_ptr<Env>> envs_;
  std::vector<std::shared_ptr<Object>> namespaces_;  // cleared after rendering: breaks cycles
  Control control_ = Control::kNone;
  int call_depth_ = 0;
  int64_t iterations_ = 0;
  int64_t copied_ = 0;
};

}  // namespace llmux::chat::jinja
