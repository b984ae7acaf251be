#include "engine/runtime/grammar.h"

#include <algorithm>
#include <map>
#include <utility>

#include "engine/runtime/grammar_recognizer.h"

namespace llmux::grammar {

namespace {

using Element = Grammar::Element;
using Op = Grammar::Op;

constexpr uint32_t kInfinite = 0xFFFFFFFFu;

uint32_t SatAdd(uint32_t a, uint32_t b) { return a > kInfinite - b ? kInfinite : a + b; }

Expr WithItems(Expr::Kind kind, std::vector<Expr> items) {
  Expr e;
  e.kind = kind;
  e.items = std::make_shared<const std::vector<Expr>>(std::move(items));
  return e;
}

// Lowers expression trees to flat alternatives, adding helper rules for nested alternatives
// and repetition.
class Lowerer {
 public:
  explicit Lowerer(size_t n_rules) : alts_(n_rules), names_(n_rules), runs_(n_rules) {}

  // A rule that derives 0..max copies of one atom in a row (a repetition helper), for counting
  // runs (Grammar::run_room).
  struct Run {
    Element atom{Op::kEnd, 0};  // kEnd: not a run
    uint32_t max = 0;
  };
  const std::vector<Run>& runs() const { return runs_; }
  void SetRun(uint32_t rule, Element atom, uint32_t max) { runs_[rule] = {atom, max}; }

  Status LowerRule(uint32_t rule, const Expr& e) {
    if (e.kind == Expr::Kind::kAlt) {
      for (const Expr& item : *e.items) LLMUX_RETURN_IF_ERROR(AddAlt(rule, item));
      return Status::Ok();
    }
    return AddAlt(rule, e);
  }

  void SetName(uint32_t rule, const std::string& name) { names_[rule] = name; }

  Grammar Finish(uint32_t root) {
    Grammar g;
    g.root = root;
    g.byte_sets = std::move(sets_);
    for (size_t r = 0; r < alts_.size(); ++r) {
      Grammar::Rule rule;
      rule.name = std::move(names_[r]);
      rule.first_alt = static_cast<uint32_t>(g.alt_starts.size());
      rule.n_alts = static_cast<uint32_t>(alts_[r].size());
      for (const std::vector<Element>& alt : alts_[r]) {
        g.alt_starts.push_back(static_cast<uint32_t>(g.elements.size()));
        g.elements.insert(g.elements.end(), alt.begin(), alt.end());
        g.elements.push_back({Op::kEnd, 0});
      }
      g.rules.push_back(std::move(rule));
    }
    return g;
  }

 private:
  Status AddAlt(uint32_t rule, const Expr& e) {
    std::vector<Element> seq;
    LLMUX_RETURN_IF_ERROR(Append(seq, e));
    alts_[rule].push_back(std::move(seq));
    return Status::Ok();
  }

  Status Count(size_t n) {
    elements_ += n;
    if (elements_ > kMaxElements) {
      return InvalidArgumentError("grammar: more than " + std::to_string(kMaxElements) +
                                  " elements after expanding repetitions");
    }
    return Status::Ok();
  }

  Result<uint32_t> Helper(const std::string& what) {
    if (alts_.size() >= kMaxRules) {
      return InvalidArgumentError("grammar: more than " + std::to_string(kMaxRules) +
                                  " rules after expanding repetitions");
    }
    alts_.emplace_back();
    names_.push_back(what);
    runs_.emplace_back();
    return static_cast<uint32_t>(alts_.size() - 1);
  }

  uint32_t SetIndex(const ByteSet& s) {
    auto [it, added] = set_index_.emplace(s.bits, static_cast<uint32_t>(sets_.size()));
    if (added) sets_.push_back(s);
    return it->second;
  }

  // An element standing for `e` (a helper rule when it is not a byte set or a reference).
  Result<Element> Atom(const Expr& e) {
    if (e.kind == Expr::Kind::kBytes) return Element{Op::kBytes, SetIndex(e.bytes)};
    if (e.kind == Expr::Kind::kRef) return Element{Op::kRef, e.rule};
    LLMUX_ASSIGN_OR_RETURN(uint32_t h, Helper("(group)"));
    LLMUX_RETURN_IF_ERROR(LowerRule(h, e));
    return Element{Op::kRef, h};
  }

  Status Append(std::vector<Element>& out, const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kBytes:
        LLMUX_RETURN_IF_ERROR(Count(1));
        out.push_back({Op::kBytes, SetIndex(e.bytes)});
        return Status::Ok();
      case Expr::Kind::kRef:
        LLMUX_RETURN_IF_ERROR(Count(1));
        out.push_back({Op::kRef, e.rule});
        return Status::Ok();
      case Expr::Kind::kSeq:
        for (const Expr& item : *e.items) LLMUX_RETURN_IF_ERROR(Append(out, item));
        return Status::Ok();
      case Expr::Kind::kAlt: {
        if (e.items->size() == 1) return Append(out, (*e.items)[0]);
        LLMUX_ASSIGN_OR_RETURN(uint32_t h, Helper("(alternatives)"));
        LLMUX_RETURN_IF_ERROR(LowerRule(h, e));
        LLMUX_RETURN_IF_ERROR(Count(1));
        out.push_back({Op::kRef, h});
        return Status::Ok();
      }
      case Expr::Kind::kRepeat:
        return AppendRepeat(out, (*e.items)[0], e.min, e.max);
    }
    return Status::Ok();
  }

  Status AppendRepeat(std::vector<Element>& out, const Expr& item, uint32_t min, uint32_t max) {
    if (max != kUnbounded && max < min) {
      return InvalidArgumentError("grammar: a repetition's maximum is below its minimum");
    }
    if (max == 0) return Status::Ok();
    LLMUX_ASSIGN_OR_RETURN(Element atom, Atom(item));
    LLMUX_RETURN_IF_ERROR(Count(min));
    for (uint32_t i = 0; i < min; ++i) out.push_back(atom);
    if (max == kUnbounded) {
      // h ::= atom h | ""
      LLMUX_ASSIGN_OR_RETURN(uint32_t h, Helper("(repeat)"));
      LLMUX_RETURN_IF_ERROR(Count(3));
      alts_[h].push_back({atom, Element{Op::kRef, h}});
      alts_[h].emplace_back();
      runs_[h] = {atom, kUnbounded};
      out.push_back({Op::kRef, h});
      return Status::Ok();
    }
    // h_k ::= atom h_(k-1) | "" for the optional copies, h_1 ::= atom | "".
    uint32_t prev = 0;
    for (uint32_t k = 1; k <= max - min; ++k) {
      LLMUX_ASSIGN_OR_RETURN(uint32_t h, Helper("(optional copies)"));
      LLMUX_RETURN_IF_ERROR(Count(3));
      if (k == 1) {
        alts_[h].push_back({atom});
      } else {
        alts_[h].push_back({atom, Element{Op::kRef, prev}});
      }
      alts_[h].emplace_back();
      runs_[h] = {atom, k};
      prev = h;
    }
    if (max > min) {
      LLMUX_RETURN_IF_ERROR(Count(1));
      out.push_back({Op::kRef, prev});
    }
    return Status::Ok();
  }

  std::vector<std::vector<std::vector<Element>>> alts_;
  std::vector<std::string> names_;
  std::vector<Run> runs_;
  std::vector<ByteSet> sets_;
  std::map<std::array<uint64_t, 4>, uint32_t> set_index_;
  size_t elements_ = 0;
};

// Fewest bytes each rule derives (kInfinite: none, the rule never finishes), by iterating to a
// fixpoint; rules are visited last-first because helpers come after the rules that use them.
std::vector<uint32_t> MinLengths(const Grammar& g) {
  std::vector<uint32_t> len(g.rules.size(), kInfinite);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = g.rules.size(); r-- > 0;) {
      const Grammar::Rule& rule = g.rules[r];
      for (uint32_t a = 0; a < rule.n_alts; ++a) {
        uint32_t total = 0;
        for (uint32_t p = g.alt_starts[rule.first_alt + a]; g.elements[p].op != Op::kEnd; ++p) {
          const Element& e = g.elements[p];
          total = SatAdd(total, e.op == Op::kBytes ? 1 : len[e.arg]);
        }
        if (total < len[r]) {
          len[r] = total;
          changed = true;
        }
      }
    }
  }
  return len;
}

// Finds a rule that can reach itself without consuming a byte; -1 if none.
int64_t FindLeftRecursion(const Grammar& g, const std::vector<uint32_t>& len) {
  // edges[r]: rules that r can start with.
  std::vector<std::vector<uint32_t>> edges(g.rules.size());
  for (size_t r = 0; r < g.rules.size(); ++r) {
    const Grammar::Rule& rule = g.rules[r];
    for (uint32_t a = 0; a < rule.n_alts; ++a) {
      for (uint32_t p = g.alt_starts[rule.first_alt + a]; g.elements[p].op == Op::kRef; ++p) {
        edges[r].push_back(g.elements[p].arg);
        if (len[g.elements[p].arg] != 0) break;
      }
    }
  }
  // Iterative depth-first search: 0 unseen, 1 on the path, 2 done.
  std::vector<uint8_t> color(g.rules.size(), 0);
  std::vector<std::pair<uint32_t, size_t>> path;
  for (size_t start = 0; start < g.rules.size(); ++start) {
    if (color[start]) continue;
    path.emplace_back(static_cast<uint32_t>(start), 0);
    color[start] = 1;
    while (!path.empty()) {
      auto& [r, next] = path.back();
      if (next == edges[r].size()) {
        color[r] = 2;
        path.pop_back();
        continue;
      }
      const uint32_t to = edges[r][next++];
      if (color[to] == 1) return to;
      if (color[to] == 0) {
        color[to] = 1;
        path.emplace_back(to, 0);
      }
    }
  }
  return -1;
}

// Grammar::run_room and char_run_room, from the end of each alternative backwards: a position
// continues the run of the next one when both stand for the same atom.
void CountRuns(Grammar& g, const std::vector<Lowerer::Run>& runs, uint32_t string_char) {
  struct Unit {
    Element atom;
    uint32_t count;
  };
  auto unit = [&](const Element& e) -> Unit {
    if (e.op == Op::kRef && runs[e.arg].atom.op != Op::kEnd) {
      return {runs[e.arg].atom, runs[e.arg].max};
    }
    return {e, 1};
  };
  g.run_room.assign(g.elements.size(), 0);
  g.char_run_room.assign(g.elements.size(), 0);
  std::vector<uint32_t> room(g.elements.size(), 0);
  for (size_t i = g.elements.size(); i-- > 0;) {
    if (g.elements[i].op == Op::kEnd) continue;
    const Unit u = unit(g.elements[i]);
    room[i] = u.count;
    if (g.elements[i + 1].op != Op::kEnd && unit(g.elements[i + 1]).atom == u.atom) {
      room[i] = SatAdd(room[i], room[i + 1]);
    }
    if (u.atom.op == Op::kBytes) g.run_room[i] = room[i];
    if (u.atom == Element{Op::kRef, string_char}) g.char_run_room[i] = room[i];
  }
}

}  // namespace

Expr Empty() { return WithItems(Expr::Kind::kSeq, {}); }

Expr Bytes(ByteSet set) {
  Expr e;
  e.kind = Expr::Kind::kBytes;
  e.bytes = set;
  return e;
}

Expr Byte(uint8_t b) {
  ByteSet s;
  s.Add(b);
  return Bytes(s);
}

Expr Range(uint8_t lo, uint8_t hi) {
  ByteSet s;
  s.AddRange(lo, hi);
  return Bytes(s);
}

Expr Literal(std::string_view text) {
  std::vector<Expr> items;
  items.reserve(text.size());
  for (char c : text) items.push_back(Byte(static_cast<uint8_t>(c)));
  return WithItems(Expr::Kind::kSeq, std::move(items));
}

Expr Seq(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  return WithItems(Expr::Kind::kSeq, std::move(items));
}

Expr Alt(std::vector<Expr> items) {
  if (items.size() == 1) return std::move(items[0]);
  return WithItems(Expr::Kind::kAlt, std::move(items));
}

Expr Repeat(Expr item, uint32_t min, uint32_t max) {
  Expr e = WithItems(Expr::Kind::kRepeat, {std::move(item)});
  e.min = min;
  e.max = max;
  return e;
}

Expr Ref(uint32_t rule) {
  Expr e;
  e.kind = Expr::Kind::kRef;
  e.rule = rule;
  return e;
}

size_t Grammar::size_bytes() const {
  size_t n = elements.size() * sizeof(Element) + alt_starts.size() * 4 +
             byte_sets.size() * sizeof(ByteSet) + min_rest.size() * 4 + string_boundary.size() +
             run_room.size() * 4 + char_run_room.size() * 4;
  for (const Rule& r : rules) n += sizeof(Rule) + r.name.size();
  return n;
}

uint32_t GrammarBuilder::AddRule(std::string name) {
  defs_.push_back({std::move(name), Empty(), false});
  return static_cast<uint32_t>(defs_.size() - 1);
}

void GrammarBuilder::Define(uint32_t rule, Expr e) {
  defs_[rule].expr = std::move(e);
  defs_[rule].defined = true;
}

Result<std::shared_ptr<const Grammar>> GrammarBuilder::Build(uint32_t root) const {
  if (root >= defs_.size()) return InvalidArgumentError("grammar: no root rule");
  if (defs_.size() > kMaxRules) {
    return InvalidArgumentError("grammar: more than " + std::to_string(kMaxRules) + " rules");
  }
  Lowerer lower(defs_.size());
  for (size_t r = 0; r < defs_.size(); ++r) {
    if (!defs_[r].defined) {
      return InvalidArgumentError("grammar: rule '" + defs_[r].name + "' is used but not defined");
    }
    lower.SetName(static_cast<uint32_t>(r), defs_[r].name);
    LLMUX_RETURN_IF_ERROR(lower.LowerRule(static_cast<uint32_t>(r), defs_[r].expr));
  }
  auto g = std::make_shared<Grammar>(lower.Finish(root));
  for (const Element& e : g->elements) {
    if (e.op == Op::kRef && e.arg >= g->rules.size()) {
      return InvalidArgumentError("grammar: a reference to an unknown rule");
    }
  }

  const std::vector<uint32_t> len = MinLengths(*g);
  for (size_t r = 0; r < g->rules.size(); ++r) {
    if (len[r] == kInfinite) {
      return InvalidArgumentError("grammar: rule '" + g->rules[r].name +
                                  "' can never finish (every alternative recurses forever)");
    }
  }
  if (const int64_t r = FindLeftRecursion(*g, len); r >= 0) {
    return InvalidArgumentError("grammar: rule '" + g->rules[r].name +
                                "' is left-recursive (it can reach itself without consuming a "
                                "byte); rewrite it with repetition");
  }

  g->min_rest.assign(g->elements.size(), 0);
  for (size_t i = g->elements.size(); i-- > 0;) {
    const Element& e = g->elements[i];
    if (e.op == Op::kEnd) continue;
    const uint32_t here = e.op == Op::kBytes ? 1 : len[e.arg];
    g->min_rest[i] = SatAdd(here, g->min_rest[i + 1]);
  }
  g->string_boundary.assign(g->elements.size(), Grammar::kNotBoundary);
  const bool has_char =
      string_char_ < g->rules.size() && g->rules[string_char_].n_alts > 0 &&
      g->elements[g->alt_starts[g->rules[string_char_].first_alt]].op == Op::kBytes;
  for (uint32_t r : string_bodies_) {
    const Grammar::Rule& rule = g->rules[r];
    if (rule.n_alts == 0) continue;
    const uint32_t p = g->alt_starts[rule.first_alt];
    if (g->elements[p].op == Op::kBytes) g->string_boundary[p] = Grammar::kBodyBoundary;
    if (has_char) lower.SetRun(r, Element{Op::kRef, string_char_}, kUnbounded);
  }
  if (has_char) {
    g->string_boundary[g->alt_starts[g->rules[string_char_].first_alt]] = Grammar::kCharStart;
  }
  CountRuns(*g, lower.runs(), has_char ? string_char_ : kUnbounded);
  Recognizer rec(*g);
  Recognizer::State start;
  if (!rec.Start(start)) {
    return InvalidArgumentError("grammar: too many alternatives open at the start (more than " +
                                std::to_string(kMaxStacks) + " parse stacks)");
  }
  return std::shared_ptr<const Grammar>(std::move(g));
}

Result<bool> GrammarMatches(const Grammar& g, std::string_view text) {
  Recognizer rec(g);
  Recognizer::State s, t;
  if (!rec.Start(s)) {
    return InvalidArgumentError("grammar: too many parse stacks (ambiguous grammar)");
  }
  for (char c : text) {
    if (!rec.Step(s, static_cast<uint8_t>(c), t)) {
      if (rec.exploded()) {
        return InvalidArgumentError("grammar: too many parse stacks (ambiguous grammar)");
      }
      return false;
    }
    std::swap(s, t);
  }
  return s.accepting;
}

}  // namespace llmux::grammar
