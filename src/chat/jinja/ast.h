// The syntax tree of a template: one node type with a kind, as the reference's AST classes map
// onto it (see the field comments). Built by the parser, read-only while rendering.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmux::chat::jinja {

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

enum class NodeKind {
  // Expressions
  kStringLiteral,   // str (also the template's text between tags)
  kIntegerLiteral,  // i
  kFloatLiteral,    // f
  kIdentifier,      // str
  kArrayLiteral,    // list
  kTupleLiteral,    // list
  kObjectLiteral,   // list: keys, list2: values
  kMember,          // a: object, b: property, flag: computed ([...])
  kCall,            // a: callee, list: arguments
  kBinary,          // str: operator, a, b
  kUnary,           // str: operator (not, -, +), a
  kFilter,          // a: operand, b: filter (identifier or call)
  kTest,            // a: operand, str: test name, flag: negated
  kSelect,          // a: value, b: condition (`a if b` without else)
  kTernary,         // a: condition, b: if true, c: if false
  kSlice,           // a, b, c: start, stop, step (each may be null)
  kKeywordArg,      // str: name, a: value
  kSpread,          // a (*args)
  kKeywordSpread,   // a (**kwargs)
  // Statements
  kIf,           // a: test, list: body, list2: else
  kFor,          // a: loop variable(s), b: iterable, list: body, list2: else
  kSet,          // a: target, b: value or null (then list: the block), list
  kMacro,        // str: name, list: parameters, list2: body
  kCallBlock,    // a: the call, list: caller parameters, list2: body
  kFilterBlock,  // b: filter, list: body
  kBreak,
  kContinue,
  kComment,
};

struct Node {
  explicit Node(NodeKind k) : kind(k) {}

  NodeKind kind;
  std::string str;
  int64_t i = 0;
  double f = 0;
  bool flag = false;
  NodePtr a, b, c;
  NodeList list, list2;
  // kMacro / kCallBlock: whether the body reads caller, kwargs or varargs without declaring them.
  // Height of the a/b/c subtree: chains built by loops (a+b+c..., x|f|g...) are bounded by it.
  int height = 1;
  bool uses_caller = false, uses_kwargs = false, uses_varargs = false;
};

}  // namespace llmux::chat::jinja
