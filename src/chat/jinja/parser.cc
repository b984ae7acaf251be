#include "chat/jinja/parser.h"

#include <charconv>
#include <cstdlib>
#include <set>
#include <string>
#include <utility>

namespace llmux::chat::jinja {
namespace {

Status SyntaxError(const std::string& message) {
  return InvalidArgumentError("template syntax: " + message);
}

NodePtr Make(NodeKind kind) { return std::make_unique<Node>(kind); }

// Which of caller / kwargs / varargs a macro or call block reads without declaring them.
class SpecialNames {
 public:
  void Analyse(Node* owner, const NodeList& params, const NodeList& body) {
    for (const auto& p : params) Declare(p->str);  // an identifier or name=default
    VisitDefaults(params);
    for (const auto& s : body) Visit(s.get());
    owner->uses_caller = Accessed("caller");
    owner->uses_kwargs = Accessed("kwargs");
    owner->uses_varargs = Accessed("varargs");
  }

 private:
  void Declare(const std::string& name) { declared_.insert(name); }
  void DeclareTarget(const Node* n) {
    if (n == nullptr) return;
    if (n->kind == NodeKind::kIdentifier) Declare(n->str);
    if (n->kind == NodeKind::kTupleLiteral) {
      for (const auto& x : n->list) DeclareTarget(x.get());
    }
  }
  bool Accessed(const std::string& name) const {
    return used_.count(name) > 0 && declared_.count(name) == 0;
  }
  void VisitList(const NodeList& l) {
    for (const auto& x : l) Visit(x.get());
  }
  void VisitDefaults(const NodeList& params) {
    for (const auto& p : params) {
      if (p->kind == NodeKind::kKeywordArg) Visit(p->a.get());
    }
  }
  void Visit(const Node* n) {
    if (n == nullptr) return;
    switch (n->kind) {
      case NodeKind::kIdentifier:
        used_.insert(n->str);
        return;
      case NodeKind::kFor:
        DeclareTarget(n->a.get());
        break;
      case NodeKind::kSet:
        DeclareTarget(n->a.get());
        break;
      case NodeKind::kMacro:
      case NodeKind::kCallBlock:
        // A nested macro's parameters are names, not reads; their defaults are reads.
        for (const auto& p : n->list) Declare(p->str);
        VisitDefaults(n->list);
        Visit(n->a.get());
        VisitList(n->list2);
        return;
      case NodeKind::kMember:
        Visit(n->a.get());
        if (n->flag) Visit(n->b.get());
        return;
      case NodeKind::kFilter:
      case NodeKind::kFilterBlock:
        Visit(n->a.get());
        VisitList(n->list);
        if (n->b && n->b->kind == NodeKind::kCall) VisitList(n->b->list);
        return;
      case NodeKind::kTest:
        Visit(n->a.get());
        return;
      default:
        break;
    }
    VisitList(n->list);
    Visit(n->a.get());
    Visit(n->b.get());
    Visit(n->c.get());
    VisitList(n->list2);
  }

  std::set<std::string> declared_, used_;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, int max_depth) : t_(tokens), max_depth_(max_depth) {}

  Result<NodeList> Run() {
    NodeList program;
    while (cur_ < t_.size()) {
      LLMUX_ASSIGN_OR_RETURN(NodePtr s, ParseAny());
      program.push_back(std::move(s));
    }
    return program;
  }

 private:
  // Counts nesting on the recursive paths; every unbounded recursion passes through one.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser* p_;
  };
  Status CheckDepth() const {
    if (depth_ > max_depth_) {
      return ResourceExhaustedError("template nests deeper than " + std::to_string(max_depth_) +
                                    " levels");
    }
    return Status::Ok();
  }

  bool Is(TokenType type, size_t ahead = 0) const {
    return cur_ + ahead < t_.size() && t_[cur_ + ahead].type == type;
  }
  bool IsIdentifier(const char* name, size_t ahead = 0) const {
    return Is(TokenType::kIdentifier, ahead) && t_[cur_ + ahead].value == name;
  }
  bool IsStatement(std::initializer_list<const char*> names) const {
    if (!Is(TokenType::kOpenStatement) || !Is(TokenType::kIdentifier, 1)) return false;
    for (const char* n : names) {
      if (t_[cur_ + 1].value == n) return true;
    }
    return false;
  }
  Status Expect(TokenType type, const std::string& what) {
    if (cur_ >= t_.size()) return SyntaxError(what + ", got the end of the template");
    const Token& tok = t_[cur_++];
    if (tok.type != type) {
      return SyntaxError(what + ", got " + TokenTypeName(tok.type) + " '" + tok.value + "'");
    }
    return Status::Ok();
  }
  Status ExpectIdentifier(const char* name) {
    if (!IsIdentifier(name)) return SyntaxError(std::string("expected '") + name + "'");
    ++cur_;
    return Status::Ok();
  }
  Status ExpectEnd(const char* name) {
    LLMUX_RETURN_IF_ERROR(
        Expect(TokenType::kOpenStatement, std::string("expected {% ") + name + " %}"));
    LLMUX_RETURN_IF_ERROR(ExpectIdentifier(name));
    return Expect(TokenType::kCloseStatement, "expected %}");
  }
  // Statements up to one of `names` (which stays unread).
  Status ParseUntil(std::initializer_list<const char*> names, NodeList* out) {
    while (!IsStatement(names)) {
      if (cur_ >= t_.size()) {
        return SyntaxError(std::string("missing {% ") + *names.begin() + " %}");
      }
      LLMUX_ASSIGN_OR_RETURN(NodePtr s, ParseAny());
      out->push_back(std::move(s));
    }
    return Status::Ok();
  }

  Result<NodePtr> ParseAny();
  Result<NodePtr> ParseStatement();
  Result<NodePtr> ParseSet();
  Result<NodePtr> ParseIf();
  Result<NodePtr> ParseMacro();
  Result<NodePtr> ParseFor();
  Result<NodePtr> ParseExpressionSequence(bool primary);
  Result<NodePtr> ParseExpression();
  Result<NodePtr> ParseLogicalOr();
  Result<NodePtr> ParseLogicalAnd();
  Result<NodePtr> ParseNot();
  Result<NodePtr> ParseComparison();
  Result<NodePtr> ParseAdditive();
  Result<NodePtr> ParseMultiplicative();
  Result<NodePtr> ParsePower();
  Result<NodePtr> ParseTest();
  Result<NodePtr> ParseFilter();
  Result<NodePtr> ParseUnarySign();
  Result<NodePtr> ParseCallMember();
  Result<NodePtr> ParseCall(NodePtr callee);
  Status ParseArgs(bool parameters, NodeList* out);
  Result<NodePtr> ParseMemberArguments();
  Result<NodePtr> ParseMember(NodePtr object);
  Result<NodePtr> ParsePrimary();

  Result<NodePtr> Binary(std::string op, NodePtr a, NodePtr b) {
    NodePtr n = Make(NodeKind::kBinary);
    n->str = std::move(op);
    n->a = std::move(a);
    n->b = std::move(b);
    return Sealed(std::move(n));
  }
  // Sets the node's height; refuses chains taller than the nesting bound, so that rendering
  // and destroying the tree stay within the stack.
  Result<NodePtr> Sealed(NodePtr n) {
    int h = 0;
    for (const Node* c : {n->a.get(), n->b.get(), n->c.get()}) {
      if (c != nullptr && c->height > h) h = c->height;
    }
    n->height = h + 1;
    if (n->height > max_depth_) {
      return ResourceExhaustedError("template nests deeper than " + std::to_string(max_depth_) +
                                    " levels");
    }
    return n;
  }

  const std::vector<Token>& t_;
  size_t cur_ = 0;
  int depth_ = 0;
  const int max_depth_;
};

Result<NodePtr> Parser::ParseAny() {
  DepthGuard guard(this);
  LLMUX_RETURN_IF_ERROR(CheckDepth());
  const Token& tok = t_[cur_];
  switch (tok.type) {
    case TokenType::kComment: {
      ++cur_;
      return Make(NodeKind::kComment);
    }
    case TokenType::kText: {
      NodePtr n = Make(NodeKind::kStringLiteral);
      n->str = t_[cur_++].value;
      return n;
    }
    case TokenType::kOpenStatement:
      return ParseStatement();
    case TokenType::kOpenExpression: {
      ++cur_;
      LLMUX_ASSIGN_OR_RETURN(NodePtr e, ParseExpression());
      LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseExpression, "expected }}"));
      return e;
    }
    default:
      return SyntaxError(std::string("unexpected ") + TokenTypeName(tok.type) + " '" + tok.value +
                         "'");
  }
}

Result<NodePtr> Parser::ParseStatement() {
  ++cur_;  // {%
  if (!Is(TokenType::kIdentifier)) return SyntaxError("expected a statement name after {%");
  const std::string name = t_[cur_++].value;
  if (name == "set") return ParseSet();
  if (name == "if") {
    LLMUX_ASSIGN_OR_RETURN(NodePtr n, ParseIf());
    LLMUX_RETURN_IF_ERROR(ExpectEnd("endif"));
    return n;
  }
  if (name == "macro") {
    LLMUX_ASSIGN_OR_RETURN(NodePtr n, ParseMacro());
    LLMUX_RETURN_IF_ERROR(ExpectEnd("endmacro"));
    return n;
  }
  if (name == "for") {
    LLMUX_ASSIGN_OR_RETURN(NodePtr n, ParseFor());
    LLMUX_RETURN_IF_ERROR(ExpectEnd("endfor"));
    return n;
  }
  if (name == "call") {
    NodePtr n = Make(NodeKind::kCallBlock);
    if (Is(TokenType::kOpenParen)) LLMUX_RETURN_IF_ERROR(ParseArgs(true, &n->list));
    LLMUX_ASSIGN_OR_RETURN(NodePtr callee, ParsePrimary());
    if (callee->kind != NodeKind::kIdentifier)
      return SyntaxError("expected a macro name after call");
    NodePtr call = Make(NodeKind::kCall);
    call->a = std::move(callee);
    LLMUX_RETURN_IF_ERROR(ParseArgs(false, &call->list));
    n->a = std::move(call);
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    LLMUX_RETURN_IF_ERROR(ParseUntil({"endcall"}, &n->list2));
    LLMUX_RETURN_IF_ERROR(ExpectEnd("endcall"));
    SpecialNames().Analyse(n.get(), n->list, n->list2);
    return n;
  }
  if (name == "break" || name == "continue") {
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    return Make(name == "break" ? NodeKind::kBreak : NodeKind::kContinue);
  }
  if (name == "filter") {
    NodePtr n = Make(NodeKind::kFilterBlock);
    LLMUX_ASSIGN_OR_RETURN(NodePtr filter, ParsePrimary());
    if (filter->kind == NodeKind::kIdentifier && Is(TokenType::kOpenParen)) {
      LLMUX_ASSIGN_OR_RETURN(filter, ParseCall(std::move(filter)));
    }
    n->b = std::move(filter);
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    LLMUX_RETURN_IF_ERROR(ParseUntil({"endfilter"}, &n->list));
    LLMUX_RETURN_IF_ERROR(ExpectEnd("endfilter"));
    return n;
  }
  return SyntaxError("unknown statement '" + name + "'");
}

Result<NodePtr> Parser::ParseSet() {
  NodePtr n = Make(NodeKind::kSet);
  LLMUX_ASSIGN_OR_RETURN(n->a, ParseExpressionSequence(false));
  if (Is(TokenType::kEquals)) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(n->b, ParseExpressionSequence(false));
  } else {
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    LLMUX_RETURN_IF_ERROR(ParseUntil({"endset"}, &n->list));
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kOpenStatement, "expected {%"));
    LLMUX_RETURN_IF_ERROR(ExpectIdentifier("endset"));
  }
  LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
  return n;
}

Result<NodePtr> Parser::ParseIf() {
  DepthGuard guard(this);  // elif chains recurse
  LLMUX_RETURN_IF_ERROR(CheckDepth());
  NodePtr n = Make(NodeKind::kIf);
  LLMUX_ASSIGN_OR_RETURN(n->a, ParseExpression());
  LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
  LLMUX_RETURN_IF_ERROR(ParseUntil({"elif", "else", "endif"}, &n->list));
  if (IsStatement({"elif"})) {
    cur_ += 2;
    LLMUX_ASSIGN_OR_RETURN(NodePtr elif, ParseIf());
    n->list2.push_back(std::move(elif));
  } else if (IsStatement({"else"})) {
    cur_ += 2;
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    LLMUX_RETURN_IF_ERROR(ParseUntil({"endif"}, &n->list2));
  }
  return n;
}

Result<NodePtr> Parser::ParseMacro() {
  NodePtr n = Make(NodeKind::kMacro);
  LLMUX_ASSIGN_OR_RETURN(NodePtr name, ParsePrimary());
  if (name->kind != NodeKind::kIdentifier) return SyntaxError("expected a name after macro");
  n->str = name->str;
  LLMUX_RETURN_IF_ERROR(ParseArgs(true, &n->list));
  LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
  LLMUX_RETURN_IF_ERROR(ParseUntil({"endmacro"}, &n->list2));
  SpecialNames().Analyse(n.get(), n->list, n->list2);
  return n;
}

Result<NodePtr> Parser::ParseFor() {
  NodePtr n = Make(NodeKind::kFor);
  LLMUX_ASSIGN_OR_RETURN(n->a, ParseExpressionSequence(true));
  if (n->a->kind != NodeKind::kIdentifier && n->a->kind != NodeKind::kTupleLiteral) {
    return SyntaxError("expected a name or a tuple of names as the loop variable");
  }
  if (!IsIdentifier("in")) return SyntaxError("expected 'in' after the loop variable");
  ++cur_;
  LLMUX_ASSIGN_OR_RETURN(n->b, ParseExpression());
  LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
  LLMUX_RETURN_IF_ERROR(ParseUntil({"endfor", "else"}, &n->list));
  if (IsStatement({"else"})) {
    cur_ += 2;
    LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseStatement, "expected %}"));
    LLMUX_RETURN_IF_ERROR(ParseUntil({"endfor"}, &n->list2));
  }
  return n;
}

Result<NodePtr> Parser::ParseExpressionSequence(bool primary) {
  NodeList items;
  LLMUX_ASSIGN_OR_RETURN(NodePtr first, primary ? ParsePrimary() : ParseExpression());
  if (!Is(TokenType::kComma)) return first;
  items.push_back(std::move(first));
  while (Is(TokenType::kComma)) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(NodePtr next, primary ? ParsePrimary() : ParseExpression());
    items.push_back(std::move(next));
  }
  NodePtr tuple = Make(NodeKind::kTupleLiteral);
  tuple->list = std::move(items);
  return tuple;
}

Result<NodePtr> Parser::ParseExpression() {
  DepthGuard guard(this);
  LLMUX_RETURN_IF_ERROR(CheckDepth());
  LLMUX_ASSIGN_OR_RETURN(NodePtr a, ParseLogicalOr());
  if (!IsIdentifier("if")) return a;
  ++cur_;
  LLMUX_ASSIGN_OR_RETURN(NodePtr test, ParseLogicalOr());
  if (IsIdentifier("else")) {
    ++cur_;
    NodePtr n = Make(NodeKind::kTernary);
    n->a = std::move(test);
    n->b = std::move(a);
    LLMUX_ASSIGN_OR_RETURN(n->c, ParseExpression());
    return n;
  }
  NodePtr n = Make(NodeKind::kSelect);
  n->a = std::move(a);
  n->b = std::move(test);
  return n;
}

Result<NodePtr> Parser::ParseLogicalOr() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParseLogicalAnd());
  while (IsIdentifier("or")) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParseLogicalAnd());
    LLMUX_ASSIGN_OR_RETURN(left, Binary("or", std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParseLogicalAnd() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParseNot());
  while (IsIdentifier("and")) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParseNot());
    LLMUX_ASSIGN_OR_RETURN(left, Binary("and", std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParseNot() {
  if (!IsIdentifier("not")) return ParseComparison();
  DepthGuard guard(this);
  LLMUX_RETURN_IF_ERROR(CheckDepth());
  ++cur_;
  NodePtr n = Make(NodeKind::kUnary);
  n->str = "not";
  LLMUX_ASSIGN_OR_RETURN(n->a, ParseNot());
  return n;
}

Result<NodePtr> Parser::ParseComparison() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParseAdditive());
  while (true) {
    std::string op;
    if (IsIdentifier("not") && IsIdentifier("in", 1)) {
      op = "not in";
      cur_ += 2;
    } else if (IsIdentifier("in")) {
      op = "in";
      ++cur_;
    } else if (Is(TokenType::kComparison)) {
      op = t_[cur_++].value;
    } else {
      break;
    }
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParseAdditive());
    LLMUX_ASSIGN_OR_RETURN(left, Binary(op, std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParseAdditive() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParseMultiplicative());
  while (Is(TokenType::kAdditive)) {
    std::string op = t_[cur_++].value;
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParseMultiplicative());
    LLMUX_ASSIGN_OR_RETURN(left, Binary(op, std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParseMultiplicative() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParsePower());
  while (Is(TokenType::kMultiplicative)) {
    std::string op = t_[cur_++].value;
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParsePower());
    LLMUX_ASSIGN_OR_RETURN(left, Binary(op, std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParsePower() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr left, ParseTest());
  while (Is(TokenType::kExponentiation)) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(NodePtr right, ParseTest());
    LLMUX_ASSIGN_OR_RETURN(left, Binary("**", std::move(left), std::move(right)));
  }
  return left;
}

Result<NodePtr> Parser::ParseTest() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr operand, ParseFilter());
  while (IsIdentifier("is")) {
    ++cur_;
    NodePtr n = Make(NodeKind::kTest);
    if (IsIdentifier("not")) {
      n->flag = true;
      ++cur_;
    }
    LLMUX_ASSIGN_OR_RETURN(NodePtr test, ParsePrimary());
    if (test->kind != NodeKind::kIdentifier) return SyntaxError("expected a test name after 'is'");
    n->str = test->str;
    n->a = std::move(operand);
    LLMUX_ASSIGN_OR_RETURN(operand, Sealed(std::move(n)));
  }
  return operand;
}

Result<NodePtr> Parser::ParseFilter() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr operand, ParseUnarySign());
  while (Is(TokenType::kPipe)) {
    ++cur_;
    LLMUX_ASSIGN_OR_RETURN(NodePtr filter, ParsePrimary());
    if (filter->kind != NodeKind::kIdentifier)
      return SyntaxError("expected a filter name after '|'");
    if (Is(TokenType::kOpenParen)) {
      LLMUX_ASSIGN_OR_RETURN(filter, ParseCall(std::move(filter)));
    }
    NodePtr n = Make(NodeKind::kFilter);
    n->a = std::move(operand);
    n->b = std::move(filter);
    LLMUX_ASSIGN_OR_RETURN(operand, Sealed(std::move(n)));
  }
  return operand;
}

Result<NodePtr> Parser::ParseUnarySign() {
  if (cur_ < t_.size() && (Is(TokenType::kUnary) || Is(TokenType::kAdditive)) &&
      (t_[cur_].value == "-" || t_[cur_].value == "+")) {
    DepthGuard guard(this);
    LLMUX_RETURN_IF_ERROR(CheckDepth());
    NodePtr n = Make(NodeKind::kUnary);
    n->str = t_[cur_++].value;
    LLMUX_ASSIGN_OR_RETURN(n->a, ParseUnarySign());
    return n;
  }
  return ParseCallMember();
}

Result<NodePtr> Parser::ParseCallMember() {
  LLMUX_ASSIGN_OR_RETURN(NodePtr primary, ParsePrimary());
  LLMUX_ASSIGN_OR_RETURN(NodePtr member, ParseMember(std::move(primary)));
  if (Is(TokenType::kOpenParen)) return ParseCall(std::move(member));
  return member;
}

Result<NodePtr> Parser::ParseCall(NodePtr callee) {
  // f()()() loops here instead of recursing.
  NodePtr expr = std::move(callee);
  while (Is(TokenType::kOpenParen)) {
    NodePtr call = Make(NodeKind::kCall);
    call->a = std::move(expr);
    LLMUX_RETURN_IF_ERROR(ParseArgs(false, &call->list));
    LLMUX_ASSIGN_OR_RETURN(call, Sealed(std::move(call)));
    LLMUX_ASSIGN_OR_RETURN(expr, ParseMember(std::move(call)));
  }
  return expr;
}

Status Parser::ParseArgs(bool parameters, NodeList* out) {
  LLMUX_RETURN_IF_ERROR(Expect(TokenType::kOpenParen, "expected ("));
  std::set<std::string> names;
  bool saw_keyword = false, saw_spread = false;
  while (!Is(TokenType::kCloseParen)) {
    if (cur_ >= t_.size()) return SyntaxError("expected )");
    const bool kw_spread = Is(TokenType::kExponentiation);
    const bool spread = Is(TokenType::kMultiplicative) && t_[cur_].value == "*";
    if (parameters && (kw_spread || spread)) {
      return SyntaxError("argument unpacking is not allowed in parameter declarations");
    }
    if (kw_spread) {
      ++cur_;
      NodePtr n = Make(NodeKind::kKeywordSpread);
      LLMUX_ASSIGN_OR_RETURN(n->a, ParseExpression());
      out->push_back(std::move(n));
      if (Is(TokenType::kComma)) ++cur_;
      if (!Is(TokenType::kCloseParen))
        return SyntaxError("`**` must be applied to the final argument");
      break;
    }
    NodePtr arg;
    if (spread) {
      if (saw_spread) return SyntaxError("only one `*` argument unpacking is allowed");
      saw_spread = true;
      ++cur_;
      arg = Make(NodeKind::kSpread);
      LLMUX_ASSIGN_OR_RETURN(arg->a, ParseExpression());
    } else {
      LLMUX_ASSIGN_OR_RETURN(arg, ParseExpression());
      if (Is(TokenType::kEquals)) {
        ++cur_;
        if (arg->kind != NodeKind::kIdentifier) {
          return SyntaxError(parameters ? "expected an identifier for a parameter declaration"
                                        : "expected an identifier for a keyword argument");
        }
        NodePtr kw = Make(NodeKind::kKeywordArg);
        kw->str = arg->str;
        LLMUX_ASSIGN_OR_RETURN(kw->a, ParseExpression());
        arg = std::move(kw);
      }
      if (parameters) {
        if (arg->kind != NodeKind::kIdentifier && arg->kind != NodeKind::kKeywordArg) {
          return SyntaxError("expected an identifier for a parameter declaration");
        }
        if (!names.insert(arg->str).second)
          return SyntaxError("duplicate parameter name: " + arg->str);
      }
      if (arg->kind == NodeKind::kKeywordArg) {
        saw_keyword = true;
      } else if (saw_keyword) {
        return SyntaxError(parameters ? "non-default argument follows default argument"
                                      : "positional arguments must come before keyword arguments");
      } else if (saw_spread) {
        return SyntaxError("positional arguments must not follow `*` argument unpacking");
      }
    }
    out->push_back(std::move(arg));
    if (Is(TokenType::kComma)) ++cur_;
  }
  return Expect(TokenType::kCloseParen, "expected )");
}

Result<NodePtr> Parser::ParseMemberArguments() {
  std::vector<NodePtr> slices;
  bool is_slice = false;
  while (!Is(TokenType::kCloseSquareBracket)) {
    if (cur_ >= t_.size()) return SyntaxError("expected ]");
    if (Is(TokenType::kColon)) {
      slices.push_back(nullptr);
      ++cur_;
      is_slice = true;
    } else {
      LLMUX_ASSIGN_OR_RETURN(NodePtr e, ParseExpression());
      slices.push_back(std::move(e));
      if (Is(TokenType::kColon)) {
        ++cur_;
        is_slice = true;
      }
    }
  }
  if (slices.empty()) return SyntaxError("expected an index or a slice in []");
  if (!is_slice) return std::move(slices[0]);
  if (slices.size() > 3) return SyntaxError("a slice has at most 3 parts");
  NodePtr n = Make(NodeKind::kSlice);
  n->a = std::move(slices[0]);
  if (slices.size() > 1) n->b = std::move(slices[1]);
  if (slices.size() > 2) n->c = std::move(slices[2]);
  return n;
}

Result<NodePtr> Parser::ParseMember(NodePtr object) {
  while (Is(TokenType::kDot) || Is(TokenType::kOpenSquareBracket)) {
    const bool computed = Is(TokenType::kOpenSquareBracket);
    ++cur_;
    NodePtr n = Make(NodeKind::kMember);
    n->flag = computed;
    if (computed) {
      LLMUX_ASSIGN_OR_RETURN(n->b, ParseMemberArguments());
      LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseSquareBracket, "expected ]"));
    } else {
      LLMUX_ASSIGN_OR_RETURN(n->b, ParsePrimary());
      if (n->b->kind != NodeKind::kIdentifier && n->b->kind != NodeKind::kIntegerLiteral) {
        return SyntaxError("expected a name or an integer after '.'");
      }
    }
    n->a = std::move(object);
    LLMUX_ASSIGN_OR_RETURN(object, Sealed(std::move(n)));
  }
  return object;
}

Result<NodePtr> Parser::ParsePrimary() {
  DepthGuard guard(this);
  LLMUX_RETURN_IF_ERROR(CheckDepth());
  if (cur_ >= t_.size()) return SyntaxError("unexpected end of the template");
  const Token& tok = t_[cur_++];
  switch (tok.type) {
    case TokenType::kNumericLiteral: {
      const bool is_float = tok.value.find('.') != std::string::npos;
      NodePtr n = Make(is_float ? NodeKind::kFloatLiteral : NodeKind::kIntegerLiteral);
      if (is_float) {
        n->f = std::strtod(tok.value.c_str(), nullptr);
      } else {
        const char* b = tok.value.data();
        if (*b == '+') ++b;
        auto [p, ec] = std::from_chars(b, tok.value.data() + tok.value.size(), n->i);
        if (ec != std::errc()) return SyntaxError("integer literal out of range: " + tok.value);
      }
      return n;
    }
    case TokenType::kStringLiteral: {
      NodePtr n = Make(NodeKind::kStringLiteral);
      n->str = tok.value;
      while (Is(TokenType::kStringLiteral)) n->str += t_[cur_++].value;  // "a" "b" is "ab"
      return n;
    }
    case TokenType::kIdentifier: {
      NodePtr n = Make(NodeKind::kIdentifier);
      n->str = tok.value;
      return n;
    }
    case TokenType::kOpenParen: {
      LLMUX_ASSIGN_OR_RETURN(NodePtr e, ParseExpressionSequence(false));
      LLMUX_RETURN_IF_ERROR(Expect(TokenType::kCloseParen, "expected )"));
      return e;
    }
    case TokenType::kOpenSquareBracket: {
      NodePtr n = Make(NodeKind::kArrayLiteral);
      while (!Is(TokenType::kCloseSquareBracket)) {
        if (cur_ >= t_.size()) return SyntaxError("expected ]");
        LLMUX_ASSIGN_OR_RETURN(NodePtr e, ParseExpression());
        n->list.push_back(std::move(e));
        if (Is(TokenType::kComma)) ++cur_;
      }
      ++cur_;
      return n;
    }
    case TokenType::kOpenCurlyBracket: {
      NodePtr n = Make(NodeKind::kObjectLiteral);
      while (!Is(TokenType::kCloseCurlyBracket)) {
        if (cur_ >= t_.size()) return SyntaxError("expected }");
        LLMUX_ASSIGN_OR_RETURN(NodePtr key, ParseExpression());
        LLMUX_RETURN_IF_ERROR(Expect(TokenType::kColon, "expected ':' in a dict literal"));
        LLMUX_ASSIGN_OR_RETURN(NodePtr value, ParseExpression());
        n->list.push_back(std::move(key));
        n->list2.push_back(std::move(value));
        if (Is(TokenType::kComma)) ++cur_;
      }
      ++cur_;
      return n;
    }
    default:
      return SyntaxError(std::string("unexpected ") + TokenTypeName(tok.type) + " '" + tok.value +
                         "'");
  }
}

}  // namespace

Result<NodeList> Parse(const std::vector<Token>& tokens, int max_depth) {
  return Parser(tokens, max_depth).Run();
}

}  // namespace llmux::chat::jinja
