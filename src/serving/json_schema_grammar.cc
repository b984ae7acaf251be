#include "serving/json_schema_grammar.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/json_nesting.h"
#include "serving/regex_grammar.h"

namespace llmux::serving {

namespace {

using grammar::Alt;
using grammar::Byte;
using grammar::Bytes;
using grammar::ByteSet;
using grammar::Empty;
using grammar::Expr;
using grammar::GrammarBuilder;
using grammar::kUnbounded;
using grammar::Literal;
using grammar::Optional;
using grammar::Range;
using grammar::Ref;
using grammar::Repeat;
using grammar::Seq;
using grammar::Star;
using Json = nlohmann::ordered_json;

constexpr int64_t kMaxMagnitude = 999'999'999'999'999;  // 15 digits

// Keywords that only annotate: always accepted, never constrain.
const std::set<std::string>& Annotations() {
  static const std::set<std::string> k = {"title",    "description", "default",  "examples",
                                          "$schema",  "$id",         "$comment", "deprecated",
                                          "readOnly", "writeOnly",   "$defs",    "definitions",
                                          "name",     "strict",      "$anchor",  "nullable"};
  return k;
}

// Keywords this compiler understands (each is applied where its type is generated).
const std::set<std::string>& Known() {
  static const std::set<std::string> k = {"type",
                                          "properties",
                                          "required",
                                          "additionalProperties",
                                          "items",
                                          "prefixItems",
                                          "minItems",
                                          "maxItems",
                                          "minLength",
                                          "maxLength",
                                          "format",
                                          "pattern",
                                          "minimum",
                                          "maximum",
                                          "exclusiveMinimum",
                                          "exclusiveMaximum",
                                          "enum",
                                          "const",
                                          "anyOf",
                                          "oneOf",
                                          "allOf",
                                          "$ref"};
  return k;
}

std::string DigitString(int64_t v, size_t width) {
  std::string s = std::to_string(v);
  if (s.size() < width) s.insert(0, width - s.size(), '0');
  return s;
}

Expr Digit() { return Range('0', '9'); }
Expr Digits(uint32_t n) { return Repeat(Digit(), n, n); }

// Decimal strings of equal length from lo to hi (lo <= hi), leading zeros as given.
Expr DigitsInRange(std::string_view lo, std::string_view hi) {
  if (lo.empty()) return Empty();
  const size_t rest = lo.size() - 1;
  if (lo[0] == hi[0]) return Seq({Byte(lo[0]), DigitsInRange(lo.substr(1), hi.substr(1))});
  const std::string nines(rest, '9'), zeros(rest, '0');
  std::vector<Expr> alts;
  uint8_t mid_lo = lo[0], mid_hi = hi[0];
  if (lo.substr(1) != zeros) {
    alts.push_back(Seq({Byte(lo[0]), DigitsInRange(lo.substr(1), nines)}));
    ++mid_lo;
  }
  const bool hi_full = hi.substr(1) == nines;
  if (!hi_full) --mid_hi;
  if (mid_lo <= mid_hi) alts.push_back(Seq({Range(mid_lo, mid_hi), Digits(rest)}));
  if (!hi_full) alts.push_back(Seq({Byte(hi[0]), DigitsInRange(zeros, hi.substr(1))}));
  return Alt(std::move(alts));
}

// Decimal integers from a to b (0 <= a <= b <= kMaxMagnitude), without leading zeros.
Expr UnsignedRange(int64_t a, int64_t b) {
  std::vector<Expr> alts;
  int64_t low = 0, high = 9;  // the values with `len` digits
  for (size_t len = 1; len <= 15; ++len) {
    const int64_t lo = std::max(a, low), hi = std::min(b, high);
    if (lo <= hi) alts.push_back(DigitsInRange(DigitString(lo, len), DigitString(hi, len)));
    low = high + 1;
    high = high * 10 + 9;
  }
  return Alt(std::move(alts));
}

// Integers from lo to hi (lo <= hi, both within +-kMaxMagnitude).
Expr IntegerRange(int64_t lo, int64_t hi) {
  std::vector<Expr> alts;
  if (lo < 0) alts.push_back(Seq({Byte('-'), UnsignedRange(std::max<int64_t>(1, -hi), -lo)}));
  if (hi >= 0) alts.push_back(UnsignedRange(std::max<int64_t>(0, lo), hi));
  return Alt(std::move(alts));
}

// A byte trie of literals, as an expression (shared prefixes once, so that a big enum keeps
// few parse stacks open).
struct LiteralTrie {
  std::map<uint8_t, LiteralTrie> next;
  bool end = false;

  void Add(std::string_view s) {
    LiteralTrie* t = this;
    for (char c : s) t = &t->next[static_cast<uint8_t>(c)];
    t->end = true;
  }
  Expr ToExpr() const {
    std::vector<Expr> alts;
    for (const auto& [b, sub] : next) {
      // Follow a chain of single children as one literal.
      std::string run(1, static_cast<char>(b));
      const LiteralTrie* t = &sub;
      while (!t->end && t->next.size() == 1) {
        run += static_cast<char>(t->next.begin()->first);
        t = &t->next.begin()->second;
      }
      alts.push_back(Seq({Literal(run), t->ToExpr()}));
    }
    if (end) alts.push_back(Empty());
    if (alts.empty()) return Empty();
    return Alt(std::move(alts));
  }
};

class SchemaCompiler {
 public:
  explicit SchemaCompiler(bool strict) : strict_(strict) {}

  Result<std::shared_ptr<const grammar::Grammar>> Compile(const Json& schema) {
    LLMUX_ASSIGN_OR_RETURN(Expr e, Value(schema));
    return Build(std::move(e));
  }

  // The expression of one schema document; "$ref"s resolve within it.
  Result<Expr> Value(const Json& schema) {
    root_ = &schema;
    refs_.clear();
    return Schema(schema, "", 0);
  }

  Result<std::shared_ptr<const grammar::Grammar>> Build(Expr e) {
    const uint32_t root = b_.AddRule("root");
    b_.Define(root, std::move(e));
    auto g = b_.Build(root);
    if (!g.ok()) return InvalidArgumentError("json_schema: " + g.status().message());
    return g;
  }

  Expr Named(const std::string& name, Expr e) { return AsRule(name, std::move(e)); }

 private:
  static Status Error(const std::string& path, const std::string& what) {
    return InvalidArgumentError("json_schema: " + what + " at " + (path.empty() ? "/" : path));
  }

  // --- shared rules ---
  uint32_t Shared(uint32_t& slot, const char* name, Expr (SchemaCompiler::*make)()) {
    if (slot == kNone) {
      slot = b_.AddRule(name);
      b_.Define(slot, (this->*make)());
    }
    return slot;
  }
  Expr Ws() { return Ref(Shared(ws_, "ws", &SchemaCompiler::MakeWs)); }
  Expr MakeWs() {
    ByteSet s;
    for (uint8_t c : {' ', '\t', '\n', '\r'}) s.Add(c);
    return Repeat(Bytes(s), 0, kJsonSchemaWhitespace);
  }

  // One character of a JSON string: a plain UTF-8 character or an escape (no surrogates).
  std::vector<Expr> CharAlternatives(const Expr& then) {
    ByteSet plain;
    plain.AddRange(0x20, 0x7f);
    plain = Without(plain, {'"', '\\'});
    const Expr c = Range(0x80, 0xbf);
    // One byte set, not alternatives: every stack at a character start then shares one parent
    // (Recognizer::CharRoom).
    ByteSet lead3;
    lead3.AddRange(0xe1, 0xec);
    lead3.AddRange(0xee, 0xef);
    ByteSet simple_escape;
    for (char e : std::string("\"\\/bfnrt")) simple_escape.Add(static_cast<uint8_t>(e));
    ByteSet hex;
    hex.AddRange('0', '9');
    hex.AddRange('a', 'f');
    hex.AddRange('A', 'F');
    ByteSet hex_not_d = Without(hex, {'d', 'D'});
    ByteSet d;
    d.Add('d');
    d.Add('D');
    const Expr h = Bytes(hex);
    const Expr unicode =
        Alt({Seq({Bytes(hex_not_d), h, h, h}), Seq({Bytes(d), Range('0', '7'), h, h})});
    return {Seq({Bytes(plain), then}),
            Seq({Range(0xc2, 0xdf), c, then}),
            Seq({Byte(0xe0), Range(0xa0, 0xbf), c, then}),
            Seq({Bytes(lead3), c, c, then}),
            Seq({Byte(0xed), Range(0x80, 0x9f), c, then}),
            Seq({Byte(0xf0), Range(0x90, 0xbf), c, c, then}),
            Seq({Range(0xf1, 0xf3), c, c, c, then}),
            Seq({Byte(0xf4), Range(0x80, 0x8f), c, c, then}),
            Seq({Byte('\\'), Alt({Bytes(simple_escape), Seq({Byte('u'), unicode})}), then})};
  }
  static ByteSet Without(ByteSet s, std::initializer_list<uint8_t> drop) {
    for (uint8_t b : drop) s.bits[b >> 6] &= ~(uint64_t{1} << (b & 63));
    return s;
  }
  Expr Char() {
    if (char_ == kNone) {
      Shared(char_, "char", &SchemaCompiler::MakeChar);
      b_.MarkStringChar(char_);
    }
    return Ref(char_);
  }
  Expr MakeChar() { return Alt(CharAlternatives(Empty())); }
  Expr StringBody() {
    if (body_ == kNone) {
      body_ = b_.AddRule("string-body");
      std::vector<Expr> alts = CharAlternatives(Ref(body_));
      alts.push_back(Empty());
      b_.Define(body_, Alt(std::move(alts)));
      b_.MarkStringBody(body_);
    }
    return Ref(body_);
  }
  Expr String() { return Ref(Shared(string_, "string", &SchemaCompiler::MakeString)); }
  Expr MakeString() { return Seq({Byte('"'), StringBody(), Byte('"')}); }
  Expr Integer() { return Ref(Shared(integer_, "integer", &SchemaCompiler::MakeInteger)); }
  Expr MakeInteger() {
    return Seq(
        {Optional(Byte('-')), Alt({Byte('0'), Seq({Range('1', '9'), Repeat(Digit(), 0, 14)})})});
  }
  Expr Number() { return Ref(Shared(number_, "number", &SchemaCompiler::MakeNumber)); }
  Expr MakeNumber() {
    ByteSet e, sign;
    e.Add('e');
    e.Add('E');
    sign.Add('+');
    sign.Add('-');
    return Seq({Integer(), Optional(Seq({Byte('.'), Repeat(Digit(), 1, 16)})),
                Optional(Seq({Bytes(e), Optional(Bytes(sign)), Repeat(Digit(), 1, 2)}))});
  }
  Expr Value() { return Ref(Shared(value_, "value", &SchemaCompiler::MakeValue)); }
  Expr MakeValue() {
    // Declared before use: object and array refer back to value.
    const uint32_t value = value_;
    const Expr member = Seq({String(), Ws(), Byte(':'), Ws(), Ref(value)});
    const Expr object =
        Seq({Byte('{'), Ws(), Optional(Seq({member, Star(Seq({Ws(), Byte(','), Ws(), member}))})),
             Ws(), Byte('}')});
    const Expr array =
        Seq({Byte('['), Ws(),
             Optional(Seq({Ref(value), Star(Seq({Ws(), Byte(','), Ws(), Ref(value)}))})), Ws(),
             Byte(']')});
    return Alt(
        {object, array, String(), Number(), Literal("true"), Literal("false"), Literal("null")});
  }

  // A rule for `e`, so that using it twice does not copy it (nested copies would grow
  // exponentially with depth).
  Expr AsRule(const std::string& name, Expr e) {
    if (e.kind == Expr::Kind::kRef || e.kind == Expr::Kind::kBytes) return e;
    return Ref(b_.AddRule(name, std::move(e)));
  }

  // --- schemas ---
  Result<Expr> Schema(const Json& s, const std::string& path, int depth) {
    if (depth > kMaxJsonSchemaDepth) {
      return Error(path, "schema nested deeper than " + std::to_string(kMaxJsonSchemaDepth));
    }
    if (s.is_boolean()) {
      if (s.get<bool>()) return Value();
      return Error(path, "the schema 'false' matches nothing");
    }
    if (!s.is_object()) return Error(path, "a schema must be an object or a boolean");
    for (const auto& [key, v] : s.items()) {
      if (Known().count(key) || Annotations().count(key)) continue;
      if (strict_) return Error(path, "unsupported keyword '" + key + "'");
    }
    if (const auto it = s.find("$ref"); it != s.end()) return RefTo(*it, path, depth);
    if (const auto it = s.find("const"); it != s.end()) return Literals({*it}, path);
    if (const auto it = s.find("enum"); it != s.end()) {
      if (!it->is_array() || it->empty()) return Error(path, "'enum' must be a non-empty array");
      return Literals(std::vector<Json>(it->begin(), it->end()), path);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (const auto it = s.find(key); it != s.end()) {
        if (!it->is_array() || it->empty()) {
          return Error(path, std::string("'") + key + "' must be a non-empty array");
        }
        std::vector<Expr> alts;
        for (size_t i = 0; i < it->size(); ++i) {
          LLMUX_ASSIGN_OR_RETURN(
              Expr e, Schema((*it)[i], path + "/" + key + "/" + std::to_string(i), depth + 1));
          alts.push_back(std::move(e));
        }
        return Alt(std::move(alts));
      }
    }
    if (const auto it = s.find("allOf"); it != s.end()) {
      if (!it->is_array() || it->size() != 1) {
        return Error(path, "'allOf' is supported with exactly one schema");
      }
      return Schema((*it)[0], path + "/allOf/0", depth + 1);
    }
    const auto type = s.find("type");
    if (type == s.end()) {
      // No type: infer from the keywords, else any value.
      if (s.contains("properties")) return Object(s, path, depth);
      if (s.contains("items") || s.contains("prefixItems")) return Array(s, path, depth);
      return Value();
    }
    if (type->is_array()) {
      if (type->empty()) return Error(path, "'type' must not be an empty list");
      std::vector<Expr> alts;
      for (const Json& t : *type) {
        if (!t.is_string()) return Error(path, "'type' must be a string or a list of strings");
        LLMUX_ASSIGN_OR_RETURN(Expr e, Typed(t.get<std::string>(), s, path, depth));
        alts.push_back(std::move(e));
      }
      return Alt(std::move(alts));
    }
    if (!type->is_string()) return Error(path, "'type' must be a string or a list of strings");
    return Typed(type->get<std::string>(), s, path, depth);
  }

  Result<Expr> Typed(const std::string& type, const Json& s, const std::string& path, int depth) {
    if (type == "object") return Object(s, path, depth);
    if (type == "array") return Array(s, path, depth);
    if (type == "string") return StringSchema(s, path);
    if (type == "integer") return IntegerSchema(s, path);
    if (type == "number") return NumberSchema(s, path);
    if (type == "boolean") return Alt({Literal("true"), Literal("false")});
    if (type == "null") return Literal("null");
    return Error(path, "unknown type '" + type + "'");
  }

  Result<Expr> RefTo(const Json& ref, const std::string& path, int depth) {
    if (!ref.is_string()) return Error(path, "'$ref' must be a string");
    const std::string target = ref.get<std::string>();
    if (auto it = refs_.find(target); it != refs_.end()) return Ref(it->second);
    const Json* node = nullptr;
    if (target == "#") {
      node = root_;
    } else {
      for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
        const std::string p = prefix;
        if (target.compare(0, p.size(), p) != 0) continue;
        const std::string name = target.substr(p.size());
        const std::string section = p.substr(2, p.size() - 3);
        const auto defs = root_->find(section);
        if (defs == root_->end() || !defs->is_object() || !defs->contains(name)) {
          return Error(path, "'$ref' to '" + target + "', which is not defined");
        }
        node = &(*defs)[name];
      }
    }
    if (!node) {
      return Error(path, "'$ref' to '" + target +
                             "' is not supported (only '#', '#/$defs/NAME' and "
                             "'#/definitions/NAME')");
    }
    if (refs_.size() >= 1000) return Error(path, "more than 1000 '$ref' targets");
    const uint32_t rule = b_.AddRule(target);
    refs_[target] = rule;
    LLMUX_ASSIGN_OR_RETURN(Expr e, Schema(*node, target.substr(1), depth + 1));
    b_.Define(rule, e);
    return Ref(rule);
  }

  Result<Expr> Literals(const std::vector<Json>& values, const std::string& path) {
    LiteralTrie trie;
    size_t bytes = 0;
    for (const Json& v : values) {
      const std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
      bytes += text.size();
      if (bytes > kMaxJsonSchemaEnumBytes) {
        return Error(path,
                     "'enum' longer than " + std::to_string(kMaxJsonSchemaEnumBytes) + " bytes");
      }
      trie.Add(text);
    }
    return trie.ToExpr();
  }

  Result<std::optional<uint32_t>> Count(const Json& s, const char* key, const std::string& path) {
    const auto it = s.find(key);
    if (it == s.end()) return std::optional<uint32_t>();
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
      return Error(path, std::string("'") + key + "' must be a non-negative integer");
    }
    if (it->get<int64_t>() > kMaxJsonSchemaRepeat) {
      return Error(path, std::string("'") + key + "' above " +
                             std::to_string(kMaxJsonSchemaRepeat) + " is not supported");
    }
    return std::optional<uint32_t>(static_cast<uint32_t>(it->get<int64_t>()));
  }

  Result<Expr> Object(const Json& s, const std::string& path, int depth) {
    const Json empty = Json::object();
    const auto props_it = s.find("properties");
    const Json& props = props_it == s.end() ? empty : *props_it;
    if (!props.is_object()) return Error(path, "'properties' must be an object");
    if (props.size() > kMaxJsonSchemaProperties) {
      return Error(path, "more than " + std::to_string(kMaxJsonSchemaProperties) + " properties");
    }
    std::set<std::string> required;
    if (const auto it = s.find("required"); it != s.end()) {
      if (!it->is_array()) return Error(path, "'required' must be an array of strings");
      for (const Json& r : *it) {
        if (!r.is_string()) return Error(path, "'required' must be an array of strings");
        if (!props.contains(r.get<std::string>())) {
          return Error(path,
                       "required property '" + r.get<std::string>() + "' is not in 'properties'");
        }
        required.insert(r.get<std::string>());
      }
    }
    const auto extra_it = s.find("additionalProperties");
    if (extra_it != s.end() && !extra_it->is_boolean() && !extra_it->is_object()) {
      return Error(path, "'additionalProperties' must be a boolean or a schema");
    }
    // Members of any name only where none is declared (a generated name could otherwise
    // repeat a declared one, whose own schema would then apply): additionalProperties true or
    // a schema, or left out (JSON Schema's default: any) unless strict, where OpenAI asks for
    // it to be false.
    if (props.empty() &&
        (extra_it == s.end() ? !strict_ : !extra_it->is_boolean() || extra_it->get<bool>())) {
      Expr value = Value();
      if (extra_it != s.end() && extra_it->is_object()) {
        LLMUX_ASSIGN_OR_RETURN(value, Schema(*extra_it, path + "/additionalProperties", depth + 1));
      }
      const Expr member = AsRule("object" + path + "/additionalProperties",
                                 Seq({String(), Ws(), Byte(':'), Ws(), value}));
      return Seq({Byte('{'), Ws(),
                  Optional(Seq({member, Star(Seq({Ws(), Byte(','), Ws(), member}))})), Ws(),
                  Byte('}')});
    }
    std::vector<Expr> members;  // each a rule: the later rules use it twice
    std::vector<bool> is_required;
    for (const auto& [name, sub] : props.items()) {
      const std::string where = path + "/properties/" + name;
      LLMUX_ASSIGN_OR_RETURN(Expr value, Schema(sub, where, depth + 1));
      const std::string key = Json(name).dump(-1, ' ', false, Json::error_handler_t::replace);
      members.push_back(AsRule(where, Seq({Literal(key), Ws(), Byte(':'), Ws(), value})));
      is_required.push_back(required.count(name) > 0);
    }
    // rest[i][first]: properties i.. when `first` none has been written yet (no comma first).
    const size_t n = members.size();
    std::vector<std::array<Expr, 2>> rest(n + 1, {Empty(), Empty()});
    for (size_t i = n; i-- > 0;) {
      std::array<Expr, 2> r;
      for (int first = 0; first < 2; ++first) {
        const uint32_t rule = b_.AddRule("object" + path + "/" + std::to_string(i));
        Expr take = first ? Seq({members[i], rest[i + 1][0]})
                          : Seq({Ws(), Byte(','), Ws(), members[i], rest[i + 1][0]});
        b_.Define(rule, is_required[i] ? take : Alt({take, rest[i + 1][first]}));
        r[first] = Ref(rule);
      }
      rest[i] = r;
    }
    return Seq({Byte('{'), Ws(), rest[0][1], Ws(), Byte('}')});
  }

  Result<Expr> Array(const Json& s, const std::string& path, int depth) {
    LLMUX_ASSIGN_OR_RETURN(std::optional<uint32_t> min_items, Count(s, "minItems", path));
    LLMUX_ASSIGN_OR_RETURN(std::optional<uint32_t> max_items, Count(s, "maxItems", path));
    const uint32_t lo = min_items.value_or(0);
    const uint32_t hi = max_items.value_or(kUnbounded);
    if (hi < lo) return Error(path, "'maxItems' is below 'minItems'");
    std::vector<Expr> prefix;
    if (const auto it = s.find("prefixItems"); it != s.end()) {
      if (!it->is_array()) return Error(path, "'prefixItems' must be an array of schemas");
      for (size_t i = 0; i < it->size(); ++i) {
        LLMUX_ASSIGN_OR_RETURN(
            Expr e, Schema((*it)[i], path + "/prefixItems/" + std::to_string(i), depth + 1));
        prefix.push_back(std::move(e));
      }
    }
    std::optional<Expr> item;  // unset: no items after the prefix
    if (const auto it = s.find("items"); it != s.end()) {
      if (!(it->is_boolean() && !it->get<bool>())) {
        LLMUX_ASSIGN_OR_RETURN(Expr e, Schema(*it, path + "/items", depth + 1));
        item = AsRule(path + "/items", std::move(e));  // used twice below
      }
    } else if (prefix.empty()) {
      item = Value();
    }
    const Expr sep = Seq({Ws(), Byte(','), Ws()});
    // The elements: prefix items first (leaving out a tail of them only down to minItems),
    // then repeated items.
    const uint32_t n_prefix = static_cast<uint32_t>(prefix.size());
    if (lo > n_prefix && !item) {
      return Error(path, "'minItems' needs more items than 'prefixItems' allows");
    }
    if (hi < n_prefix) {
      prefix.resize(hi);
    }
    // tail: the item repetition after k elements were written (k >= 1).
    auto tail = [&](uint32_t written) -> Expr {
      if (!item || (hi != kUnbounded && written >= hi)) return Empty();
      const uint32_t need = lo > written ? lo - written : 0;
      const uint32_t most = hi == kUnbounded ? kUnbounded : hi - written;
      return Repeat(Seq({sep, *item}), need, most);
    };
    Expr elements = Empty();
    if (!prefix.empty()) {
      // prefix[0] (sep prefix[1] (sep prefix[2] ... tail)?)?: optional where minItems allows.
      Expr after = tail(static_cast<uint32_t>(prefix.size()));
      for (size_t i = prefix.size(); i-- > 1;) {
        Expr step = Seq({sep, prefix[i], after});
        after = i + 1 > lo ? Optional(step) : step;
      }
      Expr all = Seq({prefix[0], after});
      elements = lo >= 1 ? all : Optional(all);
    } else if (item && hi != 0) {
      Expr all = Seq({*item, tail(1)});
      elements = lo >= 1 ? all : Optional(all);
    }
    return Seq({Byte('['), Ws(), elements, Ws(), Byte(']')});
  }

  Result<Expr> StringSchema(const Json& s, const std::string& path) {
    if (const auto it = s.find("pattern"); it != s.end()) {
      if (!it->is_string()) return Error(path, "'pattern' must be a string");
      if (s.contains("format") || s.contains("minLength") || s.contains("maxLength")) {
        return Error(path,
                     "'pattern' together with 'format', 'minLength' or 'maxLength' is "
                     "not supported");
      }
      auto e = CompileRegex(it->get<std::string>(), StringBody());
      if (!e.ok()) return Error(path, e.status().message());
      return Seq({Byte('"'), *e, Byte('"')});
    }
    if (const auto it = s.find("format"); it != s.end()) {
      if (!it->is_string()) return Error(path, "'format' must be a string");
      const std::string f = it->get<std::string>();
      if (f == "date") return Seq({Byte('"'), Date(), Byte('"')});
      if (f == "time") return Seq({Byte('"'), Time(), Byte('"')});
      if (f == "date-time") return Seq({Byte('"'), Date(), Byte('T'), Time(), Byte('"')});
      if (f == "uuid") return Seq({Byte('"'), Uuid(), Byte('"')});
      if (f == "email") return Seq({Byte('"'), Email(), Byte('"')});
      if (f == "ipv4") return Seq({Byte('"'), Ipv4(), Byte('"')});
      if (strict_) return Error(path, "unsupported format '" + f + "'");
    }
    LLMUX_ASSIGN_OR_RETURN(std::optional<uint32_t> min_len, Count(s, "minLength", path));
    LLMUX_ASSIGN_OR_RETURN(std::optional<uint32_t> max_len, Count(s, "maxLength", path));
    if (!min_len && !max_len) return String();
    const uint32_t lo = min_len.value_or(0);
    const uint32_t hi = max_len.value_or(kUnbounded);
    if (hi < lo) return Error(path, "'maxLength' is below 'minLength'");
    if (hi == kUnbounded) return Seq({Byte('"'), Repeat(Char(), lo, lo), StringBody(), Byte('"')});
    return Seq({Byte('"'), Repeat(Char(), lo, hi), Byte('"')});
  }

  Expr Date() {
    auto two = [](const char* lo, const char* hi) { return DigitsInRange(lo, hi); };
    // Days valid in every year: no 29 February.
    const Expr month31 = Alt({Literal("01"), Literal("03"), Literal("05"), Literal("07"),
                              Literal("08"), Literal("10"), Literal("12")});
    const Expr month30 = Alt({Literal("04"), Literal("06"), Literal("09"), Literal("11")});
    const Expr days =
        Alt({Seq({Literal("02-"), two("01", "28")}), Seq({month30, Byte('-'), two("01", "30")}),
             Seq({month31, Byte('-'), two("01", "31")})});
    return Seq({DigitsInRange("0001", "9999"), Byte('-'), days});
  }
  Expr Time() {
    const Expr hhmm = Seq({DigitsInRange("00", "23"), Byte(':'), DigitsInRange("00", "59")});
    ByteSet sign;
    sign.Add('+');
    sign.Add('-');
    const Expr zone = Alt({Byte('Z'), Seq({Bytes(sign), hhmm})});
    return Seq({hhmm, Byte(':'), DigitsInRange("00", "59"),
                Optional(Seq({Byte('.'), Repeat(Digit(), 1, 6)})), zone});
  }
  Expr Uuid() {
    ByteSet hex;
    hex.AddRange('0', '9');
    hex.AddRange('a', 'f');
    const Expr h = Bytes(hex);
    return Seq({Repeat(h, 8, 8), Byte('-'), Repeat(h, 4, 4), Byte('-'), Repeat(h, 4, 4), Byte('-'),
                Repeat(h, 4, 4), Byte('-'), Repeat(h, 12, 12)});
  }
  Expr Ipv4() {
    const Expr octet = UnsignedRange(0, 255);  // no leading zeros
    return Seq({octet, Repeat(Seq({Byte('.'), octet}), 3, 3)});
  }
  Expr Email() {
    ByteSet local, label;
    local.AddRange('a', 'z');
    local.AddRange('A', 'Z');
    local.AddRange('0', '9');
    local.Add('_');
    local.Add('+');
    local.Add('-');
    label.AddRange('a', 'z');
    label.AddRange('0', '9');
    const Expr l = Repeat(Bytes(label), 1, 20);
    return Seq({Repeat(Bytes(local), 1, 32), Byte('@'), l, Repeat(Seq({Byte('.'), l}), 1, 3)});
  }

  struct Bounds {
    std::optional<double> lo, hi;
    bool lo_exclusive = false, hi_exclusive = false;
  };
  Result<Bounds> ReadBounds(const Json& s, const std::string& path) {
    Bounds b;
    auto number = [&](const char* key, std::optional<double>& out) -> Status {
      const auto it = s.find(key);
      if (it == s.end()) return Status::Ok();
      if (it->is_boolean()) {
        return Error(
            path, std::string("'") + key + "' as a boolean (JSON Schema draft 4) is not supported");
      }
      if (!it->is_number()) return Error(path, std::string("'") + key + "' must be a number");
      out = it->get<double>();
      return Status::Ok();
    };
    std::optional<double> xlo, xhi;
    LLMUX_RETURN_IF_ERROR(number("minimum", b.lo));
    LLMUX_RETURN_IF_ERROR(number("maximum", b.hi));
    LLMUX_RETURN_IF_ERROR(number("exclusiveMinimum", xlo));
    LLMUX_RETURN_IF_ERROR(number("exclusiveMaximum", xhi));
    if (xlo && (!b.lo || *xlo >= *b.lo)) {
      b.lo = xlo;
      b.lo_exclusive = true;
    }
    if (xhi && (!b.hi || *xhi <= *b.hi)) {
      b.hi = xhi;
      b.hi_exclusive = true;
    }
    return b;
  }
  static double Clamp(double v) {
    return std::max(-static_cast<double>(kMaxMagnitude),
                    std::min(static_cast<double>(kMaxMagnitude), v));
  }
  // The integers within the bounds: [first, last]; empty if first > last.
  static std::pair<int64_t, int64_t> IntegerSpan(const Bounds& b) {
    double lo = b.lo ? Clamp(*b.lo) : -static_cast<double>(kMaxMagnitude);
    double hi = b.hi ? Clamp(*b.hi) : static_cast<double>(kMaxMagnitude);
    double first = std::ceil(lo), last = std::floor(hi);
    if (b.lo && b.lo_exclusive && first == lo) first += 1;
    if (b.hi && b.hi_exclusive && last == hi) last -= 1;
    return {static_cast<int64_t>(first), static_cast<int64_t>(last)};
  }

  Result<Expr> IntegerSchema(const Json& s, const std::string& path) {
    LLMUX_ASSIGN_OR_RETURN(Bounds b, ReadBounds(s, path));
    if (!b.lo && !b.hi) return Integer();
    const auto [first, last] = IntegerSpan(b);
    if (first > last) return Error(path, "no integer lies within 'minimum' and 'maximum'");
    return IntegerRange(first, last);
  }

  Result<Expr> NumberSchema(const Json& s, const std::string& path) {
    LLMUX_ASSIGN_OR_RETURN(Bounds b, ReadBounds(s, path));
    if (!b.lo && !b.hi) return Number();
    const auto [first, last] = IntegerSpan(b);
    std::vector<Expr> alts;
    if (first <= last) alts.push_back(IntegerRange(first, last));
    // Fractions never end in 0, so i.f lies strictly between i and i + 1 (or -i - 1 and -i).
    const Expr fraction = Seq({Byte('.'), Repeat(Digit(), 0, 14), Range('1', '9')});
    const double lo = b.lo ? Clamp(*b.lo) : -static_cast<double>(kMaxMagnitude);
    const double hi = b.hi ? Clamp(*b.hi) : static_cast<double>(kMaxMagnitude);
    // Positive: integer part i with lo <= i and i + 1 <= hi.
    const int64_t pos_lo = static_cast<int64_t>(std::max(0.0, std::ceil(lo)));
    const int64_t pos_hi = static_cast<int64_t>(std::floor(hi)) - 1;
    if (pos_lo <= pos_hi) alts.push_back(Seq({UnsignedRange(pos_lo, pos_hi), fraction}));
    // Negative: -(m.f) with -(m + 1) >= lo and -m <= hi.
    const int64_t neg_lo = static_cast<int64_t>(std::max(0.0, std::ceil(-hi)));
    const int64_t neg_hi = static_cast<int64_t>(std::floor(-lo)) - 1;
    if (neg_lo <= neg_hi) {
      alts.push_back(Seq({Byte('-'), UnsignedRange(neg_lo, neg_hi), fraction}));
    }
    if (alts.empty()) return Error(path, "no number lies within 'minimum' and 'maximum'");
    return Alt(std::move(alts));
  }

  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  const Json* root_ = nullptr;
  bool strict_;
  GrammarBuilder b_;
  uint32_t ws_ = kNone, char_ = kNone, body_ = kNone, string_ = kNone, integer_ = kNone,
           number_ = kNone, value_ = kNone;
  std::map<std::string, uint32_t> refs_;
};

}  // namespace

Result<std::shared_ptr<const grammar::Grammar>> CompileJsonSchema(std::string_view schema,
                                                                  bool strict) {
  if (!JsonNestingWithin(schema)) {
    return InvalidArgumentError("json_schema: " + JsonTooDeepMessage());
  }
  // ordered_json keeps the properties in the order the schema lists them.
  Json root = Json::parse(schema, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return InvalidArgumentError("json_schema: the schema is not valid JSON");
  return SchemaCompiler(strict).Compile(root);
}

Result<std::shared_ptr<const grammar::Grammar>> CompileFramedSchemas(
    const std::vector<FramedSchema>& alternatives, bool strict, const FramedList& list) {
  if (alternatives.empty()) return InvalidArgumentError("json_schema: no alternatives");
  if (list.max_count < 1) return InvalidArgumentError("json_schema: max_count below 1");
  SchemaCompiler compiler(strict);
  std::vector<Json> schemas;
  schemas.reserve(alternatives.size());  // Value() keeps a pointer to its document
  std::vector<Expr> alts;
  for (const FramedSchema& a : alternatives) {
    if (!JsonNestingWithin(a.schema)) {
      return InvalidArgumentError("json_schema: " + JsonTooDeepMessage());
    }
    schemas.push_back(Json::parse(a.schema, nullptr, /*allow_exceptions=*/false));
    if (schemas.back().is_discarded()) {
      return InvalidArgumentError("json_schema: the schema is not valid JSON");
    }
    LLMUX_ASSIGN_OR_RETURN(Expr value, compiler.Value(schemas.back()));
    alts.push_back(Seq({Literal(a.before), std::move(value), Literal(a.after)}));
  }
  const Expr one = compiler.Named("framed", Alt(std::move(alts)));
  const Expr more =
      Repeat(Seq({Literal(list.separator), one}), 0, static_cast<uint32_t>(list.max_count - 1));
  return compiler.Build(Seq({Literal(list.before), one, more, Literal(list.after)}));
}

}  // namespace llmux::serving
