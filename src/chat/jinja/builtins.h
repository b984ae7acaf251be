// Methods of values (str.strip(), dict.items()...) and the global functions (range, namespace,
// raise_exception, strftime_now), as @huggingface/jinja defines them.
#pragma once

#include <optional>
#include <string>

#include "chat/jinja/value.h"

namespace llmux::chat::jinja {

class Env;
class Interpreter;

// The method or property `name` of a string, dict or list (bound to it), if there is one.
std::optional<Value> MemberBuiltin(const Value& receiver, const std::string& name,
                                   Interpreter* interp);

// true/false/none (and True/False/None), range, namespace, raise_exception, strftime_now.
void InstallGlobals(Env* global, Interpreter* interp);

// The reference's compareRuntimeValues (sort, dictsort): -1, 0 or 1, or an error for types it
// does not order.
Result<int> CompareValues(const Value& a, const Value& b, bool case_sensitive);

// str.replace with the reference's count semantics (an empty `from` inserts between characters).
std::string ReplaceString(const std::string& s, const std::string& from, const std::string& to,
                          std::optional<int64_t> count);

}  // namespace llmux::chat::jinja
