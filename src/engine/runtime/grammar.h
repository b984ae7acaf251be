// A byte-level context-free grammar for constrained decoding, in a compact flat form that the
// recognizer of grammar_constraint.h walks.
//
// Grammars are built from expressions (byte sets, sequences, alternatives, bounded or unbounded
// repetition, rule references) with GrammarBuilder; Build() lowers them to rules whose
// alternatives are flat runs of elements (a byte set or a rule reference), expanding repetition
// into right-recursive helper rules, and checks the grammar: every rule defined, no left
// recursion (a rule that can reach itself without consuming a byte), every rule able to derive
// a finite text, and size limits. JSON schemas (serving/json_schema_grammar.h) and GBNF text
// compile to this form; nothing here knows about JSON.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace llmux::grammar {

inline constexpr uint32_t kUnbounded = 0xFFFFFFFFu;
inline constexpr size_t kMaxRules = 1 << 16;
inline constexpr size_t kMaxElements = 1 << 20;

// A set of bytes.
struct ByteSet {
  std::array<uint64_t, 4> bits{};
  bool Has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  void Add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void AddRange(uint8_t lo, uint8_t hi) {
    for (unsigned b = lo; b <= hi; ++b) Add(static_cast<uint8_t>(b));
  }
  void Invert() {
    for (uint64_t& w : bits) w = ~w;
  }
  bool Empty() const { return (bits[0] | bits[1] | bits[2] | bits[3]) == 0; }
  bool operator==(const ByteSet&) const = default;
};

// The bytes that plain JSON-string content may hold (a superset of
// TokenTrie::kStringContentBelow's): 0x20 and up but '"' and '\\'.
inline constexpr std::array<uint64_t, 4> kPlainStringBytes = {
    0xFFFFFFFF00000000ull & ~(uint64_t{1} << '"'), ~(uint64_t{1} << ('\\' - 64)), ~uint64_t{0},
    ~uint64_t{0}};

// An expression tree; cheap to copy (children are shared).
struct Expr {
  enum class Kind : uint8_t { kBytes, kSeq, kAlt, kRepeat, kRef };
  Kind kind = Kind::kSeq;                          // an empty sequence matches the empty text
  ByteSet bytes;                                   // kBytes
  std::shared_ptr<const std::vector<Expr>> items;  // kSeq, kAlt; kRepeat: one item
  uint32_t min = 0, max = 0;                       // kRepeat; max may be kUnbounded
  uint32_t rule = 0;                               // kRef
};

Expr Empty();
Expr Bytes(ByteSet set);
Expr Byte(uint8_t b);
Expr Range(uint8_t lo, uint8_t hi);
Expr Literal(std::string_view text);  // the bytes in order
Expr Seq(std::vector<Expr> items);
Expr Alt(std::vector<Expr> items);  // at least one item
Expr Repeat(Expr item, uint32_t min, uint32_t max);
inline Expr Star(Expr e) { return Repeat(std::move(e), 0, kUnbounded); }
inline Expr Plus(Expr e) { return Repeat(std::move(e), 1, kUnbounded); }
inline Expr Optional(Expr e) { return Repeat(std::move(e), 0, 1); }
Expr Ref(uint32_t rule);

// The lowered grammar. Element positions index `elements`; each alternative is a run of
// kBytes/kRef elements closed by a kEnd element.
struct Grammar {
  enum class Op : uint8_t { kBytes, kRef, kEnd };
  struct Element {
    Op op;
    uint32_t arg;  // kBytes: index in byte_sets; kRef: rule index
    bool operator==(const Element&) const = default;
  };
  struct Rule {
    std::string name;
    uint32_t first_alt = 0;  // index in alt_starts
    uint32_t n_alts = 0;
    bool string_body = false;  // see GrammarBuilder::MarkStringBody
  };
  std::vector<Element> elements;
  std::vector<uint32_t> alt_starts;  // element index of each alternative's first element
  std::vector<Rule> rules;
  std::vector<ByteSet> byte_sets;
  uint32_t root = 0;
  // Per element position: the fewest bytes that finish the alternative from there (saturating).
  std::vector<uint32_t> min_rest;
  // Per element position: kBodyBoundary where a JSON-string body is at a character boundary
  // (see MarkStringBody): any plain string content may follow; kCharStart at the start of the
  // string-character rule (MarkStringChar): as many characters may follow as char_run_room of
  // the position the rule returns to, plus this one.
  enum : uint8_t { kNotBoundary = 0, kBodyBoundary = 1, kCharStart = 2 };
  std::vector<uint8_t> string_boundary;
  // Repetition counted rather than walked: per kBytes position, how many bytes of its set the
  // alternative takes in a row from there (its own, the copies after it and the optional copies
  // of a repetition of the same set; saturating, kUnbounded without end). Any number of them
  // up to that is a valid prefix. Per position after a reference to the string-character rule:
  // how many more characters follow in a row (0 where the next element is something else).
  std::vector<uint32_t> run_room;
  std::vector<uint32_t> char_run_room;

  size_t size_bytes() const;
};

class GrammarBuilder {
 public:
  // Declares a rule (defined later, possibly after rules that refer to it).
  uint32_t AddRule(std::string name);
  void Define(uint32_t rule, Expr e);
  // Declares and defines a rule in one step.
  uint32_t AddRule(std::string name, Expr e) {
    const uint32_t r = AddRule(std::move(name));
    Define(r, std::move(e));
    return r;
  }
  // The rule matches the inside of a JSON string, as `char rule | ""` with `char` first a byte
  // set that includes every byte JSON takes as is in a string (not '"', '\\', control bytes).
  // Its first element then marks a boundary where the mask takes whole subtrees of plain string
  // tokens without walking them. The caller promises the shape; Build() checks only the first
  // byte set.
  void MarkStringBody(uint32_t rule) { string_bodies_.push_back(rule); }
  // The rule matches one character of a JSON string, its first alternative starting with the
  // byte set of plain characters (as for MarkStringBody); repetitions of it are counted for the
  // mask (Grammar::char_run_room), and a string body counts as an endless run of it.
  void MarkStringChar(uint32_t rule) { string_char_ = rule; }
  size_t rule_count() const { return defs_.size(); }

  Result<std::shared_ptr<const Grammar>> Build(uint32_t root) const;

 private:
  struct Def {
    std::string name;
    Expr expr;
    bool defined = false;
  };
  std::vector<Def> defs_;
  std::vector<uint32_t> string_bodies_;
  uint32_t string_char_ = kUnbounded;  // none
};

// Matches a whole text (for tests and tools): true if `text` is in the grammar's language.
// Fails (InvalidArgument) where the recognizer's limits are exceeded.
Result<bool> GrammarMatches(const Grammar& g, std::string_view text);

}  // namespace llmux::grammar
